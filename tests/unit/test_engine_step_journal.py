"""What the machine hands a long step beyond apply and verify: a journal line of its own, and a
rollback that a leftover pause request does not stop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from migrator.engine.checkpoint import LocalFileStore, PhaseStatus
from migrator.engine.machine import Machine
from migrator.engine.phase import Phase
from migrator.errors import SafetyGateError
from tests.unit.engine_fakes import FakeClock, FakeSystem, KeyStep, context_with_events, scratch_directory


@pytest.fixture
def store() -> Iterator[LocalFileStore]:
    with scratch_directory() as directory:
        yield LocalFileStore(directory / "checkpoint")


def test_a_step_writes_its_own_journal_line_with_its_reason(store: LocalFileStore) -> None:
    system, clock = FakeSystem(), FakeClock()
    step = KeyStep(system, "move", {"a": 1})
    ctx, _ = context_with_events()
    step.hooks["apply"] = lambda: ctx.journal("health_gate.paused", "move", reason="broker 1001 offline")
    Machine(store, "mig", sleep=clock.sleep, monotonic=clock.monotonic).run(Phase("demo", [step]), ctx)

    [line] = [e for e in store.read_journal() if e.event == "health_gate.paused"]
    assert (line.phase, line.step, line.detail) == ("demo", "move", {"reason": "broker 1001 offline"})
    assert line.from_status == line.to_status == "running"


def test_a_rollback_is_not_stopped_by_the_pause_request_that_stopped_the_run(store: LocalFileStore) -> None:
    system, clock = FakeSystem(), FakeClock()
    machine = Machine(store, "mig", sleep=clock.sleep, monotonic=clock.monotonic)
    step = KeyStep(system, "move", {"a": 1})
    ctx, _ = context_with_events()

    def paused_mid_move() -> None:
        machine.request_pause("operator")
        raise SafetyGateError("the move paused at a batch boundary")

    step.hooks["apply"] = paused_mid_move
    with pytest.raises(SafetyGateError):
        machine.run(Phase("demo", [step]), ctx)
    assert store.pause_request() is not None  # the step stopped on it; the machine did not see it

    seen: list[str | None] = []
    step.hooks["rollback"] = lambda: seen.append(ctx.pause_requested())
    record = machine.rollback(Phase("demo", [step]), ctx)
    assert record.status is PhaseStatus.ROLLED_BACK
    assert seen == [None]
    assert store.pause_request() is None
