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

Entry gate: no reassignment we did not start (exit 2), the safety checks, the shift itself valid (new
ids free and outside the target's, the platform able to start them, cluster.bootstrap_servers not
naming only brokers that will be retired).

The planner skips the phase (Phase.skip_reason, with the bytes it saves) when the IDs the target's
node pool will be given collide with no existing broker. Rollback, newest step first: the old brokers
start again with their disks, the facade names get their old values, every replica moves back to its
original broker in its original order, the new brokers are retired.
Runbook: runbooks/02-broker-id-shift.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from migrator.clients.kafka import KafkaAdmin
from migrator.clients.zk import ZooKeeper
from migrator.cluster.holdings import holdings
from migrator.cluster.inventory import read_inventory
from migrator.cluster.leadership import describe_not_preferred, elect_preferred, move_controller_off, not_preferred
from migrator.cluster.model import Inventory
from migrator.cluster.safety import (
    CLUSTER_ID,
    CONTROLLER,
    OFFLINE,
    UNDER_MIN_ISR,
    UNDER_REPLICATED,
    evaluate_safety,
)
from migrator.config import MigrationConfig
from migrator.dns.config import DnsConfig
from migrator.engine.phase import Phase
from migrator.engine.step import JSON, Action, Step, StepContext, Verdict
from migrator.errors import BadInput, PermanentError
from migrator.movers.native import MoveReplicas, planner_view
from migrator.movers.plan import MovePlan, PlannerBroker, PlannerCluster
from migrator.movers.planner import plan_mapping
from migrator.movers.settings import MovementConfig
from migrator.platforms.base import BrokerPlatform
from migrator.platforms.model import Check, HostState, NewBroker
from migrator.platforms.registration import advertised_host
from phases.broker_id_shift_config import BrokerIdShiftConfig, movement_settings, shift_settings
from phases.dns_facade import DnsFacadeResources, RepointFacade, repoint_step

__all__ = ["BrokerIdShiftConfig", "build"]

PHASE = "broker-id-shift"
#: ctx.state keys (the phase's checkpointed memory).
SHIFT = "shift"  # the mapping and the old brokers, recorded before the first new broker starts
HOSTS = "hosts"  # new broker id -> the host it advertises, recorded once it registered

#: Kafka refuses a configured broker.id above reserved.broker.max.id (default 1000) while
#: broker.id.generation.enable is on (its default).
DEFAULT_RESERVED_BROKER_MAX_ID = 1000
#: How many times the controller is asked to move before retiring gives up for now.
CONTROLLER_ELECTIONS = 10
_SAFETY = (CLUSTER_ID, CONTROLLER, OFFLINE, UNDER_REPLICATED, UNDER_MIN_ISR)
_SHOWN = 10


# ----------------------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class TargetIds:
    """The broker IDs the target will run its brokers on, and where that knowledge comes from."""

    ids: tuple[int, ...]
    source: str


def target_ids(config: MigrationConfig, source_brokers: int) -> TargetIds:
    """What Strimzi hands the node pool: the first `replicas` IDs of its strimzi.io/next-node-ids range,
    or, without a target: section, its default numbering from 0 for a pool as large as the source."""
    target = config.target
    if target is None:
        return TargetIds(
            tuple(range(source_brokers)),
            f"no target: section, so Strimzi's default numbering from 0 is assumed for {source_brokers} brokers",
        )
    return TargetIds(
        target.node_id_candidates[: target.replicas],
        f"node pool {target.node_pool} gets the first {target.replicas} of strimzi.io/next-node-ids {target.node_ids}",
    )


def existing_ids(inventory: Inventory) -> set[int]:
    """Live brokers and brokers that are down but still hold replicas: both own their id."""
    return inventory.live_broker_ids | inventory.dead_replica_brokers


def skip_reason(config: MigrationConfig, inventory: Inventory) -> str | None:
    """Why the phase is unnecessary (and what skipping it saves), or None when the IDs collide."""
    existing = existing_ids(inventory)
    target = target_ids(config, len(existing))
    if set(target.ids) & existing:
        return None
    total = sum(sum(p.size_bytes.values()) for p in inventory.partitions())
    replicas = sum(len(p.replicas) for p in inventory.partitions())
    return (
        f"the target's broker IDs ({target.source}: {_ids(target.ids)}) collide with no existing broker "
        f"({_ids(existing)}), so the new brokers can join beside the old ones as they are; skipping the shift "
        f"saves moving {_size(total)} ({replicas} replicas) one extra time"
    )


@dataclass(frozen=True)
class ShiftPlan:
    """old id -> new id, and what the new broker inherits from the old one (its rack)."""

    mapping: dict[int, int]
    racks: dict[int, str | None]
    #: old id -> host:port it advertises (what a bootstrap list may name).
    addresses: dict[int, str]

    @property
    def old_ids(self) -> list[int]:
        return sorted(self.mapping)

    @property
    def new_ids(self) -> list[int]:
        return sorted(self.mapping.values())

    def new_brokers(self) -> list[NewBroker]:
        return [NewBroker(new, self.racks[old]) for old, new in sorted(self.mapping.items())]

    def old_brokers(self) -> list[NewBroker]:
        return [NewBroker(old, self.racks[old]) for old in self.old_ids]

    def to_json(self) -> JSON:
        return {
            "mapping": {str(o): n for o, n in sorted(self.mapping.items())},
            "racks": {str(o): r for o, r in sorted(self.racks.items())},
            "addresses": {str(o): a for o, a in sorted(self.addresses.items())},
        }

    @classmethod
    def from_json(cls, data: JSON) -> ShiftPlan:
        return cls(
            mapping={int(o): int(n) for o, n in data["mapping"].items()},
            racks={int(o): r for o, r in data["racks"].items()},
            addresses={int(o): a for o, a in data["addresses"].items()},
        )


def plan_shift(config: MigrationConfig, inventory: Inventory) -> ShiftPlan:
    """Every live broker N -> N + id_offset. BadInput (nothing changed) when a broker is down or a new id
    is taken, belongs to the target, or is above what Kafka accepts without reserved.broker.max.id."""
    offset = shift_settings(config).id_offset
    down = sorted(inventory.dead_replica_brokers)
    if down:
        raise BadInput(
            f"Broker(s) {_ids(down)} hold replicas but are not registered in ZooKeeper. The shift replaces every "
            "source broker and copies from each of them: start them again, then run the phase. Nothing was changed."
        )
    existing = existing_ids(inventory)
    target = target_ids(config, len(existing))
    mapping = {b: b + offset for b in sorted(inventory.brokers)}
    taken = sorted(new for new in mapping.values() if new in existing)
    claimed = sorted(new for new in mapping.values() if new in set(target.ids))
    if taken or claimed:
        why = []
        if taken:
            why.append(f"{_ids(taken)} already belong to brokers of the cluster")
        if claimed:
            why.append(f"{_ids(claimed)} are IDs the target will use ({target.source})")
        raise BadInput(
            f"broker_id_shift.id_offset {offset} gives new ids {_ids(mapping.values())}, but {' and '.join(why)}. "
            f"Choose an id_offset that puts every source broker ({_ids(mapping)}) on a free id outside "
            f"{_ids(target.ids)}. Nothing was changed."
        )
    limit = _reserved_broker_max_id(config)
    above = sorted(new for new in mapping.values() if limit is not None and new > limit)
    if above:
        raise BadInput(
            f"New broker id(s) {_ids(above)} exceed reserved.broker.max.id ({limit}), and Kafka refuses to start a "
            f"broker with a configured id above it. Set reserved.broker.max.id: {max(above)} under "
            "source_platform.server_properties, or choose a smaller broker_id_shift.id_offset. Nothing was changed."
        )
    return ShiftPlan(
        mapping=mapping,
        racks={b: broker.rack for b, broker in inventory.brokers.items()},
        addresses={b: broker.address for b, broker in inventory.brokers.items()},
    )


def _reserved_broker_max_id(config: MigrationConfig) -> int | None:
    """The highest id the new brokers may have, None when Kafka does not check it."""
    properties = config.source_platform.server_properties if config.source_platform else {}
    if str(properties.get("broker.id.generation.enable", "true")).lower() == "false":
        return None
    return int(properties.get("reserved.broker.max.id", DEFAULT_RESERVED_BROKER_MAX_ID))


def check_bootstrap(config: MigrationConfig, shift: ShiftPlan) -> None:
    """cluster.bootstrap_servers must still reach a broker once the old ones are gone."""
    listed = [entry.strip() for entry in config.cluster.bootstrap_servers.split(",") if entry.strip()]
    retiring = set(shift.addresses.values())
    if all(entry in retiring for entry in listed):
        raise BadInput(
            f"cluster.bootstrap_servers ({config.cluster.bootstrap_servers}) names only brokers this phase "
            f"retires ({_ids(shift.old_ids)}), so every later step and phase would lose the cluster. Point it at "
            "the facade bootstrap name (kafka-bootstrap.<zone>:<port>) or add the new brokers' addresses, "
            "then run again. Nothing was changed."
        )


def facade_targets(dns: DnsConfig, mapping: dict[int, int], hosts: dict[int, str]) -> dict[str, list[str]]:
    """Each new broker's own name, and the old broker's name it replaces, lead to the new broker (clients
    that list kafka-{old id} keep working); the bootstrap name leads to every new broker."""
    targets: dict[str, list[str]] = {}
    for old, new in sorted(mapping.items()):
        targets[dns.broker_name(new)] = [hosts[new]]
        targets[dns.broker_name(old)] = [hosts[new]]
    targets[dns.bootstrap_fqdn] = sorted({hosts[new] for new in mapping.values()})
    return targets


def move_plan(inventory: Inventory, shift: ShiftPlan, settings: MovementConfig) -> MovePlan:
    """The 1:1 move plan. New brokers not registered yet (a dry run before provisioning) join the
    planner's view with their old broker's rack: they hold nothing, so the plan is the same."""
    view = planner_view(inventory)
    registered = {b.id for b in view.brokers}
    missing = tuple(PlannerBroker(new, shift.racks[old]) for old, new in sorted(shift.mapping.items()) if new not in registered)
    return plan_mapping(PlannerCluster(view.brokers + missing, view.partitions), shift.mapping, settings.limits())


# ---------------------------------------------------------------------------------------- resources


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
        started: Callable[[], bool] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 1.0,
    ) -> None:
        self.config = config
        self._platform = platform
        self.read_inventory: Callable[[], Inventory] = inventory or (lambda: read_inventory(config))
        self._started = started or (lambda: phase_started(config))
        self.sleep = sleep
        self.poll_interval = poll_interval

    @cached_property
    def platform(self) -> BrokerPlatform:
        from migrator.platforms.factory import source_platform  # the local platform pulls in the sandbox

        return self._platform or source_platform(self.config)

    @cached_property
    def inventory(self) -> Inventory:
        """One read for the planner's decisions and dry runs; steps that act read afresh."""
        return self.read_inventory()

    @property
    def movement(self) -> MovementConfig:
        return movement_settings(self.config)

    def skip_reason(self) -> str | None:
        # Once the phase has begun, the live cluster no longer shows where it started (after the old
        # brokers are retired nothing collides any more): its record, not a new decision, stands.
        if self._started():
            return None
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
        """Entry gate. A foreign reassignment or an invalid shift is bad input (exit 2, nothing changed);
        an unhealthy cluster is a failed verdict (a safety gate)."""
        inventory = self.read_inventory()
        if inventory.reassignments:
            raise BadInput(_foreign_message(self.config, inventory))
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
                f"The {self.platform.kind} platform knows no host of source broker(s) {_ids(unknown)}, so it could "
                "neither stop them at retire-old-brokers nor start them again on rollback. For ec2, name their "
                "instances under source_platform.ec2.existing_instances (broker id: instance id). Nothing was changed."
            )

    def retire(self, ctx: StepContext, step: str, broker_ids: list[int], what: str) -> None:
        """Stop `broker_ids` through the platform, once none holds a replica or leads a partition and
        the controller runs elsewhere. `what` names the brokers in messages ("old", "new")."""
        with ZooKeeper.from_config(self.config.cluster) as zk:
            live = set(zk.broker_ids())
            still = [b for b in broker_ids if b in live]
            held = holdings(zk, broker_ids)
            if held:
                shown = "; ".join(f"broker {b}: {h}" for b, h in held.items())
                raise PermanentError(
                    f"The {what} broker(s) cannot be retired while they hold data ({shown}). These partitions were "
                    "created or moved there after the move was planned. Move them onto the brokers that stay (e.g. "
                    "kafka-reassign-partitions.sh), then `migrator resume`; nothing was stopped."
                )
            if still:
                move_controller_off(
                    zk,
                    set(still),
                    live,
                    elections=CONTROLLER_ELECTIONS,
                    sleep=self.sleep,
                    interval=self.poll_interval,
                    on_election=lambda c: ctx.events.emit("shift.controller_election", PHASE, step, controller=c),
                )
        self.platform.retire(broker_ids)


def phase_started(config: MigrationConfig) -> bool:
    # The store is opened the way the CLI opens it (local file or Kubernetes); imported here because the
    # session module wires phases together and imports this package.
    from migrator.session import open_store

    loaded = open_store(config).load()
    record = loaded.checkpoint.phases.get(PHASE) if loaded else None
    return record is not None and record.started


def _foreign_message(config: MigrationConfig, inventory: Inventory) -> str:
    shown = ", ".join(
        f"{r.topic}-{r.partition} -> {[b for b in r.replicas if b not in r.removing]}"
        + (" (legacy /admin/reassign_partitions)" if r.source == "znode" else "")
        for r in inventory.reassignments[:_SHOWN]
    )
    more = f" and {len(inventory.reassignments) - _SHOWN} more" if len(inventory.reassignments) > _SHOWN else ""
    bootstrap = config.cluster.bootstrap_servers
    return (
        f"Phase {PHASE} cannot start: {len(inventory.reassignments)} partition reassignment(s) that the migrator "
        f"did not start are in flight ({shown}{more}). Two movers on one cluster fight over throttles and "
        f"bandwidth, so nothing was changed. See them with `kafka-reassign-partitions.sh --bootstrap-server "
        f"{bootstrap} --list`; let them finish or cancel them (`--cancel` with the file that started them), "
        "then run again."
    )


# -------------------------------------------------------------------------------------------- steps


def _verdict(check: Check) -> Verdict:
    if check.done:
        return Verdict.ok(check.reason)
    return Verdict.failed(check.reason) if check.failed else Verdict.pending(check.reason, 5.0)


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
        verdict = _verdict(self.resources.platform.check_registered(brokers))
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
            elect_preferred(
                zk,
                admin,
                keys,
                attempts=self.attempts,
                sleep=self.resources.sleep,
                interval=self.resources.poll_interval,
                on_attempt=lambda attempt, asked, failed: ctx.events.emit(
                    "shift.leaders", PHASE, self.name, asked=asked, not_elected=failed, attempt=attempt
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
        actions.append(Action("repoint", dns.bootstrap_fqdn, {"to": f"the hosts of brokers {_ids(mapping.values())}"}))
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
        return _verdict(self.resources.platform.check_retired(self.resources.shift(ctx).old_ids))

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        self.resources.platform.bring_back([NewBroker.from_dict(b) for b in before.get("brokers", [])])


def build(
    config: MigrationConfig, resources: ShiftResources | None = None, dns: DnsFacadeResources | None = None
) -> Phase:
    resources = resources or ShiftResources(config)
    return Phase(
        name=PHASE,
        steps=[
            ProvisionNewBrokers(resources),
            MoveReplicasToNewBrokers(resources),
            ElectLeaders(resources),
            repoint_step(config, dns, lambda d: RepointFacadeToNewBrokers(d, resources), RetireOldBrokers.name),
            RetireOldBrokers(resources),
        ],
        preconditions=[resources.shift_ready],
        skip_reason=resources.skip_reason(),
    )


# ------------------------------------------------------------------------------------------ helpers


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in sorted(ids)) or "none"


def _size(n: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
