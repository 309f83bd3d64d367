"""Read the whole cluster into an Inventory.

Metadata (brokers, assignments, leaders, ISRs) comes from ZooKeeper in one pass of concurrent reads;
what only the brokers know (effective configs, throttles, in-flight KIP-455 reassignments, replica
sizes) comes from the Admin API, concurrently with the ZooKeeper pass.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from migrator.clients.kafka import ConfigValue, KafkaAdmin
from migrator.clients.zk import JSON, ZooKeeper
from migrator.cluster.model import (
    MIN_INSYNC_REPLICAS,
    NO_LEADER,
    Broker,
    Inventory,
    PartitionState,
    Reassignment,
    Topic,
)
from migrator.cluster.throttles import throttles_from_configs
from migrator.clients.connection import ClusterConfig
from migrator.config import MigrationConfig
from migrator.errors import BadInput

#: Topic configs kept in Topic.configs: the ones a migration reasons about.
TOPIC_CONFIGS = (MIN_INSYNC_REPLICAS, "unclean.leader.election.enable", "cleanup.policy")


def ensure_cluster_id(cluster: ClusterConfig, actual: str) -> None:
    """The cluster answering is the one the config pins (when it pins one)."""
    if cluster.cluster_id is not None and cluster.cluster_id != actual:
        raise BadInput(
            f"The cluster at {cluster.zookeeper_connect} has id {actual}, but migration.yaml pins "
            f"cluster.cluster_id: {cluster.cluster_id}. Either the config points at the wrong ensemble or "
            "chroot, or this is not the cluster the migration was planned for. Nothing was changed; fix "
            "cluster.zookeeper_connect / cluster.bootstrap_servers (or the pinned id, if the cluster was "
            "really rebuilt) and run again."
        )


def read_inventory(config: MigrationConfig) -> Inventory:
    with ZooKeeper.from_config(config.cluster) as zk, KafkaAdmin(config.cluster) as admin:
        return collect_inventory(zk, admin, config.cluster)


def collect_inventory(zk: ZooKeeper, admin: KafkaAdmin, cluster: ClusterConfig) -> Inventory:
    cluster_id = zk.cluster_id()
    ensure_cluster_id(cluster, cluster_id)
    kafka_cluster_id = admin.cluster_id()
    if kafka_cluster_id != cluster_id:
        raise BadInput(
            f"cluster.zookeeper_connect ({cluster.zookeeper_connect}) holds cluster {cluster_id}, but the "
            f"brokers at cluster.bootstrap_servers ({cluster.bootstrap_servers}) belong to cluster "
            f"{kafka_cluster_id}. Both must name the same cluster: check the chroot and the broker list."
        )

    brokers = zk.brokers()
    topic_names = zk.topic_names()
    live = sorted(brokers)
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="inventory") as pool:
        asked_topic_configs = pool.submit(admin.topic_configs, topic_names)
        asked_broker_configs = pool.submit(admin.broker_configs, live)
        asked_reassignments = pool.submit(admin.list_partition_reassignments)
        asked_sizes = pool.submit(admin.replica_sizes, live)
        controller = zk.controller()
        topics_json, states = _assignments(zk, topic_names)
        legacy_request = zk.reassign_partitions()
        migration = zk.migration()
        topic_configs, broker_configs = asked_topic_configs.result(), asked_broker_configs.result()
        reassignments, sizes = asked_reassignments.result(), asked_sizes.result()

    topics = {
        name: topic_from_znodes(name, data, states, sizes, topic_configs.get(name, {}))
        for name, data in topics_json.items()
    }
    in_flight = [
        Reassignment(t, p, r.replicas, r.adding, r.removing, "api") for (t, p), r in sorted(reassignments.items())
    ]
    in_flight += legacy_reassignments(legacy_request, known={r.key for r in in_flight})
    return Inventory(
        cluster_id=cluster_id,
        controller_id=(controller or {}).get("brokerid"),
        brokers={i: Broker.from_znode(i, brokers[i]) for i in live},
        topics=topics,
        reassignments=in_flight,
        throttles=throttles_from_configs(broker_configs, topic_configs),
        default_min_insync_replicas=_broker_min_isr(broker_configs),
        zk_migration=migration,
    )


def refresh_from_zookeeper(zk: ZooKeeper, known: Inventory) -> Inventory:
    """`known` (a full read) with what ZooKeeper alone says now: live brokers, the controller, every
    partition's replicas, leader and ISR. Configs, throttles, the default min ISR and the migration
    state are `known`'s; replica sizes and KIP-455 reassignments are left out. For checks repeated
    while a move runs: a full read asks every broker for its configs and log dirs, which on a busy
    fleet costs the brokers more than the check is worth."""
    brokers = zk.brokers()
    topics_json, states = _assignments(zk, zk.topic_names())
    topics = {name: topic_from_znodes(name, data, states, {}, {}) for name, data in topics_json.items()}
    for name in topics.keys() & known.topics.keys():
        topics[name].configs = dict(known.topics[name].configs)
    controller = zk.controller()
    return replace(
        known,
        controller_id=(controller or {}).get("brokerid"),
        brokers={i: Broker.from_znode(i, brokers[i]) for i in sorted(brokers)},
        topics=topics,
        reassignments=[],
    )


def _assignments(zk: ZooKeeper, topic_names: list[str]) -> tuple[dict[str, JSON], dict[tuple[str, int], JSON | None]]:
    """Each topic's znode and each of its partitions' state znode."""
    topics_json = zk.topics(topic_names)
    states = zk.partition_states([(t, int(p)) for t, data in topics_json.items() for p in data.get("partitions", {})])
    return topics_json, states


def topic_from_znodes(
    name: str,
    data: JSON,
    states: dict[tuple[str, int], JSON | None],
    sizes: dict[tuple[str, int, int], int],
    configs: dict[str, ConfigValue],
) -> Topic:
    """A Topic from its /brokers/topics znode, its partitions' state znodes, replica sizes and configs."""
    adding, removing = data.get("adding_replicas") or {}, data.get("removing_replicas") or {}
    partitions = {}
    for key, replicas in data.get("partitions", {}).items():
        p = int(key)
        # No state znode yet means the controller has not elected a leader: offline until it does.
        state = states.get((name, p)) or {"leader": NO_LEADER, "isr": []}
        partitions[p] = PartitionState(
            topic=name,
            partition=p,
            replicas=list(replicas),
            isr=list(state.get("isr", [])),
            leader=state.get("leader", NO_LEADER),
            adding=list(adding.get(key, [])),
            removing=list(removing.get(key, [])),
            size_bytes={b: n for b in replicas if (n := sizes.get((name, p, b))) is not None},
        )
    return Topic(
        name=name,
        partitions=dict(sorted(partitions.items())),
        configs={k: v.value for k in TOPIC_CONFIGS if (v := configs.get(k)) is not None and v.value is not None},
        topic_id=data.get("topic_id"),
    )


def legacy_reassignments(request: JSON | None, known: set[tuple[str, int]]) -> list[Reassignment]:
    """Partitions still listed in /admin/reassign_partitions that the API does not (yet) report."""
    if not request:
        return []
    return [
        Reassignment(p["topic"], p["partition"], tuple(p.get("replicas", [])), source="znode")
        for p in request.get("partitions", [])
        if (p["topic"], p["partition"]) not in known
    ]


def _broker_min_isr(broker_configs: dict[int, dict[str, ConfigValue]]) -> int:
    for configs in broker_configs.values():
        if (entry := configs.get(MIN_INSYNC_REPLICAS)) is not None and entry.value:
            return int(entry.value)
    return 1
