"""KRaft nodes in the local sandbox: a KRaft cluster without ZooKeeper, and KRaft nodes beside ZooKeeper."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kazoo.client import KazooClient

from migrator.errors import MigratorError
from migrator.sandbox import jars
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster, SandboxError
from migrator.sandbox.ports import broker_host, free_port, listening_ports
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster

CONTROLLER = 3000
BROKERS = (1000, 1001)
MESSAGES = 20


def controller_spec(node_id: int, port: int) -> BrokerSpec:
    return BrokerSpec(
        node_id,
        config={
            "process.roles": "controller",
            "listeners": f"CONTROLLER://{{host}}:{port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "controller.quorum.voters": f"{node_id}@{broker_host(node_id)}:{port}",
        },
    )


def broker_spec(node_id: int, voters: str, rack: str | None = None) -> BrokerSpec:
    return BrokerSpec(
        node_id,
        rack,
        {
            "process.roles": "broker",
            "listeners": "PLAINTEXT://{host}:{port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "controller.quorum.voters": voters,
        },
    )


def properties(path: Path) -> dict[str, str]:
    lines = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {key: value for key, value in lines}




def read_all(bootstrap: str, topic: str, partitions: int) -> list[bytes]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        values: list[bytes] = []
        deadline = time.monotonic() + 60
        while len(values) < MESSAGES and time.monotonic() < deadline:
            message = consumer.poll(1)
            if message is not None and message.error() is None:
                values.append(message.value())
        return values
    finally:
        consumer.close()


def test_a_zookeeper_sandbox_formats_kraft_nodes_with_the_id_its_brokers_use(sandbox_factory):
    port = free_port(host=broker_host(CONTROLLER))
    cluster: SandboxCluster = sandbox_factory(brokers=[BrokerSpec(0, "a"), controller_spec(CONTROLLER, port)])

    zk = KazooClient(hosts=cluster.zookeeper_hosts, timeout=10.0)
    zk.start(timeout=15)
    try:
        assert sorted(zk.get_children("/kafka/brokers/ids")) == ["0"]
        assert cluster.cluster_id is not None and cluster.cluster_id in zk.get("/kafka/cluster/id")[0].decode()
    finally:
        zk.stop()
        zk.close()
    controller = cluster.brokers[CONTROLLER]
    assert f"cluster.id={cluster.cluster_id}" in (controller.data_dir / "meta.properties").read_text()
    written = properties(controller.config_path)
    assert written["node.id"] == str(CONTROLLER)
    assert "broker.id" not in written and "zookeeper.connect" not in written
    assert properties(cluster.brokers[0].config_path)["zookeeper.connect"] == cluster.zookeeper_connect
    assert cluster.bootstrap_servers == cluster.brokers[0].address, "a controller serves no clients"
    assert port in listening_ports(controller.pid), "a controller with a port of its own listens there"


def test_a_kraft_sandbox_has_no_zookeeper_and_refuses_what_needs_one(tmp_path: Path):
    jars.ensure_jars()
    cluster = SandboxCluster(tmp_path / "empty", [], metadata="kraft")
    first_id = cluster.cluster_id
    assert first_id is not None and len(first_id) == 22
    assert uuid.UUID(bytes=base64.urlsafe_b64decode(first_id + "==")).version == 4  # as Kafka's Uuid.randomUuid()
    assert SandboxCluster(tmp_path / "other", [], metadata="kraft").cluster_id != first_id

    cluster.up()  # nothing to start: prepares the folder only
    try:
        assert (cluster.workdir / "sandbox.json").is_file() and (cluster.workdir / "log4j.properties").is_file()
        assert not (cluster.workdir / "zookeeper").exists()
        assert cluster.zookeeper_connect is None and cluster.zookeeper_hosts is None
        with pytest.raises(MigratorError, match="KRaft mode"):
            cluster.write_migration_config(tmp_path / "migration.yaml")
        with pytest.raises(ValueError, match="no process.roles"):
            cluster.add_broker(BrokerSpec(5, "a"))

        again = SandboxCluster.load(cluster.workdir)
        assert (again.metadata, again.cluster_id, again.brokers) == ("kraft", first_id, {})

        # A broker without controllers to find fails in kafka-storage format, before any JVM runs for it.
        spec = BrokerSpec(7, config={"process.roles": "broker", "controller.listener.names": "CONTROLLER"})
        with pytest.raises(SandboxError) as raised:
            cluster.add_broker(spec)
        message = str(raised.value)
        assert "broker-7" in message and "controller.quorum.voters" in message, message
        assert not cluster.brokers[7].running and not (cluster.brokers[7].data_dir / "meta.properties").exists()
    finally:
        cluster.down()


@pytest.fixture(scope="module")
def kraft(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxCluster]:
    jars.ensure_jars()
    cluster = SandboxCluster(tmp_path_factory.mktemp("kraft"), [], metadata="kraft").up()
    try:
        port = free_port(host=broker_host(CONTROLLER))
        cluster.add_broker(controller_spec(CONTROLLER, port))
        voters = f"{CONTROLLER}@{broker_host(CONTROLLER)}:{port}"
        for node_id, rack in zip(BROKERS, ("a", "b")):
            cluster.add_broker(broker_spec(node_id, voters, rack))
        yield cluster
    finally:
        cluster.down()


@pytest.fixture(scope="module")
def topic(kraft: SandboxCluster) -> str:
    """A topic with a replica on each broker, holding MESSAGES messages."""
    name = "kraft-replicated"
    admin = AdminClient({"bootstrap.servers": kraft.bootstrap_servers})
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=2)])[name].result(timeout=60)
    producer = Producer({"bootstrap.servers": kraft.bootstrap_servers, "acks": "all"})
    for i in range(MESSAGES):
        producer.produce(name, value=f"m{i}".encode(), partition=i % 2)
    assert producer.flush(60) == 0
    return name


def test_kraft_brokers_serve_a_replicated_topic_of_the_sandbox_cluster(kraft: SandboxCluster, topic: str):
    assert kraft.zookeeper_connect is None and not (kraft.workdir / "zookeeper").exists()
    assert kraft.bootstrap_servers == ",".join(kraft.brokers[i].address for i in BROKERS)
    assert {b.port for b in kraft.brokers.values() if b.is_broker} == {kraft.broker_port}

    admin = AdminClient({"bootstrap.servers": kraft.bootstrap_servers})
    cluster = admin.describe_cluster(request_timeout=30).result(timeout=40)
    assert cluster.cluster_id == kraft.cluster_id
    assert {(n.id, n.rack) for n in cluster.nodes} == {(1000, "a"), (1001, "b")}
    metadata = admin.list_topics(timeout=30)
    assert metadata.cluster_id == kraft.cluster_id
    assert [sorted(p.replicas) for p in metadata.topics[topic].partitions.values()] == [list(BROKERS)] * 2

    assert sorted(read_all(kraft.bootstrap_servers, topic, 2)) == sorted(f"m{i}".encode() for i in range(MESSAGES))

    for node in kraft.brokers.values():
        meta = (node.data_dir / "meta.properties").read_text()
        assert f"cluster.id={kraft.cluster_id}" in meta and f"node.id={node.id}" in meta
        written = properties(node.config_path)
        assert written["node.id"] == str(node.id)
        assert "broker.id" not in written and "zookeeper.connect" not in written
        assert written["process.roles"] == ("controller" if node.id == CONTROLLER else "broker")


def test_a_stopped_kraft_broker_keeps_its_data_and_rejoins(kraft: SandboxCluster, topic: str):
    broker = kraft.brokers[1001]
    meta = (broker.data_dir / "meta.properties").read_text()
    old_pid = broker.pid

    kraft.stop_broker(1001)
    assert not broker.running
    assert "Transitioning from PENDING_CONTROLLED_SHUTDOWN to SHUTTING_DOWN" in broker.process.log_tail(400)
    survivor = AdminClient({"bootstrap.servers": kraft.brokers[1000].address})
    wait_for(lambda: sorted(survivor.list_topics(timeout=30).brokers) == [1000], "broker 1001 to be fenced")

    kraft.start_broker(1001)
    assert broker.running and broker.pid != old_pid
    assert (broker.data_dir / "meta.properties").read_text() == meta
    assert broker.log_path.read_text().count("Formatting metadata directory") == 1, "formatted once, at its first start"
    admin = AdminClient({"bootstrap.servers": broker.address})
    assert sorted(admin.list_topics(timeout=30).brokers) == list(BROKERS)

    def back_in_sync() -> bool:
        partitions = admin.list_topics(topic, timeout=30).topics[topic].partitions.values()
        return all(sorted(p.isrs) == list(BROKERS) for p in partitions)

    wait_for(back_in_sync, "broker 1001 to rejoin the ISRs")
    assert len(read_all(broker.address, topic, 2)) == MESSAGES


def test_load_finds_the_kraft_nodes(kraft: SandboxCluster):
    again = SandboxCluster.load(kraft.workdir)
    assert again.metadata == "kraft" and again.cluster_id == kraft.cluster_id
    assert again.zookeeper_connect is None
    assert {i: (b.roles, b.running, b.pid) for i, b in again.brokers.items()} == {
        CONTROLLER: (frozenset({"controller"}), True, kraft.brokers[CONTROLLER].pid),
        1000: (frozenset({"broker"}), True, kraft.brokers[1000].pid),
        1001: (frozenset({"broker"}), True, kraft.brokers[1001].pid),
    }
    assert again.bootstrap_servers == kraft.bootstrap_servers


def test_down_stops_brokers_before_controllers_and_up_brings_the_data_back(kraft: SandboxCluster, topic: str):
    pids = {i: b.pid for i, b in kraft.brokers.items()}
    kraft.down()
    assert not [i for i, b in kraft.brokers.items() if b.running]
    for node_id in BROKERS:  # a controlled shutdown needs the controller still up
        log = kraft.brokers[node_id].process.log_tail(400)
        assert "Transitioning from PENDING_CONTROLLED_SHUTDOWN to SHUTTING_DOWN" in log, log

    kraft.up()
    assert all(b.running and b.pid != pids[i] for i, b in kraft.brokers.items())
    assert len(read_all(kraft.bootstrap_servers, topic, 2)) == MESSAGES
