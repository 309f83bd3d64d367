"""Phase 4, cruise-control-rebalance: everything moves from the VM brokers onto the Kubernetes brokers,
under load and reversibly, then the VM brokers go.

    mover-ready        record which brokers are VM and which Kubernetes (the join's node IDs, the live
                       registrations) and check the mover (`cruise_control_rebalance.mover`) can move
    move-replicas      drain the VM brokers into the Kubernetes brokers, `brokers_per_batch` VM brokers at
                       a time (default all), each group in batches of at most max_moves_per_broker moves
                       per broker (and max_bytes_per_batch), throttled, each batch a checkpointed unit; a health gate (broker offline, under-replicated beyond
                       tolerance, under min ISR, offline partitions, no controller, the canary) pauses
                       the move and resumes it once healthy for health_gate.healthy_for_seconds
    move-leadership    preferred leader election: every partition led by its first (Kubernetes) replica
    repoint-facade     kafka-bootstrap and every kafka-{id} name lead to Kubernetes brokers, verified on
                       every authoritative server (a no-op step without a dns: section)
    retire-vm-brokers  the VM brokers hold no replica, lead nothing, are not the controller (it is moved
                       off them), and no replica list, throttle list or reassignment names them
    stop-vm-hosts      the VM hosts stop through the source platform (local, ec2, manual); done when no
                       VM broker is registered: the entry condition of the KRaft cutover

Entry gate: a target: section, the Kubernetes brokers registered, the safety checks. `migrator pause`
stops at the next batch boundary; rollback, newest step first: the VM hosts start again, the facade
names get their old values, every replica moves back to its VM broker in its original order.
Runbook: runbooks/04-cruise-control-rebalance.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property

from migrator.clients.kafka import KafkaAdmin
from migrator.clients.zk import ZooKeeper
from migrator.cluster.environments import Environments, kubernetes_ids, placement, read_environments
from migrator.cluster.health_gate import ExtraCheck, HealthGate
from migrator.cluster.holdings import references
from migrator.cluster.inventory import read_inventory
from migrator.cluster.controller import move_controller_off
from migrator.cluster.leaders import describe_not_preferred, elect_preferred_leaders, not_preferred
from migrator.cluster.model import Inventory
from migrator.cluster.safety import ALL_CHECKS, FOREIGN_REASSIGNMENTS, SafetyGate
from migrator.checkpoint_store import open_store
from migrator.config import MigrationConfig
from migrator.dns.steps import DnsFacadeResources, RepointFacade, repoint_step
from migrator.engine.phase import Phase, Precondition
from migrator.engine.step import JSON, Action, Step, StepContext, Verdict
from migrator.errors import PermanentError, SafetyGateError
from migrator.movers.executor import MovePaused, MoveStalled
from migrator.movers.native import MoveReplicas, planner_view
from migrator.movers.plan import MovePlan
from migrator.movers.settings import MovementConfig
from migrator.platforms.source.base import BrokerPlatform
from migrator.platforms.source.factory import source_platform
from migrator.platforms.model import NewBroker
from migrator.platforms.registration import Registrations, advertised_host
from migrator.platforms.target.base import require_target
from migrator.text import id_list
from migrator.movers.rebalance_config import RebalanceConfig
from phases.cruise_control_rebalance.plan import (
    batch_estimates,
    broker_groups,
    drain_plans,
    facade_targets,
    final_group,
    movement_settings,
    plan_estimate,
    rebalance_settings,
)

__all__ = ["RebalanceConfig", "build"]

PHASE = "cruise-control-rebalance"
JOIN_PHASE = "mixed-cluster-join"
JOIN_NODE_IDS = "node_ids"  # where the join records the IDs the node pool was given
#: ctx.state keys (the phase's checkpointed memory).
ENVIRONMENTS = "environments"  # {"vm": [...], "kubernetes": [...]}, recorded by mover-ready
BROKERS = "brokers"  # broker id -> {"host", "rack"}, recorded by mover-ready
PLANS = "move_plans"  # one MovePlan per group of VM brokers, recorded before the first moves
MOVERS = "movers"  # group index -> the mover's memory of that group's plan
GROUP = "group"  # index of the group moving now
ELECTION_ATTEMPTS = 3


class RebalanceResources:
    """What the steps share. The source platform is built on first use (a plan needs no cloud
    credentials); tests pass their own platform, joined-IDs reader, canary checks or sleep."""

    def __init__(
        self,
        config: MigrationConfig,
        *,
        platform: BrokerPlatform | None = None,
        joined: Callable[[], list[int] | None] | None = None,
        extra_checks: list[ExtraCheck] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 1.0,
    ) -> None:
        self.config = config
        self.target = require_target(config)
        self.settings: RebalanceConfig = rebalance_settings(config)
        self.movement: MovementConfig = movement_settings(config)
        self._platform = platform
        self._joined = joined or (lambda: joined_node_ids(config))
        #: The embedded canary (migrator/cluster/canary.py) plugs in here: each check is one more
        #: reason for the health gate to pause the move.
        self.extra_checks: list[ExtraCheck] = list(extra_checks or [])
        self.sleep = sleep
        self.poll_interval = poll_interval

    @cached_property
    def platform(self) -> BrokerPlatform:
        return self._platform or source_platform(self.config)

    @cached_property
    def inventory(self) -> Inventory:
        """One read for dry runs; steps that act read afresh."""
        return read_inventory(self.config)

    def zookeeper(self) -> ZooKeeper:
        return ZooKeeper.from_config(self.config.cluster)

    def read_environments(self) -> Environments:
        with self.zookeeper() as zk:
            return read_environments(zk, kubernetes_ids(self.target.node_id_candidates, self._joined()))

    def environments(self, ctx: StepContext) -> Environments:
        """As mover-ready recorded them; a dry run before it reads them live."""
        if ENVIRONMENTS in ctx.state:
            return Environments.from_json(ctx.state[ENVIRONMENTS])
        return self.read_environments()

    def brokers(self, ctx: StepContext) -> dict[int, JSON]:
        """broker id -> its advertised host and rack, as mover-ready recorded them (else live)."""
        recorded = ctx.state.get(BROKERS)
        if recorded is None:
            recorded = self.read_brokers(self.environments(ctx))
        return {int(b): data for b, data in recorded.items()}

    def read_brokers(self, envs: Environments) -> dict[str, JSON]:
        cluster = self.config.cluster
        snapshot = Registrations(cluster.zookeeper_connect, cluster.cluster_id, cluster.timeout_seconds).read(
            [*envs.vm, *envs.kubernetes]
        )
        return {
            str(b): {"host": advertised_host(r), "rack": r.rack} for b, r in sorted(snapshot.registered.items())
        }

    def drain_plans(self, ctx: StepContext, inventory: Inventory | None = None) -> list[MovePlan]:
        """The plans (one per group of VM brokers) move-replicas recorded; before that, the ones the
        cluster calls for (`inventory`, or the dry runs' read)."""
        if PLANS in ctx.state and inventory is None:
            return [MovePlan.from_dict(p) for p in ctx.state[PLANS]]
        if not self.environments(ctx).kubernetes:
            return []  # a dry run before the join: nothing to drain into yet (the entry gate refuses a run)
        view = planner_view(inventory or self.inventory)
        return drain_plans(view, self.environments(ctx), self.movement.limits(), self.settings.brokers_per_batch)

    def gate(self, ctx: StepContext) -> HealthGate:
        envs = self.environments(ctx)
        watched = [*envs.vm, *envs.kubernetes]
        return HealthGate(self.config, brokers=lambda: watched, extra_checks=self.extra_checks, sleep=self.sleep)

    def ready(self, ctx: StepContext) -> Verdict:
        """Entry gate: Kubernetes brokers registered to move onto, and VM brokers to move off."""
        envs = self.read_environments()
        if not envs.kubernetes:
            return Verdict.failed(
                f"no Kubernetes broker (node IDs {self.target.node_ids}) is registered; run phase {JOIN_PHASE} first"
            )
        if not envs.vm:
            return Verdict.ok(f"no VM broker is left; Kubernetes brokers {id_list(envs.kubernetes)} hold the cluster")
        return Verdict.ok(f"VM brokers {id_list(envs.vm)} move onto Kubernetes brokers {id_list(envs.kubernetes)}")


def joined_node_ids(config: MigrationConfig) -> list[int] | None:
    """The node IDs phase mixed-cluster-join recorded from the pool's status, None before it ran."""
    loaded = open_store(config).load()
    record = loaded.checkpoint.phases.get(JOIN_PHASE) if loaded else None
    ids = record.state.get(JOIN_NODE_IDS) if record else None
    return [int(i) for i in ids] if ids else None


# -------------------------------------------------------------------------------------------- steps


class MoverReady(Step):
    name = "mover-ready"

    def __init__(self, resources: RebalanceResources) -> None:
        self.resources = resources

    def plan(self, ctx: StepContext) -> list[Action]:
        envs = self.resources.environments(ctx)
        detail = {"vm_brokers": list(envs.vm), "kubernetes_brokers": list(envs.kubernetes)}
        return [Action("check", f"{self.resources.settings.mover} mover", detail)]

    def snapshot(self, ctx: StepContext) -> JSON:
        # Fixed here, before anything moves: later steps (and a resumed run, when the VM brokers have
        # stopped) work from this record.
        envs = self.resources.read_environments()
        ctx.state[ENVIRONMENTS] = envs.to_json()
        ctx.state[BROKERS] = self.resources.read_brokers(envs)
        return {}

    def apply(self, ctx: StepContext) -> None:
        """Nothing to change: the native mover needs only the Admin API (KIP-455), checked by verify."""

    def verify(self, ctx: StepContext) -> Verdict:
        envs = self.resources.environments(ctx)
        with KafkaAdmin(self.resources.config.cluster) as admin:
            in_flight = admin.list_partition_reassignments()
        if in_flight:
            shown = ", ".join(f"{t}-{p}" for t, p in sorted(in_flight)[:10])
            return Verdict.failed(
                f"{len(in_flight)} reassignment(s) the migrator did not start are in flight ({shown}); two movers "
                "fight over throttles and bandwidth: let them finish or cancel them"
            )
        return Verdict.ok(
            f"{self.resources.settings.mover} mover ready (KIP-455 answers, nothing in flight); VM brokers "
            f"{id_list(envs.vm)}, Kubernetes brokers {id_list(envs.kubernetes)}"
        )

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        ctx.state.pop(ENVIRONMENTS, None)
        ctx.state.pop(BROKERS, None)


class MoveReplicasToKubernetes(MoveReplicas):
    """The mover's step, run once per group of VM brokers (`brokers_per_batch`): each group's plan is
    recorded before the first moves and runs to the end before the next starts, with this phase's
    settings, its health gate (which pauses the move and resumes it by itself) and per-environment
    progress. Rollback reverses the groups newest first, which puts every replica back where it was."""

    #: A move may wait out pauses on the gate; verify then only confirms the outcome.
    verify_timeout = 600.0

    def __init__(self, resources: RebalanceResources) -> None:
        self.resources = resources

    def settings(self, ctx: StepContext) -> MovementConfig:
        return self.resources.movement

    def mover_kind(self, ctx: StepContext) -> str:
        return self.resources.settings.mover

    def health_check(self, ctx: StepContext) -> Callable[[], str | None]:
        gate = self.resources.gate(ctx)
        # The phase's safety watch (the canary among it) pauses the move too, at the machine's interval.
        gate.extra_checks.append(ctx.gate_problem)
        return gate.problem

    def progress_detail(self, ctx: StepContext) -> Callable[[], JSON]:
        envs = self.resources.environments(ctx)
        group = {"group": ctx.state.get(GROUP, 0) + 1, "groups": len(ctx.state.get(PLANS) or [None])}

        def detail() -> JSON:
            try:
                with self.resources.zookeeper() as zk:
                    return {**group, "environments": placement(zk, envs)}
            except Exception as exc:  # noqa: BLE001 - progress must never stop a move
                return {**group, "environments": None, "environments_error": f"{type(exc).__name__}: {exc}"}

        return detail

    def group_memory(self, ctx: StepContext, group: int) -> JSON:
        return ctx.state.setdefault(MOVERS, {}).setdefault(str(group), {})

    def plan(self, ctx: StepContext) -> list[Action]:
        if not self.resources.environments(ctx).kubernetes:
            # A dry run before the join: there is nothing to drain into yet, which is not bad input.
            return [
                Action("wait", "for the Kubernetes brokers", {"why": f"the drain is planned once phase {JOIN_PHASE} has registered them"})
            ]
        plans = self.resources.drain_plans(ctx)
        throttle = self.settings(ctx).throttle_bytes_per_second
        groups = broker_groups(self.resources.environments(ctx).vm, self.resources.settings.brokers_per_batch)
        actions = []
        for g, (plan, brokers) in enumerate(zip(plans, groups), start=1):
            for i, row in enumerate(batch_estimates(plan, throttle), start=1):
                where = f"group {g}/{len(plans)} (VM brokers {id_list(brokers)}), batch {i}/{plan.summary.batches}"
                actions.append(Action("reassign", where, row))
        actions.append(Action("estimate", "all groups and batches", plan_estimate(plans, throttle)))
        return actions

    def snapshot(self, ctx: StepContext) -> JSON:
        if PLANS not in ctx.state:
            plans = self.resources.drain_plans(ctx, read_inventory(self.resources.config))
            ctx.state[PLANS] = [p.to_dict() for p in plans]
        return {"plans": [p["summary"] for p in ctx.state[PLANS]]}

    def apply(self, ctx: StepContext) -> None:
        for group, plan in enumerate(self.resources.drain_plans(ctx)):
            if group < ctx.state.get(GROUP, 0):
                continue  # done before a restart: its outcome is the next group's starting point
            ctx.state[GROUP] = group
            ctx.save_state()
            self._run_gated(ctx, plan, self.group_memory(ctx, group))

    def _run_gated(self, ctx: StepContext, plan: MovePlan, memory: JSON) -> None:
        """Run the mover; a pause on the health gate waits (bounded) until the cluster has been healthy
        for the configured time and carries on, each pause and resume in the journal with its reason."""
        gate_settings = self.resources.settings.health_gate
        while True:
            try:
                with self.mover(ctx) as mover:
                    mover.run(plan, memory)
                return
            except (MovePaused, MoveStalled):
                raise
            except SafetyGateError as exc:
                if not gate_settings.auto_resume:
                    raise
                reason = (memory.get("forward") or {}).get("reason") or str(exc)
                ctx.journal("health_gate.paused", self.name, reason=reason)
                ctx.events.emit("rebalance.gate_paused", PHASE, self.name, reason=reason)
                self.resources.gate(ctx).await_healthy(
                    hold=gate_settings.healthy_for_seconds,
                    timeout=gate_settings.max_pause_seconds,
                    interval=gate_settings.check_interval_seconds,
                    stop_requested=ctx.pause_requested,
                    on_poll=lambda problem, healthy_for: ctx.events.emit(
                        "rebalance.gate_waiting", PHASE, self.name, problem=problem, healthy_for=round(healthy_for, 1)
                    ),
                )
                resumed = f"healthy for {gate_settings.healthy_for_seconds:g} s after: {reason}"
                ctx.journal("health_gate.resumed", self.name, reason=resumed)
                ctx.events.emit("rebalance.gate_resumed", PHASE, self.name, reason=resumed)

    def verify(self, ctx: StepContext) -> Verdict:
        """Every partition at the target of the last group that moves it, no throttle of ours left."""
        plans = self.resources.drain_plans(ctx)
        last = final_group(plans)
        with self.mover(ctx) as mover:
            for group, plan in enumerate(plans):
                final = tuple(m for m in plan.moves if last[(m.topic, m.partition)] == group)
                verdict = mover.verify(replace(plan, moves=final), self.group_memory(ctx, group))
                if not verdict.done:
                    return verdict
        return Verdict.ok(
            f"{len(plans)} group(s) of VM brokers drained: {len(last)} partition(s) at their targets on the "
            "Kubernetes brokers, in sync; no throttle of ours left"
        )

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        with self.mover(ctx) as mover:
            for group in sorted((int(g) for g in ctx.state.get(MOVERS, {})), reverse=True):
                mover.reverse(self.group_memory(ctx, group))
        ctx.state.pop(GROUP, None)


class MoveLeadership(Step):
    name = "move-leadership"
    verify_timeout = 300.0

    def __init__(self, resources: RebalanceResources) -> None:
        self.resources = resources

    def _partitions(self, ctx: StepContext) -> list[tuple[str, int]]:
        return sorted({(m.topic, m.partition) for plan in self.resources.drain_plans(ctx) for m in plan.moves})

    def plan(self, ctx: StepContext) -> list[Action]:
        envs = self.resources.environments(ctx)
        detail = {"partitions": len(self._partitions(ctx)), "type": "PREFERRED", "onto": list(envs.kubernetes)}
        return [Action("elect", "preferred leaders", detail)]

    def apply(self, ctx: StepContext) -> None:
        config = self.resources.config
        with self.resources.zookeeper() as zk, KafkaAdmin(config.cluster) as admin:
            keys = self._partitions(ctx)
            elect_preferred_leaders(
                admin,
                keys,
                attempts=ELECTION_ATTEMPTS,
                pause=lambda: self.resources.sleep(self.resources.poll_interval),
                still_pending=lambda: list(not_preferred(zk, keys)),
                on_attempt=lambda attempt, asked, failed: ctx.events.emit(
                    "rebalance.leaders", PHASE, self.name, asked=asked, not_elected=len(failed), attempt=attempt + 1
                ),
            )

    def verify(self, ctx: StepContext) -> Verdict:
        keys = self._partitions(ctx)
        envs = self.resources.environments(ctx)
        with self.resources.zookeeper() as zk:
            pending = not_preferred(zk, keys)
            counts = placement(zk, envs)
        if pending:
            return Verdict.pending(describe_not_preferred(pending, len(keys)), 5.0)
        if counts["vm"]["leaders"]:
            return Verdict.pending(f"VM brokers still lead {counts['vm']['leaders']} partition(s)", 5.0)
        return Verdict.ok(
            f"all {len(keys)} moved partition(s) led by their preferred replica; Kubernetes brokers lead "
            f"{counts['kubernetes']['leaders']} partition(s), VM brokers none"
        )

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        """Nothing to restore: moving the replicas back elects their original preferred leaders."""


class RepointFacadeToKubernetes(RepointFacade):
    name = "repoint-facade"

    def __init__(self, dns: DnsFacadeResources, resources: RebalanceResources) -> None:
        super().__init__(dns)
        self.rebalance = resources

    def targets(self, ctx: StepContext) -> dict[str, list[str]]:
        brokers = self.rebalance.brokers(ctx)
        hosts = {b: data["host"] for b, data in brokers.items()}
        return facade_targets(self.resources.dns, self.rebalance.environments(ctx), hosts)


class RetireVmBrokers(Step):
    name = "retire-vm-brokers"

    def __init__(self, resources: RebalanceResources) -> None:
        self.resources = resources

    def plan(self, ctx: StepContext) -> list[Action]:
        when = "holds no replica, leads nothing, is not the controller; no replica list, throttle list or reassignment names it"
        return [Action("retire", f"broker {b}", {"when": when}) for b in self.resources.environments(ctx).vm]

    def _references(self, zk: ZooKeeper, vm: tuple[int, ...]) -> str | None:
        found = references(zk, vm)
        if found.empty:
            return None
        return (
            f"VM broker ID(s) {id_list(vm)} are still named in {found.describe()}. A KRaft migration stalls on "
            "such IDs. Move these partitions onto the Kubernetes brokers (kafka-reassign-partitions.sh, or roll "
            "this phase back and run it again to plan them), remove the throttle entries, then `migrator resume`"
        )

    def apply(self, ctx: StepContext) -> None:
        vm = self.resources.environments(ctx).vm
        with self.resources.zookeeper() as zk:
            if problem := self._references(zk, vm):
                raise PermanentError(f"The VM brokers cannot be retired: {problem}. Nothing was stopped.")
            live = set(zk.broker_ids())
            still = set(vm) & live
            if still:
                move_controller_off(
                    zk,
                    still,
                    live,
                    sleep=self.resources.sleep,
                    poll_interval=self.resources.poll_interval,
                    on_election=lambda c: ctx.events.emit("rebalance.controller_election", PHASE, self.name, controller=c),
                )

    def verify(self, ctx: StepContext) -> Verdict:
        vm = self.resources.environments(ctx).vm
        with self.resources.zookeeper() as zk:
            problem = self._references(zk, vm)
            controller = (zk.controller() or {}).get("brokerid")
        if problem:
            return Verdict.failed(problem)
        if controller in vm:
            return Verdict.pending(f"VM broker {controller} is still the controller", 5.0)
        return Verdict.ok(
            f"VM broker(s) {id_list(vm)} hold no replica, lead nothing and are named in no replica list, throttle list "
            f"or reassignment; the controller is broker {controller}"
        )

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        """Nothing was changed but the controller's seat, which any broker may hold."""


class StopVmHosts(Step):
    name = "stop-vm-hosts"

    def __init__(self, resources: RebalanceResources) -> None:
        self.resources = resources
        section = resources.config.source_platform
        self.verify_timeout = section.retire_timeout_seconds + 60 if section else 360.0

    def _vm(self, ctx: StepContext) -> list[NewBroker]:
        brokers = self.resources.brokers(ctx)
        return [NewBroker(b, (brokers.get(b) or {}).get("rack")) for b in self.resources.environments(ctx).vm]

    def plan(self, ctx: StepContext) -> list[Action]:
        kind = self.resources.config.source_platform.kind if self.resources.config.source_platform else None
        return [Action("stop", f"broker {b.id}", {"platform": kind}) for b in self._vm(ctx)]

    def snapshot(self, ctx: StepContext) -> JSON:
        return {"brokers": [b.to_dict() for b in self._vm(ctx)]}

    def apply(self, ctx: StepContext) -> None:
        self.resources.platform.retire([b.id for b in self._vm(ctx)])

    def verify(self, ctx: StepContext) -> Verdict:
        ids = [b.id for b in self._vm(ctx)]
        verdict = self.resources.platform.check_retired(ids)
        if not verdict.done:
            return verdict
        with self.resources.zookeeper() as zk:
            left = sorted(set(ids) & set(zk.broker_ids()))
        if left:
            return Verdict.pending(f"VM broker(s) {id_list(left)} still registered in ZooKeeper", 5.0)
        return Verdict.ok(f"no VM broker is registered ({id_list(ids)} stopped): the KRaft cutover may start")

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        self.resources.platform.bring_back([NewBroker.from_dict(b) for b in before.get("brokers", [])])


def build(
    config: MigrationConfig, resources: RebalanceResources | None = None, dns: DnsFacadeResources | None = None
) -> Phase:
    resources = resources or RebalanceResources(config)
    return Phase(
        name=PHASE,
        steps=[
            MoverReady(resources),
            MoveReplicasToKubernetes(resources),
            MoveLeadership(resources),
            repoint_step(config, dns, lambda d: RepointFacadeToKubernetes(d, resources), RetireVmBrokers.name),
            RetireVmBrokers(resources),
            StopVmHosts(resources),
        ],
        # Every check at entry; before each step the gate without the foreign-reassignment check, and
        # while a step runs its watch: the movers' own reassignments (native or Cruise Control) are in
        # flight then, and the movers refuse and classify foreign ones themselves.
        preconditions=[Precondition("safety", SafetyGate(config)), Precondition("rebalance-ready", resources.ready)],
        gate=(gate := SafetyGate(config, checks=tuple(c for c in ALL_CHECKS if c != FOREIGN_REASSIGNMENTS))),
        watch=gate.watch(),
        gate_interval=resources.movement.safety_interval_seconds,
    )
