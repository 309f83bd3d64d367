"""`promtool check metrics` (Debian's prometheus package) on an exposition: what a user's Prometheus
tooling says about our names and help texts."""

from __future__ import annotations

import shutil
import subprocess

from migrator.sandbox.prometheus import INSTALL_HINT
from tests.upstream import missing


def require_binary(name: str) -> str:
    """The path of a Prometheus binary; skips the test without it, or fails it in CI."""
    found = shutil.which(name)
    if found is None:
        missing(f"{name} is not installed. {INSTALL_HINT}")
    return found


def promtool_problems(exposition: bytes) -> str:
    """What `promtool check metrics` reports (empty when it finds nothing)."""
    done = subprocess.run(
        [require_binary("promtool"), "check", "metrics"], input=exposition, capture_output=True, timeout=60
    )
    return (done.stdout + done.stderr).decode().strip() if done.returncode else ""
