"""The broker-ID shift as plain data, decided from the config and one inventory read: which IDs the
target will take, whether the phase is needed at all, which old broker becomes which new one, and the
1:1 move plan. Nothing here talks to a cluster."""

from __future__ import annotations

from dataclasses import dataclass

from migrator.cluster.model import Inventory
from migrator.config import MigrationConfig
from migrator.dns.config import DnsConfig
from migrator.engine.step import JSON
from migrator.errors import BadInput
from migrator.movers.native import planner_view
from migrator.movers.plan import MovePlan, PlannerBroker, PlannerCluster
from migrator.movers.planner import plan_mapping
from migrator.movers.settings import MovementConfig, resolve_movement
from migrator.platforms.model import NewBroker
from migrator.platforms.source.config import BrokerIdShiftConfig
from migrator.text import byte_size, id_list

#: Kafka refuses a configured broker.id above reserved.broker.max.id (default 1000) while
#: broker.id.generation.enable is on (its default).
DEFAULT_RESERVED_BROKER_MAX_ID = 1000


def shift_settings(config: MigrationConfig) -> BrokerIdShiftConfig:
    """The section as configured, or its safe defaults."""
    return config.broker_id_shift or BrokerIdShiftConfig()


def movement_settings(config: MigrationConfig) -> MovementConfig:
    """This phase's movement settings: its own, else the migration's, else the defaults."""
    return resolve_movement(shift_settings(config).movement, config.movement)


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
        f"the target's broker IDs ({target.source}: {id_list(target.ids)}) collide with no existing broker "
        f"({id_list(existing)}), so the new brokers can join beside the old ones as they are; skipping the shift "
        f"saves moving {byte_size(total)} ({replicas} replicas) one extra time"
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
            f"Broker(s) {id_list(down)} hold replicas but are not registered in ZooKeeper. The shift replaces every "
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
            why.append(f"{id_list(taken)} already belong to brokers of the cluster")
        if claimed:
            why.append(f"{id_list(claimed)} are IDs the target will use ({target.source})")
        raise BadInput(
            f"broker_id_shift.id_offset {offset} gives new ids {id_list(mapping.values())}, but {' and '.join(why)}. "
            f"Choose an id_offset that puts every source broker ({id_list(mapping)}) on a free id outside "
            f"{id_list(target.ids)}. Nothing was changed."
        )
    limit = _reserved_broker_max_id(config)
    above = sorted(new for new in mapping.values() if limit is not None and new > limit)
    if above:
        raise BadInput(
            f"New broker id(s) {id_list(above)} exceed reserved.broker.max.id ({limit}), and Kafka refuses to start a "
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
            f"retires ({id_list(shift.old_ids)}), so every later step and phase would lose the cluster. Point it at "
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
