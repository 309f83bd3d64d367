"""A Phase: an ordered list of steps behind entry preconditions, and the condition under which it is
not needed at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from migrator.engine.step import Step, StepContext, Verdict


@dataclass(frozen=True)
class Precondition:
    """A named entry check: reads the real system and answers with a Verdict. A failed one stops the
    phase before any step runs; its name says which check it was in the record and the events."""

    name: str
    check: Callable[[StepContext], Verdict]

    def __call__(self, ctx: StepContext) -> Verdict:
        return self.check(ctx)


#: Why a phase is unnecessary (and what skipping it saves), or None when it must run. The machine
#: evaluates it once per run or plan, and only while the phase has not started: once steps ran, the
#: record stands, not a new decision from a cluster the phase has already changed.
SkipCondition = Callable[[StepContext], "str | None"]


@dataclass
class Phase:
    name: str
    steps: list[Step]
    preconditions: list[Precondition] = field(default_factory=list)
    skip_when: SkipCondition | None = None

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"phase {self.name} has no step {name!r}")

    @property
    def irreversible_steps(self) -> list[str]:
        return [s.name for s in self.steps if not s.reversible]
