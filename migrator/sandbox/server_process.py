"""One of the sandbox's servers (BIND, Prometheus) on a port chosen free: a foreground child in its own
process group, its output in a log, up once a probe says it serves. Use `up()`/`down()` or `with`.

Another process can take the port between free_port() choosing it and the server binding it, so a
start whose log says the address is in use gets another port."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Self

from migrator.errors import MigratorError
from migrator.sandbox.ports import free_port
from migrator.sandbox.process import tail
from migrator.sandbox.process_group import stop_group

ATTEMPTS = 3


class ServerProcess:
    #: What the server logs when the port it was given is taken.
    port_taken: str
    start_timeout: float = 30.0
    poll_seconds: float = 0.1

    def __init__(self, workdir: Path, log_name: str) -> None:
        self.workdir = Path(workdir)
        self.log_path = self.workdir / log_name
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    def command(self, port: int) -> list[str]:
        """The command line serving on `port`; called once per port tried, so it may write a config
        naming the port."""
        raise NotImplementedError

    def serving(self) -> bool:
        raise NotImplementedError

    def not_serving(self, timeout: float) -> str:
        """The first sentence of the error when it did not come up within `timeout`."""
        raise NotImplementedError

    def up(self, timeout: float | None = None) -> Self:
        timeout = self.start_timeout if timeout is None else timeout
        self.workdir.mkdir(parents=True, exist_ok=True)
        for _ in range(ATTEMPTS):
            self.port = free_port()
            argv = self.command(self.port)
            with open(self.log_path, "ab") as log:
                self._process = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
                    start_new_session=True,
                )
            if self._wait_serving(self._process, timeout):
                return self
            self.down()
            if self.port_taken not in self.log_path.read_text(errors="replace"):
                break
        raise MigratorError(f"{self.not_serving(timeout)} Its log, {self.log_path}, says why:\n{self.log_tail()}")

    def _wait_serving(self, process: subprocess.Popen[bytes], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if self.serving():
                return True
            time.sleep(self.poll_seconds)
        return False

    def down(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop_group(process, grace=10)

    def __enter__(self) -> Self:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    def log_tail(self, lines: int = 20) -> str:
        return tail(self.log_path, lines)
