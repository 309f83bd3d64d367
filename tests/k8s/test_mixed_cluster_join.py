"""The mixed-cluster join on the Kubernetes rig (real kube-apiserver, the stand-in Strimzi operator, real
brokers), under produce/consume load: the dry run a person reviews, the node-ID check firing when the
pool's range is malformed, the join end to end, and its rollback. One world serves the module; the
tests run in this order (the rollback undoes the join of the test before it)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kazoo.client import KazooClient
from typer.testing import CliRunner

from migrator.cli import app
from migrator.clients.zk import ZooKeeper
from migrator.engine.step import StepContext
from migrator.errors import PermanentError
from migrator.platforms.target.strimzi_manifests import render_manifests
from migrator.sandbox.kube import KubeRig
from phases import mixed_cluster_join
from tests.k8s.mixed_cluster_rig import FORKED, NEW_IDS, UPSTREAM, MixedRig, mixed_cluster_rig

pytestmark = [pytest.mark.k8s, pytest.mark.cluster]

JOINED: dict[str, object] = {}  # the machine and context of the join, for the rollback test


@pytest.fixture(scope="module")
def rig(kube_rig: KubeRig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MixedRig]:
    with mixed_cluster_rig(kube_rig, tmp_path_factory.mktemp("mixed-join")) as world:
        yield world


def registrations(rig: MixedRig) -> dict[int, dict]:
    """/brokers/ids/<id> of every registered broker, with the znode's czxid (new on every start)."""
    client = KazooClient(hosts=rig.sandbox.zookeeper_hosts, timeout=10.0)
    client.start(timeout=15)
    try:
        root = f"{rig.sandbox.chroot}/brokers/ids"
        found = {}
        for child in client.get_children(root):
            data, stat = client.get(f"{root}/{child}")
            found[int(child)] = {**json.loads(data), "czxid": stat.czxid}
        return found
    finally:
        client.stop()
        client.close()


def would_do(table: str) -> str:
    """The "would do" column of the plan table, one line per row line, as a person reads it."""
    cells = [line.split("│") for line in table.splitlines()]
    return "\n".join(c[4].rstrip()[1:] for c in cells if len(c) == 6) + "\n"


def test_the_dry_run_prints_the_rendered_cr_and_a_diff_against_the_cluster(
    rig: MixedRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = rig.config.model_dump(mode="json", exclude_none=True)
    data["checkpoint"] = {"store": "local", "path": str(tmp_path / "checkpoint")}
    data["target"]["kubeconfig"] = str(rig.kube.kubeconfig)
    path = tmp_path / "migration.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("COLUMNS", "220")  # a wide terminal: the manifests keep their lines

    result = CliRunner().invoke(app, ["run", "mixed-cluster-join", "--dry-run", "--config", str(path)])

    assert result.exit_code == 0, result.stderr
    out = would_do(result.stdout)
    # The rendered objects, as they would be applied...
    assert "\nkind: Kafka\n" in out and "\nkind: KafkaNodePool\n" in out
    assert "\n    strimzi.io/next-node-ids: '[1000-1999]'\n" in out
    assert f"\n      zookeeper.connect: {rig.sandbox.zookeeper_connect}\n" in out
    # ... and a diff against the cluster: the CR and pool are new, the operator changes image.
    assert f"\n--- live: Kafka {rig.namespace}/events (absent)\n" in out
    assert f"\n+++ rendered: KafkaNodePool {rig.namespace}/brokers\n" in out
    assert f"\n-      - image: {UPSTREAM}\n+      - image: {FORKED}\n" in out
    assert "switch-operator-to-fork" in result.stdout and "probe-replication" in result.stdout
    assert rig.target().platform.kafka() is None and rig.operator_image() == (UPSTREAM, None)  # nothing changed


def test_the_node_id_check_fires_when_the_pools_range_is_malformed(rig: MixedRig) -> None:
    # migration.yaml refuses a malformed range; here the annotation reaches the cluster malformed anyway
    # (edited, templated wrongly...): Strimzi then silently numbers the pool from 0, onto VM brokers 0, 1.
    rendered = render_manifests(rig.config)
    pool = copy.deepcopy(rendered.node_pool)
    pool["metadata"]["annotations"]["strimzi.io/next-node-ids"] = "[1000-1999"
    mangled = type(rendered)(rendered.kafka, pool, rendered.operator_forked, rendered.operator_upstream, rendered.overrides)
    resources = rig.join_resources(mangled)
    phase = mixed_cluster_join.build(rig.config, resources)
    machine, ctx = rig.machine("collision"), rig.context()
    vm_before = {i: r["czxid"] for i, r in registrations(rig).items()}

    with pytest.raises(PermanentError) as failed:
        machine.run(phase, ctx)

    message = str(failed.value)
    assert "check-node-ids" in message
    assert "node IDs 0, 1" in message and "ID(s) 0, 1 belong to VM broker(s)" in message
    assert '"[1000-1999]"' in message and "migrator rollback mixed-cluster-join" in message
    # No broker took data: the VM brokers still hold their registrations, none with a new ID appeared.
    assert {i: r["czxid"] for i, r in registrations(rig).items()} == vm_before
    status = resources.platform.platform.kafka_status()
    assert status is not None and status.not_ready is not None and status.not_ready.reason == "NodeExistsException"

    record = machine.rollback(phase, ctx)
    assert record.status.value == "rolled_back", record.error
    assert [s.status.value for s in record.steps[:3]] == ["rolled_back"] * 3
    platform = resources.platform.platform
    assert platform.kafka() is None and platform.node_pool() is None
    assert rig.operator_image() == (UPSTREAM, None)


def test_the_join_runs_end_to_end_under_load(rig: MixedRig) -> None:
    resources = rig.join_resources()
    phase = mixed_cluster_join.build(rig.config, resources)
    machine, ctx = rig.machine("join"), rig.context()

    record = machine.run(phase, ctx)

    assert record.status.value == "done", record.error
    JOINED.update(machine=machine, ctx=ctx, phase=phase, resources=resources)
    assert ctx.state[mixed_cluster_join.NODE_IDS] == NEW_IDS
    joined = registrations(rig)
    assert {i: joined[i]["rack"] for i in NEW_IDS} == {1000: "a", 1001: "b"}
    status = resources.platform.platform.kafka_status()
    assert status is not None and status.ready and status.cluster_id == rig.sandbox.cluster_id
    assert rig.operator_image() == (FORKED, "forked")
    probe = record.step("probe-replication").verdict
    assert probe is not None and "leaders 0, 1, 1000, 1001 on both sides" in probe["reason"]
    with ZooKeeper.from_config(rig.config.cluster) as zk:
        assert not zk.exists(f"/brokers/topics/{resources.probe_topic}")


def test_rolling_the_join_back_removes_the_new_brokers_and_restores_the_operator(rig: MixedRig) -> None:
    machine, ctx, phase = JOINED["machine"], JOINED["ctx"], JOINED["phase"]
    assert isinstance(ctx, StepContext)

    record = machine.rollback(phase, ctx)  # type: ignore[attr-defined]

    assert record.status.value == "rolled_back", record.error
    assert all(s.status.value == "rolled_back" for s in record.steps)
    assert not set(NEW_IDS) & set(registrations(rig))
    platform = rig.target().platform
    assert platform.kafka() is None and platform.node_pool() is None and platform.broker_pods() == {}
    assert rig.operator_image() == (UPSTREAM, None)
    report = rig.workload.stop()
    assert report.zero_loss, report.progress_line()
