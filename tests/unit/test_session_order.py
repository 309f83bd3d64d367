"""The whole migration's order: rollback newest first (refused out of order, `--to` walks and resumes
after a kill), and resume picks the interrupted phase by migration order and state. Fake phases on
the real local checkpoint store; the CLI's refusal is checked through the CLI itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner
from tests.unit.engine_fakes import FakeClock, FakeSystem, KeyStep, SimulatedCrash, scratch_directory

from migrator.cli import app
from migrator.engine.checkpoint import Checkpoint, LocalFileStore, PhaseRecord, PhaseStatus, StepRecord, StepStatus
from migrator.engine.machine import Machine
from migrator.engine.phase import Phase
from migrator.errors import BadInput
from migrator.session import Session, choose_resume

ORDER = ["one", "two", "three"]


@pytest.fixture
def store() -> Iterator[LocalFileStore]:
    with scratch_directory() as directory:
        yield LocalFileStore(directory / "checkpoint")


def _session(store: LocalFileStore, system: FakeSystem) -> Session:
    phases = {name: [KeyStep(system, f"{name}-a", {f"{name}.a": 1}), KeyStep(system, f"{name}-b", {f"{name}.b": 2})] for name in ORDER}
    clock = FakeClock()
    machine = Machine(store, "mig", sleep=clock.sleep, monotonic=clock.monotonic)
    return Session(config=None, machine=machine, builder=lambda name: Phase(name, phases[name]), order=list(ORDER))


def _run_all(session: Session, names: list[str]) -> None:
    for name in names:
        session.require_order(name)
        assert session.machine.run(session.phase(name), session.context()).status is PhaseStatus.DONE


def test_rolling_back_a_phase_while_a_later_one_stands_is_refused_with_the_commands_in_order(store) -> None:
    session = _session(store, FakeSystem())
    _run_all(session, ["one", "two", "three"])
    with pytest.raises(BadInput) as refused:
        session.require_rollback_order("one")
    message = str(refused.value)
    assert "three (done), two (done)" in message
    assert message.index("`migrator rollback three`") < message.index("`migrator rollback two`") < message.index(
        "`migrator rollback one`"
    )
    assert "migrator rollback --to one" in message and "Nothing was changed" in message
    session.require_rollback_order("three")  # the newest may go


def test_rollback_to_walks_the_phases_newest_first(store) -> None:
    system = FakeSystem()
    session = _session(store, system)
    _run_all(session, ["one", "two", "three"])
    records = session.rollback_to("two")
    assert [r.name for r in records] == ["three", "two"]
    rollbacks = [step for op, step in system.calls if op == "rollback"]
    assert rollbacks == ["three-b", "three-a", "two-b", "two-a"]
    checkpoint = store.load().checkpoint
    assert checkpoint.phases["one"].status is PhaseStatus.DONE and checkpoint.rollback_to is None
    session.require_rollback_order("one")  # now allowed: nothing later stands


def test_a_rollback_walk_killed_midway_is_carried_on_by_resume(store) -> None:
    system = FakeSystem()
    session = _session(store, system)
    _run_all(session, ["one", "two", "three"])
    rollbacks_before_kill = 3  # three-b, three-a, then die inside two-b's rollback
    calls = {"n": 0}

    def crash_on_third_rollback() -> None:
        calls["n"] += 1
        if calls["n"] == rollbacks_before_kill:
            raise SimulatedCrash("killed during the rollback of two")

    for name in ORDER:
        for step in session.phase(name).steps:
            step.hooks["rollback"] = crash_on_third_rollback
    with pytest.raises(SimulatedCrash):
        session.rollback_to("one")

    fresh = _session(store, system)
    assert fresh.status().to_dict()["rollback_to"] == "one"  # what `migrator status` shows meanwhile
    choice = fresh.unfinished()
    assert choice is not None and choice.phase == "two" and choice.rolling_back and choice.rollback_to == "one"
    assert "two, one" in choice.why
    records = fresh.rollback_to(choice.rollback_to)
    assert [r.name for r in records] == ["two", "one"]
    assert all(r.status is PhaseStatus.ROLLED_BACK for r in records)
    assert store.load().checkpoint.rollback_to is None
    assert fresh.unfinished() is None


def _record(name: str, status: PhaseStatus, step: StepStatus = StepStatus.DONE) -> PhaseRecord:
    return PhaseRecord(name=name, status=status, steps=[StepRecord(name="s", status=step)])


def test_resume_picks_by_migration_order_not_by_the_checkpoint_dictionary() -> None:
    # Recorded in another order than the migration's (e.g. a phase re-run after new steps were added).
    checkpoint = Checkpoint(
        migration_id="m",
        phases={
            "three": _record("three", PhaseStatus.PAUSED, StepStatus.APPLIED),
            "two": _record("two", PhaseStatus.FAILED, StepStatus.FAILED),
            "one": _record("one", PhaseStatus.DONE),
        },
    )
    choice = choose_resume(checkpoint, ORDER)
    assert choice is not None and choice.phase == "two" and not choice.rolling_back
    assert "failed" in choice.why

    checkpoint.phases["three"] = _record("three", PhaseStatus.ROLLING_BACK, StepStatus.ROLLING_BACK)
    choice = choose_resume(checkpoint, ORDER)
    assert choice is not None and choice.phase == "three" and choice.rolling_back


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "migration.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "migration_id": "unit",
                "cluster": {"zookeeper_connect": "127.0.0.1:1/kafka", "bootstrap_servers": "127.0.0.1:1", "cluster_id": "abc"},
                "checkpoint": {"path": str(tmp_path / "ckpt")},
            }
        )
    )
    return path


def test_cli_refuses_rolling_back_the_facade_after_the_broker_id_shift(tmp_path: Path) -> None:
    """The operator's case: the facade names are what clients of the shifted brokers bootstrap through."""
    path = _config(tmp_path)
    checkpoint = Checkpoint(
        migration_id="unit",
        phases={
            "preflight": _record("preflight", PhaseStatus.DONE),
            "dns-facade": _record("dns-facade", PhaseStatus.DONE),
            "broker-id-shift": _record("broker-id-shift", PhaseStatus.DONE),
        },
    )
    store = LocalFileStore(tmp_path / "ckpt")
    store.save(checkpoint, expected_version="")
    before = store.checkpoint_path.read_text()

    result = CliRunner().invoke(app, ["rollback", "dns-facade", "--config", str(path), "--yes", "--output", "json"])
    assert result.exit_code == 2, result.output
    error = yaml.safe_load(result.stdout)["error"]
    assert error["exit_code"] == 2 and error["kind"] == "BadInput"
    assert "broker-id-shift (done)" in error["message"]
    assert "`migrator rollback broker-id-shift` then `migrator rollback dns-facade`" in error["message"]
    assert store.checkpoint_path.read_text() == before


def test_cli_rollback_takes_a_phase_or_to_but_not_both(tmp_path: Path) -> None:
    path = str(_config(tmp_path))
    for args in ([], ["dns-facade", "--to", "preflight"]):
        result = CliRunner().invoke(app, ["rollback", *args, "--config", path, "--yes"])
        assert result.exit_code == 2 and "--to PHASE" in " ".join(result.stderr.split())


def test_cli_rollback_to_with_nothing_to_undo_changes_nothing(tmp_path: Path) -> None:
    path = str(_config(tmp_path))
    result = CliRunner().invoke(app, ["rollback", "--to", "dns-facade", "--config", path, "--yes", "--output", "json"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout) == {"phases": []}


def test_a_walk_killed_after_its_last_phase_is_closed_by_resume(store) -> None:
    session = _session(store, FakeSystem())
    _run_all(session, ["one"])
    session.rollback_to("one")
    session.machine.record_rollback_target("one")  # as if killed before the record was cleared
    choice = session.unfinished()
    assert choice is not None and choice.rolling_back and "only its record is left" in choice.why
    assert session.rollback_to(choice.rollback_to) == []
    assert store.load().checkpoint.rollback_to is None and session.unfinished() is None
