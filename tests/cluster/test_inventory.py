"""Inventory, throttles and safety checks against a real ZooKeeper-mode cluster (the sandbox)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from typer.testing import CliRunner

from migrator.cli import inventory as inventory_cli
from migrator.clients.zk import ZooKeeper
from migrator.clients.kafka import KafkaAdmin
from migrator.cluster.inventory import read_inventory, refresh_from_zookeeper
from migrator.cluster.model import Inventory
from migrator.cluster.safety import (
    FOREIGN_REASSIGNMENTS,
    OFFLINE,
    UNDER_REPLICATED,
    check_safety,
    safety_precondition,
)
from migrator.cluster.throttles import FOLLOWER_RATE, FOLLOWER_REPLICAS, LEADER_RATE, LEADER_REPLICAS
from migrator.config import MigrationConfig, load_config
from migrator.engine.events import EventBus
from migrator.engine.step import StepContext
from migrator.errors import BadInput, SafetyGateError
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster
from migrator.sandbox.ports import free_port
from tests.waiting import unique, wait_for

pytestmark = pytest.mark.cluster




def config_for(cluster: SandboxCluster, tmp_path: Path, **changes: object) -> MigrationConfig:
    config = load_config(cluster.write_migration_config(tmp_path / "migration.yaml"))
    return config.model_copy(update={"cluster": config.cluster.model_copy(update=changes)}) if changes else config


def create_topics(cluster: SandboxCluster, *topics: NewTopic) -> None:
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    for future in admin.create_topics(list(topics), operation_timeout=30).values():
        future.result()
    names = {t.topic for t in topics}
    # Creation returns before every leader is elected; wait until the brokers report them all.
    wait_for(
        lambda: all(
            (m := admin.list_topics(timeout=10).topics.get(name)) is not None
            and m.partitions
            and all(p.leader >= 0 for p in m.partitions.values())
            for name in names
        ),
        f"leaders for {sorted(names)}",
    )




def context(config: MigrationConfig, state: dict | None = None) -> StepContext:
    return StepContext(config=config, state=state or {}, events=EventBus())


# -- the picture matches the cluster ----------------------------------------------------------------


def test_inventory_matches_what_the_test_created(sandbox: SandboxCluster, tmp_path: Path):
    wide, narrow = unique("inv-wide"), unique("inv-narrow")
    create_topics(
        sandbox,
        NewTopic(wide, num_partitions=6, replication_factor=3, config={"min.insync.replicas": "3"}),
        NewTopic(narrow, num_partitions=2, replication_factor=2),
    )
    producer = Producer({"bootstrap.servers": sandbox.bootstrap_servers, "acks": "all"})
    for _ in range(100):
        producer.produce(wide, b"x" * 1000, partition=0)
    assert producer.flush(30) == 0
    producer.close()

    inv = read_inventory(config_for(sandbox, tmp_path))

    assert inv.cluster_id == sandbox.cluster_id
    assert {i: (b.rack, b.address) for i, b in inv.brokers.items()} == {
        i: (p.spec.rack, p.address) for i, p in sandbox.brokers.items()
    }
    # An independent view of the same cluster: the brokers' own metadata.
    metadata = AdminClient({"bootstrap.servers": sandbox.bootstrap_servers}).list_topics(timeout=10)
    assert inv.controller_id == metadata.controller_id
    for name, rf, count in ((wide, 3, 6), (narrow, 2, 2)):
        topic = inv.topics[name]
        assert (topic.replication_factor, len(topic.partitions)) == (rf, count)
        for p, state in topic.partitions.items():
            meta = metadata.topics[name].partitions[p]
            assert (state.replicas, state.leader, sorted(state.isr)) == (meta.replicas, meta.leader, sorted(meta.isrs))
    # The sandbox's brokers set min.insync.replicas=2; the wide topic overrides it.
    assert inv.default_min_insync_replicas == 2
    assert inv.topics[wide].configs["min.insync.replicas"] == "3"
    assert inv.topics[narrow].min_insync_replicas(inv.default_min_insync_replicas) == 2
    assert not {(name, p) for name in (wide, narrow) for p in range(6)} & {p.key for p in inv.under_replicated}
    # 100 records of 1000 bytes acknowledged by all replicas are on each replica's disk.
    sizes = inv.topics[wide].partitions[0].size_bytes
    assert set(sizes) == set(inv.topics[wide].partitions[0].replicas)
    assert all(size >= 100 * 1000 for size in sizes.values())
    ours = [p for t in (wide, narrow) for p in inv.topics[t].partitions.values()]
    assert sum(inv.leader_counts.values()) >= len(ours)
    assert Inventory.from_dict(json.loads(json.dumps(inv.to_dict()))) == inv


def test_a_refresh_from_zookeeper_sees_new_partitions_and_keeps_the_known_configs(
    sandbox: SandboxCluster, tmp_path: Path
):
    known_topic, new_topic = unique("inv-known"), unique("inv-new")
    create_topics(sandbox, NewTopic(known_topic, 2, 3, config={"min.insync.replicas": "3"}))
    config = config_for(sandbox, tmp_path)
    known = read_inventory(config)
    create_topics(sandbox, NewTopic(new_topic, 3, 2))

    with ZooKeeper.from_config(config.cluster) as zk:
        refreshed = refresh_from_zookeeper(zk, known)
    full = read_inventory(config)

    assert refreshed.controller_id == full.controller_id and refreshed.brokers == full.brokers
    for name in (known_topic, new_topic):
        assert {p: (s.replicas, s.leader, s.isr) for p, s in refreshed.topics[name].partitions.items()} == {
            p: (s.replicas, s.leader, s.isr) for p, s in full.topics[name].partitions.items()
        }
    # Configs are the earlier read's: the new topic has none, so the brokers' default applies.
    assert refreshed.topics[known_topic].configs["min.insync.replicas"] == "3"
    assert refreshed.topics[new_topic].configs == {}
    assert refreshed.default_min_insync_replicas == 2
    assert all(not p.size_bytes for p in refreshed.partitions())


def test_cli_prints_the_inventory_as_json_and_as_a_table(sandbox: SandboxCluster, tmp_path: Path):
    name = unique("inv-cli")
    create_topics(sandbox, NewTopic(name, num_partitions=1, replication_factor=3))
    path = sandbox.write_migration_config(tmp_path / "migration.yaml")
    runner = CliRunner()

    as_json = runner.invoke(inventory_cli.app, ["--config", str(path), "--output", "json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["cluster_id"] == sandbox.cluster_id
    assert name in {t["name"] for t in data["topics"]}
    assert {b["id"] for b in data["brokers"]} == set(sandbox.brokers)

    as_table = runner.invoke(inventory_cli.app, ["--config", str(path)])
    assert as_table.exit_code == 0, as_table.output
    assert sandbox.cluster_id in as_table.stdout
    for broker in sandbox.brokers.values():
        assert broker.address in as_table.stdout


# -- throttles --------------------------------------------------------------------------------------


def test_throttles_on_a_broker_and_a_topic_appear_and_go(sandbox: SandboxCluster, tmp_path: Path):
    name = unique("inv-throttle")
    create_topics(sandbox, NewTopic(name, num_partitions=2, replication_factor=3))
    config = config_for(sandbox, tmp_path)
    expected = {
        ("broker", "1", LEADER_RATE, "1048576"),
        ("broker", "1", FOLLOWER_RATE, "2097152"),
        ("topic", name, LEADER_REPLICAS, "0:0,1:1"),
        ("topic", name, FOLLOWER_REPLICAS, "0:2"),
    }
    mine = {("broker", "1"), ("topic", name)}

    def throttles() -> set[tuple[str, str, str, str]]:
        found = read_inventory(config).throttles
        return {(t.scope, t.entity, t.name, t.value) for t in found if (t.scope, t.entity) in mine}

    assert throttles() == set()
    with KafkaAdmin(config.cluster) as admin:
        try:
            admin.alter_broker_config(1, {LEADER_RATE: "1048576", FOLLOWER_RATE: "2097152"})
            admin.alter_topic_config(name, {LEADER_REPLICAS: "0:0,1:1", FOLLOWER_REPLICAS: "0:2"})
            wait_for(lambda: throttles() == expected, "the throttles to show")
        finally:
            admin.alter_broker_config(1, delete=[LEADER_RATE, FOLLOWER_RATE])
            admin.alter_topic_config(name, delete=[LEADER_REPLICAS, FOLLOWER_REPLICAS])
    wait_for(lambda: throttles() == set(), "the throttles to be gone")


# -- bad input ----------------------------------------------------------------------------------------


def test_a_wrong_cluster_id_in_the_config_is_bad_input(sandbox: SandboxCluster, tmp_path: Path):
    config = config_for(sandbox, tmp_path, cluster_id="not-this-cluster")
    with pytest.raises(BadInput, match=f"has id {sandbox.cluster_id}.*pins cluster.cluster_id: not-this-cluster"):
        read_inventory(config)
    with pytest.raises(BadInput):
        check_safety(config)

    path = tmp_path / "wrong.yaml"
    path.write_text(json.dumps(json.loads(config.model_dump_json())))
    result = CliRunner().invoke(inventory_cli.app, ["--config", str(path)])
    assert result.exit_code == 2
    assert "not-this-cluster" in result.stderr


def test_an_unreachable_zookeeper_is_bad_input(sandbox: SandboxCluster, tmp_path: Path):
    nobody = f"127.0.0.1:{free_port()}"
    config = config_for(sandbox, tmp_path, zookeeper_connect=f"{nobody}/kafka", timeout_seconds=1.0)
    with pytest.raises(BadInput, match=f"ZooKeeper at {nobody} did not answer within 1 s"):
        read_inventory(config)


def test_an_unreachable_bootstrap_is_bad_input(sandbox: SandboxCluster, tmp_path: Path):
    nobody = f"127.0.0.1:{free_port()}"
    config = config_for(sandbox, tmp_path, bootstrap_servers=nobody, timeout_seconds=1.0)
    with pytest.raises(BadInput, match=f"No Kafka broker at {nobody} answered"):
        read_inventory(config)


def test_a_wrong_chroot_is_bad_input_that_names_the_right_one(sandbox: SandboxCluster, tmp_path: Path):
    config = config_for(sandbox, tmp_path, zookeeper_connect=f"{sandbox.zookeeper_hosts}/kafka-typo")
    with pytest.raises(BadInput, match="chroot '/kafka-typo'") as raised:
        read_inventory(config)
    assert f"{sandbox.zookeeper_connect}" in str(raised.value)


def test_zookeeper_and_bootstrap_of_different_clusters_are_bad_input(
    sandbox: SandboxCluster, sandbox_factory, tmp_path: Path
):
    other: SandboxCluster = sandbox_factory(brokers=[BrokerSpec(0, "a")])
    config = config_for(sandbox, tmp_path, bootstrap_servers=other.bootstrap_servers)
    with pytest.raises(BadInput, match=f"holds cluster {sandbox.cluster_id}.*belong to cluster {other.cluster_id}"):
        read_inventory(config)


# -- safety gates on a broken cluster (private clusters) ---------------------------------------------


def test_a_stopped_broker_shows_as_under_replicated_and_fails_the_gate(sandbox_factory, tmp_path: Path):
    cluster: SandboxCluster = sandbox_factory(brokers=[BrokerSpec(0, "a"), BrokerSpec(1, "b"), BrokerSpec(2, "c")])
    replicated, single = unique("inv-urp"), unique("inv-single")
    create_topics(
        cluster,
        NewTopic(replicated, num_partitions=3, replication_factor=3),
        # RF 1 is below the sandbox's min.insync.replicas=2, which is itself under-min-ISR.
        NewTopic(single, num_partitions=1, replica_assignment=[[2]], config={"min.insync.replicas": "1"}),
    )
    config = config_for(cluster, tmp_path)
    check_safety(config).raise_if_failed()
    assert safety_precondition(config)(context(config)).done

    cluster.stop_broker(2)
    inv = read_inventory(config)
    assert 2 not in inv.brokers and inv.replica_counts[2] == 4  # still named in replica lists
    assert {p.key for p in inv.under_replicated} >= {(replicated, p) for p in range(3)}
    assert {p.key for p in inv.offline} == {(single, 0)}

    report = check_safety(config)
    failed = {c.name for c in report.failures}
    assert {UNDER_REPLICATED, OFFLINE} <= failed
    with pytest.raises(SafetyGateError, match="under_replicated_partitions"):
        report.raise_if_failed()
    verdict = safety_precondition(config, checks=[UNDER_REPLICATED])(context(config))
    assert not verdict.done and verdict.retry_after is None and replicated in verdict.reason
    tolerant = config.model_copy(
        update={"safety": config.safety.model_copy(update={"max_under_replicated_partitions": 100})}
    )
    assert UNDER_REPLICATED not in {c.name for c in check_safety(tolerant).failures}

    cluster.start_broker(2)
    wait_for(lambda: check_safety(config).ok, "the cluster to heal", timeout=120)


def test_a_reassignment_we_did_not_start_fails_the_gate(sandbox_factory, tmp_path: Path):
    cluster: SandboxCluster = sandbox_factory(brokers=[BrokerSpec(0, "a"), BrokerSpec(1, "b")])
    name = unique("inv-move")
    create_topics(
        cluster, NewTopic(name, num_partitions=1, replica_assignment=[[0]], config={"min.insync.replicas": "1"})
    )
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    for _ in range(200):
        producer.produce(name, b"y" * 10_000, partition=0)
    assert producer.flush(30) == 0
    producer.close()
    config = config_for(cluster, tmp_path)
    with KafkaAdmin(config.cluster) as admin:
        # A 1 kB/s throttle keeps the new replica catching up for the length of the test.
        admin.alter_broker_config(0, {LEADER_RATE: "1000"})
        admin.alter_broker_config(1, {FOLLOWER_RATE: "1000"})
        admin.alter_topic_config(name, {LEADER_REPLICAS: "0:0", FOLLOWER_REPLICAS: "0:1"})
        assert admin.alter_partition_reassignments({(name, 0): [0, 1]}) == {(name, 0): None}
        try:
            inv = wait_for(lambda: (i := read_inventory(config)).reassignments and i, "the move to be listed")
            [move] = inv.reassignments
            assert (move.topic, move.partition, move.adding, move.source) == (name, 0, (1,), "api")
            assert inv.partition(name, 0).adding == [1]
            # The move in flight is not under-replicated: the original replica set is in sync.
            assert (name, 0) not in {p.key for p in inv.under_replicated}

            assert [c.name for c in check_safety(config).failures] == [FOREIGN_REASSIGNMENTS]
            assert check_safety(config, ours={(name, 0)}).ok
            gate = safety_precondition(config, ours=lambda ctx: {tuple(k) for k in ctx.state["moving"]})
            assert gate(context(config, {"moving": [[name, 0]]})).done
            assert not gate(context(config, {"moving": []})).done
        finally:
            admin.alter_partition_reassignments({(name, 0): None})
            admin.alter_broker_config(0, delete=[LEADER_RATE])
            admin.alter_broker_config(1, delete=[FOLLOWER_RATE])
            admin.alter_topic_config(name, delete=[LEADER_REPLICAS, FOLLOWER_REPLICAS])
    wait_for(lambda: not read_inventory(config).reassignments, "the cancelled move to disappear")
