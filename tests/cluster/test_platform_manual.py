"""The manual platform against a real sandbox: the test plays the human, starting and stopping
brokers through the sandbox, and the platform's checks must follow what ZooKeeper really shows."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kazoo.client import KazooClient

from migrator.config import load_config
from migrator.platforms.source.factory import source_platform
from migrator.platforms.source.manual import ManualPlatform
from migrator.platforms.model import NewBroker, Outcome
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster

pytestmark = pytest.mark.cluster

HOSTS = {100: "kafka-100.vm.internal", 101: "kafka-101.vm.internal"}
TEMPLATE = {
    "listeners": "PLAINTEXT://0.0.0.0:9092",
    "advertised.listeners": "PLAINTEXT://{host}:9092",
    "log.dirs": "/var/lib/kafka/data",
}


@pytest.fixture
def cluster(sandbox_factory: Callable[..., SandboxCluster]) -> SandboxCluster:
    return sandbox_factory(brokers=[BrokerSpec(0, "a")])


@pytest.fixture
def announced() -> list[str]:
    return []


@pytest.fixture
def platform(cluster: SandboxCluster, tmp_path: Path, announced: list[str]) -> ManualPlatform:
    path = cluster.write_migration_config(tmp_path / "migration.yaml")
    raw = yaml.safe_load(path.read_text())
    raw["source_platform"] = {
        "kind": "manual",
        "server_properties": TEMPLATE,
        "manual": {"hosts": HOSTS, "start_command": "ssh {host} sudo systemctl enable --now kafka"},
    }
    path.write_text(yaml.safe_dump(raw))
    built = source_platform(load_config(path), announce=announced.append)
    assert isinstance(built, ManualPlatform)
    return built


@pytest.fixture
def zk(cluster: SandboxCluster) -> Iterator[KazooClient]:
    client = KazooClient(hosts=cluster.zookeeper_hosts)
    client.start(timeout=10)
    yield client
    client.stop()
    client.close()


def test_instructions_name_every_broker_and_host_then_verification_follows_the_human(
    cluster: SandboxCluster, platform: ManualPlatform, announced: list[str]
) -> None:
    brokers = [NewBroker(100, "a"), NewBroker(101, "b")]
    records = platform.provision(brokers)
    assert [(r.broker_id, r.outcome, r.address) for r in records] == [
        (100, Outcome.REQUESTED, HOSTS[100]),
        (101, Outcome.REQUESTED, HOSTS[101]),
    ]
    [text] = announced
    for broker in brokers:
        assert f"Start broker {broker.id} (rack {broker.rack}) on host {HOSTS[broker.id]}" in text
        for line in (
            f"broker.id={broker.id}",
            f"broker.rack={broker.rack}",
            f"zookeeper.connect={cluster.zookeeper_connect}",
            f"advertised.listeners=PLAINTEXT://{HOSTS[broker.id]}:9092",
        ):
            assert f"       {line}\n" in text
        assert f"Run: ssh {HOSTS[broker.id]} sudo systemctl enable --now kafka" in text
    check = platform.check_registered(brokers)
    assert check.waiting and "Broker 100 is not registered yet" in check.reason

    # The human starts broker 100 as told, and broker 101 with the wrong rack.
    cluster.add_broker(BrokerSpec(100, "a"))
    check = platform.check_registered(brokers)
    assert check.waiting and "Broker 100" not in check.reason and "Broker 101" in check.reason
    assert platform.check_registered(brokers[:1]).done
    cluster.add_broker(BrokerSpec(101, "c"))
    check = platform.check_registered(brokers)
    assert check.gave_up and "Broker 101 registered with rack 'c', not 'b'" in check.reason

    # Provisioning again asks nothing more of anyone for a registered broker.
    assert platform.provision(brokers[:1])[0].outcome is Outcome.REUSED
    assert len(announced) == 1

    platform.retire([100])
    retire_text = announced[-1]
    # The host of a live broker is the one it registered with, here the sandbox's address.
    assert f"Retire broker 100 on host {cluster.brokers[100].host}" in retire_text
    assert "sudo systemctl disable --now kafka" in retire_text
    assert platform.check_retired([100]).waiting
    cluster.stop_broker(100)  # the human's controlled shutdown
    assert platform.check_retired([100]).done
    platform.retire([100])  # nothing left to ask for
    assert len(announced) == 2


def test_a_broker_under_another_chroot_is_reported_as_another_cluster(
    cluster: SandboxCluster, platform: ManualPlatform, zk: KazooClient
) -> None:
    """The registration is written by the test (a second real broker would cost a JVM for the same
    outcome): what matters is that the platform looks beyond its chroot and says what happened."""
    zk.create("/kafka-typo/cluster/id", json.dumps({"version": "1", "id": "other"}).encode(), makepath=True)
    zk.create(
        "/kafka-typo/brokers/ids/100",
        json.dumps({"host": "127.0.0.1", "port": 9092, "rack": "a", "endpoints": []}).encode(),
        makepath=True,
    )
    check = platform.check_registered([NewBroker(100, "a")])
    assert check.gave_up
    assert "registered under the chroot /kafka-typo" in check.reason and "ANOTHER cluster" in check.reason
