"""Wiring one migration together: config -> checkpoint store -> machine -> phase -> step context.

The CLI and the demo both drive migrations through these functions, so that the order rules
(a phase runs only after the ones before it are done or skipped) live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from migrator.config import MigrationConfig
from migrator.checkpoint_store import open_store
from migrator.engine.checkpoint import PhaseRecord, PhaseStatus
from migrator.engine.events import EventBus
from migrator.engine.machine import Machine, MigrationStatus
from migrator.engine.phase import Phase
from migrator.engine.step import StepContext
from migrator.errors import BadInput
from phases import build_phase, earlier_phases, phase_names

#: Phase statuses that let the next phase start.
SETTLED = frozenset({PhaseStatus.DONE, PhaseStatus.SKIPPED})
#: Phase statuses `migrator resume` picks up.
UNFINISHED = frozenset({PhaseStatus.RUNNING, PhaseStatus.PAUSED, PhaseStatus.FAILED, PhaseStatus.ROLLING_BACK})


@dataclass
class Session:
    config: MigrationConfig
    machine: Machine
    events: EventBus = field(default_factory=EventBus)

    @classmethod
    def open(cls, config: MigrationConfig, break_stale_lock: bool = False) -> "Session":
        machine = Machine(open_store(config), config.migration_id, break_stale_lock=break_stale_lock)
        return cls(config=config, machine=machine)

    def context(self) -> StepContext:
        return StepContext(config=self.config, state={}, events=self.events)

    def phase(self, name: str) -> Phase:
        return build_phase(name, self.config)

    def status(self) -> MigrationStatus:
        return self.machine.status()

    def require_order(self, name: str) -> None:
        """Refuse to start `name` while an earlier phase is neither done nor skipped."""
        status = self.status()
        for earlier in earlier_phases(name):
            record = status.phase(earlier)
            if record is None or record.status not in SETTLED:
                state = record.status.value if record else "not started"
                raise BadInput(
                    f"Phase {name} cannot start: the earlier phase {earlier} is {state}. Phases run in order "
                    f"({', '.join(phase_names())}); run `migrator run {earlier}` first (a phase the "
                    "planner finds unnecessary is recorded as skipped when it runs)."
                )

    def unfinished(self) -> PhaseRecord | None:
        """The phase a crash, a kill or a pause left behind, if any."""
        checkpoint = self.status().checkpoint
        if checkpoint is None:
            return None
        return next((p for p in checkpoint.phases.values() if p.status in UNFINISHED), None)
