"""The stand-in Strimzi operator (strimzi_controller.py) does what Strimzi 0.45 would, as the
orchestrator sees it through the real API server and the real brokers: node IDs from the pool's range
(or the silent fallback to 0, 1, 2 onto the VM brokers' IDs, which it must not start), brokers that
join the VM sandbox's ZooKeeper with the overrides in effect, Ready and observedGeneration, rolling on
a config change and not otherwise, Strimzi's scale-down check, and the upstream build's refusal to
keep brokers on the VM ensemble."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from kazoo.client import KazooClient
from kubernetes import client as k8s

from migrator.clients.kafka import KafkaAdmin
from migrator.clients.connection import ClusterConfig
from migrator.cluster.overrides_verifier import verify_overrides
from migrator.platforms.target.strimzi_api import StrimziPlatform
from migrator.platforms.target.strimzi_manifests import RenderedManifests, render_manifests
from migrator.sandbox.cluster import SandboxCluster
from migrator.sandbox.kube import KubeRig
from migrator.sandbox.ports import broker_host
from tests.k8s.strimzi_controller import StrimziController
from tests.k8s.strimzi_support import (
    FORKED,
    SHARED,
    UPSTREAM,
    fresh_namespaces,
    install_operator,
    migration_config,
    prepared_vm_brokers,
)

pytestmark = [pytest.mark.k8s, pytest.mark.cluster]


@dataclass
class Stand:
    """A namespace with the operator installed, the rendered target, and the stand-in running."""

    sandbox: SandboxCluster
    platform: StrimziPlatform
    rendered: RenderedManifests
    controller: StrimziController

    def registered(self) -> dict[int, dict[str, Any]]:
        """/brokers/ids/<id> of every registered broker, with the znode's czxid (new on every start)."""
        registrations = {}
        with zookeeper(self.sandbox) as zk:
            root = f"{self.sandbox.chroot}/brokers/ids"
            for child in zk.get_children(root):
                data, stat = zk.get(f"{root}/{child}")
                registrations[int(child)] = {**json.loads(data), "czxid": stat.czxid}
        return registrations

    def with_pool(self, **changes: Any) -> dict[str, Any]:
        pool = json.loads(json.dumps(self.rendered.node_pool))
        for key, value in changes.items():
            if key == "next_node_ids":
                pool["metadata"]["annotations"]["strimzi.io/next-node-ids"] = value
            else:
                pool["spec"][key] = value
        return pool


class zookeeper:
    def __init__(self, sandbox: SandboxCluster) -> None:
        self.client = KazooClient(hosts=sandbox.zookeeper_hosts, timeout=10.0)

    def __enter__(self) -> KazooClient:
        self.client.start(timeout=15)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.stop()
        self.client.close()


@pytest.fixture
def admin(kube_rig: KubeRig) -> Iterator[k8s.ApiClient]:
    with kube_rig.api_client() as api:
        yield api


@pytest.fixture
def stand_in(admin: k8s.ApiClient) -> Iterator[Callable[..., Stand]]:
    controllers: list[StrimziController] = []

    def make(sandbox: SandboxCluster, operator_image: str | None = FORKED, **target: Any) -> Stand:
        namespace, operator_namespace = fresh_namespaces(admin)
        if operator_image is not None:
            install_operator(admin, operator_namespace, operator_image)
        config = migration_config(sandbox, namespace, operator_namespace, **target)
        assert config.target is not None
        controller = StrimziController(
            admin, namespace, sandbox, forked_image=FORKED, operator_namespace=operator_namespace
        )
        controllers.append(controller.start())
        platform = StrimziPlatform(admin, config.target, poll_interval=0.5)
        return Stand(sandbox, platform, render_manifests(config), controller)

    yield make
    for controller in controllers:
        controller.stop()
        assert controller.errors == []


def test_a_range_gives_high_ids_whose_brokers_join_roll_only_on_change_and_leave_with_the_cr(
    sandbox_factory: Callable[..., SandboxCluster], stand_in: Callable[..., Stand]
) -> None:
    vm = sandbox_factory(brokers=prepared_vm_brokers(0))
    stand = stand_in(vm)
    for obj in stand.rendered.objects:
        stand.platform.apply(obj)

    assert stand.platform.wait_node_ids() == (1000, 1001, 1002)
    status = stand.platform.wait_ready()
    assert status.cluster_id == vm.cluster_id
    assert (status.kafka_metadata_state, status.node_pools) == ("ZooKeeper", ("brokers",))
    registered = stand.registered()
    assert set(registered) == {0, 1000, 1001, 1002}
    assert f"{SHARED}://{broker_host(1001)}:{vm.broker_port}" in registered[1001]["endpoints"]
    cluster = ClusterConfig(zookeeper_connect=vm.zookeeper_connect, bootstrap_servers=vm.bootstrap_servers)
    with KafkaAdmin(cluster) as kafka:
        report = verify_overrides(kafka, [1000, 1001, 1002], stand.rendered.expectations())
        assert report.in_effect, report.not_in_effect
        assert verify_overrides(kafka, [0], stand.rendered.expectations("vm")).in_effect
    pods = stand.platform.broker_pods()
    assert sorted(pods) == [1000, 1001, 1002]

    # The upstream build would point the brokers at Strimzi's own ensemble: refused, nothing restarted.
    stand.platform.apply(stand.rendered.operator_upstream)
    stand.controller.wait_passes()
    refused = stand.platform.kafka_status()
    assert refused is not None and not refused.ready and refused.not_ready is not None
    assert refused.not_ready.reason == "StandInRefused"
    assert "events-zookeeper-client:2181" in (refused.not_ready.message or "")
    assert "zookeeper.connect" in (refused.not_ready.message or "")
    stand.platform.apply(stand.rendered.operator_forked)
    stand.platform.wait_ready()
    assert stand.controller.restarts == {}
    assert stand.platform.broker_pods() == pods
    assert {i: r["czxid"] for i, r in stand.registered().items()} == {i: r["czxid"] for i, r in registered.items()}

    # A config change rolls every broker once: new pods, new registrations.
    kafka = json.loads(json.dumps(stand.rendered.kafka))
    kafka["spec"]["kafka"]["config"]["log.retention.hours"] = 100
    stand.platform.apply(kafka)
    status = stand.platform.wait_ready()
    assert status.generation == 2 == status.observed_generation
    assert stand.controller.restarts == {1000: 1, 1001: 1, 1002: 1}
    rolled = stand.platform.broker_pods()
    assert all(rolled[i].uid != pods[i].uid for i in pods)
    assert all(stand.registered()[i]["czxid"] != registered[i]["czxid"] for i in (1000, 1001, 1002))

    assert stand.platform.delete(stand.platform.kafka())
    stand.controller.wait_passes()
    assert set(stand.registered()) == {0}
    assert stand.platform.broker_pods() == {}


def test_scale_down_waits_until_the_broker_holds_no_replica_and_a_cr_without_pools_keeps_its_brokers(
    sandbox_factory: Callable[..., SandboxCluster], stand_in: Callable[..., Stand]
) -> None:
    vm = sandbox_factory(brokers=prepared_vm_brokers(0))
    stand = stand_in(vm, replicas=2)
    for obj in stand.rendered.objects:
        stand.platform.apply(obj)
    assert stand.platform.wait_node_ids() == (1000, 1001)
    stand.platform.wait_ready()
    client = AdminClient({"bootstrap.servers": vm.bootstrap_servers})
    topic = NewTopic("held-by-1001", num_partitions=1, replica_assignment=[[1001]])
    client.create_topics([topic])["held-by-1001"].result(30)

    stand.platform.apply(stand.with_pool(replicas=1))
    stand.controller.wait_passes()  # the Kafka's own generation does not change: wait_reconciled cannot tell
    status = stand.platform.kafka_status()
    assert status is not None and status.not_ready is not None and status.not_ready.reason == "InvalidResourceException"
    assert "Cannot scale-down Kafka brokers [1001]" in (status.not_ready.message or "")
    assert stand.platform.node_pool_status().node_ids == (1000, 1001)
    assert 1001 in stand.registered()

    client.delete_topics(["held-by-1001"])["held-by-1001"].result(30)
    del client  # librdkafka would keep calling the brokers this test is about to stop
    assert stand.platform.wait_node_ids(1) == (1000,)
    stand.platform.wait_ready()
    assert set(stand.registered()) == {0, 1000}
    assert sorted(stand.platform.broker_pods()) == [1000]

    assert stand.platform.delete(stand.platform.node_pool())
    stand.controller.wait_passes()
    status = stand.platform.kafka_status()
    assert status is not None and status.not_ready is not None
    assert "No KafkaNodePools found" in (status.not_ready.message or "")
    # As in Strimzi, the failed reconciliation stops before it scales anything down.
    assert set(stand.registered()) == {0, 1000}


@pytest.mark.parametrize("ids", ["1000-1999", "[1000-1999", "[1]"], ids=["no-brackets", "unclosed", "exhausted"])
def test_a_malformed_or_exhausted_range_falls_back_to_the_vm_brokers_ids_and_starts_none(
    sandbox: SandboxCluster, stand_in: Callable[..., Stand], ids: str
) -> None:
    stand = stand_in(sandbox)
    before = stand.registered()
    stand.platform.apply(stand.rendered.operator_forked)
    stand.platform.apply(stand.rendered.kafka)
    stand.platform.apply(stand.with_pool(next_node_ids=ids))

    assert stand.platform.wait_node_ids() == (0, 1, 2)
    status = stand.platform.wait_reconciled()
    assert not status.ready and status.not_ready is not None
    assert status.not_ready.reason == "NodeExistsException"
    assert "/brokers/ids/0" in (status.not_ready.message or "")
    assert stand.controller.brokers == {}
    assert stand.registered() == before  # the VM brokers' own registrations, untouched
    assert stand.platform.broker_pods() == {}


def test_the_upstream_operator_assigns_ids_but_starts_no_broker_against_its_own_ensemble(
    sandbox: SandboxCluster, stand_in: Callable[..., Stand]
) -> None:
    stand = stand_in(sandbox, operator_image=UPSTREAM)
    stand.platform.apply(stand.rendered.kafka)
    stand.platform.apply(stand.rendered.node_pool)

    assert stand.platform.wait_node_ids() == (1000, 1001, 1002)
    status = stand.platform.wait_reconciled()
    assert status.not_ready is not None and status.not_ready.reason == "StandInRefused"
    assert "events-zookeeper-client:2181" in (status.not_ready.message or "")
    assert stand.controller.brokers == {}
    assert set(stand.registered()) == {0, 1, 2}


def test_without_an_operator_deployment_nothing_is_reconciled(
    sandbox: SandboxCluster, stand_in: Callable[..., Stand]
) -> None:
    stand = stand_in(sandbox, operator_image=None)
    stand.platform.apply(stand.rendered.kafka)
    stand.platform.apply(stand.rendered.node_pool)
    stand.controller.wait_passes()

    assert stand.controller.mode is None
    assert stand.platform.node_pool_status().node_ids == ()
    status = stand.platform.kafka_status()
    assert status is not None and status.observed_generation is None and status.conditions == ()
