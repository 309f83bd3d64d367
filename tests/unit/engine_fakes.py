"""An in-memory "system" and steps that change it, for the engine's unit tests.

The engine knows nothing of Kafka, so its tests need no Kafka: a FakeSystem stands for the real
world (it outlives a crashed machine, as a cluster would), KeyStep sets keys in it.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.engine.events import Event, EventBus
from migrator.engine.step import JSON, Action, Step, StepContext, Verdict
from tests.fake_clock import FakeClock


class SimulatedCrash(BaseException):
    """The process dies here. A BaseException, so the machine's error handling cannot catch it."""


@dataclass
class Crasher:
    """Counts operations and raises SimulatedCrash at the `at`-th one (never when `at` is None)."""

    at: int | None = None
    count: int = 0

    def tick(self, where: str) -> None:
        self.count += 1
        if self.at is not None and self.count == self.at:
            raise SimulatedCrash(f"crash #{self.count} at {where}")


@dataclass
class FakeSystem:
    values: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (operation, step)
    #: Steps whose verify answered done since their last rollback: applying one again is the bug.
    verified_done: set[str] = field(default_factory=set)
    applied_after_done: list[str] = field(default_factory=list)
    polls_left: dict[str, int] = field(default_factory=dict)
    crasher: Crasher = field(default_factory=Crasher)

    def count(self, operation: str, step: str) -> int:
        return self.calls.count((operation, step))


class KeyStep(Step):
    """Sets `targets` in the system. Verify is done when every key holds its target, after
    `pending_polls` pending answers following each apply. `fail_next(op, exc)` queues an exception
    for the next call of snapshot/apply/verify/rollback; `hooks[op]` runs at the start of a call."""

    def __init__(
        self,
        system: FakeSystem,
        name: str,
        targets: dict[str, Any],
        *,
        reversible: bool = True,
        pending_polls: int = 0,
        retry_after: float = 1.0,
        verify_timeout: float = 600.0,
    ) -> None:
        self.system = system
        self.name = name
        self.targets = targets
        self.reversible = reversible
        self.pending_polls = pending_polls
        self.retry_after = retry_after
        self.verify_timeout = verify_timeout
        self.failures: dict[str, list[BaseException]] = defaultdict(list)
        self.hooks: dict[str, Callable[[], None]] = {}

    def fail_next(self, operation: str, *errors: BaseException) -> None:
        self.failures[operation].extend(errors)

    def _enter(self, operation: str) -> None:
        self.system.calls.append((operation, self.name))
        self.system.crasher.tick(f"{operation} {self.name}")
        if operation in self.hooks:
            self.hooks[operation]()
        if self.failures[operation]:
            raise self.failures[operation].pop(0)

    def plan(self, ctx: StepContext) -> list[Action]:
        return [
            Action("set", key, {"from": self.system.values.get(key), "to": value})
            for key, value in self.targets.items()
            if self.system.values.get(key) != value
        ]

    def snapshot(self, ctx: StepContext) -> JSON:
        self._enter("snapshot")
        return {"values": {key: self.system.values.get(key) for key in self.targets}}

    def apply(self, ctx: StepContext) -> None:
        self._enter("apply")
        if self.name in self.system.verified_done:
            self.system.applied_after_done.append(self.name)
        for key, value in self.targets.items():
            self.system.values[key] = value
            self.system.crasher.tick(f"apply {self.name} set {key}")
        self.system.polls_left[self.name] = self.pending_polls

    def verify(self, ctx: StepContext) -> Verdict:
        self._enter("verify")
        wrong = sorted(k for k, v in self.targets.items() if self.system.values.get(k) != v)
        if wrong:
            return Verdict.failed(f"keys {wrong} do not hold their targets")
        if self.system.polls_left.get(self.name, 0) > 0:
            self.system.polls_left[self.name] -= 1
            return Verdict.pending("converging", retry_after=self.retry_after)
        self.system.verified_done.add(self.name)
        # Recorded by verify, not apply: a resume that finds the outcome in place does not apply again.
        ctx.state[self.name] = sorted(self.targets)
        return Verdict.ok("all keys hold their targets")

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        self._enter("rollback")
        for key, value in before["values"].items():
            if value is None:
                self.system.values.pop(key, None)
            else:
                self.system.values[key] = value
            self.system.crasher.tick(f"rollback {self.name} restore {key}")
        self.system.verified_done.discard(self.name)


def context_with_events() -> tuple[StepContext, list[Event]]:
    events: list[Event] = []
    bus = EventBus()
    bus.subscribe(events.append)
    return StepContext(config=None, state={}, events=bus), events


@contextmanager
def scratch_directory() -> Iterator[Path]:
    """A throwaway directory for real checkpoint files. On tmpfs when the host has one: the store
    runs the same code (temp file, fsync, rename, fsync dir), but an fsync costs ~0.1 ms there
    instead of ~8 ms on the shared disk, which keeps the crash-injection tests fast."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="migrator-engine-", dir=shm if shm.is_dir() else None) as name:
        yield Path(name)
