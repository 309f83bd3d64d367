"""The cruise-control mover: Cruise Control drains the plan's source brokers into its destinations.

    with CruiseControlMover.open(config, events=bus, persist=save) as mover:
        mover.run(plan, memory)      # remove_broker(sources, destination_broker_ids=destinations)
        mover.verify(plan, memory)   # no replica on the sources, nothing in flight, no throttle left
        mover.reverse(memory)        # back to the recorded before-assignment (native executor)
        mover.cancel(memory)         # stop OUR execution in Cruise Control, never someone else's

The same interface as the native Executor, so a phase can take either. Cruise Control decides the
exact placement; the MovePlan says which brokers lose replicas (`sources`) and which may gain them
(`destinations`), and its bytes feed the progress figures.

Cruise Control does not survive its own restart (the executor forgets the remaining batches; CC #233),
has no resume and no ETA, so the checkpoint is ours: before every execute request the memory holds
the dry run's target assignment and the time of the request; the User-Task-ID as soon as Cruise
Control names it; the assignment before the move (what reverse restores) and the throttles that
existed before it (what the final sweep must leave). A run always starts from the real state:

    executor busy with our task      -> follow it
    executor busy with another task  -> refuse, naming whose it is (never stopped unless configured)
    executor idle, Kafka still moving what we asked for -> wait for Kafka (a restarted Cruise
                                        Control would refuse "reassignments initiated by external agent")
    replicas left on the sources     -> dry run, checkpoint the targets, execute what is left
    nothing left                     -> remove throttles left behind (a crashed Cruise Control
                                        leaves its own), done

Progress comes from the bytes the new replicas actually hold (describe_log_dirs on the
destinations), not from Cruise Control's finished-partition counts, which stay at 0 MB until a
whole partition completes (CC #2233).

Before anything moves, a static or cluster-default `*.replication.throttled.rate` stops the run:
Cruise Control's throttle removal then never converges (CC #2078, #2385).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from migrator.clients.cruise_control import (
    CruiseControl,
    CruiseControlError,
    ExecutorState,
    Optimization,
    ReviewPending,
    optimization_of,
)
from migrator.clients.kafka import KafkaAdmin, ReassignmentState
from migrator.clients.zk import ZooKeeper
from migrator.cluster.model import Throttle
from migrator.cluster.throttles import read_throttles
from migrator.config import MigrationConfig
from migrator.engine.events import EventBus
from migrator.engine.step import JSON, Verdict
from migrator.errors import BadInput, MigratorError, PermanentError, SafetyGateError, TemporaryError
from migrator.movers import cruise_control_throttles as throttle_gaps
from migrator.movers.cruise_control_config import CruiseControlConfig
from migrator.movers.cruise_control_memory import BACKEND, CruiseMemory, PartitionKey, Replicas, reassignment_plan
from migrator.movers.executor import Executor, MovePaused, MoveReport
from migrator.movers.plan import MovePlan, PartitionMove
from migrator.movers.progress import RateMeter, eta_seconds, measure
from migrator.movers.reconcile import listed_target
from migrator.movers.settings import MovementConfig

_SHOWN = 10


class CruiseControlMover:
    name: ClassVar[str] = BACKEND

    def __init__(
        self,
        config: MigrationConfig,
        cruise_control: CruiseControl,
        admin: KafkaAdmin,
        zk: ZooKeeper,
        *,
        options: CruiseControlConfig,
        events: EventBus,
        persist: Callable[[], None],
        pause_requested: Callable[[], str | None] = lambda: None,
        settings: MovementConfig | None = None,
        phase: str | None = None,
        step: str | None = None,
        health_check: Callable[[], str | None] | None = None,
        progress_detail: Callable[[], JSON] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.cc = cruise_control
        self.admin = admin
        self.zk = zk
        self.options = options
        self.settings = settings or config.movement or MovementConfig()
        self._events = events
        self._persist = persist
        self._pause_requested = pause_requested
        self._phase = phase
        self._step = step
        #: The phase's own health gate, polled every safety_interval_seconds while data moves: a
        #: reason to pause (our execution is stopped), or None.
        self._health_check = health_check
        #: What the phase adds to every progress event.
        self._progress_detail = progress_detail
        self._sleep = sleep
        self._clock = clock

    @classmethod
    @contextmanager
    def open(
        cls,
        config: MigrationConfig,
        *,
        events: EventBus,
        persist: Callable[[], None],
        pause_requested: Callable[[], str | None] = lambda: None,
        settings: MovementConfig | None = None,
        options: CruiseControlConfig | None = None,
        phase: str | None = None,
        step: str | None = None,
        health_check: Callable[[], str | None] | None = None,
        progress_detail: Callable[[], JSON] | None = None,
    ) -> Iterator[CruiseControlMover]:
        """A mover with its own Cruise Control, ZooKeeper and Admin connections, closed on exit."""
        options = options or config.cruise_control
        if options is None:
            raise BadInput(
                "The cruise-control mover needs a `cruise_control:` section in migration.yaml (at least `url:` "
                "of Cruise Control's web server); add it, or choose the native mover."
            )
        with (
            CruiseControl(
                options.url,
                auth=options.auth(),
                timeout_seconds=options.request_timeout_seconds,
                ca_file=str(options.ca_file) if options.ca_file else None,
            ) as cc,
            ZooKeeper.from_config(config.cluster) as zk,
            KafkaAdmin(config.cluster) as admin,
        ):
            yield cls(
                config,
                cc,
                admin,
                zk,
                options=options,
                events=events,
                persist=persist,
                pause_requested=pause_requested,
                settings=settings,
                phase=phase,
                step=step,
                health_check=health_check,
                progress_detail=progress_detail,
            )

    # ------------------------------------------------------------------------------ public

    def run(self, plan: MovePlan, state: JSON) -> MoveReport:
        """Drain plan.sources into plan.destinations through Cruise Control; returns when no replica
        is left on the sources. Raises BadInput (nothing changed) on a foreign execution or an
        unremovable throttle, MovePaused / SafetyGateError when it paused."""
        memory = CruiseMemory.bind(state, self._persist)
        self.preflight()
        if memory.status == "reversed":
            memory.target.clear()
            memory.user_task_id = memory.submitting_since_ms = None
            memory.submissions = 0
        if memory.baseline is None:
            memory.baseline = throttle_gaps.baseline_of(self._throttles(plan))
        memory.status, memory.reason = "running", None
        memory.save()
        sizes_by_key = {(m.topic, m.partition): m.bytes_to_move for m in plan.moves}
        meter = RateMeter()
        while True:
            self._check_pause(memory)
            executor = self._executor_state()
            if executor.busy:
                if not self._ours(executor, memory):
                    self._foreign_execution(executor)
                    continue
                self._follow(plan, memory, sizes_by_key, meter)
                continue
            if memory.user_task_id is not None:
                self._task_ended(memory)
            if self._await_kafka(plan, memory, sizes_by_key, meter):
                continue
            left = self._holdings(plan.sources)
            for key, replicas in left.items():
                memory.before.setdefault(key, replicas)
            if not left:
                self._report_progress(memory, sizes_by_key, meter)
                break
            if memory.submissions >= self.options.max_submissions:
                raise PermanentError(
                    f"Cruise Control was asked {memory.submissions} times to drain brokers {list(plan.sources)} and "
                    f"{len(left)} partition(s) still have replicas there ({_names(left)}). Look at Cruise Control's "
                    "log for why its executions end early, then `migrator resume` (raise "
                    "cruise_control.max_submissions if it was restarted that often), or `migrator rollback`."
                )
            self._submit(plan, memory)
        leftovers = self._sweep(plan, memory)
        if leftovers:
            raise TemporaryError(
                f"Every replica is off brokers {list(plan.sources)}, but these throttles could not be removed yet: "
                f"{'; '.join(leftovers)}. The next attempt (or `migrator resume`) removes them.",
                delay=self.options.poll_interval_seconds,
            )
        memory.status, memory.reason, memory.user_task_id = "done", None, None
        memory.save()
        self._emit("mover.done", direction="forward", partitions=len(memory.target), submissions=memory.submissions)
        return MoveReport("forward", len(memory.target), memory.submissions, plan.summary.total_bytes)

    def verify(self, plan: MovePlan, state: JSON) -> Verdict:
        """No replica on the sources, nothing in flight, Cruise Control idle, no throttle left over."""
        memory = CruiseMemory.bind(state, self._persist)
        executor = self._executor_state()
        if executor.busy:
            who = "our execution" if self._ours(executor, memory) else f"task {executor.task_id}"
            return Verdict.pending(f"Cruise Control is still executing ({who}, {executor.state})", self.options.poll_interval_seconds)
        in_flight = self.admin.list_partition_reassignments()
        if in_flight:
            return Verdict.pending(
                f"{len(in_flight)} reassignment(s) in flight: {_names(in_flight)}", self.options.poll_interval_seconds
            )
        left = self._holdings(plan.sources)
        if left:
            return Verdict.failed(
                f"{len(left)} partition(s) still have replicas on brokers {list(plan.sources)}: {_names(left)}"
            )
        extra = self._extra_throttles(plan, memory)
        if extra:
            return Verdict.pending(f"throttles not present before the move are still set: {'; '.join(extra)}", 2.0)
        return Verdict.ok(f"no replica on brokers {list(plan.sources)}, nothing in flight, no throttle left over")

    def reverse(self, state: JSON) -> MoveReport:
        """Every partition the move touched back on its recorded replicas. Cruise Control has no
        endpoint for an exact assignment, so our execution is stopped and the native executor moves
        the data back (KIP-455, throttled, batched); its memory sits beside ours."""
        memory = CruiseMemory.bind(state, self._persist)
        self._stop_ours(memory, "rollback")
        current = self._assignment(sorted({t for t, _ in memory.before}))
        entries = [
            (key, current[key], before, 0)
            for key, before in sorted(memory.before.items())
            if key in current and current[key] != before
        ]
        if memory.status != "reversed" and not memory.native_reverse:
            memory.state["reverse_plan"] = reassignment_plan(entries, self.settings.limits()).to_dict()
        memory.status, memory.reason, memory.user_task_id = "reversed", None, None
        memory.save()
        plan = MovePlan.from_dict(memory.state["reverse_plan"])
        executor = Executor(
            self.config,
            self.admin,
            self.zk,
            events=self._events,
            persist=memory.save,
            pause_requested=self._pause_requested,
            settings=self.settings,
            phase=self._phase,
            step=self._step,
            sleep=self._sleep,
            clock=self._clock,
        )
        report = executor.run(plan, memory.native_reverse)
        return MoveReport("reverse", report.partitions, report.batches, report.bytes_total, report.leaders_not_elected)

    def cancel(self, state: JSON, reason: str = "cancelled by the operator") -> list[PartitionKey]:
        """Stop our execution in Cruise Control (its moves in flight are rolled back); returns the
        partitions that were in flight. Someone else's execution is left alone."""
        memory = CruiseMemory.bind(state, self._persist)
        in_flight = sorted(k for k in self.admin.list_partition_reassignments() if k in memory.target)
        stopped = self._stop_ours(memory, reason)
        if memory.status == "running":
            memory.status, memory.reason = "paused", reason
        memory.save()
        self._emit("mover.cancelled", stopped=stopped, partitions=_names(in_flight))
        return in_flight if stopped else []

    def preflight(self) -> None:
        """Refuse (nothing changed) when a replication throttle rate exists that Cruise Control's
        throttle removal can never clear: its execution would then not finish (CC #2078, #2385)."""
        found = throttle_gaps.unremovable_rates(self.admin, self.zk.broker_ids())
        if found:
            raise BadInput(
                "Cruise Control cannot run this move: these replication throttle rates are set where its throttle "
                f"removal cannot clear them: {'; '.join(found)}. Cruise Control would wait forever for its own "
                "throttle to go away after the execution (Cruise Control issues #2078, #2385). Remove them first "
                "(a cluster default with `kafka-configs.sh --bootstrap-server <b> --entity-type brokers "
                "--entity-default --alter --delete-config leader.replication.throttled.rate,"
                "follower.replication.throttled.rate`; a static one from server.properties, then restart that "
                "broker), or use the native mover, which leaves throttles it did not set alone. Nothing was changed."
            )

    # ------------------------------------------------------------------------------ the run

    def _submit(self, plan: MovePlan, memory: CruiseMemory) -> None:
        """Dry run, checkpoint the targets and the moment, then execute; the User-Task-ID is
        checkpointed as soon as Cruise Control names it."""
        proposal = self._propose(plan, memory)
        memory.target.update({(p.topic, p.partition): p.new_replicas for p in proposal.proposals})
        memory.submitting_since_ms = int(time.time() * 1000)
        memory.save()
        params = self._params(plan, dryrun=False, review_id=memory.reviews.get("execute"))
        try:
            reply = self.cc.request("POST", "remove_broker", params)
            memory.user_task_id = reply.user_task_id
            memory.submissions += 1
            memory.save()
            if reply.in_progress:
                reply = self.cc.complete(
                    "POST", "remove_broker", params, self.options.proposal_timeout_seconds, reply.user_task_id
                )
            answer = optimization_of(reply)
        except CruiseControlError as exc:
            memory.user_task_id = None
            memory.save()
            self._refused(exc, plan)
            return
        if isinstance(answer, ReviewPending):
            memory.user_task_id = None
            self._await_review(memory, "execute", answer)
        memory.reviews.pop("execute", None)
        memory.target.update({(p.topic, p.partition): p.new_replicas for p in answer.proposals})
        memory.save()
        self._emit(
            "mover.submitted",
            user_task_id=memory.user_task_id,
            partitions=len(answer.proposals),
            data_to_move_mb=answer.data_to_move_mb,
            submission=memory.submissions,
        )

    def _propose(self, plan: MovePlan, memory: CruiseMemory) -> Optimization:
        """The dry run; while Cruise Control lacks valid metric windows, wait (bounded), saying so."""
        deadline = self._clock() + self.options.metric_windows_timeout_seconds
        while True:
            try:
                params = self._params(plan, dryrun=True, review_id=memory.reviews.get("dryrun"))
                answer = self.cc.optimize("remove_broker", params, self.options.proposal_timeout_seconds)
            except CruiseControlError as exc:
                if exc.task_forgotten:
                    self._refused(exc, plan)
                    self._sleep(self.options.poll_interval_seconds)
                    continue
                if not exc.not_enough_windows:
                    self._refused(exc, plan)
                    raise
                if self._clock() > deadline:
                    raise SafetyGateError(
                        f"Cruise Control has had too few valid metric windows to compute a proposal for "
                        f"{self.options.metric_windows_timeout_seconds:g} s ({exc.message}). A freshly started Cruise "
                        "Control needs a few partition metric windows (num.partition.metrics.windows, "
                        "min.valid.partition.ratio); check that its metrics reporter topic receives samples from "
                        "every broker, then `migrator resume`."
                    ) from exc
                self._emit("mover.waiting", reason=f"Cruise Control has not enough valid metric windows yet: {exc.message}")
                self._check_pause(memory)
                self._sleep(self.options.poll_interval_seconds)
                continue
            if isinstance(answer, ReviewPending):
                self._await_review(memory, "dryrun", answer)
            memory.reviews.pop("dryrun", None)
            return answer

    def _await_review(self, memory: CruiseMemory, kind: str, answer: ReviewPending) -> None:
        """Two-step verification parked the request: record its review id (the resumed run sends it
        with review_id) and pause until a reviewer approves it."""
        memory.reviews[kind] = answer.review_id
        memory.status, memory.reason = "paused", f"awaiting review {answer.review_id} ({kind})"
        memory.save()
        raise TemporaryError(
            f"Cruise Control parked the {kind} request for review (two-step verification): approve review id "
            f"{answer.review_id} (POST {self.cc.base}/review?approve={answer.review_id}&reason=...), then "
            "`migrator resume` submits it.",
            delay=60.0,
        )

    def _params(self, plan: MovePlan, *, dryrun: bool, review_id: int | None = None) -> JSON:
        return self.cc.remove_broker_params(
            plan.sources,
            destinations=plan.destinations,
            dryrun=dryrun,
            replication_throttle=self.settings.throttle_bytes_per_second,
            concurrent_partition_movements_per_broker=self.settings.max_moves_per_broker,
            concurrent_leader_movements=self.options.concurrent_leader_movements,
            execution_progress_check_interval_ms=self.options.execution_progress_check_interval_ms,
            review_id=review_id if self.options.two_step_verification else None,
            reason=f"kafka-k8s-migrator {self.config.migration_id}: drain brokers {list(plan.sources)}",
        )

    def _refused(self, exc: CruiseControlError, plan: MovePlan) -> None:
        if exc.task_forgotten:
            self._emit("mover.cruise_control_restarted", user_task_id=None, reason=exc.message)
            return  # restarted while computing: the next round reconciles and asks again
        if exc.ongoing_execution:
            return  # the next look at the executor says whose it is
        if exc.external_reassignments:
            return  # the next round waits for Kafka or names the foreign reassignments
        if exc.too_many_tasks:
            raise TemporaryError(
                f"Cruise Control has too many active user tasks to take ours ({exc.message}); retrying later.", delay=30.0
            ) from exc
        raise PermanentError(
            f"Cruise Control refused to drain brokers {list(plan.sources)} into {list(plan.destinations)}: "
            f"{exc.message}. Fix the cause it names, then `migrator resume`."
        ) from exc

    def _follow(self, plan: MovePlan, memory: CruiseMemory, sizes_by_key: dict[PartitionKey, int], meter: RateMeter) -> None:
        """Poll our execution until Cruise Control's executor is idle or runs something else."""
        brokers = set(plan.sources) | set(plan.destinations)
        last_marker, last_change = (-1, -1), self._clock()
        next_health = self._clock()
        while True:
            self._check_pause(memory)
            down = sorted(brokers - set(self.zk.broker_ids()))
            if down:
                self._pause_execution(memory, f"broker(s) {down} of the move went down", SafetyGateError)
            if self._health_check is not None and self._clock() >= next_health:
                next_health = self._clock() + self.settings.safety_interval_seconds
                if problem := self._health_check():
                    self._pause_execution(memory, problem, SafetyGateError)
            progress = self._report_progress(memory, sizes_by_key, meter)
            marker = (progress["bytes_moved"], progress["partitions_done"])
            if marker != last_marker:
                last_marker, last_change = marker, self._clock()
            elif self._clock() - last_change > self.settings.stall_timeout_seconds:
                self._pause_execution(
                    memory,
                    f"no byte was copied and no partition completed for {self.settings.stall_timeout_seconds:g} s",
                    SafetyGateError,
                )
            self._sleep(self.options.poll_interval_seconds)
            executor = self._executor_state()
            if not executor.busy or not self._ours(executor, memory):
                return

    def _await_kafka(
        self, plan: MovePlan, memory: CruiseMemory, sizes_by_key: dict[PartitionKey, int], meter: RateMeter
    ) -> bool:
        """Reassignments still in flight with Cruise Control idle: ours (a restarted Cruise Control's
        leftovers) are waited for, anything else is refused. True if it waited."""
        in_flight = self.admin.list_partition_reassignments()
        if not in_flight:
            return False
        foreign = {k: s for k, s in in_flight.items() if not self._our_move(k, s, plan, memory)}
        if foreign:
            raise BadInput(_foreign_reassignments(foreign, self.config.cluster.bootstrap_servers))
        self._emit("mover.awaiting_kafka", partitions=_names(in_flight), reason="Cruise Control is idle but Kafka still moves partitions we asked for")
        deadline = self._clock() + self.settings.stall_timeout_seconds
        while in_flight:
            self._check_pause(memory)
            if self._clock() > deadline:
                raise SafetyGateError(
                    f"Kafka has been moving {_names(in_flight)} for {self.settings.stall_timeout_seconds:g} s with "
                    "Cruise Control idle; check the brokers' logs, then `migrator resume`."
                )
            self._report_progress(memory, sizes_by_key, meter)
            self._sleep(self.options.poll_interval_seconds)
            in_flight = {k: s for k, s in self.admin.list_partition_reassignments().items() if k in in_flight}
        return True

    @staticmethod
    def _our_move(key: PartitionKey, state: ReassignmentState, plan: MovePlan, memory: CruiseMemory) -> bool:
        """A reassignment our execution started: to the target we recorded, or (Cruise Control
        re-optimises when it executes, and a crash may have lost its answer) one that only takes
        replicas off our sources onto our destinations."""
        if listed_target(state) == memory.target.get(key):
            return True
        return (
            key in memory.before
            and bool(state.adding)
            and set(state.adding) <= set(plan.destinations)
            and set(state.removing) <= set(plan.sources)
        )

    def _task_ended(self, memory: CruiseMemory) -> None:
        """Cruise Control is idle after our execution: it finished, failed, or Cruise Control restarted."""
        tasks = {t.user_task_id: t for t in self.cc.user_tasks()}
        task = tasks.get(memory.user_task_id or "")
        if task is None:
            self._emit(
                "mover.cruise_control_restarted",
                user_task_id=memory.user_task_id,
                reason="Cruise Control no longer knows our execution (restarted?); reconciling with Kafka",
            )
        else:
            self._emit("mover.execution_ended", user_task_id=task.user_task_id, status=task.status)
        memory.user_task_id = memory.submitting_since_ms = None
        memory.save()

    # ------------------------------------------------------------------------------ whose

    def _ours(self, executor: ExecutorState, memory: CruiseMemory) -> bool:
        task_id = executor.task_id
        if task_id is None or executor.triggered_user_task_id is None:
            return False
        if task_id == memory.user_task_id:
            return True
        if memory.submitting_since_ms is None or memory.user_task_id is not None:
            return False
        # Killed between the execute request and its answer: our request is the remove_broker of our
        # brokers that Cruise Control took after we recorded the intent.
        for task in self.cc.user_tasks([task_id]):
            params = _query(task.request_url)
            if (
                task.request_url.startswith("POST ")
                and "/remove_broker" in task.request_url
                and params.get("dryrun") == "false"
                and task.start_ms >= memory.submitting_since_ms - 5_000
                and params.get("reason", "").startswith(f"kafka-k8s-migrator {self.config.migration_id}")
            ):
                memory.user_task_id = task_id
                memory.save()
                return True
        return False

    def _foreign_execution(self, executor: ExecutorState) -> None:
        who = self._describe_task(executor)
        if not self.options.stop_foreign_executions:
            raise BadInput(
                f"Cruise Control is executing {who}, which the migrator did not start ({executor.state}). The "
                "migrator never stops an execution it did not start; nothing was changed. Wait for it to finish "
                f"(GET {self.cc.base}/state?substates=executor), or stop it yourself with POST "
                f"{self.cc.base}/stop_proposal_execution?stop_external_agent=false if that is safe (or set "
                "cruise_control.stop_foreign_executions: true), then run again."
            )
        self._emit("mover.stopping_foreign", task=who)
        self.cc.stop_proposal_execution(stop_external_agent=False, reason="kafka-k8s-migrator: stop_foreign_executions")
        self._await_idle()

    def _describe_task(self, executor: ExecutorState) -> str:
        if executor.triggered_user_task_id is None:
            return f"self-healing task {executor.task_id} ({executor.reason or 'no reason given'})"
        for task in self.cc.user_tasks([executor.triggered_user_task_id]):
            return task.describe()
        return f"user task {executor.triggered_user_task_id} ({executor.reason or 'no reason given'})"

    # ------------------------------------------------------------------------------ stopping

    def _check_pause(self, memory: CruiseMemory) -> None:
        if reason := self._pause_requested():
            self._pause_execution(memory, reason, MovePaused)

    def _pause_execution(self, memory: CruiseMemory, reason: str, kind: type[MigratorError]) -> None:
        stopped = self._stop_ours(memory, reason)
        memory.status, memory.reason = "paused", reason
        memory.save()
        what = "Our execution in Cruise Control was stopped (its moves in flight rolled back). " if stopped else ""
        raise kind(
            f"The replica move paused: {reason}. {what}`migrator resume` reads where every partition is and "
            "submits what is left; `migrator rollback` moves everything back."
        )

    def _stop_ours(self, memory: CruiseMemory, reason: str) -> bool:
        executor = self._executor_state()
        if not executor.busy or not self._ours(executor, memory):
            return False
        self.cc.stop_proposal_execution(stop_external_agent=False, reason=f"kafka-k8s-migrator: {reason}")
        self._await_idle()
        return True

    def _await_idle(self) -> None:
        deadline = self._clock() + self.settings.stall_timeout_seconds
        while self._executor_state().busy:
            if self._clock() > deadline:
                raise SafetyGateError(
                    f"Cruise Control's executor did not stop within {self.settings.stall_timeout_seconds:g} s; "
                    f"check GET {self.cc.base}/state?substates=executor and its log."
                )
            self._sleep(self.options.poll_interval_seconds)

    # ------------------------------------------------------------------------------ reading

    def _executor_state(self) -> ExecutorState:
        return self.cc.executor_state(self.options.proposal_timeout_seconds)

    def _assignment(self, topics: Sequence[str] | None = None) -> dict[PartitionKey, Replicas]:
        data = self.zk.topics(topics)
        return {(t, int(p)): tuple(r) for t, d in data.items() for p, r in (d or {}).get("partitions", {}).items()}

    def _holdings(self, brokers: Iterable[int]) -> dict[PartitionKey, Replicas]:
        """Every partition with a replica on one of `brokers`, with its replicas."""
        wanted = set(brokers)
        return {k: r for k, r in self._assignment().items() if wanted & set(r)}

    def _report_progress(self, memory: CruiseMemory, sizes_by_key: dict[PartitionKey, int], meter: RateMeter) -> JSON:
        keys = sorted(memory.target)
        current = self._assignment(sorted({t for t, _ in keys}))
        in_flight = self.admin.list_partition_reassignments()
        moves = [
            PartitionMove(t, p, memory.before.get((t, p), current.get((t, p), ())), memory.target[(t, p)], sizes_by_key.get((t, p), 0), 0)
            for t, p in keys
        ]
        done = {k for k in keys if current.get(k) == memory.target[k] and k not in in_flight}
        destinations = sorted({b for m in moves for b in m.adding} & set(self.zk.broker_ids()))
        sizes: dict[tuple[str, int, int], int] = {}
        for broker in destinations:
            try:
                sizes.update(self.admin.replica_sizes([broker]))
            except Exception:  # noqa: BLE001 - a broker that fails costs only its own figures
                continue
        progress = measure(moves, done, sizes)
        progress.rate_bytes_per_second = meter.observe(self._clock(), progress.bytes_moved)
        progress.eta_seconds = eta_seconds(progress.bytes_remaining, progress.rate_bytes_per_second)
        memory.progress = progress.to_dict()
        detail = self._progress_detail() if self._progress_detail is not None else {}
        self._emit("progress", direction="forward", **memory.progress, **detail)
        return memory.progress

    # ------------------------------------------------------------------------------ throttles

    def _throttles(self, plan: MovePlan) -> list[Throttle]:
        topics = sorted({m.topic for m in plan.moves} | set(self.zk.topic_names()))
        return read_throttles(self.admin, sorted(self.zk.broker_ids()), topics)

    def _extra_throttles(self, plan: MovePlan, memory: CruiseMemory) -> list[str]:
        return throttle_gaps.extra(self._throttles(plan), memory.baseline or set())

    def _sweep(self, plan: MovePlan, memory: CruiseMemory) -> list[str]:
        """Throttles back as they were before the move: a Cruise Control that crashed mid-execution
        leaves its own behind, and nobody else would remove them."""
        failed = throttle_gaps.sweep(self.admin, self._throttles(plan), memory.baseline or set())
        self._emit("mover.throttles_swept", leftovers=failed)
        return failed

    def _emit(self, kind: str, **data: Any) -> None:
        self._events.emit(kind, self._phase, self._step, **data)


def _query(request_url: str) -> dict[str, str]:
    return dict(parse_qsl(request_url.partition("?")[2]))


def _names(keys: Iterable[PartitionKey]) -> str:
    items = [f"{t}-{p}" for t, p in sorted(keys)]
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _foreign_reassignments(foreign: dict[PartitionKey, ReassignmentState], bootstrap: str) -> str:
    shown = ", ".join(f"{t}-{p} -> {list(listed_target(s))}" for (t, p), s in sorted(foreign.items())[:_SHOWN])
    more = f" and {len(foreign) - _SHOWN} more" if len(foreign) > _SHOWN else ""
    return (
        f"The replica move cannot go on: {len(foreign)} partition reassignment(s) that neither the migrator nor its "
        f"Cruise Control execution asked for are in flight ({shown}{more}), and Cruise Control refuses to execute "
        "while an external agent reassigns partitions. Nothing was changed. See them with "
        f"`kafka-reassign-partitions.sh --bootstrap-server {bootstrap} --list`; let them finish or cancel them, "
        "then run again."
    )
