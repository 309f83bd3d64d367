"""Crash the machine at random points and resume until it finishes.

A crash may come before or after any checkpoint write or journal append, or inside any step
operation (between two keys an apply sets). Whatever the crash points, repeated resume must reach
the same final state as a run that never crashed, and must never apply a step again once its
verify has answered done. The same holds for a rollback crashed and repeated.
"""

from __future__ import annotations

from pathlib import Path

from tests.unit.engine_fakes import Crasher, FakeClock, FakeSystem, KeyStep, SimulatedCrash, scratch_directory
from hypothesis import example, given, settings
from hypothesis import strategies as st

from migrator.engine.checkpoint import Checkpoint, JournalEntry, LocalFileStore, PhaseStatus, StepStatus
from migrator.engine.events import EventBus
from migrator.engine.machine import Machine
from migrator.engine.phase import Phase
from migrator.engine.step import StepContext
from migrator.errors import TemporaryError

INITIAL = {"k0": "before", "k3": "before"}


class CrashingStore(LocalFileStore):
    """The real local store, with a crash point on either side of every write."""

    def __init__(self, directory: Path, crasher: Crasher) -> None:
        super().__init__(directory)
        self.crasher = crasher

    def save(self, checkpoint: Checkpoint, expected_version: str | None) -> str:
        self.crasher.tick("before checkpoint save")
        version = super().save(checkpoint, expected_version)
        self.crasher.tick("after checkpoint save")
        return version

    def append_journal(self, entry: JournalEntry) -> None:
        self.crasher.tick("before journal append")
        super().append_journal(entry)


# A step: how many keys it sets, how many "pending" verdicts follow each apply, and whether its apply
# first fails with a TemporaryError (in every process: a flaky dependency).
step_specs = st.lists(
    st.tuples(st.integers(min_value=1, max_value=3), st.integers(min_value=0, max_value=2), st.booleans()),
    min_size=1,
    max_size=4,
)
# One crash point per process: the n-th operation of that process dies.
crash_points = st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=8)


def build_phase(system: FakeSystem, specs: list[tuple[int, int, bool]]) -> Phase:
    steps, key = [], 0
    for index, (keys, polls, flaky) in enumerate(specs):
        targets = {f"k{key + n}": f"step{index}" for n in range(keys)}
        key += keys
        step = KeyStep(system, f"step{index}", targets, pending_polls=polls)
        if flaky:
            step.fail_next("apply", TemporaryError("flaky", delay=0.5))
        steps.append(step)
    return Phase("crashy", steps)


def repeat_until_it_survives(directory: Path, system: FakeSystem, specs, points: list[int], action: str):
    """One process per crash point, then one that does not crash; returns the last result and ctx."""
    clock = FakeClock()
    for at in [*points, None]:
        system.crasher = Crasher(at=at)
        store = CrashingStore(directory, system.crasher)
        machine = Machine(store, "crash-test", sleep=clock.sleep, monotonic=clock.monotonic)
        ctx = StepContext(config=None, state={}, events=EventBus())
        try:
            result = getattr(machine, action)(build_phase(system, specs), ctx)
        except SimulatedCrash:
            continue
    return result, ctx


def final_state(directory: Path, system: FakeSystem) -> tuple:
    record = LocalFileStore(directory).load().checkpoint.phases["crashy"]
    return (
        record.status,
        [(step.name, step.status) for step in record.steps],
        record.state,
        dict(sorted(system.values.items())),
    )


@settings(max_examples=40, deadline=None, database=None)
@given(specs=step_specs, run_crashes=crash_points, rollback_crashes=crash_points)
# Found by this test: a crash inside apply after its effect, before it returned, lost what apply had
# put in the phase state (the resume verifies done and does not apply again). Steps record in verify.
@example(specs=[(1, 1, True), (1, 1, True), (1, 0, True)], run_crashes=[54], rollback_crashes=[])
def test_repeated_resume_converges_and_never_reapplies_a_verified_step(specs, run_crashes, rollback_crashes) -> None:
    with scratch_directory() as reference_dir, scratch_directory() as directory:
        reference = FakeSystem(values=dict(INITIAL))
        repeat_until_it_survives(reference_dir, reference, specs, [], "run")
        expected = final_state(reference_dir, reference)

        system = FakeSystem(values=dict(INITIAL))
        record, ctx = repeat_until_it_survives(directory, system, specs, run_crashes, "run")

        assert record.status is PhaseStatus.DONE
        assert all(step.status is StepStatus.DONE for step in record.steps)
        assert system.applied_after_done == []
        assert final_state(directory, system) == expected
        assert ctx.state == expected[2]
        # Every crash point tore at most the journal's last line; it still reads.
        assert LocalFileStore(directory).read_journal()

        record, _ = repeat_until_it_survives(directory, system, specs, rollback_crashes, "rollback")

        assert record.status is PhaseStatus.ROLLED_BACK
        assert all(step.status is StepStatus.ROLLED_BACK for step in record.steps)
        assert system.values == INITIAL
        assert LocalFileStore(directory).lock_holder() is None
