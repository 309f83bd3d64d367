"""The step machine against a fake in-memory system and the real local checkpoint store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.unit.engine_fakes import Crasher, FakeClock, FakeSystem, KeyStep, SimulatedCrash, context_with_events, scratch_directory

from migrator.engine.checkpoint import LocalFileStore, PhaseStatus, StepStatus
from migrator.engine.machine import CONFIRM_FLAG, UNTIL_FLAG, Machine
from migrator.engine.phase import Phase, Precondition
from migrator.engine.step import StepContext, Verdict
from migrator.errors import BadInput, MigratorError, PermanentError, SafetyGateError, TemporaryError

MIGRATION = "mig-1"


@pytest.fixture
def system() -> FakeSystem:
    return FakeSystem()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> Iterator[LocalFileStore]:
    with scratch_directory() as directory:
        yield LocalFileStore(directory / "checkpoint")


def machine_for(store: LocalFileStore, clock: FakeClock, migration_id: str = MIGRATION, **options) -> Machine:
    return Machine(store, migration_id, sleep=clock.sleep, monotonic=clock.monotonic, **options)


def three_steps(system: FakeSystem, **options) -> list[KeyStep]:
    return [
        KeyStep(system, "first", {"a": 1}, **options),
        KeyStep(system, "second", {"b": 2, "c": 3}, **options),
        KeyStep(system, "third", {"d": 4}, **options),
    ]


def statuses(store: LocalFileStore, phase: str = "demo") -> dict[str, str]:
    record = store.load().checkpoint.phases[phase]
    return {step.name: step.status.value for step in record.steps}


# --------------------------------------------------------------------------------------- run


def test_run_applies_each_step_once_in_order_and_records_verdicts(store, clock, system) -> None:
    ctx, _ = context_with_events()
    record = machine_for(store, clock).run(Phase("demo", three_steps(system)), ctx)

    assert record.status is PhaseStatus.DONE
    assert [c for c in system.calls if c[0] == "apply"] == [("apply", "first"), ("apply", "second"), ("apply", "third")]
    assert system.values == {"a": 1, "b": 2, "c": 3, "d": 4}
    saved = store.load().checkpoint.phases["demo"]
    assert saved.status is PhaseStatus.DONE
    assert all(step.status is StepStatus.DONE and step.attempts == 1 for step in saved.steps)
    assert saved.step("second").verdict == {"done": True, "reason": "all keys hold their targets", "retry_after": None}
    assert saved.step("second").before == {"values": {"b": None, "c": None}}


def test_intent_and_snapshot_are_durable_before_apply(store, clock, system) -> None:
    system.values["a"] = "old"
    step = KeyStep(system, "first", {"a": "new"})
    seen = {}

    def look_at_checkpoint() -> None:
        seen["record"] = store.load().checkpoint.phases["demo"].step("first")

    step.hooks["apply"] = look_at_checkpoint
    ctx, _ = context_with_events()
    machine_for(store, clock).run(Phase("demo", [step]), ctx)

    assert seen["record"].status is StepStatus.APPLYING
    assert seen["record"].before == {"values": {"a": "old"}}
    assert seen["record"].verdict is None


def test_events_tell_the_story_of_a_run(store, clock, system) -> None:
    ctx, events = context_with_events()
    machine_for(store, clock).run(Phase("demo", [KeyStep(system, "only", {"a": 1}, pending_polls=1)]), ctx)

    assert [(e.kind, e.step) for e in events] == [
        ("phase.started", None),
        ("step.applying", "only"),
        ("step.verifying", "only"),
        ("step.pending", "only"),
        ("step.verifying", "only"),
        ("step.done", "only"),
        ("phase.done", None),
    ]
    assert events[0].data["steps"] == ["only"]
    assert events[3].data == {"reason": "converging", "retry_after": 1.0}
    assert all(e.phase == "demo" for e in events)


def test_a_done_step_is_never_applied_again(store, clock, system) -> None:
    steps = three_steps(system)
    machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])
    system.calls.clear()
    steps.append(KeyStep(system, "fourth", {"e": 5}))

    ctx, events = context_with_events()
    record = machine_for(store, clock).run(Phase("demo", steps), ctx)

    assert record.status is PhaseStatus.DONE
    assert [c for c in system.calls if c[0] == "apply"] == [("apply", "fourth")]
    assert [e.step for e in events if e.kind == "step.already_done"] == ["first", "second", "third"]


def test_running_a_done_phase_again_changes_nothing(store, clock, system) -> None:
    phase = Phase("demo", three_steps(system))
    machine_for(store, clock).run(phase, context_with_events()[0])
    before = store.checkpoint_path.read_bytes()
    system.calls.clear()

    ctx, events = context_with_events()
    assert machine_for(store, clock).run(phase, ctx).status is PhaseStatus.DONE
    assert system.calls == []
    assert store.checkpoint_path.read_bytes() == before
    assert [e.kind for e in events] == ["phase.already_done"]


def test_resume_verifies_a_step_left_applying_and_does_not_reapply_it_when_done(store, clock, system) -> None:
    steps = three_steps(system)
    # Crash inside second's apply right after both keys were set: the change took effect.
    system.crasher = Crasher(at=1 + 2 + 1 + 1 + 1 + 2)  # first: snapshot, apply, set a, verify; second: ...
    with pytest.raises(SimulatedCrash):
        machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])
    assert statuses(store)["second"] == "applying"
    system.crasher = Crasher()
    system.calls.clear()

    record = machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])

    assert record.status is PhaseStatus.DONE
    assert system.count("apply", "second") == 0
    assert system.calls[:1] == [("verify", "second")]
    assert store.load().checkpoint.phases["demo"].step("second").attempts == 1


def test_resume_reapplies_a_step_left_applying_that_did_not_take_effect(store, clock, system) -> None:
    system.values["b"] = "old-b"
    steps = three_steps(system)
    # Crash in second's apply after b was set but before c: half applied.
    system.crasher = Crasher(at=1 + 2 + 1 + 1 + 1 + 1)  # first: snapshot, apply, set a, verify; second: ...
    with pytest.raises(SimulatedCrash):
        machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])
    assert system.values.get("c") is None and system.values["b"] == 2
    system.crasher = Crasher()
    system.calls.clear()

    machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])

    assert [op for op, step in system.calls if step == "second"] == ["verify", "apply", "verify"]
    second = store.load().checkpoint.phases["demo"].step("second")
    assert second.status is StepStatus.DONE
    assert second.attempts == 2
    # The snapshot is the one taken before the first, partial apply: rollback must restore "old-b".
    assert second.before == {"values": {"b": "old-b", "c": None}}
    assert system.count("snapshot", "second") == 0


def test_a_pending_verdict_is_polled_with_its_retry_after(store, clock, system) -> None:
    step = KeyStep(system, "slow", {"a": 1}, pending_polls=3, retry_after=7.0)
    record = machine_for(store, clock).run(Phase("demo", [step]), context_with_events()[0])

    assert record.status is PhaseStatus.DONE
    assert clock.sleeps == [7.0, 7.0, 7.0]
    assert system.count("verify", "slow") == 4
    assert system.count("apply", "slow") == 1


def test_a_verdict_still_pending_at_verify_timeout_fails_the_step(store, clock, system) -> None:
    step = KeyStep(system, "stuck", {"a": 1}, pending_polls=100, retry_after=4.0, verify_timeout=10.0)
    with pytest.raises(PermanentError, match="verify timeout of 10s"):
        machine_for(store, clock).run(Phase("demo", [step]), context_with_events()[0])

    assert clock.sleeps == [4.0, 4.0, 2.0]
    saved = store.load().checkpoint.phases["demo"]
    assert saved.status is PhaseStatus.FAILED
    assert saved.step("stuck").status is StepStatus.FAILED
    assert saved.step("stuck").verdict["reason"] == "converging"
    assert "verify timeout" in saved.step("stuck").error


def test_a_failed_verdict_fails_the_step_without_polling(store, clock, system) -> None:
    step = KeyStep(system, "broken", {"a": 1})
    step.hooks["verify"] = lambda: system.values.update(a="tampered")
    with pytest.raises(PermanentError, match="did not take effect"):
        machine_for(store, clock).run(Phase("demo", [step]), context_with_events()[0])
    assert clock.sleeps == []
    assert statuses(store) == {"broken": "failed"}


def test_temporary_errors_are_retried_after_their_delay(store, clock, system) -> None:
    step = KeyStep(system, "flaky", {"a": 1})
    step.fail_next("apply", TemporaryError("broker restarting", delay=3.0), TemporaryError("still", delay=5.0))
    step.fail_next("verify", TemporaryError("dns not yet", delay=2.0))
    ctx, events = context_with_events()
    record = machine_for(store, clock).run(Phase("demo", [step]), ctx)

    assert record.status is PhaseStatus.DONE
    assert clock.sleeps == [3.0, 5.0, 2.0]
    assert store.load().checkpoint.phases["demo"].step("flaky").attempts == 3
    retries = [e.data for e in events if e.kind == "step.retrying"]
    assert [(r["during"], r["attempt"], r["delay"]) for r in retries] == [
        ("apply", 1, 3.0),
        ("apply", 2, 5.0),
        ("verify", 1, 2.0),
    ]


def test_temporary_errors_are_bounded(store, clock, system) -> None:
    step = KeyStep(system, "down", {"a": 1})
    step.fail_next("apply", *(TemporaryError("unreachable", delay=1.0) for _ in range(3)))
    with pytest.raises(TemporaryError, match="unreachable"):
        machine_for(store, clock, max_attempts=3).run(Phase("demo", [step]), context_with_events()[0])

    assert system.count("apply", "down") == 3
    saved = store.load().checkpoint.phases["demo"].step("down")
    assert saved.status is StepStatus.FAILED
    assert saved.attempts == 3
    assert saved.error == "apply: TemporaryError: unreachable"


@pytest.mark.parametrize("error", [PermanentError("quota exceeded"), ValueError("bug in step")])
def test_permanent_and_unexpected_errors_fail_the_step_and_propagate(store, clock, system, error) -> None:
    steps = three_steps(system)
    steps[1].fail_next("apply", error)
    ctx, events = context_with_events()
    with pytest.raises(type(error)) as raised:
        machine_for(store, clock).run(Phase("demo", steps), ctx)

    assert raised.value is error
    assert statuses(store) == {"first": "done", "second": "failed", "third": "pending"}
    saved = store.load().checkpoint.phases["demo"]
    assert saved.status is PhaseStatus.FAILED
    assert str(error) in saved.error and "second" in saved.error
    assert [e.kind for e in events][-2:] == ["step.failed", "phase.failed"]
    assert system.count("apply", "third") == 0


def test_resume_after_a_failure_verifies_then_reapplies(store, clock, system) -> None:
    steps = three_steps(system)
    steps[1].fail_next("apply", PermanentError("quota exceeded"))
    with pytest.raises(PermanentError):
        machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])
    system.calls.clear()

    record = machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])

    assert record.status is PhaseStatus.DONE and record.error is None
    assert [op for op, step in system.calls if step == "second"] == ["verify", "apply", "verify"]
    assert record.step("second").attempts == 2


def test_a_failed_snapshot_leaves_the_step_pending(store, clock, system) -> None:
    step = KeyStep(system, "unreadable", {"a": 1})
    step.fail_next("snapshot", PermanentError("cannot read"))
    with pytest.raises(PermanentError):
        machine_for(store, clock).run(Phase("demo", [step]), context_with_events()[0])
    saved = store.load().checkpoint.phases["demo"].step("unreadable")
    assert saved.status is StepStatus.PENDING and saved.before is None
    assert saved.error == "snapshot: PermanentError: cannot read"
    assert system.count("apply", "unreadable") == 0


def test_a_safety_gate_raised_by_a_step_pauses_the_phase(store, clock, system) -> None:
    steps = three_steps(system, pending_polls=1)
    steps[1].fail_next("verify", SafetyGateError("2 offline partitions"))
    ctx, events = context_with_events()
    with pytest.raises(SafetyGateError):
        machine_for(store, clock).run(Phase("demo", steps), ctx)

    saved = store.load().checkpoint.phases["demo"]
    assert saved.status is PhaseStatus.PAUSED
    assert "2 offline partitions" in saved.pause_reason
    assert saved.step("second").status is StepStatus.APPLIED
    assert events[-1].kind == "phase.paused"

    assert machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0]).status is PhaseStatus.DONE
    assert system.count("apply", "second") == 1


# ------------------------------------------------------------------ preconditions and skipping


def test_a_failed_precondition_raises_a_safety_gate_and_applies_nothing(store, clock, system) -> None:
    def controller_present(ctx: StepContext) -> Verdict:
        return Verdict.failed("no active controller")

    ctx, events = context_with_events()
    preconditions = [Precondition("always", lambda ctx: Verdict.ok()), Precondition("controller_present", controller_present)]
    phase = Phase("demo", three_steps(system), preconditions=preconditions)
    with pytest.raises(SafetyGateError, match="controller_present: no active controller"):
        machine_for(store, clock).run(phase, ctx)

    assert system.calls == []
    saved = store.load().checkpoint.phases["demo"]
    assert saved.status is PhaseStatus.PENDING
    assert "no active controller" in saved.error
    assert events[-1].kind == "phase.blocked"


def test_preconditions_guard_the_entry_only(store, clock, system) -> None:
    """Entry preconditions may be made false by the phase's own steps; a resumed phase is past them."""
    entry_holds = {"ok": True}
    steps = three_steps(system)
    steps[0].hooks["apply"] = lambda: entry_holds.update(ok=False)
    phase = Phase("demo", steps, preconditions=[Precondition("entry", lambda ctx: Verdict(entry_holds["ok"], "entry"))])
    steps[1].fail_next("apply", PermanentError("boom"))
    with pytest.raises(PermanentError):
        machine_for(store, clock).run(phase, context_with_events()[0])

    assert machine_for(store, clock).run(phase, context_with_events()[0]).status is PhaseStatus.DONE


def test_a_phase_with_a_skip_reason_is_recorded_skipped_and_runs_nothing(store, clock, system) -> None:
    ctx, events = context_with_events()
    phase = Phase("broker-id-shift", three_steps(system), skip_when=lambda ctx: "the target can use node IDs 1000-1999")
    record = machine_for(store, clock).run(phase, ctx)

    assert record.status is PhaseStatus.SKIPPED
    assert record.skip_reason == "the target can use node IDs 1000-1999"
    assert system.calls == []
    assert store.load().checkpoint.phases["broker-id-shift"].status is PhaseStatus.SKIPPED
    assert [(e.kind, e.data["reason"]) for e in events] == [("phase.skipped", "the target can use node IDs 1000-1999")]


def test_a_phase_whose_steps_ran_carries_on_without_asking_its_skip_condition(store, clock, system) -> None:
    """Once steps ran, the cluster no longer shows where the phase started: the record stands."""
    steps = three_steps(system)
    machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0], until="first")
    asked = []
    phase = Phase("demo", steps, skip_when=lambda ctx: asked.append(ctx) or "changed our mind")
    assert machine_for(store, clock).plan(phase, context_with_events()[0]).skip_reason is None
    assert machine_for(store, clock).run(phase, context_with_events()[0]).status is PhaseStatus.DONE
    assert asked == []


# ------------------------------------------------------------------------- irreversible steps


def cutover(system: FakeSystem) -> Phase:
    return Phase(
        "kraft-cutover",
        [
            KeyStep(system, "brokers-to-kraft", {"mode": "kraft"}),
            KeyStep(system, "finalize", {"zk": "gone"}, reversible=False),
            KeyStep(system, "retire-zookeeper", {"zk-hosts": 0}),
        ],
    )


def test_an_irreversible_step_is_refused_without_confirmation(store, clock, system) -> None:
    with pytest.raises(BadInput) as refused:
        machine_for(store, clock).run(cutover(system), context_with_events()[0])

    message = str(refused.value)
    assert "irreversible step(s) finalize" in message
    assert f"{CONFIRM_FLAG} finalize" in message
    assert f"{UNTIL_FLAG} brokers-to-kraft" in message
    assert "Nothing was changed" in message
    assert system.calls == []
    assert store.load() is None
    assert store.lock_holder() is None


def test_a_confirmed_irreversible_step_runs(store, clock, system) -> None:
    record = machine_for(store, clock).run(cutover(system), context_with_events()[0], confirm={"finalize"})
    assert record.status is PhaseStatus.DONE
    assert system.values["zk"] == "gone"


def test_until_stops_before_the_point_of_no_return_and_a_later_run_confirms(store, clock, system) -> None:
    phase = cutover(system)
    ctx, events = context_with_events()
    record = machine_for(store, clock).run(phase, ctx, until="brokers-to-kraft")

    assert record.status is PhaseStatus.PAUSED
    assert UNTIL_FLAG in record.pause_reason
    assert list(statuses(store, "kraft-cutover").values()) == ["done", "pending", "pending"]
    assert events[-1].kind == "phase.paused"

    with pytest.raises(BadInput, match="finalize"):
        machine_for(store, clock).run(phase, context_with_events()[0])
    record = machine_for(store, clock).run(phase, context_with_events()[0], confirm=["finalize"])
    assert record.status is PhaseStatus.DONE


def test_until_must_name_a_step_of_the_phase(store, clock, system) -> None:
    with pytest.raises(BadInput, match="names no step of phase kraft-cutover"):
        machine_for(store, clock).run(cutover(system), context_with_events()[0], until="finalise")


# -------------------------------------------------------------------------------- rollback


def test_rollback_restores_the_snapshots_in_reverse_order(store, clock, system) -> None:
    system.values.update(a="a0", d="d0")
    steps = three_steps(system)
    machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])
    system.calls.clear()

    ctx, events = context_with_events()
    record = machine_for(store, clock).rollback(Phase("demo", steps), ctx)

    assert record.status is PhaseStatus.ROLLED_BACK
    assert system.values == {"a": "a0", "d": "d0"}
    assert [step for op, step in system.calls if op == "rollback"] == ["third", "second", "first"]
    assert statuses(store) == {"first": "rolled_back", "second": "rolled_back", "third": "rolled_back"}
    assert [e.kind for e in events if e.kind.startswith(("step.rolled", "phase.roll"))] == [
        "phase.rolling_back",
        "step.rolled_back",
        "step.rolled_back",
        "step.rolled_back",
        "phase.rolled_back",
    ]
    assert store.load().checkpoint.phases["demo"].state == {}


def test_rollback_undoes_a_half_applied_step_and_leaves_pending_ones_alone(store, clock, system) -> None:
    system.values["b"] = "b0"
    steps = three_steps(system)
    system.crasher = Crasher(at=1 + 2 + 1 + 1 + 1 + 1)  # inside second's apply, after b was set
    with pytest.raises(SimulatedCrash):
        machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])
    system.crasher = Crasher()

    machine_for(store, clock).rollback(Phase("demo", steps), context_with_events()[0])

    assert system.values == {"b": "b0"}
    assert system.count("rollback", "third") == 0
    assert statuses(store) == {"first": "rolled_back", "second": "rolled_back", "third": "pending"}


def test_rollback_is_refused_once_the_phase_entered_an_irreversible_step(store, clock, system) -> None:
    phase = cutover(system)
    phase.steps[2].fail_next("apply", PermanentError("zookeeper hosts still referenced"))
    with pytest.raises(PermanentError):
        machine_for(store, clock).run(phase, context_with_events()[0], confirm={"finalize"})
    before = store.checkpoint_path.read_bytes()

    with pytest.raises(BadInput, match=r"irreversible step\(s\) finalize \(done\)"):
        machine_for(store, clock).rollback(phase, context_with_events()[0])
    assert system.count("rollback", "retire-zookeeper") == 0
    assert store.checkpoint_path.read_bytes() == before


def test_a_failed_rollback_stays_rolling_back_and_a_second_rollback_finishes(store, clock, system) -> None:
    steps = three_steps(system)
    machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])
    steps[1].fail_next("rollback", PermanentError("record locked"))
    with pytest.raises(PermanentError):
        machine_for(store, clock).rollback(Phase("demo", steps), context_with_events()[0])
    saved = store.load().checkpoint.phases["demo"]
    assert saved.status is PhaseStatus.ROLLING_BACK
    assert statuses(store) == {"first": "done", "second": "rolling_back", "third": "rolled_back"}
    assert "record locked" in saved.error

    with pytest.raises(BadInput, match="half rolled back"):
        machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])

    record = machine_for(store, clock).rollback(Phase("demo", steps), context_with_events()[0])
    assert record.status is PhaseStatus.ROLLED_BACK
    assert system.values == {}
    assert system.count("rollback", "third") == 1


def test_a_phase_runs_again_after_rollback_with_fresh_snapshots(store, clock, system) -> None:
    steps = three_steps(system)
    machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])
    machine_for(store, clock).rollback(Phase("demo", steps), context_with_events()[0])
    system.values["a"] = "changed meanwhile"

    record = machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])

    assert record.status is PhaseStatus.DONE
    assert record.step("first").before == {"values": {"a": "changed meanwhile"}}
    assert system.count("apply", "first") == 2


def test_rollback_of_a_phase_that_never_ran_does_nothing(store, clock, system) -> None:
    record = machine_for(store, clock).rollback(Phase("demo", three_steps(system)), context_with_events()[0])
    assert record.status is PhaseStatus.PENDING
    assert store.load() is None and system.calls == []


# ---------------------------------------------------------------------------- pause, resume


def test_a_pause_request_stops_the_run_between_steps_and_resume_continues(store, clock, system) -> None:
    steps = three_steps(system)
    other_process = machine_for(LocalFileStore(store.directory), clock)
    steps[0].hooks["apply"] = lambda: other_process.request_pause("change freeze")
    ctx, events = context_with_events()
    record = machine_for(store, clock).run(Phase("demo", steps), ctx)

    assert record.status is PhaseStatus.PAUSED
    assert "change freeze" in record.pause_reason
    assert statuses(store) == {"first": "done", "second": "pending", "third": "pending"}
    assert events[-1].kind == "phase.paused" and "change freeze" in events[-1].data["reason"]
    assert store.pause_request() is None

    steps[0].hooks.clear()
    assert machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0]).status is PhaseStatus.DONE
    assert system.count("apply", "first") == 1


def test_a_pause_request_also_stops_a_wait_for_a_verdict(store, clock, system) -> None:
    step = KeyStep(system, "moving-replicas", {"a": 1}, pending_polls=5)
    step.hooks["verify"] = lambda: machine_for(LocalFileStore(store.directory), clock).request_pause("night")
    record = machine_for(store, clock).run(Phase("demo", [step]), context_with_events()[0])
    assert record.status is PhaseStatus.PAUSED
    assert record.step("moving-replicas").status is StepStatus.APPLIED

    step.hooks.clear()
    assert machine_for(store, clock).run(Phase("demo", [step]), context_with_events()[0]).status is PhaseStatus.DONE
    assert system.count("apply", "moving-replicas") == 1


def test_a_pause_requested_while_nothing_ran_does_not_stop_the_next_run(store, clock, system) -> None:
    holder = machine_for(store, clock).request_pause("forgotten")
    assert holder is None
    record = machine_for(store, clock).run(Phase("demo", three_steps(system)), context_with_events()[0])
    assert record.status is PhaseStatus.DONE


def test_the_run_holds_the_lock(store, clock, system) -> None:
    steps = three_steps(system)
    refused = []

    def second_process_tries() -> None:
        with pytest.raises(BadInput) as error:
            machine_for(LocalFileStore(store.directory), clock).run(Phase("demo", steps), context_with_events()[0])
        refused.append(str(error.value))

    steps[1].hooks["apply"] = second_process_tries
    machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])

    assert len(refused) == 1 and "held by" in refused[0]
    assert system.count("apply", "first") == 1
    assert store.lock_holder() is None


# -------------------------------------------------------------------------- plan and status


def test_plan_shows_actions_done_steps_and_the_point_of_no_return_without_writing(store, clock, system) -> None:
    phase = cutover(system)
    machine_for(store, clock).run(phase, context_with_events()[0], until="brokers-to-kraft")
    checkpoint, journal = store.checkpoint_path.read_bytes(), store.journal_path.read_bytes()

    plan = machine_for(store, clock).plan(phase, context_with_events()[0])

    assert plan.point_of_no_return == "finalize"
    by_name = {step.name: step for step in plan.steps}
    assert by_name["brokers-to-kraft"].already_done and by_name["brokers-to-kraft"].actions == []
    assert by_name["finalize"].point_of_no_return and not by_name["finalize"].already_done
    assert [a.to_dict() for a in by_name["finalize"].actions] == [
        {"verb": "set", "target": "zk", "detail": {"from": None, "to": "gone"}}
    ]
    assert plan.to_dict()["steps"][1]["point_of_no_return"] is True
    assert (store.checkpoint_path.read_bytes(), store.journal_path.read_bytes()) == (checkpoint, journal)
    assert not any(op == "apply" and step != "brokers-to-kraft" for op, step in system.calls)


def test_plan_of_a_fresh_migration_writes_nothing(store, clock, system) -> None:
    plan = machine_for(store, clock).plan(Phase("demo", three_steps(system)), context_with_events()[0])
    assert [s.name for s in plan.steps] == ["first", "second", "third"]
    assert plan.point_of_no_return is None
    assert not store.directory.exists()


def test_plan_of_a_skipped_phase_asks_no_step(store, clock, system) -> None:
    phase = Phase("demo", three_steps(system), skip_when=lambda ctx: "not needed")
    plan = machine_for(store, clock).plan(phase, context_with_events()[0])
    assert plan.skip_reason == "not needed"
    assert all(step.actions == [] for step in plan.steps)


def test_status_reports_phases_steps_lock_and_pause(store, clock, system) -> None:
    machine = machine_for(store, clock)
    assert machine.status().checkpoint is None
    machine.run(Phase("demo", three_steps(system)), context_with_events()[0], until="second")
    machine.request_pause("lunch")

    status = machine.status().to_dict()

    assert status["migration_id"] == MIGRATION
    assert status["lock"] is None
    assert status["pause_request"]["reason"] == "lunch"
    [phase] = status["phases"]
    assert phase["status"] == "paused"
    assert [(s["name"], s["status"]) for s in phase["steps"]] == [
        ("first", "done"),
        ("second", "done"),
        ("third", "pending"),
    ]


# ------------------------------------------------------------------------------ checkpoint use


def test_a_checkpoint_of_another_migration_is_refused(store, clock, system) -> None:
    machine_for(store, clock).run(Phase("demo", three_steps(system)), context_with_events()[0])
    before = store.checkpoint_path.read_bytes()
    other = machine_for(store, clock, migration_id="other-fleet")

    for attempt in (
        lambda: other.run(Phase("demo", three_steps(system)), context_with_events()[0]),
        lambda: other.rollback(Phase("demo", three_steps(system)), context_with_events()[0]),
        other.status,
    ):
        with pytest.raises(BadInput, match="belongs to migration 'mig-1', not to 'other-fleet'"):
            attempt()
    assert store.checkpoint_path.read_bytes() == before


def test_phase_state_is_persisted_and_restored_for_later_steps(store, clock, system) -> None:
    steps = three_steps(system)
    seen = {}
    steps[2].hooks["apply"] = lambda: seen.update(ctx_state=dict(ctx2.state))
    machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0], until="second")

    ctx2, _ = context_with_events()
    machine_for(store, clock).run(Phase("demo", steps), ctx2)

    assert seen["ctx_state"] == {"first": ["a"], "second": ["b", "c"]}
    assert store.load().checkpoint.phases["demo"].state == {"first": ["a"], "second": ["b", "c"], "third": ["d"]}


def test_state_that_is_not_json_is_refused_with_the_phase_named(store, clock, system) -> None:
    step = KeyStep(system, "bad", {"a": 1})
    ctx, _ = context_with_events()
    step.hooks["apply"] = lambda: ctx.state.update(handle=object())
    with pytest.raises(MigratorError, match="the state of phase demo cannot be stored"):
        machine_for(store, clock).run(Phase("demo", [step]), ctx)


def test_a_recorded_step_the_phase_no_longer_has_is_refused(store, clock, system) -> None:
    steps = three_steps(system)
    machine_for(store, clock).run(Phase("demo", steps), context_with_events()[0])
    with pytest.raises(BadInput, match=r"second \(done\) of phase demo"):
        machine_for(store, clock).run(Phase("demo", [steps[0], steps[2]]), context_with_events()[0])
