"""The native mover's executor: a MovePlan run batch by batch through KIP-455, throttled, watched, resumable.

    executor = Executor(config, admin, zk, events=ctx.events, persist=ctx.save_state,
                        pause_requested=ctx.pause_requested)
    executor.run(plan, memory)      # blocks until every batch is done; raises when it pauses
    executor.verify(plan, memory)   # Verdict: every partition at target, no throttle of ours left
    executor.reverse(memory)        # everything back to the assignment it had before the run
    executor.cancel(memory)         # revert the moves in flight, clear our throttles

`memory` is a JSON dict the caller keeps in its checkpointed state (a Step passes a key of
ctx.state); `persist` must make it durable before returning. Every intent is recorded and persisted
before it takes effect (a throttle, a submission), so a run killed at any point resumes from the
cluster's real state: a run always starts by reading every partition of the plan and the in-flight
reassignments, and takes partitions at their target as done, waits for ours in flight, and submits
the rest.

One batch: reconcile -> record and set throttles on exactly the brokers and replicas it touches ->
record and submit -> poll until every partition is done (no reassignment listed, replicas equal the
target, the whole target in sync), checking the batch's brokers and partitions on every poll and the
whole cluster's health (from ZooKeeper) every `safety_interval_seconds` -> remove the throttles,
except a broker's rates the next batch needs too (handed over instead of deleted and set again) ->
preferred leader election -> record the batch done.

A broken invariant (a broker of the batch down, a partition under min ISR, offline partitions, no
controller, no progress for too long, or what the caller's `health_check` reports, e.g. a phase's
health gate and canary) pauses the run on its own: the moves in flight are cancelled
(KIP-455 reverts them), our throttles removed, and a SafetyGateError says why. `migrator pause`
finishes or cancels the batch in flight (settings.on_pause), removes the throttles and raises
MovePaused.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from migrator.clients.kafka import KAFKA_IO_ERRORS, KafkaAdmin, ReassignmentState
from migrator.clients.zk import ZooKeeper
from migrator.cluster.inventory import collect_inventory, refresh_from_zookeeper
from migrator.cluster.leaders import elect_preferred_leaders
from migrator.cluster.model import Inventory, Reassignment
from migrator.cluster.safety import (
    CLUSTER_ID,
    CONTROLLER,
    OFFLINE,
    UNDER_MIN_ISR,
    UNDER_REPLICATED,
    evaluate_safety,
    foreign_reassignment_refusal,
)
from migrator.cluster.throttles import read_throttles
from migrator.config import MigrationConfig
from migrator.engine.events import EventBus
from migrator.engine.step import JSON, Verdict
from migrator.errors import MigratorError, OperatorPause, PermanentError, SafetyGateError, TemporaryError
from migrator.movers.batching import assign_batches
from migrator.movers.memory import MoverMemory, PartitionKey, Replicas, RunMemory
from migrator.movers.plan import MovePlan, PartitionMove
from migrator.movers.progress import Progress, RateMeter, eta_seconds, measure
from migrator.movers.reconcile import Observed, Stage, classify, listed_target
from migrator.movers.settings import MovementConfig, resolve_movement
from migrator.movers.throttle_writer import ALL_REPLICAS, BatchThrottles, ThrottleWriter

#: Gates before a run starts; during a run, the whole-cluster check omits the URP count (a broker
#: of the batch going down is caught directly, and the run's own moves are not URP).
START_CHECKS = (CLUSTER_ID, CONTROLLER, OFFLINE, UNDER_REPLICATED, UNDER_MIN_ISR)
RUN_CHECKS = (CONTROLLER, OFFLINE, UNDER_MIN_ISR)
#: How long a cancel may take to revert the moves in flight before the pause goes on without it.
CANCEL_WAIT_SECONDS = 120.0
_ELECTION_ATTEMPTS = 3
_FINISHED = (Stage.DONE, Stage.GONE)
_SHOWN = 10


class MovePaused(OperatorPause):
    """The operator asked the move to pause; it stopped cleanly and resumes from the checkpoint."""


class MoveStalled(SafetyGateError):
    """No byte copied and no partition completed for stall_timeout_seconds: waiting for the cluster to
    look healthy would not help, a human must find the cause."""


@dataclass(frozen=True)
class Snapshot:
    """One read of some partitions: their replicas and ISR, the reassignments in flight, live brokers."""

    partitions: dict[PartitionKey, Observed | None]
    in_flight: dict[PartitionKey, ReassignmentState]
    live: set[int]


@dataclass(frozen=True)
class MoveReport:
    direction: str
    partitions: int
    batches: int
    bytes_total: int
    leaders_not_elected: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> JSON:
        return {
            "direction": self.direction,
            "partitions": self.partitions,
            "batches": self.batches,
            "bytes_total": self.bytes_total,
            "leaders_not_elected": self.leaders_not_elected,
        }


def reverse_moves(
    original: dict[PartitionKey, tuple[Replicas, int]],
    snapshot: Snapshot,
    settings: MovementConfig,
) -> list[PartitionMove]:
    """The moves that put every partition back on its original replicas, batched like any plan.
    A partition still in flight is included even when its target is already the original (a cancel
    reverting): the reverse run then waits for it."""
    entries = []
    for key in sorted(original):
        replicas, share = original[key]
        observed = snapshot.partitions.get(key)
        if observed is None or (key not in snapshot.in_flight and observed.replicas == replicas):
            continue
        adding = [b for b in replicas if b not in observed.replicas]
        entries.append((key, observed.replicas, replicas, share * len(adding)))
    batches = assign_batches([(current, target, nb) for _, current, target, nb in entries], settings.limits())
    moves = [
        PartitionMove(topic, partition, current, target, nb, batch)
        for ((topic, partition), current, target, nb), batch in zip(entries, batches)
    ]
    return sorted(moves, key=lambda m: (m.batch, m.topic, m.partition))


class Executor:
    def __init__(
        self,
        config: MigrationConfig,
        admin: KafkaAdmin,
        zk: ZooKeeper,
        *,
        events: EventBus,
        persist: Callable[[], None],
        pause_requested: Callable[[], str | None] = lambda: None,
        settings: MovementConfig | None = None,
        phase: str | None = None,
        step: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        health_check: Callable[[], str | None] | None = None,
        progress_detail: Callable[[], JSON] | None = None,
    ) -> None:
        self.config = config
        self.admin = admin
        self.zk = zk
        self.settings = resolve_movement(settings, config.movement)
        self._events = events
        self._persist = persist
        self._pause_requested = pause_requested
        self._phase = phase
        self._step = step
        self._sleep = sleep
        self._clock = clock
        #: The caller's own whole-cluster check, run with ours every safety_interval_seconds: why
        #: the run must pause, or None.
        self._health_check = health_check
        #: What the caller adds to every progress event (read with the replica sizes, as often).
        self._progress_detail = progress_detail
        self._detail: JSON = {}
        #: The gate's full read (its min.insync.replicas judge the batch's partitions); the checks
        #: during the run refresh it from ZooKeeper alone.
        self._known = Inventory(cluster_id="", controller_id=None, brokers={}, topics={})
        self._pausing: str | None = None
        self._next_health = 0.0

    # ------------------------------------------------------------------------------ public

    def run(self, plan: MovePlan, state: JSON) -> MoveReport:
        """Run (or resume) `plan`. Returns when every batch is done; raises MovePaused when
        the operator paused it, SafetyGateError when a safety invariant (a foreign reassignment among
        them) stopped it or kept it from starting."""
        memory = MoverMemory.bind(state, self._persist)
        self._gate(memory)
        if memory.forward.status == "reversed":
            # A forward run after a rollback starts over; the original assignment stays recorded.
            memory.forward.done_batches.clear()
            memory.reverse = None
        memory.forward.status, memory.forward.reason = "running", None
        memory.save()
        return self._execute(plan, memory, memory.forward, "forward")

    def reverse(self, state: JSON) -> MoveReport:
        """Move every partition the forward run touched back to its original replicas: the moves in
        flight are cancelled first, then the rest moves back in batches, throttled, like any plan."""
        memory = MoverMemory.bind(state, self._persist)
        self._gate(memory)
        if memory.reverse is None or memory.forward.status != "reversed":
            self._cancel(memory, list(memory.forward.submitted))
            self._release(memory)
            moves = reverse_moves(memory.original, self._observe(list(memory.original)), self.settings)
            losing = sorted({b for m in moves for b in m.removing})
            gaining = sorted({b for m in moves for b in m.adding})
            plan = MovePlan("drain", tuple(losing), tuple(gaining), self.settings.limits(), tuple(moves))
            memory.reverse = RunMemory(status="running", plan=plan.to_dict())
            memory.forward.status, memory.forward.reason, memory.forward.batch = "reversed", None, None
            memory.forward.done_batches.clear()
            memory.save()
            self._emit("mover.reverse_planned", partitions=len(moves), batches=plan.summary.batches)
        memory.reverse.status, memory.reverse.reason = "running", None
        memory.save()
        return self._execute(MovePlan.from_dict(memory.reverse.plan or {}), memory, memory.reverse, "reverse")

    def cancel(self, state: JSON, reason: str = "cancelled by the operator") -> list[PartitionKey]:
        """Cancel every move of ours in flight (KIP-455 reverts it) and remove our throttles.
        Returns the partitions cancelled; a later run or reverse picks up from there."""
        memory = MoverMemory.bind(state, self._persist)
        keys = set(memory.forward.submitted) | (set(memory.reverse.submitted) if memory.reverse else set())
        cancelled, reverting = self._cancel(memory, sorted(keys))
        leftovers = self._release(memory)
        for run in (memory.forward, memory.reverse):
            if run is not None and run.status == "running":
                run.status, run.reason = "paused", reason
        memory.save()
        self._emit("mover.cancelled", partitions=_names(cancelled), reverting=_names(reverting), leftovers=leftovers)
        return cancelled

    def sweep(self, state: JSON) -> list[str]:
        """Remove every throttle of ours still recorded; returns what could not be removed."""
        return self._release(MoverMemory.bind(state, self._persist))

    def verify(self, plan: MovePlan, state: JSON) -> Verdict:
        """Every partition of the plan at its target and in sync, and no throttle of ours left."""
        return self._verify({(m.topic, m.partition): m.target for m in plan.moves}, state, "target")

    def verify_reversed(self, state: JSON) -> Verdict:
        """Every partition the forward run touched back on its original replicas, no throttle of ours left."""
        memory = MoverMemory.bind(state, self._persist)
        return self._verify({k: r for k, (r, _) in memory.original.items()}, state, "original replicas")

    # ------------------------------------------------------------------------------- a run

    def _execute(self, plan: MovePlan, memory: MoverMemory, run: RunMemory, direction: str) -> MoveReport:
        batches = plan.batches()
        snapshot = self._observe([(m.topic, m.partition) for m in plan.moves])
        stages = self._stages(plan.moves, snapshot, memory)
        self._refuse_foreign(stages, snapshot)
        counts = Counter(s.value for s in stages.values())
        self._emit(
            "mover.reconciled",
            direction=direction,
            resumed=bool(run.submitted),
            partitions=len(plan.moves),
            batches=len(batches),
            done_batches=len(run.done_batches),
            stages=dict(sorted(counts.items())),
        )
        self._pausing = None
        # Kept across batches: batches shorter than the interval would otherwise never check the cluster.
        self._next_health = self._clock() + self.settings.safety_interval_seconds
        meter = RateMeter()
        failures: dict[str, str] = {}
        remaining = [i for i in range(len(batches)) if i not in run.done_batches]
        for index, following in zip(remaining, [*remaining[1:], None]):
            if reason := self._pausing or self._pause_requested():
                self._stop(memory, run, reason, MovePaused, cancelled=[], reverting=[])
            then = [] if following is None else batches[following]
            failures.update(self._run_batch(plan, memory, run, index, batches[index], then, meter, direction))
        leftovers = self._release(memory)
        if leftovers:
            raise TemporaryError(
                f"Every partition is at its target, but these throttles of ours could not be removed yet: "
                f"{'; '.join(leftovers)}. They stay recorded; the next attempt (or `migrator resume`) removes them.",
                delay=self.settings.poll_interval_seconds * 5,
            )
        run.status, run.reason, run.batch = "done", None, None
        memory.save()
        self._emit("mover.done", direction=direction, partitions=len(plan.moves), batches=len(batches))
        return MoveReport(direction, len(plan.moves), len(batches), plan.summary.total_bytes, failures)

    def _run_batch(
        self,
        plan: MovePlan,
        memory: MoverMemory,
        run: RunMemory,
        index: int,
        moves: list[PartitionMove],
        following: list[PartitionMove],
        meter: RateMeter,
        direction: str,
    ) -> dict[str, str]:
        """One batch; the rates of the brokers the `following` batch touches too stay set for it."""
        keys = [(m.topic, m.partition) for m in moves]
        snapshot = self._observe(keys)
        stages = self._stages(moves, snapshot, memory)
        self._refuse_foreign(stages, snapshot)
        active = [m for m in moves if stages[(m.topic, m.partition)] not in _FINISHED]
        if active:
            run.batch = index
            for m in active:
                key, observed = (m.topic, m.partition), snapshot.partitions[(m.topic, m.partition)]
                if stages[key] is Stage.PENDING and observed is not None:
                    run.before.setdefault(key, (observed.replicas, m.bytes_to_move // max(1, len(m.adding))))
            memory.save()
            need = self._throttles_for(run, active)
            self._writer(memory).apply(need, self.settings.throttle_bytes_per_second)
            to_submit = [m for m in active if stages[(m.topic, m.partition)] in (Stage.PENDING, Stage.REDIRECT)]
            self._submit(memory, run, {(m.topic, m.partition): m.target for m in to_submit})
            self._emit(
                "mover.batch_started",
                direction=direction,
                batch=index + 1,
                batches=plan.summary.batches,
                partitions=len(active),
                brokers=sorted(need.brokers),
                throttle_bytes_per_second=self.settings.throttle_bytes_per_second,
            )
            self._await_batch(plan, memory, run, index, active, meter, direction)
        handover = frozenset() if self._pausing or not following else self._throttles_for(run, following).brokers
        leftovers = self._release(memory, keep_rates=handover)
        if leftovers:
            self._emit("mover.throttles_left", batch=index + 1, leftovers=leftovers)
        failures = self._elect([k for k in keys if stages[k] is not Stage.GONE])
        run.done_batches.add(index)
        run.batch = None
        memory.progress = self._progress(plan, run, {}, meter, stages_done=set()).to_dict()
        memory.save()
        self._emit("mover.batch_done", direction=direction, batch=index + 1, batches=plan.summary.batches)
        self._emit("progress", direction=direction, **memory.progress, **self._read_detail())
        return failures

    @staticmethod
    def _throttles_for(run: RunMemory, moves: Iterable[PartitionMove]) -> BatchThrottles:
        """What `moves` need, from the replicas each had before the run moved it (the plan's, if not yet moved)."""
        return BatchThrottles.for_moves(
            (m.topic, m.partition, run.before.get((m.topic, m.partition), (m.current, 0))[0], m.target) for m in moves
        )

    def _submit(self, memory: MoverMemory, run: RunMemory, targets: dict[PartitionKey, Replicas]) -> None:
        if not targets:
            return
        run.submitted.update(targets)
        memory.save()
        answered = self.admin.alter_partition_reassignments({k: list(t) for k, t in targets.items()})
        refused = {k: answered.get(k, "no answer") for k in targets if answered.get(k, "no answer") is not None}
        if not refused:
            return
        self._cancel(memory, [k for k in targets if k not in refused])
        leftovers = self._release(memory)
        run.status, run.reason = "paused", "the controller refused part of a batch"
        memory.save()
        shown = "; ".join(f"{t}-{p} -> {list(targets[(t, p)])}: {e}" for (t, p), e in sorted(refused.items())[:_SHOWN])
        raise PermanentError(
            f"The controller refused the reassignment of {len(refused)} partition(s) ({shown}). The rest of "
            f"the batch was cancelled and our throttles removed{_leftover_note(leftovers)}. A target broker may "
            "not exist or a topic may have been deleted since the plan was made: regenerate the plan, review "
            "it, and run again."
        )

    def _await_batch(
        self,
        plan: MovePlan,
        memory: MoverMemory,
        run: RunMemory,
        index: int,
        moves: list[PartitionMove],
        meter: RateMeter,
        direction: str,
    ) -> None:
        """Poll until every partition of the batch is done; halt on a broken invariant or a stall.

        A failed read (a broker that just died is still registered for a few seconds, and requests
        to it fail) is reported and retried on the next poll; only the stall timeout bounds it.
        """
        keys = [(m.topic, m.partition) for m in moves]
        brokers = {b for m in moves for b in (*run.before.get((m.topic, m.partition), (m.current, 0))[0], *m.target)}
        adding = sorted({b for m in moves for b in m.adding})
        next_sizes = self._clock()
        last_marker, last_change = (-1, -1), self._clock()
        sizes: dict[tuple[str, int, int], int] = {}
        while True:
            if (reason := self._pause_requested()) and self._pausing is None:
                if self.settings.on_pause == "cancel":
                    self._halt(memory, run, keys, reason, MovePaused)
                self._pausing = reason
                self._emit("mover.pausing", reason=reason, finishing_batch=index + 1)
            if self._clock() - last_change > self.settings.stall_timeout_seconds:
                self._halt(
                    memory,
                    run,
                    keys,
                    f"no byte was copied and no partition completed for {self.settings.stall_timeout_seconds:g} s "
                    "(check for a foreign throttle far below ours, a full disk, or fetcher errors in the logs of "
                    f"brokers {sorted(brokers)})",
                    MoveStalled,
                )
            try:
                snapshot = self._observe(keys)
                stages = self._stages(moves, snapshot, memory)
                problem = self._batch_problem(stages, snapshot, brokers)
                if problem is None and self._clock() >= self._next_health:
                    problem = self._health()
                    self._next_health = self._clock() + self.settings.safety_interval_seconds
                if self._clock() >= next_sizes:
                    sizes.update(self._replica_sizes([b for b in adding if b in snapshot.live]))
                    self._read_detail()
                    next_sizes = self._clock() + self.settings.progress_interval_seconds
            except KAFKA_IO_ERRORS as exc:
                self._emit("mover.read_failed", error=f"{type(exc).__name__}: {exc}")
                self._sleep(self.settings.poll_interval_seconds)
                continue
            if problem is not None:
                self._halt(memory, run, keys, problem, SafetyGateError)
            done_here = {k for k, s in stages.items() if s in _FINISHED}
            progress = self._progress(plan, run, sizes, meter, done_here, batch=index)
            self._emit("progress", direction=direction, **progress.to_dict(), **self._detail)
            if len(done_here) == len(keys):
                return
            marker = (progress.bytes_moved, progress.partitions_done)
            if marker != last_marker:
                last_marker, last_change = marker, self._clock()
            self._sleep(self.settings.poll_interval_seconds)

    def _batch_problem(self, stages: dict[PartitionKey, Stage], snapshot: Snapshot, brokers: set[int]) -> str | None:
        """Why the batch in flight must stop now, from one read of its own partitions and brokers."""
        if foreign := sorted(k for k, s in stages.items() if s is Stage.FOREIGN):
            return f"someone else redirected partition(s) {_names(foreign)} while we moved them"
        if down := sorted(brokers - snapshot.live):
            return f"broker(s) {down} of the batch in flight went down"
        if low := self._under_min_isr(snapshot):
            return f"partition(s) {_names(low)} of the batch fell under min.insync.replicas"
        return None

    def _replica_sizes(self, brokers: Iterable[int]) -> dict[tuple[str, int, int], int]:
        """What the new replicas hold, asked broker by broker so one that fails costs only its own figures."""
        sizes: dict[tuple[str, int, int], int] = {}
        for broker in brokers:
            try:
                sizes.update(self.admin.replica_sizes([broker]))
            except KAFKA_IO_ERRORS:
                continue  # progress shows its last known figures; liveness is judged from ZooKeeper
        return sizes

    # ------------------------------------------------------------------------ stopping

    def _halt(
        self,
        memory: MoverMemory,
        run: RunMemory,
        keys: Sequence[PartitionKey],
        reason: str,
        kind: type[MigratorError],
    ) -> None:
        """Stop now: cancel our moves in flight, remove our throttles, record and raise why."""
        cancelled, reverting = self._cancel(memory, keys)
        self._stop(memory, run, reason, kind, cancelled, reverting)

    def _stop(
        self,
        memory: MoverMemory,
        run: RunMemory,
        reason: str,
        kind: type[MigratorError],
        cancelled: list[PartitionKey],
        reverting: list[PartitionKey],
    ) -> None:
        leftovers = self._release(memory)
        run.status, run.reason = "paused", reason
        memory.save()
        self._emit(
            "mover.paused", reason=reason, cancelled=_names(cancelled), reverting=_names(reverting), leftovers=leftovers
        )
        done = f"{len(run.done_batches)} batch(es) are done"
        what = ""
        if cancelled:
            still = f"; {_names(reverting)} still reverting" if reverting else ""
            what = f"The moves in flight were cancelled ({len(cancelled)} partition(s) back on their replicas{still}). "
        raise kind(
            f"The replica move paused: {reason}. {done}. {what}Our replication throttles were removed"
            f"{_leftover_note(leftovers)}. Fix the cause if there is one, then `migrator resume`: it reads "
            "where every partition really is and carries on from there, or `migrator rollback` to move "
            "everything back."
        )

    def _cancel(
        self, memory: MoverMemory, keys: Sequence[PartitionKey]
    ) -> tuple[list[PartitionKey], list[PartitionKey]]:
        """Cancel our reassignments in flight among `keys` and wait (bounded) for them to revert.
        Returns (cancelled, still reverting after the wait)."""
        if not keys:
            return [], []
        in_flight = self.admin.list_partition_reassignments()
        ours = {
            k: _before_of(memory, k, listed_target(in_flight[k]))
            for k in keys
            if k in in_flight and listed_target(in_flight[k]) in memory.ours(k)
        }
        if not ours:
            return [], []
        answered = self.admin.alter_partition_reassignments({k: None for k in ours})
        # NoReassignmentInProgress: it finished between the listing and the cancel; nothing reverts.
        cancelled = sorted(k for k in ours if answered.get(k) in (None, "NoReassignmentInProgressError"))
        reverting = self._wait_unlisted(cancelled, CANCEL_WAIT_SECONDS)
        self._restore_order({k: b for k, b in ours.items() if b and k in cancelled and k not in reverting})
        self._emit("mover.cancel", partitions=_names(cancelled), reverting=_names(reverting))
        return cancelled, reverting

    def _restore_order(self, before: dict[PartitionKey, Replicas]) -> None:
        """A KIP-455 cancel restores the replica set, not its order, so the preferred leader may have
        changed; an order-only reassignment (no data to copy) puts it back, then the leader."""
        if not before:
            return
        snapshot = self._observe(list(before))
        reorder = {
            k: b
            for k, b in before.items()
            if (seen := snapshot.partitions.get(k)) is not None and seen.replicas != b and set(seen.replicas) == set(b)
        }
        if not reorder:
            return
        self.admin.alter_partition_reassignments({k: list(b) for k, b in reorder.items()})
        self._wait_unlisted(sorted(reorder), CANCEL_WAIT_SECONDS)
        self._elect(sorted(reorder))

    def _wait_unlisted(self, keys: list[PartitionKey], timeout: float) -> list[PartitionKey]:
        """Wait until none of `keys` has a reassignment listed; returns those still listed at the timeout."""
        deadline = self._clock() + timeout
        listed = keys
        while listed and self._clock() < deadline:
            self._sleep(self.settings.poll_interval_seconds)
            in_flight = self.admin.list_partition_reassignments()
            listed = [k for k in listed if k in in_flight]
        return listed

    # --------------------------------------------------------------------------- checks

    def _gate(self, memory: MoverMemory) -> None:
        """Refuse to start (nothing changed, a safety gate) on a foreign reassignment in flight or an unhealthy cluster."""
        try:
            inventory = collect_inventory(self.zk, self.admin, self.config.cluster)
        except KAFKA_IO_ERRORS as exc:
            # A broker that just died stays registered for a few seconds and fails every request.
            raise TemporaryError(
                f"The cluster could not be read completely before the move ({type(exc).__name__}: {exc}); "
                "nothing was changed. Retrying shortly.",
                delay=10.0,
            ) from exc
        self._known = inventory
        ours = {r.key for r in inventory.reassignments if self._ours(r, memory)}
        foreign = [r for r in inventory.reassignments if r.key not in ours]
        if foreign:
            raise SafetyGateError(
                foreign_reassignment_refusal("The replica move", foreign, self.config.cluster.bootstrap_servers)
            )
        report = evaluate_safety(self.config, inventory, ours, START_CHECKS)
        if not report.ok:
            raise SafetyGateError(f"The replica move cannot start. {report.paragraph()}")

    def _health(self) -> str | None:
        """The whole cluster's RUN_CHECKS, from ZooKeeper and the configs the gate read: none of them
        needs what only the brokers know, and asking every broker for every config and log dir each
        time would load the brokers the move already loads (min.insync.replicas changed during the run
        is seen at the next gate)."""
        inventory = refresh_from_zookeeper(self.zk, self._known)
        report = evaluate_safety(self.config, inventory, (), RUN_CHECKS)
        if not report.ok:
            return " ".join(f"{c.name}: {c.detail}" for c in report.failures)
        return self._health_check() if self._health_check is not None else None

    def _read_detail(self) -> JSON:
        if self._progress_detail is not None:
            self._detail = self._progress_detail()
        return self._detail

    def _under_min_isr(self, snapshot: Snapshot) -> list[PartitionKey]:
        return sorted(
            key
            for key, observed in snapshot.partitions.items()
            if observed is not None and len(observed.isr) < self._min_isr(key[0])
        )

    def _min_isr(self, topic: str) -> int:
        """The topic's min.insync.replicas as the gate read it (the brokers' default for a newer topic)."""
        default = self._known.default_min_insync_replicas
        known = self._known.topics.get(topic)
        return default if known is None else known.min_insync_replicas(default)

    @staticmethod
    def _ours(reassignment: Reassignment, memory: MoverMemory) -> bool:
        if reassignment.source != "api":
            return False  # we never write the legacy znode
        target = tuple(b for b in reassignment.replicas if b not in reassignment.removing)
        return target in memory.ours(reassignment.key)

    def _refuse_foreign(self, stages: dict[PartitionKey, Stage], snapshot: Snapshot) -> None:
        foreign = sorted(k for k, s in stages.items() if s is Stage.FOREIGN)
        if foreign:
            listed = [(key, snapshot.in_flight[key]) for key in foreign]
            raise SafetyGateError(
                foreign_reassignment_refusal(
                    "The replica move",
                    [Reassignment(t, p, r.replicas, r.adding, r.removing) for (t, p), r in listed],
                    self.config.cluster.bootstrap_servers,
                )
            )

    def _verify(self, targets: dict[PartitionKey, Replicas], state: JSON, what: str) -> Verdict:
        memory = MoverMemory.bind(state, self._persist)
        snapshot = self._observe(list(targets))
        moves = [PartitionMove(t, p, (), target, 0, 0) for (t, p), target in targets.items()]
        stages = self._stages(moves, snapshot, memory)
        waiting = sorted(k for k, s in stages.items() if s in (Stage.MOVING, Stage.SETTLING, Stage.REDIRECT))
        stuck = sorted(k for k, s in stages.items() if s in (Stage.PENDING, Stage.FOREIGN))
        if stuck:
            return Verdict.failed(
                f"{len(stuck)} of {len(targets)} partition(s) are not on their {what} and nothing of ours moves "
                f"them: {_names(stuck)}"
            )
        if waiting:
            return Verdict.pending(
                f"{len(waiting)} of {len(targets)} partition(s) still moving or catching up: {_names(waiting)}",
                self.settings.poll_interval_seconds,
            )
        left = self._throttles_left(memory, snapshot.live, {t for t, _ in targets})
        if left:
            # Broker configs are described from each broker's memory, which lags a removal by a moment.
            return Verdict.pending(f"throttles not present before the move are still set: {'; '.join(left)}", 2.0)
        return Verdict.ok(f"all {len(targets)} partition(s) on their {what}, in sync; no throttle of ours left")

    def _throttles_left(self, memory: MoverMemory, live: set[int], topics: set[str]) -> list[str]:
        ledger = memory.throttles
        brokers = sorted((ledger.baselined_brokers | set(ledger.rates)) & live)
        found = []
        for throttle in read_throttles(self.admin, brokers, sorted(topics | ledger.baselined_topics)):
            if throttle.scope == "broker":
                if throttle.name not in ledger.foreign_rates.get(int(throttle.entity), {}):
                    found.append(f"broker {throttle.entity} {throttle.name}={throttle.value}")
                continue
            foreign = set(ledger.foreign_lists.get(throttle.entity, {}).get(throttle.name, []))
            extra = {e.strip() for e in throttle.value.split(",") if e.strip()} - foreign
            if extra and ALL_REPLICAS not in foreign:
                found.append(f"topic {throttle.entity} {throttle.name} has {','.join(sorted(extra))}")
        found += [f"recorded, not yet removed: {item}" for item in ledger.describe_ours()]
        return found

    # -------------------------------------------------------------------------- reading

    def _observe(self, keys: Sequence[PartitionKey]) -> Snapshot:
        topics = self.zk.topics(sorted({t for t, _ in keys}))
        states = self.zk.partition_states(keys)
        in_flight = self.admin.list_partition_reassignments()
        live = set(self.zk.broker_ids())
        partitions: dict[PartitionKey, Observed | None] = {}
        for topic, partition in keys:
            replicas = (topics.get(topic) or {}).get("partitions", {}).get(str(partition))
            if replicas is None:
                partitions[(topic, partition)] = None
                continue
            state = states.get((topic, partition)) or {}
            partitions[(topic, partition)] = Observed(
                tuple(replicas), tuple(state.get("isr", [])), state.get("leader", -1)
            )
        return Snapshot(partitions, in_flight, live)

    @staticmethod
    def _stages(moves: Iterable[PartitionMove], snapshot: Snapshot, memory: MoverMemory) -> dict[PartitionKey, Stage]:
        return {
            (m.topic, m.partition): classify(
                m.target,
                snapshot.partitions.get((m.topic, m.partition)),
                snapshot.in_flight.get((m.topic, m.partition)),
                memory.ours((m.topic, m.partition)),
            )
            for m in moves
        }

    def _progress(
        self,
        plan: MovePlan,
        run: RunMemory,
        sizes: dict[tuple[str, int, int], int],
        meter: RateMeter,
        stages_done: Collection[PartitionKey],
        batch: int | None = None,
    ) -> Progress:
        batches = plan.batches()
        done = {(m.topic, m.partition) for i in run.done_batches if i < len(batches) for m in batches[i]}
        progress = measure(plan.moves, done | set(stages_done), sizes)
        progress.batch = None if batch is None else batch + 1
        progress.batches_total = len(batches)
        progress.rate_bytes_per_second = meter.observe(self._clock(), progress.bytes_moved)
        progress.eta_seconds = eta_seconds(progress.bytes_remaining, progress.rate_bytes_per_second)
        return progress

    # -------------------------------------------------------------------------- writing

    def _writer(self, memory: MoverMemory) -> ThrottleWriter:
        return ThrottleWriter(self.admin, memory.throttles, memory.save)

    def _release(self, memory: MoverMemory, keep_rates: Collection[int] = ()) -> list[str]:
        if memory.throttles.empty:
            return []
        leftovers = self._writer(memory).release(self.zk.broker_ids(), keep_rates)
        self._emit("mover.throttles_removed", leftovers=leftovers)
        return leftovers

    def _elect(self, keys: Sequence[PartitionKey]) -> dict[str, str]:
        """Preferred leader election for the batch; a few tries, since a new replica that just joined
        the ISR may not be electable on the first call. Failures are reported, not fatal: the phase's
        leadership step and Kafka's own auto rebalance elect them later."""
        if not self.settings.elect_leaders or not keys:
            return {}
        failures = elect_preferred_leaders(
            self.admin,
            keys,
            attempts=_ELECTION_ATTEMPTS,
            pause=lambda: self._sleep(self.settings.poll_interval_seconds),
        )
        named = {f"{t}-{p}": e for (t, p), e in sorted(failures.items())}
        self._emit("mover.leaders", partitions=len(keys), not_elected=named)
        return named

    def _emit(self, kind: str, **data: object) -> None:
        self._events.emit(kind, self._phase, self._step, **data)


def _names(keys: Iterable[PartitionKey]) -> str:
    items = [f"{t}-{p}" for t, p in keys]
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _before_of(memory: MoverMemory, key: PartitionKey, target: Replicas) -> Replicas | None:
    """The replicas `key` had before the run that sent it to `target`."""
    for run in (memory.forward, memory.reverse):
        if run is not None and run.submitted.get(key) == target and key in run.before:
            return run.before[key][0]
    return None


def _leftover_note(leftovers: list[str]) -> str:
    if not leftovers:
        return ""
    kept = "kept in the checkpoint; the next resume, run end or rollback removes them"
    return f", except {'; '.join(leftovers)} ({kept})"
