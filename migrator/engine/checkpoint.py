"""The checkpoint: the durable record of what the machine did, and the stores that keep it.

Like Alembic's version table, the checkpoint is the engine's memory across processes: per phase its
status, shared state and, per step, the before-snapshot, the last verdict and the attempts. Statuses
move only along the small tables below (as in Strimzi's KRaft state manager): a request the table
does not allow is an error, never a silent overwrite.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel, Field, ValidationError

from migrator.engine.files import append_synced, atomic_write
from migrator.engine.lock import FileLock, Identity, LockInfo
from migrator.errors import BadInput, MigratorError

JSON = dict[str, Any]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class StepStatus(str, Enum):
    PENDING = "pending"
    APPLYING = "applying"  # intent and before-snapshot recorded; apply may have run in part
    APPLIED = "applied"  # apply returned; verify has not confirmed the outcome yet
    DONE = "done"  # verify confirmed the outcome: never applied again
    FAILED = "failed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"


class PhaseStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"


_S, _P = StepStatus, PhaseStatus

#: Every status a step may move to from each status. A failed rollback stays ROLLING_BACK (with the
#: error recorded) so the next rollback retries it.
STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    _S.PENDING: frozenset({_S.APPLYING}),
    _S.APPLYING: frozenset({_S.APPLIED, _S.DONE, _S.FAILED, _S.ROLLING_BACK}),
    _S.APPLIED: frozenset({_S.DONE, _S.FAILED, _S.ROLLING_BACK}),
    _S.DONE: frozenset({_S.ROLLING_BACK}),
    _S.FAILED: frozenset({_S.APPLYING, _S.DONE, _S.ROLLING_BACK}),
    _S.ROLLING_BACK: frozenset({_S.ROLLED_BACK}),
    _S.ROLLED_BACK: frozenset({_S.APPLYING}),
}

#: The same for phases. The machine skips a phase only while none of its steps has started.
PHASE_TRANSITIONS: dict[PhaseStatus, frozenset[PhaseStatus]] = {
    _P.PENDING: frozenset({_P.RUNNING, _P.SKIPPED}),
    _P.RUNNING: frozenset({_P.PAUSED, _P.DONE, _P.FAILED, _P.ROLLING_BACK, _P.SKIPPED}),
    _P.PAUSED: frozenset({_P.RUNNING, _P.ROLLING_BACK, _P.SKIPPED}),
    _P.FAILED: frozenset({_P.RUNNING, _P.ROLLING_BACK, _P.SKIPPED}),
    _P.DONE: frozenset({_P.RUNNING, _P.ROLLING_BACK}),
    _P.SKIPPED: frozenset({_P.RUNNING}),
    _P.ROLLING_BACK: frozenset({_P.ROLLED_BACK}),
    _P.ROLLED_BACK: frozenset({_P.RUNNING, _P.SKIPPED}),
}

#: Step statuses that may have changed the real system: what a rollback undoes.
UNDOABLE = frozenset({_S.APPLYING, _S.APPLIED, _S.DONE, _S.FAILED, _S.ROLLING_BACK})


class InvalidTransition(MigratorError):
    """The machine asked for a move the status table forbids: a bug or an edited checkpoint."""


class CheckpointConflict(BadInput):
    """The stored checkpoint is not the version this process read: someone else wrote it."""


class StepRecord(BaseModel):
    name: str
    status: StepStatus = StepStatus.PENDING
    #: What step.snapshot() returned before the first apply; rollback restores it.
    before: JSON | None = None
    verdict: JSON | None = None
    #: How many times apply was called for the current application (re-applies after a crash count).
    attempts: int = 0
    #: The last figures the step reported in a "progress" event (e.g. bytes moved, rate, ETA), saved
    #: whenever they change, so `migrator status` shows them from another process.
    progress: JSON | None = None
    error: str | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None

    def move_to(self, status: StepStatus, phase: str) -> None:
        if status not in STEP_TRANSITIONS[self.status]:
            raise InvalidTransition(
                f"Step {self.name} of phase {phase} cannot go from {self.status.value} to {status.value}; "
                "the checkpoint was edited or the machine has a bug. Inspect it with `migrator status`."
            )
        self.status = status
        self.updated_at = utcnow()


class PhaseRecord(BaseModel):
    name: str
    status: PhaseStatus = PhaseStatus.PENDING
    skip_reason: str | None = None
    pause_reason: str | None = None
    error: str | None = None
    #: The phase's shared JSON memory (StepContext.state), restored on every run.
    state: JSON = Field(default_factory=dict)
    #: The safety gate's last answer: {"ok", "reason", "at"} (None before it was first asked).
    gate: JSON | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    started_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None

    def move_to(self, status: PhaseStatus) -> None:
        if status not in PHASE_TRANSITIONS[self.status]:
            raise InvalidTransition(
                f"Phase {self.name} cannot go from {self.status.value} to {status.value}; the checkpoint was "
                "edited or the machine has a bug. Inspect it with `migrator status`."
            )
        self.status = status
        self.updated_at = utcnow()

    def step(self, name: str) -> StepRecord:
        for record in self.steps:
            if record.name == name:
                return record
        raise KeyError(f"phase {self.name} has no recorded step {name!r}")

    def steps_left(self) -> list[str]:
        return [record.name for record in self.steps if record.status is not StepStatus.DONE]

    @property
    def started(self) -> bool:
        """Whether any step may have changed the real system since the phase last stood clean."""
        return any(record.status in UNDOABLE for record in self.steps)

    def sync_steps(self, names: list[str]) -> None:
        """Line the records up with the phase's steps (in its order), adding pending records for new ones.

        A recorded step the phase no longer has is refused unless it never ran: the code that could
        verify or roll it back is gone.
        """
        if len(set(names)) != len(names):
            raise MigratorError(f"Phase {self.name} lists a step name twice: {names}. Step names must be unique.")
        known = {record.name: record for record in self.steps}
        orphans = [r for n, r in known.items() if n not in names and r.status is not StepStatus.PENDING]
        if orphans:
            listed = ", ".join(f"{r.name} ({r.status.value})" for r in orphans)
            raise BadInput(
                f"The checkpoint records step(s) {listed} of phase {self.name}, which this version of migrator "
                "does not have. Finish or roll back the phase with the migrator version that started it, "
                "then upgrade."
            )
        self.steps = [known.get(name) or StepRecord(name=name) for name in names]


class Checkpoint(BaseModel):
    format: int = 1
    migration_id: str
    #: Bumped by every save; the local store's compare-and-swap version.
    revision: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    phases: dict[str, PhaseRecord] = Field(default_factory=dict)
    #: A rollback of several phases in progress, down to (and including) this phase: what a resume
    #: after a kill carries on with. None when no such walk is under way.
    rollback_to: str | None = None

    def check_owner(self, migration_id: str, location: str) -> None:
        if self.migration_id != migration_id:
            raise BadInput(
                f"The checkpoint at {location} belongs to migration '{self.migration_id}', not to "
                f"'{migration_id}' (migration_id in migration.yaml). One checkpoint location serves one "
                "migration: point checkpoint.path at this migration's own location, or correct migration_id "
                "if you meant to continue the recorded migration. Nothing was changed."
            )


class JournalEntry(BaseModel):
    """One line of the append-only journal: who moved what from which status to which, and when."""

    at: datetime
    user: str
    host: str
    pid: int
    event: str  # "step", "phase", "lock.broken", ...
    migration_id: str | None = None
    phase: str | None = None
    step: str | None = None
    from_status: str | None = None
    to_status: str | None = None
    detail: JSON = Field(default_factory=dict)

    @classmethod
    def now(cls, event: str, **fields: Any) -> "JournalEntry":
        me = Identity.current()
        return cls(at=utcnow(), user=me.user, host=me.host, pid=me.pid, event=event, **fields)


class PauseRequest(BaseModel):
    reason: str
    user: str
    host: str
    at: datetime

    @classmethod
    def now(cls, reason: str) -> "PauseRequest":
        me = Identity.current()
        return cls(reason=reason, user=me.user, host=me.host, at=utcnow())


@dataclass(frozen=True)
class Versioned:
    checkpoint: Checkpoint
    #: Opaque: the local store's revision counter, a Kubernetes store's resourceVersion.
    version: str


#: expected_version for a save that creates the checkpoint: it must not exist yet.
NEW = ""


class CheckpointStore(ABC):
    """Where a migration's checkpoint, journal, lock and pause request live.

    `save` is a compare-and-swap: given `expected_version`, it writes only when the stored version
    still is that one (NEW: nothing stored yet), and returns the new version. A Kubernetes store maps
    this onto resourceVersion; the local store onto the checkpoint's revision.
    """

    def __init__(self) -> None:
        self._lock_depth = 0

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the checkpoint lives, for messages."""

    @abstractmethod
    def load(self) -> Versioned | None: ...

    @abstractmethod
    def save(self, checkpoint: Checkpoint, expected_version: str | None) -> str:
        """Write `checkpoint` durably (and set its revision); None as expected_version skips the check."""

    @abstractmethod
    def append_journal(self, entry: JournalEntry) -> None: ...

    @abstractmethod
    def read_journal(self) -> list[JournalEntry]: ...

    @abstractmethod
    def lock(self, break_stale: bool = False) -> LockInfo:
        """Take the migration's lock or raise BadInput naming its holder."""

    @abstractmethod
    def unlock(self) -> None: ...

    @abstractmethod
    def lock_holder(self) -> LockInfo | None: ...

    @abstractmethod
    def request_pause(self, request: PauseRequest) -> None: ...

    @abstractmethod
    def pause_request(self) -> PauseRequest | None: ...

    @abstractmethod
    def clear_pause(self) -> None: ...

    @contextmanager
    def locked(self, break_stale: bool = False) -> Iterator[None]:
        """Hold the lock for the block, released on any exit. Nested use in one process is fine."""
        if self._lock_depth == 0:
            self.lock(break_stale=break_stale)
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0:
                self.unlock()


class LocalFileStore(CheckpointStore):
    """A directory holding checkpoint.json (atomic writes), journal.jsonl, lock.json and pause.json."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.checkpoint_path = self.directory / "checkpoint.json"
        self.journal_path = self.directory / "journal.jsonl"
        self.pause_path = self.directory / "pause.json"
        self._lock = FileLock(self.directory / "lock.json", on_break=self._journal_break)

    @property
    def location(self) -> str:
        return str(self.directory)

    def load(self) -> Versioned | None:
        try:
            raw = self.checkpoint_path.read_text()
        except FileNotFoundError:
            return None
        try:
            checkpoint = Checkpoint.model_validate_json(raw)
        except ValidationError as exc:
            raise self._damaged(f"{exc.error_count()} problem(s), first: {exc.errors()[0]['msg']}") from None
        return Versioned(checkpoint, str(checkpoint.revision))

    def save(self, checkpoint: Checkpoint, expected_version: str | None) -> str:
        stored = self._stored_revision()
        if expected_version is not None:
            found = NEW if stored is None else str(stored)
            if found != expected_version:
                raise CheckpointConflict(
                    f"The checkpoint {self.checkpoint_path} changed under this process (expected revision "
                    f"{expected_version or 'none'}, found {found or 'none'}): another migrator process wrote "
                    "it. Nothing was written. Check `migrator status` and the lock holder, then run again."
                )
        revision = (stored or 0) + 1
        document = checkpoint.model_dump(mode="json")
        document["revision"] = revision
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write(self.checkpoint_path, json.dumps(document, indent=2).encode())
        except OSError as exc:
            raise MigratorError(
                f"Cannot write the checkpoint {self.checkpoint_path} ({exc.strerror}). Free disk space or fix "
                "the directory's permissions, then `migrator resume`: the last written checkpoint still holds."
            ) from exc
        checkpoint.revision = revision
        return str(revision)

    def _stored_revision(self) -> int | None:
        # Only the revision matters for the compare-and-swap; full validation is load()'s job.
        try:
            raw = self.checkpoint_path.read_text()
        except FileNotFoundError:
            return None
        try:
            return int(json.loads(raw)["revision"])
        except (ValueError, KeyError, TypeError) as exc:
            raise self._damaged(f"no readable revision: {exc}") from None

    def _damaged(self, detail: str) -> BadInput:
        return BadInput(
            f"The checkpoint {self.checkpoint_path} is not valid ({detail}). migrator writes it atomically, so it "
            f"was edited by hand or the disk is damaged; restore it from a backup (the journal {self.journal_path} "
            "lists every transition) and run again."
        )

    def append_journal(self, entry: JournalEntry) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        append_synced(self.journal_path, entry.model_dump_json() + "\n")

    def read_journal(self) -> list[JournalEntry]:
        try:
            lines = self.journal_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for number, line in enumerate(lines, start=1):
            try:
                entries.append(JournalEntry.model_validate_json(line))
            except ValidationError:
                if number == len(lines):
                    break  # a crash mid-append tears at most the last line
                raise
        return entries

    def lock(self, break_stale: bool = False) -> LockInfo:
        try:
            return self._lock.acquire(break_stale=break_stale)
        except OSError as exc:
            raise BadInput(
                f"Cannot create the lock in {self.directory} ({exc.strerror}). Check that checkpoint.path in "
                "migration.yaml points at a writable directory. Nothing was changed."
            ) from None

    def unlock(self) -> None:
        self._lock.release()

    def lock_holder(self) -> LockInfo | None:
        return self._lock.holder()

    def request_pause(self, request: PauseRequest) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write(self.pause_path, request.model_dump_json().encode())

    def pause_request(self) -> PauseRequest | None:
        try:
            return PauseRequest.model_validate_json(self.pause_path.read_text())
        except FileNotFoundError:
            return None

    def clear_pause(self) -> None:
        self.pause_path.unlink(missing_ok=True)

    def _journal_break(self, stale: LockInfo) -> None:
        self.append_journal(JournalEntry.now("lock.broken", detail={"stale_lock": stale.to_dict()}))

