"""Helpers every real-process test needs: names no other test uses, and polling until a condition holds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def unique(prefix: str) -> str:
    """A topic, group or file name no other test (or earlier run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(condition: Callable[[], T], what: str, timeout: float = 60.0, interval: float = 0.3) -> T:
    """The first truthy result of `condition`, polled every `interval` seconds; AssertionError naming
    `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if result := condition():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
