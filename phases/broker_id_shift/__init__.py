"""Phase 2, broker-id-shift: free the broker IDs the target will use. Every source broker N is replaced,
data and all and under load, by broker N + broker_id_shift.id_offset on the same kind of host.

    provision-new-brokers  start broker N+offset beside each broker N, in its rack (source_platform:)
    move-replicas          every replica N -> N+offset: a 1:1 mapping keeps racks, replica order and
                           balance, and moves each replica once; batched, throttled, resumable (native mover)
    elect-leaders          preferred leader election: every moved partition led by its first replica
    repoint-facade         kafka-{new id}, kafka-{old id} and kafka-bootstrap lead to the new brokers
                           (a no-op step when migration.yaml has no dns: section)
    retire-old-brokers     stop broker N, only once it holds no replica, leads nothing and is not the
                           controller (the controller is moved off it first)

The facade is repointed BEFORE the old brokers stop, so a client that bootstraps at any moment finds a
broker behind every name.

Entry gate: no reassignment we did not start (a safety gate, exit 3), the safety checks, the shift
itself valid (new ids free and outside the target's, the platform able to start them,
cluster.bootstrap_servers not naming only brokers that will be retired). Before every step the
phase's safety gate runs again; while replicas move, its watch (everything but the URP count).

The phase is skipped (its skip condition, with the bytes it saves) when the IDs the target's
node pool will be given collide with no existing broker. Rollback, newest step first: the old brokers
start again with their disks, the facade names get their old values, every replica moves back to its
original broker in its original order, the new brokers are retired.
Runbook: runbooks/02-broker-id-shift.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property

from migrator.clients.kafka import KafkaAdmin
from migrator.clients.zk import ZooKeeper
from migrator.cluster.inventory import read_inventory
from migrator.cluster.leaders import describe_not_preferred, elect_preferred_leaders, not_preferred
from migrator.cluster.model import Inventory
from migrator.cluster.safety import (
    CLUSTER_ID,
    CONTROLLER,
    OFFLINE,
    UNDER_MIN_ISR,
    UNDER_REPLICATED,
    SafetyGate,
    evaluate_safety,
    foreign_reassignment_refusal,
)
from migrator.config import MigrationConfig
from migrator.dns.steps import DnsFacadeResources, RepointFacade, repoint_step
from migrator.engine.phase import Phase, Precondition
from migrator.engine.step import JSON, Action, Step, StepContext, Verdict
from migrator.errors import BadInput, PermanentError
from migrator.movers.native import MoveReplicas
from migrator.movers.plan import MovePlan
from migrator.movers.settings import MovementConfig
from migrator.platforms.model import HostState, NewBroker
from migrator.platforms.registration import advertised_host
from migrator.platforms.source.base import BrokerPlatform
from migrator.platforms.source.factory import source_platform
from migrator.platforms.source.retire import retire_brokers
from migrator.text import id_list
from phases.broker_id_shift.plan import (
    ShiftPlan,
    check_bootstrap,
    facade_targets,
    move_plan,
    movement_settings,
    plan_shift,
    skip_reason,
)

__all__ = ["build"]

PHASE = "broker-id-shift"
#: ctx.state keys (the phase's checkpointed memory).
SHIFT = "shift"  # the mapping and the old brokers, recorded before the first new broker starts
HOSTS = "hosts"  # new broker id -> the host it advertises, recorded once it registered

_SAFETY = (CLUSTER_ID, CONTROLLER, OFFLINE, UNDER_REPLICATED, UNDER_MIN_ISR)


def build(
    config: MigrationConfig, resources: ShiftResources | None = None, dns: DnsFacadeResources | None = None
) -> Phase:
    resources = resources or ShiftResources(config)
    move = MoveReplicasToNewBrokers(resources)
    gate = SafetyGate(config, ours=move.moving)
    return Phase(
        name=PHASE,
        steps=[
            ProvisionNewBrokers(resources),
            move,
            ElectLeaders(resources),
            repoint_step(config, dns, lambda d: RepointFacadeToNewBrokers(d, resources), RetireOldBrokers.name),
            RetireOldBrokers(resources),
        ],
        preconditions=[Precondition("shift-ready", resources.shift_ready)],
        skip_when=resources.skip_reason,
        gate=gate,
        watch=gate.watch(),
        gate_interval=resources.movement.safety_interval_seconds,
    )


# -------------------------------------------------------------------------------------------- steps


class ProvisionNewBrokers(Step):
    name = "provision-new-brokers"

    def __init__(self, resources: ShiftResources) -> None:
        self.resources = resources
        section = resources.config.source_platform
        self.verify_timeout = section.register_timeout_seconds + 60 if section else 660.0

    def plan(self, ctx: StepContext) -> list[Action]:
        shift = self.resources.shift(ctx)
        kind = self.resources.config.source_platform.kind if self.resources.config.source_platform else None
        return [
            Action("provision", f"broker {new}", {"replaces": old, "rack": shift.racks[old], "platform": kind})
            for old, new in sorted(shift.mapping.items())
        ]

    def snapshot(self, ctx: StepContext) -> JSON:
        # The shift is fixed here, before the first broker starts: later steps (and a resumed run, when
        # the cluster already holds both sets of brokers) work from this record.
        shift = plan_shift(self.resources.config, self.resources.read_inventory())
        ctx.state[SHIFT] = shift.to_json()
        return {"new_brokers": shift.new_ids}

    def apply(self, ctx: StepContext) -> None:
        records = self.resources.platform.provision(self.resources.shift(ctx).new_brokers())
        ctx.events.emit("shift.provisioned", PHASE, self.name, brokers=[r.to_dict() for r in records])

    def verify(self, ctx: StepContext) -> Verdict:
        brokers = self.resources.shift(ctx).new_brokers()
        verdict = self.resources.platform.check_registered(brokers)
        if verdict.done:
            registered = self.resources.platform.settings.registrations.read(b.id for b in brokers).registered
            ctx.state[HOSTS] = {str(b.id): advertised_host(registered[b.id]) for b in brokers}
        return verdict

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        new_ids = [int(b) for b in before.get("new_brokers", [])]
        if new_ids:
            self.resources.retire(ctx, self.name, new_ids, "new")
            self.resources.platform.wait_retired(new_ids)
        ctx.state.pop(HOSTS, None)


class MoveReplicasToNewBrokers(MoveReplicas):
    """The native mover's step, with this phase's plan (computed once the new brokers are registered,
    recorded before the first batch) and its movement settings."""

    def __init__(self, resources: ShiftResources) -> None:
        self.resources = resources

    def settings(self, ctx: StepContext) -> MovementConfig:
        return self.resources.movement

    def move_plan(self, ctx: StepContext) -> MovePlan:
        if self.plan_key in ctx.state:
            return super().move_plan(ctx)
        return move_plan(self.resources.inventory, self.resources.shift(ctx), self.settings(ctx))

    def snapshot(self, ctx: StepContext) -> JSON:
        if self.plan_key not in ctx.state:
            plan = move_plan(self.resources.read_inventory(), self.resources.shift(ctx), self.settings(ctx))
            ctx.state[self.plan_key] = plan.to_dict()
        return super().snapshot(ctx)


class ElectLeaders(Step):
    name = "elect-leaders"
    verify_timeout = 300.0
    #: Elections apply tries before leaving the rest to verify (a replica that just joined the ISR may
    #: not be electable at the first call).
    attempts = 3

    def __init__(self, resources: ShiftResources) -> None:
        self.resources = resources

    def _partitions(self, ctx: StepContext) -> list[tuple[str, int]]:
        recorded = ctx.state.get(MoveReplicas.plan_key)
        if recorded is not None:
            moves = MovePlan.from_dict(recorded).moves
        else:  # a dry run before move-replicas recorded its plan
            moves = move_plan(self.resources.inventory, self.resources.shift(ctx), self.resources.movement).moves
        return [(m.topic, m.partition) for m in moves]

    def plan(self, ctx: StepContext) -> list[Action]:
        return [Action("elect", "preferred leaders", {"partitions": len(self._partitions(ctx)), "type": "PREFERRED"})]

    def apply(self, ctx: StepContext) -> None:
        keys = self._partitions(ctx)
        config = self.resources.config
        with ZooKeeper.from_config(config.cluster) as zk, KafkaAdmin(config.cluster) as admin:
            elect_preferred_leaders(
                admin,
                keys,
                attempts=self.attempts,
                pause=lambda: self.resources.sleep(self.resources.poll_interval),
                still_pending=lambda: list(not_preferred(zk, keys)),
                on_attempt=lambda attempt, asked, failed: ctx.events.emit(
                    "shift.leaders", PHASE, self.name, asked=asked, not_elected=len(failed), attempt=attempt + 1
                ),
            )

    def verify(self, ctx: StepContext) -> Verdict:
        keys = self._partitions(ctx)
        with ZooKeeper.from_config(self.resources.config.cluster) as zk:
            pending = not_preferred(zk, keys)
        if pending:
            return Verdict.pending(describe_not_preferred(pending, len(keys)), 5.0)
        return Verdict.ok(f"all {len(keys)} moved partition(s) are led by their preferred (first) replica")

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        """Nothing to restore: moving the replicas back elects their original preferred leaders."""


class RepointFacadeToNewBrokers(RepointFacade):
    name = "repoint-facade"

    def __init__(self, dns: DnsFacadeResources, resources: ShiftResources) -> None:
        super().__init__(dns)
        self.shift_resources = resources

    def targets(self, ctx: StepContext) -> dict[str, list[str]]:
        hosts = self.shift_resources.hosts(ctx)
        if hosts is None:
            raise PermanentError(
                f"Step {self.name} finds no host recorded for the new brokers; provision-new-brokers records them "
                "when it verifies. Run the phase from its first step (`migrator resume`)."
            )
        return facade_targets(self.resources.dns, self.shift_resources.shift(ctx).mapping, hosts)

    def plan(self, ctx: StepContext) -> list[Action]:
        if self.shift_resources.hosts(ctx) is not None:
            return super().plan(ctx)
        # A dry run before the new brokers exist: their hosts are not known yet (an EC2 address, say).
        dns, mapping = self.resources.dns, self.shift_resources.shift(ctx).mapping
        actions = []
        for old, new in sorted(mapping.items()):
            for name in (dns.broker_name(new), dns.broker_name(old)):
                actions.append(Action("repoint", name, {"to": f"the host broker {new} registers with"}))
        actions.append(Action("repoint", dns.bootstrap_fqdn, {"to": f"the hosts of brokers {id_list(mapping.values())}"}))
        return actions


class RetireOldBrokers(Step):
    name = "retire-old-brokers"

    def __init__(self, resources: ShiftResources) -> None:
        self.resources = resources
        section = resources.config.source_platform
        self.verify_timeout = section.retire_timeout_seconds + 60 if section else 360.0

    def plan(self, ctx: StepContext) -> list[Action]:
        shift = self.resources.shift(ctx)
        return [
            Action(
                "retire",
                f"broker {old}",
                {"address": shift.addresses[old], "replaced_by": new, "when": "no replica, leads nothing, not the controller"},
            )
            for old, new in sorted(shift.mapping.items())
        ]

    def snapshot(self, ctx: StepContext) -> JSON:
        return {"brokers": [b.to_dict() for b in self.resources.shift(ctx).old_brokers()]}

    def apply(self, ctx: StepContext) -> None:
        shift = self.resources.shift(ctx)
        check_bootstrap(self.resources.config, shift)
        self.resources.retire(ctx, self.name, shift.old_ids, "old")

    def verify(self, ctx: StepContext) -> Verdict:
        return self.resources.platform.check_retired(self.resources.shift(ctx).old_ids)

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        self.resources.platform.bring_back([NewBroker.from_dict(b) for b in before.get("brokers", [])])


# ------------------------------------------------------------------------------- what the steps share


class ShiftResources:
    """What the steps share: the config, the source platform (built on first use, so a plan that never
    provisions needs no cloud credentials), the cluster readers and the retirement procedure.
    Tests pass their own platform, inventory reader, checkpoint view or sleep."""

    def __init__(
        self,
        config: MigrationConfig,
        *,
        platform: BrokerPlatform | None = None,
        inventory: Callable[[], Inventory] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 1.0,
    ) -> None:
        self.config = config
        self._platform = platform
        self.read_inventory: Callable[[], Inventory] = inventory or (lambda: read_inventory(config))
        self.sleep = sleep
        self.poll_interval = poll_interval

    @cached_property
    def platform(self) -> BrokerPlatform:
        return self._platform or source_platform(self.config)

    @cached_property
    def inventory(self) -> Inventory:
        """One read for the planner's decisions and dry runs; steps that act read afresh."""
        return self.read_inventory()

    @property
    def movement(self) -> MovementConfig:
        return movement_settings(self.config)

    def skip_reason(self, ctx: StepContext) -> str | None:
        """The phase's skip condition (the machine asks it only while the phase has not started: after the
        old brokers are retired nothing collides any more, and the record stands)."""
        return skip_reason(self.config, self.inventory)

    def shift(self, ctx: StepContext) -> ShiftPlan:
        """The recorded shift; before it is recorded (a dry run), the one the live cluster calls for."""
        if SHIFT in ctx.state:
            return ShiftPlan.from_json(ctx.state[SHIFT])
        return plan_shift(self.config, self.inventory)

    def hosts(self, ctx: StepContext) -> dict[int, str] | None:
        recorded = ctx.state.get(HOSTS)
        return {int(b): h for b, h in recorded.items()} if recorded else None

    def shift_ready(self, ctx: StepContext) -> Verdict:
        """Entry gate. An invalid shift is bad input (exit 2, nothing changed); a foreign reassignment
        or an unhealthy cluster is a failed verdict (a safety gate, exit 3)."""
        inventory = self.read_inventory()
        if inventory.reassignments:
            return Verdict.failed(
                foreign_reassignment_refusal(f"Phase {PHASE}", inventory.reassignments, self.config.cluster.bootstrap_servers)
            )
        shift = plan_shift(self.config, inventory)
        check_bootstrap(self.config, shift)
        self.platform.preflight(shift.new_brokers())
        self._check_retirable(shift)
        report = evaluate_safety(self.config, inventory, (), _SAFETY)
        return Verdict.ok(report.paragraph()) if report.ok else Verdict.failed(report.paragraph())
    def _check_retirable(self, shift: ShiftPlan) -> None:
        """The platform must know the old brokers' hosts, or retire-old-brokers would fail after all the
        data has moved (and a rollback could not start them again)."""
        hosts = self.platform.hosts(shift.old_ids)
        unknown = sorted(b for b, host in hosts.items() if host.state is HostState.ABSENT)
        if unknown:
            raise BadInput(
                f"The {self.platform.kind} platform knows no host of source broker(s) {id_list(unknown)}, so it could "
                "neither stop them at retire-old-brokers nor start them again on rollback. For ec2, name their "
                "instances under source_platform.ec2.existing_instances (broker id: instance id). Nothing was changed."
            )

    def retire(self, ctx: StepContext, step: str, broker_ids: list[int], what: str) -> None:
        """Stop `broker_ids` once none holds data and the controller runs elsewhere (platforms/source/retire.py)."""
        retire_brokers(
            self.config.cluster,
            self.platform,
            broker_ids,
            what,
            on_election=lambda controller: ctx.events.emit("shift.controller_election", PHASE, step, controller=controller),
            sleep=self.sleep,
            poll_interval=self.poll_interval,
        )
