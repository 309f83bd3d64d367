"""The native mover: KIP-455 reassignments, per-batch throttles, preferred leader election, resumable.

    with NativeMover.open(config, events=bus, persist=save) as mover:
        mover.run(plan, memory)        # see migrator/movers/executor.py for run/verify/reverse/cancel

A phase moves data with a `MoveReplicas` step: the phase keeps the reviewed plan in its state under
`plan_key` (an earlier step writes it), the mover keeps its memory under `memory_key`, apply runs
the plan, verify judges the cluster, rollback moves everything back to where it was.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import ClassVar

from migrator.clients.kafka import KafkaAdmin
from migrator.clients.zk import ZooKeeper
from migrator.cluster.model import Inventory, PartitionKey
from migrator.config import MigrationConfig
from migrator.engine.events import EventBus
from migrator.engine.step import JSON, Action, Step, StepContext, Verdict
from migrator.errors import MigratorError, TemporaryError
from migrator.movers.executor import Executor
from migrator.movers.factory import Mover, open_mover
from migrator.movers.memory import MoverMemory
from migrator.movers.plan import MovePlan, PlannerCluster
from migrator.movers.planner import planner_cluster
from migrator.movers.settings import MovementConfig, resolve_movement
from migrator.clients.kafka import KAFKA_IO_ERRORS


def planner_view(inventory: Inventory, topics: Collection[str] | None = None) -> PlannerCluster:
    """The planner's view of the cluster: live brokers, and the partitions of `topics` (default all)
    with what one new replica must copy, the largest replica's size (describe_log_dirs)."""
    wanted = set(inventory.topics) if topics is None else set(topics)
    return planner_cluster(inventory.brokers.values(), (p for p in inventory.partitions() if p.topic in wanted))


class NativeMover:
    name: ClassVar[str] = "native"

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
        phase: str | None = None,
        step: str | None = None,
        health_check: Callable[[], str | None] | None = None,
        progress_detail: Callable[[], JSON] | None = None,
    ) -> Iterator[Executor]:
        """An executor with its own ZooKeeper session and Admin connection, closed on exit."""
        with ZooKeeper.from_config(config.cluster) as zk, KafkaAdmin(config.cluster) as admin:
            yield Executor(
                config,
                admin,
                zk,
                events=events,
                persist=persist,
                pause_requested=pause_requested,
                settings=settings,
                phase=phase,
                step=step,
                health_check=health_check,
                progress_detail=progress_detail,
            )


class MoveReplicas(Step):
    """Run the plan in ctx.state[plan_key] with the mover `mover_kind` names (native by default, through
    movers/factory.py); rollback reverses it."""

    name: ClassVar[str] = "move-replicas"
    plan_key: ClassVar[str] = "move_plan"
    memory_key: ClassVar[str] = "mover"
    #: Apply returns only when the data has moved; verify then waits for stale throttle reads at most.
    verify_timeout: ClassVar[float] = 300.0

    def move_plan(self, ctx: StepContext) -> MovePlan:
        data = ctx.state.get(self.plan_key)
        if data is None:
            raise MigratorError(
                f"Step {self.name} finds no move plan under state[{self.plan_key!r}]: the phase must store the "
                "reviewed plan there (MovePlan.to_dict()) in a step before this one."
            )
        return MovePlan.from_dict(data)

    def memory(self, ctx: StepContext) -> JSON:
        return ctx.state.setdefault(self.memory_key, {})

    def moving(self, ctx: StepContext) -> set[PartitionKey]:
        """The partitions this step has submitted reassignments for (forward or reverse): for the
        safety gate, neither foreign nor unexpectedly under-replicated."""
        memory = MoverMemory.bind(dict(ctx.state.get(self.memory_key) or {}), lambda: None)
        return {key for run in (memory.forward, memory.reverse) if run is not None for key in run.submitted}

    def settings(self, ctx: StepContext) -> MovementConfig:
        """How fast and how much at once; a phase with a movement section of its own overrides this."""
        return resolve_movement(ctx.config.movement)

    def mover_kind(self, ctx: StepContext) -> str:
        """Which mover moves the data (movers/factory.py); a phase with a `mover:` setting overrides this."""
        return NativeMover.name

    def health_check(self, ctx: StepContext) -> Callable[[], str | None] | None:
        """A check the mover polls during movement (a reason to pause, or None): by default the phase's
        safety watch, which the machine asks at most once per gate interval (canary included)."""
        return ctx.gate_problem

    def progress_detail(self, ctx: StepContext) -> Callable[[], JSON] | None:
        """What the phase adds to each progress event (e.g. replicas and leaders per environment)."""
        return None

    @contextmanager
    def mover(self, ctx: StepContext) -> Iterator[Mover]:
        """The executor; a request that still fails after the clients' own retries (the controller or
        a broker gone for longer) ends this attempt as a TemporaryError, so the engine tries again:
        every intent is recorded before it takes effect, and each attempt starts from the cluster's
        real state."""
        try:
            with open_mover(
                self.mover_kind(ctx),
                ctx.config,
                events=ctx.events,
                persist=ctx.save_state,
                pause_requested=ctx.pause_requested,
                settings=self.settings(ctx),
                step=self.name,
                health_check=self.health_check(ctx),
                progress_detail=self.progress_detail(ctx),
            ) as executor:
                yield executor
        except KAFKA_IO_ERRORS as exc:
            raise TemporaryError(
                f"Step {self.name}: the cluster did not answer ({type(exc).__name__}: {exc}). Everything done so "
                "far is recorded in the checkpoint; the next attempt reads where every partition is and carries on.",
                delay=10.0,
            ) from exc

    def plan(self, ctx: StepContext) -> list[Action]:
        plan = self.move_plan(ctx)
        settings = self.settings(ctx)
        actions = []
        for index, moves in enumerate(plan.batches(), start=1):
            brokers = sorted({b for m in moves for b in (*m.current, *m.target)})
            actions.append(
                Action(
                    "reassign",
                    f"batch {index}/{plan.summary.batches}",
                    {
                        "partitions": len(moves),
                        "bytes": sum(m.bytes_to_move for m in moves),
                        "throttled_brokers": brokers,
                        "throttle_bytes_per_second": settings.throttle_bytes_per_second,
                    },
                )
            )
        return actions

    def snapshot(self, ctx: StepContext) -> JSON:
        # The exact before-assignment is recorded by the mover per partition just before it submits;
        # this is the summary a human reads in `migrator status`.
        return {"plan": self.move_plan(ctx).summary.to_dict()}

    def apply(self, ctx: StepContext) -> None:
        plan = self.move_plan(ctx)
        with self.mover(ctx) as executor:
            executor.run(plan, self.memory(ctx))

    def verify(self, ctx: StepContext) -> Verdict:
        plan = self.move_plan(ctx)
        with self.mover(ctx) as executor:
            return executor.verify(plan, self.memory(ctx))

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        with self.mover(ctx) as executor:
            executor.reverse(self.memory(ctx))
