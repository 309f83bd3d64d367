"""Wiring one migration together: config -> checkpoint store -> machine -> phase -> step context.

The CLI and the demo both drive migrations through these functions, so that the whole migration's
order rules live in one place, like Alembic's upgrade and downgrade:
- a phase runs only after the ones before it are done or skipped;
- a phase is rolled back only after every later phase is rolled back (or never started), and
  `rollback --to PHASE` walks them newest first, recording the walk so a resume after a kill carries on;
- `resume` picks the interrupted phase by the migration's order and state, never by dictionary order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from migrator.config import MigrationConfig
from migrator.checkpoint_store import open_store
from migrator.engine.checkpoint import Checkpoint, PhaseRecord, PhaseStatus
from migrator.engine.events import EventBus
from migrator.engine.machine import Machine, MigrationStatus
from migrator.engine.phase import Phase
from migrator.engine.step import StepContext
from migrator.errors import BadInput
from phases import build_phase, phase_names

#: Phase statuses that let the next phase start.
SETTLED = frozenset({PhaseStatus.DONE, PhaseStatus.SKIPPED})
#: Phase statuses of a forward run that `migrator resume` carries on.
UNFINISHED = frozenset({PhaseStatus.RUNNING, PhaseStatus.PAUSED, PhaseStatus.FAILED})


@dataclass(frozen=True)
class ResumeChoice:
    """What `migrator resume` carries on with, and why (printed, so the operator sees the pick)."""

    phase: str
    rolling_back: bool
    #: The phase a multi-phase rollback walks down to, when one is under way.
    rollback_to: str | None
    why: str


def needs_rollback(record: PhaseRecord | None) -> bool:
    """Whether the phase may have changed the real system and is not yet rolled back."""
    if record is None or record.status in (PhaseStatus.ROLLED_BACK, PhaseStatus.SKIPPED):
        return False
    return record.status is PhaseStatus.ROLLING_BACK or record.started


def rollback_path(checkpoint: Checkpoint | None, to: str, order: list[str]) -> list[str]:
    """The phases to roll back, newest first, so that `to` ends rolled back: `to` and every later phase
    that still needs it."""
    if checkpoint is None:
        return []
    later_or_same = order[order.index(to):]
    return [name for name in reversed(later_or_same) if needs_rollback(checkpoint.phases.get(name))]


def refuse_out_of_order_rollback(checkpoint: Checkpoint | None, phase: str, order: list[str]) -> None:
    """BadInput (nothing changed) when a phase later than `phase` still needs rolling back: undoing
    `phase` first would pull the ground from under it (e.g. delete the facade names that clients of the
    shifted brokers bootstrap through). The refusal names them and prints the commands in order."""
    path = rollback_path(checkpoint, phase, order)
    later = [name for name in path if name != phase]
    if not later:
        return
    assert checkpoint is not None
    states = ", ".join(f"{name} ({checkpoint.phases[name].status.value})" for name in later)
    commands = " then ".join(f"`migrator rollback {name}`" for name in path)
    raise BadInput(
        f"Phase {phase} cannot be rolled back yet: the later phase(s) {states} still stand on it, and phases are "
        f"rolled back newest first. Nothing was changed. Roll them back in this order: {commands}; or all in one "
        f"go, newest first, with `migrator rollback --to {phase}`."
    )


def refuse_out_of_order_run(checkpoint: Checkpoint | None, phase: str, order: list[str]) -> None:
    """BadInput (nothing changed) while an earlier phase is neither done nor skipped, or a multi-phase
    rollback is under way."""
    if checkpoint is not None and checkpoint.rollback_to is not None:
        raise BadInput(
            f"Phase {phase} cannot run: a rollback down to phase {checkpoint.rollback_to} is under way. Finish it "
            f"with `migrator resume` (or `migrator rollback --to {checkpoint.rollback_to}`) first. Nothing was changed."
        )
    for earlier in order[: order.index(phase)]:
        record = checkpoint.phases.get(earlier) if checkpoint else None
        if record is None or record.status not in SETTLED:
            state = record.status.value if record else "not started"
            raise BadInput(
                f"Phase {phase} cannot start: the earlier phase {earlier} is {state}. Phases run in order "
                f"({', '.join(order)}); run `migrator run {earlier}` first (a phase the "
                "planner finds unnecessary is recorded as skipped when it runs)."
            )


def choose_resume(checkpoint: Checkpoint | None, order: list[str]) -> ResumeChoice | None:
    """The phase a crash, a kill, a pause or a failure interrupted, judged by the migration's order:
    a rollback under way first (newest phase first, as the walk goes), else the earliest phase of a
    forward run left unfinished (no later phase can move before it is settled)."""
    if checkpoint is None:
        return None
    known = [name for name in order if name in checkpoint.phases]
    if checkpoint.rollback_to is not None:
        path = rollback_path(checkpoint, checkpoint.rollback_to, order)
        if path:
            return ResumeChoice(
                path[0], True, checkpoint.rollback_to,
                f"the rollback down to {checkpoint.rollback_to} was interrupted; {len(path)} phase(s) left: "
                f"{', '.join(path)}",
            )
        return ResumeChoice(
            checkpoint.rollback_to, True, checkpoint.rollback_to,
            f"the rollback down to {checkpoint.rollback_to} had finished every phase; only its record is left",
        )
    for name in reversed(known):
        record = checkpoint.phases[name]
        if record.status is PhaseStatus.ROLLING_BACK:
            return ResumeChoice(name, True, None, f"its rollback was interrupted ({record.error or 'no error recorded'})")
    for name in known:
        record = checkpoint.phases[name]
        if record.status in UNFINISHED:
            note = record.pause_reason or record.error or "the run was interrupted"
            return ResumeChoice(name, False, None, f"it is {record.status.value}: {note}")
    return None


@dataclass
class Session:
    config: MigrationConfig
    machine: Machine
    events: EventBus = field(default_factory=EventBus)
    #: Builds a phase by name; the phase table by default (tests give phases of their own).
    builder: Callable[[str], Phase] | None = None
    #: The phases in migration order.
    order: list[str] = field(default_factory=phase_names)

    @classmethod
    def open(cls, config: MigrationConfig, break_stale_lock: bool = False) -> "Session":
        machine = Machine(open_store(config), config.migration_id, break_stale_lock=break_stale_lock)
        return cls(config=config, machine=machine)

    def context(self) -> StepContext:
        return StepContext(config=self.config, state={}, events=self.events)

    def phase(self, name: str) -> Phase:
        if self.builder is not None:
            return self.builder(name)
        return build_phase(name, self.config)

    def status(self) -> MigrationStatus:
        return self.machine.status()

    def _checkpoint(self) -> Checkpoint | None:
        return self.status().checkpoint

    def _known(self, name: str) -> None:
        if name not in self.order:
            raise BadInput(
                f"There is no phase called {name!r}. The phases, in order, are: {', '.join(self.order)}. "
                "Run `migrator plan` to see each one's steps."
            )

    def require_order(self, name: str) -> None:
        """Refuse to start `name` while an earlier phase is neither done nor skipped."""
        self._known(name)
        refuse_out_of_order_run(self._checkpoint(), name, self.order)

    def require_rollback_order(self, name: str) -> None:
        """Refuse to roll back `name` while a later phase still needs rolling back."""
        self._known(name)
        refuse_out_of_order_rollback(self._checkpoint(), name, self.order)

    def rollback_path(self, to: str) -> list[str]:
        self._known(to)
        return rollback_path(self._checkpoint(), to, self.order)

    def rollback_to(self, to: str) -> list[PhaseRecord]:
        """Roll back every phase from the newest down to `to`, each checkpointed; the walk itself is
        recorded first, so `migrator resume` after a kill carries on with it."""
        path = self.rollback_path(to)
        if not path:
            # A walk killed after its last phase but before its record was cleared ends here.
            self.machine.record_rollback_target(None)
            return []
        self.machine.record_rollback_target(to)
        records = []
        for name in path:
            self.events.emit("migration.rolling_back", name, to=to, left=path[path.index(name):])
            records.append(self.machine.rollback(self.phase(name), self.context()))
        self.machine.record_rollback_target(None)
        return records

    def unfinished(self) -> ResumeChoice | None:
        """The phase a crash, a kill or a pause left behind, if any, and why it was picked."""
        return choose_resume(self._checkpoint(), self.order)
