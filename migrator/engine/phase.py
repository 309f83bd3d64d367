"""A Phase: an ordered list of steps behind entry preconditions and a safety gate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from migrator.engine.step import Step, StepContext, Verdict

#: A precondition reads the real system and answers with a Verdict; a failed one stops the phase
#: before any step runs.
Precondition = Callable[[StepContext], Verdict]
#: A safety gate answers the same way, but the machine asks it before EVERY step (resumed ones too);
#: while a step runs it asks the phase's `watch` (default: the gate) at most every `gate_interval`
#: seconds, as the step waits or polls `StepContext.gate_problem`. A closed gate pauses the phase with
#: its reason, never pushes on.
Gate = Callable[[StepContext], Verdict]


@dataclass
class Phase:
    name: str
    steps: list[Step]
    preconditions: list[Precondition] = field(default_factory=list)
    #: When set, the planner decided the phase is unnecessary; the text says why (and what it saves).
    skip_reason: str | None = None
    gate: Gate | None = None
    #: What is checked while a step runs, when that differs from the gate (a roll or a move makes
    #: partitions under-replicated by design, so a watch may leave that count to the next gate).
    watch: Gate | None = None
    #: The longest a running step goes without the gate being asked again (seconds).
    gate_interval: float = 30.0

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"phase {self.name} has no step {name!r}")

    @property
    def irreversible_steps(self) -> list[str]:
        return [s.name for s in self.steps if not s.reversible]
