"""Supervision of the sandbox's JVMs as a group: stopping several at once, and stopping every cluster a
process built when that process exits (an interrupted test run must leave no JVM behind)."""

from __future__ import annotations

import atexit
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Protocol

from migrator.sandbox.process import JvmProcess


class _Stoppable(Protocol):
    workdir: Path

    def down(self, grace: float = 30.0) -> None: ...


def stop_all(processes: list[JvmProcess], grace: float) -> None:
    """SIGTERM all at once (their shutdowns overlap), SIGKILL whatever outlives `grace`."""
    for process in processes:
        process.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        if not process.wait(max(0.0, deadline - time.monotonic())):
            process.kill()


# Clusters of this process to stop when it exits, so an interrupted test run leaks no JVM.
_LIVE: set[_Stoppable] = set()


def stop_at_exit(cluster: _Stoppable) -> None:
    _LIVE.add(cluster)
    # Python's default SIGTERM disposition (what `timeout` or a cancelled CI job sends) ends the
    # process without running atexit hooks; turn it into an interrupt, unless someone else handles it.
    if (
        signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        and threading.current_thread() is threading.main_thread()
    ):
        signal.signal(signal.SIGTERM, _interrupt)


def forget_at_exit(cluster: _Stoppable) -> None:
    """`cluster` is down already: nothing to stop at exit."""
    _LIVE.discard(cluster)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@atexit.register
def _stop_live_clusters() -> None:
    for cluster in list(_LIVE):
        try:
            cluster.down(grace=10)
        except Exception as error:  # keep stopping the others
            print(f"sandbox: could not stop {cluster.workdir}: {error}", file=sys.stderr)
