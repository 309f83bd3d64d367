"""The mixed-cluster join with the `local` target on a real sandbox, under produce/consume load: VM
brokers 0, 1, 2 (racks a, b, c, prepared with the shared listener) are joined by sandbox brokers 1000
and 1001 configured as the forked operator would configure pods; then the phase is rolled back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from confluent_kafka.admin import AdminClient, NewTopic

from migrator.clients.zk import ZooKeeper
from migrator.config import MigrationConfig
from migrator.engine.checkpoint import LocalFileStore
from migrator.engine.events import EventBus
from migrator.engine.machine import Machine
from migrator.engine.step import StepContext
from migrator.errors import PermanentError
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster
from migrator.sandbox.ports import broker_host, free_shared_port
from migrator.sandbox.workload import Workload
from phases import mixed_cluster_join
from tests.cluster.broker_id_shift_support import wait_for

pytestmark = pytest.mark.cluster

NEW_IDS = [1000, 1001]


def vm_brokers(shared: str, shared_port: int) -> list[BrokerSpec]:
    """VM brokers prepared for the join: the client listener named as Strimzi names target.listeners[0]
    (so clients see every broker), the shared listener, and that as the inter-broker listener."""
    config = {
        "listeners": f"PLAIN-9092://{{host}}:{{port}},{shared}://{{host}}:{shared_port}",
        "listener.security.protocol.map": f"PLAIN-9092:PLAINTEXT,{shared}:PLAINTEXT",
        "inter.broker.listener.name": shared,
    }
    return [BrokerSpec(i, rack, config) for i, rack in ((0, "a"), (1, "b"), (2, "c"))]


def local_target_section(replicas: int, shared_port: int) -> dict:
    """A `target:` section for sandbox brokers from ID 1000 with racks, beside prepared VM brokers."""
    return {
        "kind": "local",
        "cluster_name": "events",
        "replicas": replicas,
        "node_ids": "[1000-1999]",
        "listeners": [{"name": "plain", "port": 9092}],
        "shared_listener": {"name": "shared", "port": shared_port},
        "rack_topology_key": "topology.kubernetes.io/zone",
    }


def local_target_config(cluster: SandboxCluster, directory: Path, shared_port: int) -> MigrationConfig:
    path = cluster.write_migration_config(directory / "migration.yaml", migration_id="join-local")
    data = yaml.safe_load(path.read_text())
    data["source_platform"] = {"kind": "local", "local": {"sandbox_dir": str(cluster.workdir)}}
    data["target"] = local_target_section(len(NEW_IDS), shared_port)
    return MigrationConfig.model_validate(data)


def topic_present(config: MigrationConfig, topic: str) -> bool:
    with ZooKeeper.from_config(config.cluster) as zk:
        return zk.exists(f"/brokers/topics/{topic}") or zk.exists(f"/admin/delete_topics/{topic}")


def registrations(config: MigrationConfig) -> dict[int, dict]:
    with ZooKeeper.from_config(config.cluster) as zk:
        return zk.brokers()


@pytest.fixture
def cluster(sandbox_factory: Callable[..., SandboxCluster]) -> Iterator[tuple[SandboxCluster, int]]:
    """A private cluster of prepared VM brokers and the shared listener's port (free on the VM brokers'
    addresses and the new ones'). Brokers the target adds are recorded only in sandbox.json, so the
    cluster is stopped from there too, before the factory's own teardown."""
    shared_port = free_shared_port([broker_host(i) for i in (0, 1, 2, *NEW_IDS)])
    private = sandbox_factory(brokers=vm_brokers(f"SHARED-{shared_port}", shared_port))
    try:
        yield private, shared_port
    finally:
        SandboxCluster.load(private.workdir).down(grace=20)


def test_local_target_joins_sandbox_brokers_and_rolls_back(cluster: tuple[SandboxCluster, int], tmp_path: Path) -> None:
    sandbox, shared_port = cluster
    shared = f"SHARED-{shared_port}"
    config = local_target_config(sandbox, tmp_path, shared_port)
    phase = mixed_cluster_join.build(config)
    machine = Machine(LocalFileStore(config.checkpoint.path), config.migration_id)
    ctx = StepContext(config=config, state={}, events=EventBus())

    # The dry run shows each new broker's server.properties and a diff against the sandbox (absent).
    plan = machine.plan(phase, StepContext(config=config, state={}, events=EventBus()))
    [render] = plan.steps[0].actions
    assert "broker.id=1000" in render.detail["manifests"]
    assert f"inter.broker.listener.name={shared}" in render.detail["manifests"]
    assert "reserved.broker.max.id=1999" in render.detail["manifests"]
    assert "--- live: sandbox broker 1001 (absent)" in render.detail["diff"]
    assert plan.steps[1].actions[0].verb == "skip"  # no operator on the local target

    with Workload(sandbox.bootstrap_servers, topic="join-local-load", rate_per_s=100, keys=8) as load:
        # Once the consumer reads, its group's offsets topic has leaders: the safety gate holds.
        wait_for(lambda: load.snapshot().consumed > 0, "the workload's consumer to read")
        record = machine.run(phase, ctx)
        assert record.status.value == "done", record.error
        joined = registrations(config)
        assert {i: joined[i]["rack"] for i in NEW_IDS} == {1000: "a", 1001: "b"}
        assert all(any(e.startswith(f"{shared}://") for e in joined[i]["endpoints"]) for i in NEW_IDS)
        assert ctx.state[mixed_cluster_join.NODE_IDS] == NEW_IDS
        with ZooKeeper.from_config(config.cluster) as zk:
            assert not zk.exists(f"/brokers/topics/migrator-probe-{config.migration_id}")

        # A topic created on a new broker meanwhile: deleting that broker would lose it, so no rollback.
        admin = AdminClient({"bootstrap.servers": sandbox.bootstrap_servers})
        admin.create_topics([NewTopic("made-after-the-join", 1, replica_assignment=[[1001, 0]])])["made-after-the-join"].result()
        with pytest.raises(PermanentError, match=r"broker 1001: 1 replica\(s\) \(made-after-the-join-0\)"):
            machine.rollback(phase, ctx)
        assert all(SandboxCluster.load(sandbox.workdir).brokers[i].running for i in NEW_IDS)
        admin.delete_topics(["made-after-the-join"])["made-after-the-join"].result()
        wait_for(lambda: not topic_present(config, "made-after-the-join"), "the topic to be deleted")

        rolled_back = machine.rollback(phase, ctx)
        assert rolled_back.status.value == "rolled_back", rolled_back.error
    assert load.report.zero_loss, load.report.progress_line()
    assert not set(NEW_IDS) & set(registrations(config))
    assert not any(SandboxCluster.load(sandbox.workdir).brokers[i].running for i in NEW_IDS)
