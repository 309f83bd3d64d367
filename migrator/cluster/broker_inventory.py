"""Read the cluster's health through the brokers alone, for when ZooKeeper is gone (after the KRaft
cutover) or not the point: live brokers, controller, every partition's replicas, leader and ISR, the
configs the safety checks need and the KIP-455 reassignments in flight.
"""

from __future__ import annotations

from migrator.clients.kafka import KafkaAdmin
from migrator.cluster.inventory import TOPIC_CONFIGS, broker_min_isr, ensure_cluster_id
from migrator.cluster.model import NO_LEADER, Broker, Inventory, PartitionState, Reassignment, Topic
from migrator.config import MigrationConfig


def read_inventory_from_brokers(config: MigrationConfig) -> Inventory:
    with KafkaAdmin(config.cluster) as admin:
        metadata = admin.metadata()
        ensure_cluster_id(config.cluster, metadata.cluster_id)
        live = sorted(metadata.brokers)
        names = sorted(metadata.topics)
        topic_configs = admin.topic_configs(names)
        broker_configs = admin.broker_configs(live)
        in_flight = admin.list_partition_reassignments()
    topics = {}
    for name in names:
        described = metadata.topics[name]
        partitions = {
            p: PartitionState(
                topic=name,
                partition=p,
                replicas=list(meta.replicas),
                isr=list(meta.isrs),
                leader=meta.leader if meta.leader >= 0 else NO_LEADER,
            )
            for p, meta in sorted(described.partitions.items())
        }
        configs = topic_configs.get(name, {})
        topics[name] = Topic(
            name=name,
            partitions=partitions,
            configs={k: v.value for k in TOPIC_CONFIGS if (v := configs.get(k)) is not None and v.value is not None},
        )
    return Inventory(
        cluster_id=metadata.cluster_id,
        controller_id=metadata.controller_id if metadata.controller_id >= 0 else None,
        brokers={
            i: Broker(id=i, rack=None, host=metadata.brokers[i].host, port=metadata.brokers[i].port, endpoints=[])
            for i in live
        },
        topics=topics,
        reassignments=[
            Reassignment(t, p, r.replicas, r.adding, r.removing, "api") for (t, p), r in sorted(in_flight.items())
        ],
        default_min_insync_replicas=broker_min_isr(broker_configs),
    )
