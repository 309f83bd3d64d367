"""One JVM of the sandbox, known by its pid so a later command can find it again from the state file.

Each JVM leads its own process group (start_new_session), so signals reach it and nothing else, and a
Ctrl-C in the terminal that started it does not take it down half-way. Before signalling a pid that
was read back from disk we check that it still runs our command line (`marker`), because pids are
reused after a reboot.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from migrator.sandbox.process_group import signal_group

# Several sandboxes share two cores: the serial collector and the C1-only JIT start a broker about
# twice as fast as G1 + C2 under load, and sandbox traffic never needs C2's peak speed.
JVM_OPTIONS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)


class JvmProcess:
    def __init__(
        self,
        pid: int,
        marker: str,
        log_path: Path,
        popen: subprocess.Popen[bytes] | None = None,
        log_start: int = 0,
    ):
        self.pid = pid
        self.marker = marker
        self.log_path = log_path
        self._popen = popen
        # Where this run's output begins: the log file is appended to across restarts.
        self.log_start = log_start

    @classmethod
    def launch(
        cls,
        *,
        java: str,
        classpath: str,
        main_class: str,
        config_path: Path,
        heap: str,
        log4j_config: Path,
        log_path: Path,
    ) -> JvmProcess:
        """Start `main_class <config_path>`; stdout and stderr (log4j writes to the console) go to
        `log_path`, so JVM start-up errors land in the same file as the server's log."""
        command = [
            java,
            f"-Xmx{heap}",
            "-Xms64m",
            *JVM_OPTIONS,
            f"-Dlog4j.configuration=file:{log4j_config}",
            "-cp",
            classpath,
            main_class,
            str(config_path),
        ]
        with open(log_path, "ab") as log:
            log_start = log.tell()
            popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=config_path.parent,
                start_new_session=True,
            )
        return cls(popen.pid, str(config_path), log_path, popen, log_start)

    @classmethod
    def attach(cls, pid: int, marker: str, log_path: Path) -> JvmProcess:
        """A handle on a JVM started by another process (read back from the state file)."""
        return cls(pid, marker, log_path)

    @property
    def alive(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is None
        self._reap()
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:  # gone between the two reads, or never ours
            return False
        # A zombie whose parent does not reap it (e.g. a container's init) has exited all the same.
        state = stat.rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X") and self.marker in cmdline.split("\0")

    @property
    def exit_code(self) -> int | None:
        """The exit status (negative: the signal that ended it) if we started it and it has exited;
        None otherwise. A JVM ended by SIGTERM reports 143 (128 + 15) once its shutdown hooks ran."""
        return self._popen.poll() if self._popen is not None else None

    def signal(self, sig: signal.Signals) -> None:
        if self.alive:
            signal_group(self.pid, sig)

    def wait(self, timeout: float) -> bool:
        """Whether the process has exited within `timeout` seconds."""
        if self._popen is not None:
            try:
                self._popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while self.alive:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    def stop(self, grace: float) -> bool:
        """SIGTERM (Kafka: controlled shutdown), then SIGKILL after `grace` seconds. Returns whether
        it exited on SIGTERM alone."""
        self.signal(signal.SIGTERM)
        if self.wait(grace):
            return True
        self.kill()
        return False

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if not self.wait(30):
            raise RuntimeError(f"pid {self.pid} survived SIGKILL for 30 s (stuck in the kernel?)")

    def log_tail(self, lines: int = 25) -> str:
        """The end of what this run (not an earlier one) wrote to the log."""
        return tail(self.log_path, lines, start=self.log_start)

    def _reap(self) -> None:
        # If the JVM is our child after all (an in-process CLI call), collect its exit status so it
        # does not linger as a zombie.
        try:
            os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def tail(path: Path, lines: int = 25, start: int = 0) -> str:
    """The last `lines` lines of a log file after byte `start`, read without loading a large file whole."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(start, handle.tell() - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])
