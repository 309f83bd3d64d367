"""Stopping a child that leads its own process group (started with start_new_session=True): signals
go to the whole group, so a wrapper script's children stop with it and nothing else is touched."""

from __future__ import annotations

import os
import signal
import subprocess


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to the group `pid` leads; a group already gone is fine."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def stop_group(process: subprocess.Popen, grace: float, kill_wait: float | None = 10.0) -> None:
    """SIGTERM the group, SIGKILL it if the leader outlives `grace` seconds; returns once it exited
    (waiting at most `kill_wait` seconds after SIGKILL, None: as long as it takes)."""
    if process.poll() is not None:
        return
    signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=kill_wait)
