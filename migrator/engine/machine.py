"""The step machine: drives a Phase step by step against a checkpoint, so any stop can be resumed.

For each step it records the intent and the before-snapshot BEFORE apply, and the verdict after
verify. Verify is the only judge of "done": a step left "applying" or "failed" is verified first on
resume and applied again only if its outcome does not hold; a step recorded done is never applied
again. The machine, not the step, owns retries (TemporaryError), polling (pending verdicts),
pausing, the irreversible-step gate and rollback in reverse order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from migrator.engine.checkpoint import (
    NEW,
    UNDOABLE,
    Checkpoint,
    CheckpointStore,
    JournalEntry,
    PauseRequest,
    PhaseRecord,
    PhaseStatus,
    StepRecord,
    StepStatus,
    Versioned,
    utcnow,
)
from migrator.engine.events import Event
from migrator.engine.lock import LockInfo
from migrator.engine.phase import Phase
from migrator.engine.step import JSON, Action, Step, StepContext, Verdict
from migrator.errors import BadInput, MigratorError, OperatorPause, PermanentError, SafetyGateError, TemporaryError

#: CLI flags named in error messages, so the CLI and the advice it prints cannot drift apart.
CONFIRM_FLAG = "--confirm-irreversible"
UNTIL_FLAG = "--until"
#: How a pause reason starts, by cause (the CLI's exit code and the metrics' `cause` label read them).
#: The operator asked for the pause (the CLI exits with OperatorPause's code).
PAUSE_REQUESTED = "pause requested by"
#: A safety gate or a step's SafetyGateError paused the phase.
GATE_PAUSED = "safety gate"
#: The run stopped after the step named with --until.
UNTIL_PAUSED = "stopped after step"

T = TypeVar("T")


@dataclass(frozen=True)
class StepPlan:
    name: str
    reversible: bool
    status: StepStatus
    actions: list[Action]

    @property
    def already_done(self) -> bool:
        return self.status is StepStatus.DONE

    @property
    def point_of_no_return(self) -> bool:
        return not self.reversible

    def to_dict(self) -> JSON:
        return {
            "name": self.name,
            "status": self.status.value,
            "already_done": self.already_done,
            "reversible": self.reversible,
            "point_of_no_return": self.point_of_no_return,
            "actions": [action.to_dict() for action in self.actions],
        }


@dataclass(frozen=True)
class PhasePlan:
    phase: str
    status: PhaseStatus
    skip_reason: str | None
    steps: list[StepPlan]

    @property
    def point_of_no_return(self) -> str | None:
        """The first irreversible step still to run: past it, the phase cannot be rolled back."""
        return next((s.name for s in self.steps if s.point_of_no_return and not s.already_done), None)

    def to_dict(self) -> JSON:
        return {
            "phase": self.phase,
            "status": self.status.value,
            "skip_reason": self.skip_reason,
            "point_of_no_return": self.point_of_no_return,
            "steps": [step.to_dict() for step in self.steps],
        }


@dataclass(frozen=True)
class MigrationStatus:
    """What `migrator status` shows: the checkpoint (None before the first run), lock and pause request."""

    migration_id: str
    checkpoint: Checkpoint | None
    lock: LockInfo | None
    pause_request: PauseRequest | None

    def phase(self, name: str) -> PhaseRecord | None:
        return self.checkpoint.phases.get(name) if self.checkpoint else None

    def to_dict(self) -> JSON:
        return {
            "migration_id": self.migration_id,
            "phases": [p.model_dump(mode="json") for p in self.checkpoint.phases.values()] if self.checkpoint else [],
            "lock": self.lock.to_dict() if self.lock else None,
            "pause_request": self.pause_request.model_dump(mode="json") if self.pause_request else None,
            "rollback_to": self.checkpoint.rollback_to if self.checkpoint else None,
        }


class _PhasePass:
    """One locked pass over one phase: the loaded checkpoint and every write to it.

    Transitions are queued as journal entries and written after the checkpoint save that makes them
    true, so the journal never claims a transition the checkpoint does not hold.
    """

    def __init__(
        self,
        store: CheckpointStore,
        loaded: Versioned,
        phase: Phase,
        ctx: StepContext,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.checkpoint = loaded.checkpoint
        self.version = loaded.version
        self.ctx = ctx
        self.record = self.checkpoint.phases.setdefault(phase.name, PhaseRecord(name=phase.name))
        self.record.sync_steps([step.name for step in phase.steps])
        # The recorded state wins over whatever the caller seeded: it is what earlier steps learned.
        ctx.state.update(self.record.state)
        self._journal: list[JournalEntry] = []
        ctx.save_state = self.commit
        ctx.pause_requested = self.pause_reason
        self.gate = phase.gate
        self.watch = phase.watch or phase.gate
        self.gate_interval = phase.gate_interval
        self._monotonic = monotonic
        self._gate_due = 0.0
        self._gate_last: str | None = None
        ctx.gate_problem = self.gate_problem
        ctx.journal = self.note

    def pause_reason(self) -> str | None:
        """The reason of a pending `migrator pause`, else None."""
        request = self.store.pause_request()
        return None if request is None else f"{PAUSE_REQUESTED} {request.user}@{request.host}: {request.reason}"

    def gate_problem(self, before_step: bool = False) -> str | None:
        """Why the phase's safety gate is closed now (None when it is open or the phase has none):
        the gate itself before a step, the watch while one runs.

        Long steps poll this; while a step runs the watch is asked at most once per `gate_interval`
        (the last answer stands in between), so polling costs nothing between reads."""
        check = self.gate if before_step else self.watch
        if check is None:
            return None
        now = self._monotonic()
        if before_step or now >= self._gate_due:
            verdict = check(self.ctx)
            self._gate_last = None if verdict.done else verdict.reason
            self._gate_due = now + self.gate_interval
            self.record.gate = {"ok": verdict.done, "reason": verdict.reason, "at": utcnow().isoformat()}
            self.commit()
        return self._gate_last

    @property
    def phase(self) -> str:
        return self.record.name

    def phase_to(self, status: PhaseStatus, **detail: Any) -> None:
        before = self.record.status
        self.record.move_to(status)
        self._queue("phase", None, before.value, status.value, detail)

    def step_to(self, record: StepRecord, status: StepStatus, **detail: Any) -> None:
        before = record.status
        record.move_to(status, self.phase)
        self._queue("step", record.name, before.value, status.value, detail)

    def note(self, event: str, step: str | None = None, **detail: Any) -> None:
        """A journal line from a step (no status change), written with the state as it is now."""
        self._queue(event, step, self.record.status.value, self.record.status.value, detail)
        self.commit()

    def commit(self) -> None:
        self.record.state = _json_copy(self.ctx.state, f"the state of phase {self.phase}")
        now = utcnow()
        self.record.updated_at = self.checkpoint.updated_at = now
        self.version = self.store.save(self.checkpoint, expected_version=self.version)
        for entry in self._journal:
            self.store.append_journal(entry)
        self._journal.clear()

    def _queue(self, event: str, step: str | None, before: str, after: str, detail: JSON) -> None:
        self._journal.append(
            JournalEntry.now(
                event,
                migration_id=self.checkpoint.migration_id,
                phase=self.phase,
                step=step,
                from_status=before,
                to_status=after,
                detail=detail,
            )
        )


class Machine:
    """Runs phases of one migration against one checkpoint store.

    `sleep` and `monotonic` are injectable so tests neither wait nor depend on the wall clock.
    `max_attempts` bounds the calls of one operation that keeps raising TemporaryError.
    """

    def __init__(
        self,
        store: CheckpointStore,
        migration_id: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        max_attempts: int = 5,
        break_stale_lock: bool = False,
    ) -> None:
        self.store = store
        self.migration_id = migration_id
        self._sleep = sleep
        self._monotonic = monotonic
        self.max_attempts = max_attempts
        self.break_stale_lock = break_stale_lock

    # ----------------------------------------------------------------------------------- queries

    def plan(self, phase: Phase, ctx: StepContext) -> PhasePlan:
        """The dry-run: what each step would do, which are already done, where the point of no return is.

        Writes nothing; steps not yet done are asked for their plan with the recorded state.
        """
        session = _PhasePass(self.store, self._load(), phase, ctx, self._monotonic)
        record = session.record
        skip_reason = self._skip_reason(session, phase)
        steps = []
        for step in phase.steps:
            status = record.step(step.name).status
            runs = skip_reason is None and status is not StepStatus.DONE
            actions = self._retry(lambda: step.plan(ctx), lambda exc, n: None) if runs else []
            steps.append(StepPlan(step.name, step.reversible, status, list(actions)))
        return PhasePlan(phase.name, record.status, skip_reason, steps)

    def status(self) -> MigrationStatus:
        loaded = self.store.load()
        if loaded is not None:
            loaded.checkpoint.check_owner(self.migration_id, self.store.location)
        return MigrationStatus(
            migration_id=self.migration_id,
            checkpoint=loaded.checkpoint if loaded else None,
            lock=self.store.lock_holder(),
            pause_request=self.store.pause_request(),
        )

    def request_pause(self, reason: str = "requested by the operator") -> LockInfo | None:
        """Ask the running process to stop at its next step boundary (or while it waits on a verdict).

        Returns the lock holder (the run that will pause), or None when nothing runs now; the next
        run starts by discarding the request.
        """
        self.store.request_pause(PauseRequest.now(reason))
        return self.store.lock_holder()

    def record_rollback_target(self, phase: str | None) -> None:
        """Record (or, with None, clear) the phase a multi-phase rollback walks down to, so a resume after
        a kill carries on with the same walk."""
        with self.store.locked(break_stale=self.break_stale_lock):
            loaded = self._load()
            if loaded.checkpoint.rollback_to == phase:
                return
            loaded.checkpoint.rollback_to = phase
            loaded.checkpoint.updated_at = utcnow()
            self.store.save(loaded.checkpoint, expected_version=loaded.version)
            self.store.append_journal(
                JournalEntry.now("rollback.target", migration_id=self.migration_id, phase=phase)
            )

    # ------------------------------------------------------------------------------------- run

    def run(
        self,
        phase: Phase,
        ctx: StepContext,
        *,
        confirm: Collection[str] = (),
        until: str | None = None,
    ) -> PhaseRecord:
        """Run (or resume) `phase`; returns its record (status done, paused or skipped).

        `confirm` names the irreversible steps the operator explicitly allowed (--confirm-irreversible);
        `until` stops the run after that step, leaving the phase paused. Failures are recorded, then
        raised; a SafetyGateError leaves the phase paused.
        """
        targets = phase.steps[: self._until_index(phase, until) + 1]
        with self.store.locked(break_stale=self.break_stale_lock):
            session = _PhasePass(self.store, self._load(), phase, ctx, self._monotonic)
            record = session.record
            skip_reason = self._skip_reason(session, phase)
            if skip_reason is not None:
                self._skip(session, skip_reason)
                return record.model_copy(deep=True)
            if record.status is PhaseStatus.DONE and not record.steps_left():
                ctx.events.emit("phase.already_done", phase.name)
                return record.model_copy(deep=True)
            self._start(session, phase, targets, frozenset(confirm), until)
            for index, step in enumerate(targets):
                if record.step(step.name).status is StepStatus.DONE:
                    ctx.events.emit("step.already_done", phase.name, step.name, index=index, total=len(phase.steps))
                    continue
                if self._pause_if_requested(session):
                    return record.model_copy(deep=True)
                self._check_gate(session, step, "before the step", before_step=True)
                if not self._drive(session, step, index, len(phase.steps)):
                    return record.model_copy(deep=True)

            if not record.steps_left():
                session.phase_to(PhaseStatus.DONE)
                record.finished_at = utcnow()
                session.commit()
                ctx.events.emit("phase.done", phase.name)
            else:
                self._pause(session, f"{UNTIL_PAUSED} {until} as asked ({UNTIL_FLAG}); run again to continue")
            return record.model_copy(deep=True)

    def _start(
        self, session: _PhasePass, phase: Phase, targets: list[Step], confirm: frozenset[str], until: str | None
    ) -> None:
        """The gates before the first step (nothing changes if one refuses), then status running."""
        record = session.record
        if record.status is PhaseStatus.ROLLING_BACK:
            raise BadInput(
                f"Phase {phase.name} is half rolled back ({record.error or 'the rollback was interrupted'}). "
                "Finish it with `migrator rollback` before running the phase again. Nothing was changed."
            )
        self._require_confirmation(phase, record, targets, confirm)
        # A pause asked for while nothing ran must not stop this fresh run.
        self.store.clear_pause()
        if not record.started:
            self._check_preconditions(session, phase)
        resumed = record.status in (PhaseStatus.RUNNING, PhaseStatus.PAUSED, PhaseStatus.FAILED)
        if record.status is not PhaseStatus.RUNNING:
            session.phase_to(PhaseStatus.RUNNING, resumed=resumed)
        record.started_at = record.started_at or utcnow()
        record.pause_reason = record.error = record.finished_at = None
        session.commit()
        session.ctx.events.emit(
            "phase.started", phase.name, steps=[s.name for s in phase.steps], resumed=resumed, until=until
        )

    def _drive(self, session: _PhasePass, step: Step, index: int, total: int) -> bool:
        """Bring one step to done. False when the run paused while waiting for its verdict."""
        stop_recording = session.ctx.events.subscribe(lambda event: _record_progress(session, step, event))
        try:
            return self._drive_step(session, step, index, total)
        finally:
            stop_recording()

    def _drive_step(self, session: _PhasePass, step: Step, index: int, total: int) -> bool:
        ctx, record = session.ctx, session.record.step(step.name)
        where = {"index": index, "total": total}
        if record.status in (StepStatus.APPLYING, StepStatus.FAILED):
            # Interrupted or failed earlier: apply may have taken effect, and only verify can tell.
            ctx.events.emit("step.verifying", session.phase, step.name, resumed=True, **where)
            verdict = self._step_call(session, step, "verify", lambda: step.verify(ctx))
            self._record_verdict(session, record, verdict)
            if verdict.done:
                self._mark_done(session, record)
                return True
            if record.status is StepStatus.FAILED:
                session.step_to(record, StepStatus.APPLYING, reapply=True)
            record.attempts += 1
            record.error = None
            session.commit()
            self._apply(session, step, where)
        elif record.status in (StepStatus.PENDING, StepStatus.ROLLED_BACK):
            before = self._step_call(session, step, "snapshot", lambda: step.snapshot(ctx))
            record.before = _json_copy(before, f"the snapshot of step {step.name}")
            record.verdict = record.error = record.finished_at = None
            record.attempts = 1
            record.started_at = utcnow()
            session.step_to(record, StepStatus.APPLYING)
            session.commit()  # intent + before-snapshot, durable before anything changes
            self._apply(session, step, where)
        # APPLIED: apply returned before the last stop; only the verdict is missing.
        return self._await_verdict(session, step, where)

    def _apply(self, session: _PhasePass, step: Step, where: JSON) -> None:
        record = session.record.step(step.name)

        def again(exc: TemporaryError, attempt: int) -> None:
            record.attempts += 1
            session.commit()

        session.ctx.events.emit("step.applying", session.phase, step.name, attempt=record.attempts, **where)
        self._step_call(session, step, "apply", lambda: step.apply(session.ctx), on_retry=again)
        session.step_to(record, StepStatus.APPLIED)
        session.commit()

    def _await_verdict(self, session: _PhasePass, step: Step, where: JSON) -> bool:
        ctx, record = session.ctx, session.record.step(step.name)
        deadline = self._monotonic() + step.verify_timeout
        while True:
            ctx.events.emit("step.verifying", session.phase, step.name, **where)
            verdict = self._step_call(session, step, "verify", lambda: step.verify(ctx))
            self._record_verdict(session, record, verdict)
            if verdict.done:
                self._mark_done(session, record)
                return True
            if verdict.retry_after is None:
                raise self._fail(
                    session,
                    step,
                    PermanentError(
                        f"Step {step.name} of phase {session.phase} did not take effect: {verdict.reason}. It is "
                        "marked failed; fix the cause and `migrator resume` (it verifies again before re-applying), "
                        "or `migrator rollback`."
                    ),
                )
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                raise self._fail(
                    session,
                    step,
                    PermanentError(
                        f"Step {step.name} of phase {session.phase} did not finish within its verify timeout of "
                        f"{step.verify_timeout:g}s (last verdict: {verdict.reason}). It is marked failed; "
                        "`migrator resume` verifies it again and keeps waiting, `migrator rollback` undoes the phase."
                    ),
                )
            ctx.events.emit(
                "step.pending", session.phase, step.name, reason=verdict.reason, retry_after=verdict.retry_after
            )
            if self._pause_if_requested(session):
                return False
            self._check_gate(session, step, "while the step ran")
            self._sleep(min(verdict.retry_after, remaining))

    def _record_verdict(self, session: _PhasePass, record: StepRecord, verdict: Verdict) -> None:
        # A long wait polls many times; only a changed verdict is worth a checkpoint write.
        if record.verdict != verdict.to_dict():
            record.verdict = verdict.to_dict()
            session.commit()

    def _mark_done(self, session: _PhasePass, record: StepRecord) -> None:
        session.step_to(record, StepStatus.DONE, reason=(record.verdict or {}).get("reason", ""))
        record.error = None
        record.finished_at = utcnow()
        session.commit()
        session.ctx.events.emit(
            "step.done", session.phase, record.name, attempts=record.attempts, verdict=record.verdict
        )

    # ------------------------------------------------------------------------------- rollback

    def rollback(self, phase: Phase, ctx: StepContext) -> PhaseRecord:
        """Undo the phase's steps that may have changed anything, last first, from their before-snapshots.

        Refused (BadInput, nothing changed) once the phase has entered an irreversible step.
        """
        with self.store.locked(break_stale=self.break_stale_lock):
            session = _PhasePass(self.store, self._load(), phase, ctx, self._monotonic)
            record = session.record
            undo = [s for s in reversed(phase.steps) if record.step(s.name).status in UNDOABLE]
            if not undo and record.status is not PhaseStatus.ROLLING_BACK:
                return record.model_copy(deep=True)
            passed = [s for s in phase.steps if not s.reversible and record.step(s.name).status in UNDOABLE]
            if passed:
                names = ", ".join(f"{s.name} ({record.step(s.name).status.value})" for s in passed)
                raise BadInput(
                    f"Phase {phase.name} cannot be rolled back: it has entered the irreversible step(s) {names}, "
                    "the point of no return. Nothing was changed. Go forward instead: fix the cause and "
                    "`migrator resume`; the runbook of this phase lists what to do if that is impossible."
                )
            # The pause that stopped the run (e.g. `migrator pause` before a rollback) must not stop the rollback.
            self.store.clear_pause()
            if record.status is not PhaseStatus.ROLLING_BACK:
                session.phase_to(PhaseStatus.ROLLING_BACK)
            record.error = record.pause_reason = None
            session.commit()
            ctx.events.emit("phase.rolling_back", phase.name, steps=[s.name for s in undo])
            for step in undo:
                self._undo(session, step)
            session.phase_to(PhaseStatus.ROLLED_BACK)
            # Rolled back means "as if never run": a later run must not trust what earlier steps learned.
            ctx.state.clear()
            record.finished_at = utcnow()
            session.commit()
            ctx.events.emit("phase.rolled_back", phase.name)
            return record.model_copy(deep=True)

    def _undo(self, session: _PhasePass, step: Step) -> None:
        stop_recording = session.ctx.events.subscribe(lambda event: _record_progress(session, step, event))
        try:
            self._undo_step(session, step)
        finally:
            stop_recording()

    def _undo_step(self, session: _PhasePass, step: Step) -> None:
        ctx, record = session.ctx, session.record.step(step.name)
        if record.status is not StepStatus.ROLLING_BACK:
            session.step_to(record, StepStatus.ROLLING_BACK)
            session.commit()
        ctx.events.emit("step.rolling_back", session.phase, step.name)
        try:
            self._retry(
                lambda: step.rollback(ctx, record.before or {}),
                lambda exc, n: self._emit_retry(session, step, "rollback", exc, n),
            )
        except Exception as exc:
            record.error = session.record.error = f"rollback of step {step.name}: {_describe(exc)}"
            session.commit()
            ctx.events.emit("step.rollback_failed", session.phase, step.name, error=_describe(exc))
            raise
        session.step_to(record, StepStatus.ROLLED_BACK)
        record.error = None
        record.finished_at = utcnow()
        session.commit()
        ctx.events.emit("step.rolled_back", session.phase, step.name, before=record.before)

    # -------------------------------------------------------------------------------- helpers

    def _load(self) -> Versioned:
        loaded = self.store.load()
        if loaded is None:
            return Versioned(Checkpoint(migration_id=self.migration_id), NEW)
        loaded.checkpoint.check_owner(self.migration_id, self.store.location)
        return loaded

    @staticmethod
    def _until_index(phase: Phase, until: str | None) -> int:
        names = [s.name for s in phase.steps]
        if until is None:
            return len(names) - 1
        if until not in names:
            raise BadInput(
                f"{UNTIL_FLAG} {until} names no step of phase {phase.name}; its steps are {', '.join(names)}. "
                "Nothing was changed."
            )
        return names.index(until)

    @staticmethod
    def _require_confirmation(phase: Phase, record: PhaseRecord, targets: list[Step], confirm: frozenset[str]) -> None:
        missing = [
            s for s in targets
            if not s.reversible and s.name not in confirm and record.step(s.name).status is not StepStatus.DONE
        ]
        if not missing:
            return
        first = phase.steps.index(missing[0])
        stop_before = f", or with `{UNTIL_FLAG} {phase.steps[first - 1].name}` to stop before it" if first else ""
        flags = " ".join(f"{CONFIRM_FLAG} {s.name}" for s in missing)
        raise BadInput(
            f"Phase {phase.name} would run the irreversible step(s) {', '.join(s.name for s in missing)}: once "
            "taken, the phase can no longer be rolled back. Nothing was changed. Review `migrator plan` (it marks "
            f"the point of no return), then run again with `{flags}`{stop_before}."
        )

    def _check_preconditions(self, session: _PhasePass, phase: Phase) -> None:
        failures = []
        for precondition in phase.preconditions:
            verdict = self._retry(
                lambda: precondition(session.ctx),
                lambda exc, n: session.ctx.events.emit(
                    "phase.retrying", phase.name, check=precondition.name, error=str(exc)
                ),
            )
            if not verdict.done:
                failures.append(f"{precondition.name}: {verdict.reason}")
        if failures:
            session.record.error = "preconditions not met: " + "; ".join(failures)
            session.commit()
            session.ctx.events.emit("phase.blocked", phase.name, failures=failures)
            raise SafetyGateError(
                f"Phase {phase.name} cannot start: {'; '.join(failures)}. Nothing was changed. Bring the "
                "system back to these conditions (`migrator plan` shows them) and run the phase again."
            )

    def _skip_reason(self, session: _PhasePass, phase: Phase) -> str | None:
        """The phase's skip condition, asked once and only while none of its steps has run."""
        if phase.skip_when is None or session.record.started:
            return None
        return self._retry(lambda: phase.skip_when(session.ctx), lambda exc, n: None)

    def _skip(self, session: _PhasePass, reason: str) -> None:
        record = session.record
        if record.status is PhaseStatus.SKIPPED and record.skip_reason == reason:
            return
        if record.status is not PhaseStatus.SKIPPED:
            session.phase_to(PhaseStatus.SKIPPED, reason=reason)
        record.skip_reason = reason
        session.commit()
        session.ctx.events.emit("phase.skipped", record.name, reason=reason)

    def _pause_if_requested(self, session: _PhasePass) -> bool:
        reason = session.pause_reason()
        if reason is None:
            return False
        self._pause(session, reason)
        self.store.clear_pause()
        return True

    def _check_gate(self, session: _PhasePass, step: Step, when: str, before_step: bool = False) -> None:
        """Ask the phase's safety gate (before every step, resumed ones too, and at its interval while a
        step waits); a closed gate pauses the phase with the reason and raises SafetyGateError."""
        problem = self._retry(
            lambda: session.gate_problem(before_step=before_step),
            lambda exc, n: session.ctx.events.emit("gate.retrying", session.phase, step.name, error=str(exc)),
        )
        if problem is None:
            return
        reason = f"{GATE_PAUSED} {when} {step.name}: {problem}"
        self._pause(session, reason)
        session.ctx.events.emit("gate.closed", session.phase, step.name, reason=problem)
        raise SafetyGateError(
            f"Phase {session.phase} paused {when} {step.name}: {problem} Nothing further was changed; "
            "`migrator resume` checks the gate again and carries on once it holds."
        )

    def _pause(self, session: _PhasePass, reason: str) -> None:
        session.phase_to(PhaseStatus.PAUSED, reason=reason)
        session.record.pause_reason = reason
        session.commit()
        session.ctx.events.emit("phase.paused", session.phase, reason=reason)

    def _step_call(
        self,
        session: _PhasePass,
        step: Step,
        what: str,
        call: Callable[[], T],
        on_retry: Callable[[TemporaryError, int], None] | None = None,
    ) -> T:
        """Call a step method with the machine's retries; record a failure or safety pause, then re-raise."""

        def retrying(exc: TemporaryError, attempt: int) -> None:
            self._emit_retry(session, step, what, exc, attempt)
            if on_retry is not None:
                on_retry(exc, attempt)

        try:
            return self._retry(call, retrying)
        except SafetyGateError as exc:
            # A broken invariant pauses the run; the step's status stays what it was (resume verifies it).
            self._pause(session, f"{GATE_PAUSED} at step {step.name} ({what}): {exc}")
            raise
        except OperatorPause as exc:
            self._pause(session, f"{PAUSE_REQUESTED} the operator, honoured by step {step.name} ({what}): {exc}")
            self.store.clear_pause()
            raise
        except Exception as exc:
            self._fail(session, step, exc, what)
            raise

    def _fail(self, session: _PhasePass, step: Step, exc: Exception, what: str = "verify") -> Exception:
        record = session.record.step(step.name)
        if record.status in (StepStatus.APPLYING, StepStatus.APPLIED):
            session.step_to(record, StepStatus.FAILED, during=what)
        # A failed snapshot leaves the step pending: nothing was changed yet.
        record.error = f"{what}: {_describe(exc)}"
        session.phase_to(PhaseStatus.FAILED)
        session.record.error = f"step {step.name}: {record.error}"
        session.commit()
        session.ctx.events.emit("step.failed", session.phase, step.name, during=what, error=_describe(exc))
        session.ctx.events.emit("phase.failed", session.phase, step=step.name, error=_describe(exc))
        return exc

    def _emit_retry(self, session: _PhasePass, step: Step, what: str, exc: TemporaryError, attempt: int) -> None:
        session.ctx.events.emit(
            "step.retrying", session.phase, step.name, during=what, attempt=attempt, delay=exc.delay, error=str(exc)
        )

    def _retry(self, call: Callable[[], T], on_retry: Callable[[TemporaryError, int], None]) -> T:
        """Call, retrying TemporaryError after its own delay, at most `max_attempts` calls in all."""
        attempt = 1
        while True:
            try:
                return call()
            except TemporaryError as exc:
                if attempt >= self.max_attempts:
                    raise
                on_retry(exc, attempt)
                self._sleep(exc.delay)
                attempt += 1


def _record_progress(session: _PhasePass, step: Step, event: Event) -> None:
    """Keep the step's last reported progress in the checkpoint, written when its figures change (a
    long step reports every poll; the figures move at its own progress interval)."""
    if event.kind != "progress":
        return
    record = session.record.step(step.name)
    figures = {k: v for k, v in event.data.items() if k not in ("rate_bytes_per_second", "eta_seconds")}
    moved = record.progress is None or {
        k: v for k, v in record.progress.items() if k not in ("rate_bytes_per_second", "eta_seconds", "at")
    } != figures
    record.progress = {**_json_copy(event.data, f"the progress of step {step.name}"), "at": utcnow().isoformat()}
    if moved:
        session.commit()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _json_copy(value: Any, what: str) -> JSON:
    """A deep, JSON-clean copy: the checkpoint holds only what survives a round trip through JSON."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise MigratorError(
            f"{what} cannot be stored in the checkpoint ({exc}); a step must keep only JSON values "
            "(str, int, float, bool, None, lists, dicts with str keys) there."
        ) from None
