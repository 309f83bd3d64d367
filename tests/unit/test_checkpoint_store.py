"""The checkpoint model, its status tables, and the local file store (atomic writes, CAS, journal)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest
from tests.unit.engine_fakes import scratch_directory

from migrator.engine import files
from migrator.engine.checkpoint import (
    NEW,
    PHASE_TRANSITIONS,
    STEP_TRANSITIONS,
    Checkpoint,
    CheckpointConflict,
    InvalidTransition,
    JournalEntry,
    LocalFileStore,
    PauseRequest,
    PhaseRecord,
    PhaseStatus,
    StepRecord,
    StepStatus,
)
from migrator.errors import BadInput, MigratorError


@pytest.fixture
def store() -> Iterator[LocalFileStore]:
    with scratch_directory() as directory:
        yield LocalFileStore(directory / "checkpoint")


def checkpoint_with_one_step(status: StepStatus = StepStatus.PENDING) -> Checkpoint:
    record = PhaseRecord(name="demo", steps=[StepRecord(name="only", status=status)])
    return Checkpoint(migration_id="mig-1", phases={"demo": record})


# --------------------------------------------------------------------------- status tables


@pytest.mark.parametrize("current, wanted", list(itertools.product(StepStatus, StepStatus)))
def test_a_step_moves_only_along_its_table(current: StepStatus, wanted: StepStatus) -> None:
    record = StepRecord(name="only", status=current)
    if wanted in STEP_TRANSITIONS[current]:
        record.move_to(wanted, "demo")
        assert record.status is wanted and record.updated_at is not None
    else:
        with pytest.raises(InvalidTransition, match=f"from {current.value} to {wanted.value}"):
            record.move_to(wanted, "demo")
        assert record.status is current


@pytest.mark.parametrize("current, wanted", list(itertools.product(PhaseStatus, PhaseStatus)))
def test_a_phase_moves_only_along_its_table(current: PhaseStatus, wanted: PhaseStatus) -> None:
    record = PhaseRecord(name="demo", status=current)
    if wanted in PHASE_TRANSITIONS[current]:
        record.move_to(wanted)
        assert record.status is wanted
    else:
        with pytest.raises(InvalidTransition):
            record.move_to(wanted)
        assert record.status is current


def test_the_tables_encode_the_engine_promises() -> None:
    s = StepStatus
    assert s.APPLYING not in STEP_TRANSITIONS[s.DONE], "a verified step is never applied again"
    assert s.DONE not in STEP_TRANSITIONS[s.PENDING], "nothing is done before its intent is recorded"
    assert STEP_TRANSITIONS[s.ROLLING_BACK] == {s.ROLLED_BACK}, "a started rollback only finishes"
    assert s.APPLYING in STEP_TRANSITIONS[s.ROLLED_BACK], "a rolled-back phase can run again"
    assert PhaseStatus.RUNNING not in PHASE_TRANSITIONS[PhaseStatus.ROLLING_BACK]
    assert set(STEP_TRANSITIONS) == set(StepStatus) and set(PHASE_TRANSITIONS) == set(PhaseStatus)


def test_syncing_steps_adds_new_ones_in_phase_order_and_refuses_duplicates() -> None:
    record = PhaseRecord(name="demo", steps=[StepRecord(name="b", status=StepStatus.DONE), StepRecord(name="gone")])
    record.sync_steps(["a", "b", "c"])
    assert [(s.name, s.status.value) for s in record.steps] == [("a", "pending"), ("b", "done"), ("c", "pending")]
    with pytest.raises(MigratorError, match="twice"):
        record.sync_steps(["a", "a"])


# ------------------------------------------------------------------------------ local store


def test_save_and_load_round_trip_with_a_growing_revision(store: LocalFileStore) -> None:
    assert store.load() is None
    checkpoint = checkpoint_with_one_step()
    checkpoint.phases["demo"].state = {"inventory": {"brokers": [0, 1, 2]}}
    first = store.save(checkpoint, expected_version=NEW)
    second = store.save(checkpoint, expected_version=first)

    loaded = store.load()
    assert (first, second, loaded.version) == ("1", "2", "2")
    assert loaded.checkpoint == checkpoint
    assert json.loads(store.checkpoint_path.read_text())["phases"]["demo"]["steps"][0]["status"] == "pending"


def test_save_is_a_compare_and_swap(store: LocalFileStore) -> None:
    checkpoint = checkpoint_with_one_step()
    store.save(checkpoint, expected_version=NEW)
    store.save(checkpoint, expected_version="1")
    on_disk = store.checkpoint_path.read_bytes()

    with pytest.raises(CheckpointConflict, match="expected revision 1, found 2"):
        store.save(checkpoint, expected_version="1")
    with pytest.raises(CheckpointConflict, match="expected revision none"):
        store.save(checkpoint, expected_version=NEW)
    assert store.checkpoint_path.read_bytes() == on_disk
    assert store.save(checkpoint, expected_version=None) == "3"


def test_a_failed_write_keeps_the_previous_checkpoint_and_leaves_no_temporary_file(store, monkeypatch) -> None:
    checkpoint = checkpoint_with_one_step()
    store.save(checkpoint, expected_version=NEW)
    on_disk = store.checkpoint_path.read_bytes()

    def disk_full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", disk_full)
    checkpoint.phases["demo"].steps[0].status = StepStatus.APPLYING
    with pytest.raises(MigratorError, match="No space left on device"):
        store.save(checkpoint, expected_version="1")

    assert store.checkpoint_path.read_bytes() == on_disk
    assert sorted(p.name for p in store.directory.iterdir()) == ["checkpoint.json"]


def test_a_damaged_checkpoint_is_reported_not_overwritten(store: LocalFileStore) -> None:
    store.save(checkpoint_with_one_step(), expected_version=NEW)
    store.checkpoint_path.write_text('{"migration_id": "mig-1", "revision": 1, "phases": {"demo": {"status": "gone"}}}')
    with pytest.raises(BadInput, match="edited by hand or the disk is damaged"):
        store.load()
    store.checkpoint_path.write_text("{not json")
    with pytest.raises(BadInput, match="is not valid"):
        store.save(checkpoint_with_one_step(), expected_version="1")
    assert store.checkpoint_path.read_text() == "{not json"


def test_the_journal_is_append_only_and_names_who_and_when(store: LocalFileStore) -> None:
    first = JournalEntry.now("step", phase="demo", step="only", from_status="pending", to_status="applying")
    store.append_journal(first)
    head = store.journal_path.read_bytes()
    second = JournalEntry.now("step", phase="demo", step="only", from_status="applying", to_status="applied")
    store.append_journal(second)

    assert store.journal_path.read_bytes().startswith(head)
    entries = store.read_journal()
    assert [(e.from_status, e.to_status) for e in entries] == [("pending", "applying"), ("applying", "applied")]
    assert all(e.user and e.host and e.pid and e.at for e in entries)
    assert len(store.journal_path.read_text().splitlines()) == 2


def test_a_torn_last_journal_line_is_ignored_but_a_torn_middle_is_not(store: LocalFileStore) -> None:
    store.append_journal(JournalEntry.now("phase", phase="demo"))
    with open(store.journal_path, "a") as journal:
        journal.write('{"at": "2026-01-01T00:00:00Z", "us')
    assert len(store.read_journal()) == 1

    with open(store.journal_path, "a") as journal:
        journal.write("\n" + JournalEntry.now("phase", phase="demo").model_dump_json() + "\n")
    with pytest.raises(ValueError):
        store.read_journal()


def test_a_pause_request_is_stored_until_cleared(store: LocalFileStore) -> None:
    assert store.pause_request() is None
    store.request_pause(PauseRequest.now("change freeze"))
    request = store.pause_request()
    assert request.reason == "change freeze" and request.user and request.host
    store.clear_pause()
    assert store.pause_request() is None
