"""The pure parts of the mixed-cluster join: the node-ID checks, the probe topic's layout, the shared
listener's endpoints, and the local target's broker configuration."""

from __future__ import annotations

from typing import Any

import pytest

from migrator.cluster.replication_probe import probe_assignment, shared_endpoints
from migrator.config import MigrationConfig
from migrator.platforms.target.local import listeners_value, local_broker_config
from phases.mixed_cluster_join.plan import digest, node_id_problems, predicted_collisions, shared_cluster

FORKED = "registry.example.com/strimzi/operator:0.45.2-mixed-zk"


def config(**target: Any) -> MigrationConfig:
    section: dict[str, Any] = {
        "cluster_name": "events",
        "replicas": 3,
        "node_ids": "[1000-1999]",
        "shared_listener": {"name": "shared", "port": 9094},
        "operator": {"forked_image": FORKED},
    }
    section.update(target)
    return MigrationConfig.model_validate(
        {
            "migration_id": "m1",
            "cluster": {
                "zookeeper_connect": "zk1:2181,zk2:2181/kafka",
                "bootstrap_servers": "vm-0:9092",
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "PLAIN",
                "sasl_username": "admin",
            },
            "target": section,
        }
    )


def test_ids_from_the_range_and_clear_of_the_vm_brokers_pass() -> None:
    target = config().target
    assert target is not None
    assert node_id_problems([1000, 1001, 1002], target, [0, 1, 2]) is None


def test_the_fallback_to_low_ids_is_named_with_the_colliding_ids_and_the_range_fix() -> None:
    target = config().target
    assert target is not None
    problem = node_id_problems([0, 1, 2], target, [0, 1, 2, 7])
    assert problem is not None
    assert "node IDs 0, 1, 2" in problem
    assert "ID(s) 0, 1, 2 belong to VM broker(s)" in problem
    assert "outside target.node_ids [1000-1999]" in problem
    assert 'strimzi.io/next-node-ids annotation must read like "[1000-1999]"' in problem
    assert "migrator rollback mixed-cluster-join" in problem
    assert "0, 1, 2, 7" in problem  # the IDs to keep clear of


def test_ids_outside_the_range_fail_even_without_a_collision() -> None:
    target = config().target
    assert target is not None
    problem = node_id_problems([0, 1, 2], target, [100, 101])
    assert problem is not None and "belong to VM broker" not in problem and "outside target.node_ids" in problem


def test_a_broker_down_but_holding_replicas_owns_its_id() -> None:
    target = config(node_ids="[5-9]").target
    assert target is not None
    # 5 is no live broker's, but a replica list names it: a new broker 5 would take over those replicas.
    assert "ID(s) 5 belong to VM broker(s)" in (node_id_problems([5, 6, 7], target, [0, 1, 5]) or "")


def test_the_ids_strimzi_will_hand_out_are_predicted_from_the_range() -> None:
    target = config(node_ids="[0-9]").target
    assert target is not None
    assert predicted_collisions(target, [1, 4]) == [1]  # the pool gets 0, 1, 2
    assert predicted_collisions(config().target, [0, 1, 2]) == []  # type: ignore[arg-type]


def test_every_new_broker_is_probed_both_ways_with_a_vm_partner_each() -> None:
    assert probe_assignment([2, 0, 1], [1001, 1000]) == [[0, 1000], [1000, 0], [1, 1001], [1001, 1]]
    assert probe_assignment([5], [10, 11]) == [[5, 10], [10, 5], [5, 11], [11, 5]]
    with pytest.raises(ValueError):
        probe_assignment([], [10])


def test_shared_endpoints_come_from_the_registrations() -> None:
    registrations = {
        0: {"endpoints": ["PLAINTEXT://vm-0:9092", "SHARED-9094://vm-0.repl:9094"]},
        1000: {"endpoints": ["shared-9094://kafka-1000.repl:9094", "REPLICATION-9091://pod:9091"]},
        1: {"endpoints": ["PLAINTEXT://vm-1:9092"]},
    }
    assert shared_endpoints(registrations, "SHARED-9094") == {0: "vm-0.repl:9094", 1000: "kafka-1000.repl:9094"}


def test_admin_settings_through_the_shared_listener_drop_the_client_listener_security() -> None:
    shared = shared_cluster(config().cluster, {1000: "b:9094", 0: "a:9094"})
    assert shared.bootstrap_servers == "a:9094,b:9094"
    assert (shared.security_protocol, shared.sasl_mechanism, shared.sasl_username) == ("PLAINTEXT", None, None)
    assert shared.zookeeper_connect == "zk1:2181,zk2:2181/kafka"


def test_the_local_target_configures_brokers_as_the_fork_would() -> None:
    migration = config(
        kind="local",
        listeners=[{"name": "plain", "port": 9092}, {"name": "tls", "port": 9093}],
        cruise_control={"enabled": True, "metrics_topic": "cc.metrics"},
        extra_config={"log.retention.hours": 72, "auto.create.topics.enable": False},
    )
    properties = local_broker_config(migration)
    assert properties["inter.broker.listener.name"] == "SHARED-9094"
    assert properties["zookeeper.ssl.client.enable"] == "false"
    assert properties["reserved.broker.max.id"] == "1999"
    assert properties["cruise.control.metrics.topic"] == "cc.metrics"
    assert properties["listener.security.protocol.map"] == "PLAIN-9092:PLAINTEXT,TLS-9093:PLAINTEXT,SHARED-9094:PLAINTEXT"
    assert (properties["log.retention.hours"], properties["auto.create.topics.enable"]) == ("72", "false")
    # The sandbox writes zookeeper.connect itself (checked to be the cluster's); the fork leaves the
    # control plane listener unset.
    assert "zookeeper.connect" not in properties and "control.plane.listener.name" not in properties
    assert listeners_value(migration) == "PLAIN-9092://{host}:{port},TLS-9093://{host}:9093,SHARED-9094://{host}:9094"


def test_ids_within_kafkas_default_limit_need_no_reserved_max_id() -> None:
    assert "reserved.broker.max.id" not in local_broker_config(config(kind="local", node_ids="[500-599]"))


def test_the_review_digest_is_stable_and_sensitive() -> None:
    assert digest("kind: Kafka\n") == digest("kind: Kafka\n")
    assert digest("kind: Kafka\n") != digest("kind: Kafka \n")
