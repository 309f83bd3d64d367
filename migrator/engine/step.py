"""The unit of work of a migration: a Step, and the data it exchanges with the machine.

The engine knows nothing of Kafka. A step is as small as an Alembic migration: `plan` says what it
would do (pure read; this is the dry-run), `snapshot` records what it is about to change, `apply`
changes it (idempotent), `verify` reads the real system and is the only judge of "done", and
`rollback` restores the snapshot taken before `apply`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from migrator.engine.events import EventBus

JSON = dict[str, Any]


@dataclass(frozen=True)
class Action:
    """One line of a dry-run plan: what would change, where, and with which values."""

    verb: str
    target: str
    detail: JSON = field(default_factory=dict)

    def to_dict(self) -> JSON:
        return {"verb": self.verb, "target": self.target, "detail": self.detail}


@dataclass(frozen=True)
class Verdict:
    """What `verify` found. `done=False` with a `retry_after` means "not yet" (keep polling)."""

    done: bool
    reason: str = ""
    retry_after: float | None = None

    @classmethod
    def ok(cls, reason: str = "") -> "Verdict":
        return cls(True, reason)

    @classmethod
    def pending(cls, reason: str, retry_after: float = 2.0) -> "Verdict":
        return cls(False, reason, retry_after)

    @classmethod
    def failed(cls, reason: str) -> "Verdict":
        return cls(False, reason, None)

    @property
    def gave_up(self) -> bool:
        """Not done, and looking again will not change that without a human."""
        return not self.done and self.retry_after is None

    @property
    def waiting(self) -> bool:
        """Not done yet; worth looking again after `retry_after` seconds."""
        return not self.done and self.retry_after is not None

    def to_dict(self) -> JSON:
        return {"done": self.done, "reason": self.reason, "retry_after": self.retry_after}


@dataclass
class StepContext:
    """What a step sees. `config` is opaque to the engine (the phase owns it); what the steps of a phase
    share beyond it (clients, platforms) the phase's `build()` hands to each step.

    `state` is the phase's shared, JSON-serialisable memory (e.g. the inventory one step read and a
    later step uses); the machine persists it in the checkpoint, so a resumed run sees it again.
    What `apply` writes there is durable only once apply returns: a resumed run that finds the
    outcome already in place does not apply again, so record what later steps need in `snapshot`
    or `verify`.

    A long apply or rollback (hours of data movement) uses the hooks the machine sets:
    `save_state()` makes `state` durable at once, so an intent recorded there before an outside
    effect (a throttle about to be set) survives a kill; `pause_requested()` returns the reason of a
    pending `migrator pause` (else None), which such a step polls; `gate_problem()` returns why the
    phase's safety gate is closed (else None; the machine asks the gate at most once per interval),
    on which such a step stops and raises SafetyGateError; `journal(event, step, **detail)` appends a
    line to the migration's journal (e.g. a step pausing and resuming on its own, with the reason).
    Outside a machine all four are inert.
    """

    config: Any
    state: JSON
    events: EventBus
    save_state: Callable[[], None] = field(default=lambda: None, repr=False)
    pause_requested: Callable[[], str | None] = field(default=lambda: None, repr=False)
    gate_problem: Callable[[], str | None] = field(default=lambda: None, repr=False)
    journal: Callable[..., None] = field(default=lambda event, step=None, **detail: None, repr=False)


class Step(ABC):
    """A named, checkpointed unit of a phase. Subclasses set `name` and, if it applies, `reversible`."""

    name: ClassVar[str]
    reversible: ClassVar[bool] = True
    #: How long the machine keeps polling a pending verify before it gives up (seconds).
    verify_timeout: ClassVar[float] = 600.0

    @abstractmethod
    def plan(self, ctx: StepContext) -> list[Action]:
        """What apply would do, read-only. An empty list means nothing to do."""

    def snapshot(self, ctx: StepContext) -> JSON:
        """The state apply is about to change, recorded before apply; rollback gets it back."""
        return {}

    @abstractmethod
    def apply(self, ctx: StepContext) -> None:
        """Make the change. Must be idempotent: it may run again after a crash."""

    @abstractmethod
    def verify(self, ctx: StepContext) -> Verdict:
        """Read the real system and say whether the step's outcome holds."""

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        """Restore `before` (the snapshot). Irreversible steps keep this default."""
        raise NotImplementedError(f"step {self.name} is irreversible")
