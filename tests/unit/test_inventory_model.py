"""Derived views of the cluster model and its JSON round trip (pure data)."""

from __future__ import annotations

import json

from migrator.clients.kafka import ConfigValue
from migrator.cluster.inventory import legacy_reassignments, topic_from_znodes
from migrator.cluster.model import Broker, Inventory, PartitionState, Reassignment, Throttle, Topic


def part(topic: str, p: int, replicas, isr, leader, adding=(), removing=(), sizes=None) -> PartitionState:
    return PartitionState(topic, p, list(replicas), list(isr), leader, list(adding), list(removing), sizes or {})


def broker(i: int, rack: str | None = None) -> Broker:
    return Broker(i, rack, "127.0.0.1", 9000 + i, [f"PLAINTEXT://127.0.0.1:{9000 + i}"], 5)


def inventory(*topics: Topic, brokers=(0, 1, 2), default_min_isr: int = 1) -> Inventory:
    return Inventory(
        cluster_id="cid",
        controller_id=0,
        brokers={i: broker(i, "abc"[i % 3]) for i in brokers},
        topics={t.name: t for t in topics},
        default_min_insync_replicas=default_min_isr,
    )


def topic(name: str, *partitions: PartitionState, **configs: str) -> Topic:
    return Topic(name, {p.partition: p for p in partitions}, {k.replace("_", "."): v for k, v in configs.items()})


def keys(partitions) -> list[tuple[str, int]]:
    return sorted(p.key for p in partitions)


def test_healthy_cluster_has_nothing_to_report():
    inv = inventory(topic("t", part("t", 0, [0, 1, 2], [0, 1, 2], 0), part("t", 1, [1, 2, 0], [1, 2, 0], 1)))
    assert inv.under_replicated == [] and inv.offline == [] and inv.under_min_isr == []
    assert inv.partition_count == 2
    assert inv.topics["t"].replication_factor == 3


def test_isr_shorter_than_replicas_is_under_replicated():
    inv = inventory(topic("t", part("t", 0, [0, 1, 2], [0, 1], 0), part("t", 1, [1, 2, 0], [1, 2, 0], 1)))
    assert keys(inv.under_replicated) == [("t", 0)]


def test_a_reassignment_in_progress_is_not_under_replicated_while_the_original_replicas_are_in_sync():
    # Moving 2 -> 3: replicas hold the union, the new replica 3 is still catching up.
    moving = part("t", 0, [0, 1, 2, 3], [0, 1, 2], 0, adding=[3], removing=[2])
    assert moving.replication_factor == 3
    assert inventory(topic("t", moving), brokers=(0, 1, 2, 3)).under_replicated == []


def test_a_reassignment_whose_original_replicas_fell_behind_is_under_replicated():
    moving = part("t", 0, [0, 1, 2, 3], [0, 1], 0, adding=[3], removing=[2])
    assert keys(inventory(topic("t", moving), brokers=(0, 1, 2, 3)).under_replicated) == [("t", 0)]


def test_no_leader_or_a_leader_that_is_not_registered_is_offline():
    inv = inventory(
        topic("t", part("t", 0, [0, 1], [1], -1), part("t", 1, [5, 1], [5], 5), part("t", 2, [0, 1], [0, 1], 0)),
    )
    assert keys(inv.offline) == [("t", 0), ("t", 1)]
    # Like the brokers' own metric: an offline partition is counted as offline, not also as URP.
    assert inv.under_replicated == []
    assert inv.dead_replica_brokers == {5}


def test_under_min_isr_uses_the_topic_value_then_the_broker_default():
    strict = topic("strict", part("strict", 0, [0, 1, 2], [0, 1], 0), min_insync_replicas="3")
    lax = topic("lax", part("lax", 0, [0, 1, 2], [0, 1], 0))
    assert keys(inventory(strict, lax, default_min_isr=1).under_min_isr) == [("strict", 0)]
    assert keys(inventory(strict, lax, default_min_isr=3).under_min_isr) == [("lax", 0), ("strict", 0)]


def test_offline_partitions_are_not_also_under_min_isr():
    inv = inventory(topic("t", part("t", 0, [0, 1, 2], [0], -1), min_insync_replicas="2"))
    assert keys(inv.offline) == [("t", 0)] and inv.under_min_isr == []


def test_counts_per_broker_include_idle_brokers_and_unregistered_replica_holders():
    inv = inventory(
        topic(
            "t",
            part("t", 0, [0, 1], [0, 1], 0, sizes={0: 100, 1: 100}),
            part("t", 1, [1, 7], [1], 1, sizes={1: 30}),
        ),
        brokers=(0, 1, 2),
    )
    assert inv.replica_counts == {0: 1, 1: 2, 2: 0, 7: 1}
    assert inv.leader_counts == {0: 1, 1: 1, 2: 0}
    assert inv.bytes_per_broker == {0: 100, 1: 130, 2: 0}


def test_summary_counts():
    inv = inventory(topic("t", part("t", 0, [0, 1, 2], [0, 1], 0), part("t", 1, [0, 1], [], -1)))
    inv.reassignments.append(Reassignment("t", 0, (0, 1, 2)))
    inv.throttles.append(Throttle("broker", "0", "leader.replication.throttled.rate", "100"))
    assert inv.summary() == {
        "cluster_id": "cid",
        "controller_id": 0,
        "brokers": 3,
        "topics": 1,
        "partitions": 2,
        "under_replicated": 1,
        "offline": 1,
        "under_min_isr": 0,
        "reassignments": 1,
        "throttles": 1,
    }


def test_to_dict_is_json_and_round_trips():
    inv = inventory(
        topic(
            "t",
            part("t", 0, [0, 1, 3], [0, 1], 0, adding=[3], removing=[2], sizes={0: 5, 1: 7}),
            min_insync_replicas="2",
        )
    )
    inv.reassignments.append(Reassignment("t", 0, (0, 1, 3), (3,), (2,), "api"))
    inv.throttles.append(
        Throttle("topic", "t", "leader.replication.throttled.replicas", "0:0,0:1", "DYNAMIC_TOPIC_CONFIG")
    )
    inv.zk_migration = {"kraft_controller_id": 3000}
    data = json.loads(json.dumps(inv.to_dict()))
    assert data["summary"]["under_replicated_partitions"] == []
    assert data["brokers"][1]["bytes"] == 7
    assert Inventory.from_dict(data) == inv


def test_broker_without_plaintext_listener_takes_its_address_from_the_endpoints():
    b = Broker.from_znode(
        4,
        {
            "endpoints": ["SASL_SSL://kafka-4.example:9094"],
            "host": None,
            "port": -1,
            "rack": None,
            "jmx_port": -1,
            "version": 5,
            "features": {},
        },
    )
    assert (b.host, b.port, b.jmx_port, b.address) == (None, None, None, "kafka-4.example:9094")


def test_topic_from_znodes_reads_assignment_state_sizes_and_configs():
    data = {
        "partitions": {"0": [0, 1, 3], "1": [1, 2]},
        "adding_replicas": {"0": [3]},
        "removing_replicas": {"0": [2]},
        "topic_id": "abc",
    }
    states = {("t", 0): {"leader": 0, "isr": [0, 1]}, ("t", 1): None}
    sizes = {("t", 0, 0): 10, ("t", 0, 1): 11, ("t", 9, 0): 99}
    configs = {
        "min.insync.replicas": ConfigValue("2", "DYNAMIC_TOPIC_CONFIG", False),
        "retention.ms": ConfigValue("1", "DYNAMIC_TOPIC_CONFIG", False),
    }
    t = topic_from_znodes("t", data, states, sizes, configs)
    p0, p1 = t.partitions[0], t.partitions[1]
    assert (p0.replicas, p0.isr, p0.leader, p0.adding, p0.removing) == ([0, 1, 3], [0, 1], 0, [3], [2])
    assert p0.size_bytes == {0: 10, 1: 11}
    # No state znode yet: no leader, so offline until the controller elects one.
    assert (p1.leader, p1.isr) == (-1, [])
    assert t.configs == {"min.insync.replicas": "2"} and t.topic_id == "abc"


def test_legacy_znode_reassignments_are_listed_once():
    request = {"version": 1, "partitions": [{"topic": "t", "partition": 0, "replicas": [1, 2]},
                                            {"topic": "t", "partition": 1, "replicas": [2, 3]}]}
    found = legacy_reassignments(request, known={("t", 0)})
    assert found == [Reassignment("t", 1, (2, 3), source="znode")]
    assert legacy_reassignments(None, known=set()) == []
