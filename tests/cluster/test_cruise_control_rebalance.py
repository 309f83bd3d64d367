"""Phase 4 with the native mover on a real mixed cluster, under produce/consume load the whole time: VM
brokers 0, 1, 2 drain into the local target's brokers 1000, 1001, 1002. One rig serves the module and
its tests run in file order, each starting where the one before left it: the plan; a move paused half
way and rolled back; a run killed -9 mid-batch and resumed, with a destination broker killed so the
health gate pauses and resumes by itself; a stray replica on a VM broker refused at retire-vm-brokers;
then the phase to the end; then the whole phase rolled back, and the workload's verdict."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from migrator.clients.zk import ZooKeeper
from migrator.cluster.environments import Environments, placement
from migrator.config import MigrationConfig, load_config
from migrator.engine.checkpoint import LocalFileStore
from migrator.engine.events import Event, EventBus
from migrator.errors import OperatorPause, PermanentError
from migrator.sandbox import jars
from migrator.sandbox.cluster import SandboxCluster
from migrator.sandbox.dns_server import DnsServer
from migrator.sandbox.ports import broker_host, free_shared_port
from migrator.sandbox.workload import Workload
from phases import build_phase
from tests.cluster.broker_id_shift_support import WORKLOAD_CLIENT, Znodes, facade, fill, unique, wait_for
from tests.cluster.rebalance_support import K8S, PHASE, VM, context, machine, write_config
from tests.cluster.test_join_local import vm_brokers
from tests.dns_fixtures import ZONE

pytestmark = pytest.mark.cluster

ENVS = Environments(VM, K8S)


@dataclass
class World:
    cluster: SandboxCluster
    dns: DnsServer
    config_path: Path
    config: MigrationConfig
    original: dict[tuple[str, int], list[int]]
    workload: Workload
    #: Replicas and leaders per environment before the phase: topics created after the join (the
    #: workload's, the group offsets) have replicas on both sides already.
    before: dict[str, dict[str, int]]

    def run(self, bus: EventBus, **options: object):  # noqa: ANN201 - the phase record
        return machine(self.config).run(build_phase(PHASE, self.config), context(self.config, bus), **options)

    def placement(self) -> dict[str, dict[str, int]]:
        with ZooKeeper.from_config(self.config.cluster) as zk:
            return placement(zk, ENVS)

    def journal(self, event: str) -> list[dict]:
        return [e.detail for e in LocalFileStore(self.config.checkpoint.path).read_journal() if e.event == event]


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.bus = EventBus()
        self.bus.subscribe(self.events.append)

    def of(self, kind: str) -> list[dict]:
        return [e.data for e in self.events if e.kind == kind]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    jars.ensure_jars()
    home = tmp_path_factory.mktemp("rebalance")
    shared_port = free_shared_port([broker_host(i) for i in (*VM, *K8S)])
    cluster = SandboxCluster(home / "sandbox", vm_brokers(f"SHARED-{shared_port}", shared_port))
    dns = DnsServer(home / "ns1", ZONE)
    workload = None
    try:
        cluster.up()
        dns.up()
        fill(cluster, unique("bulk"), 4, 4)
        fill(cluster, unique("small"), 2, 1)
        path = write_config(cluster, dns, home, shared_port)
        config = load_config(path)
        for name in ("dns-facade", "mixed-cluster-join"):
            record = machine(config).run(build_phase(name, config), context(config))
            assert record.status.value == "done", (name, record.error)
        port, bootstrap = cluster.broker_port, config.dns.bootstrap_fqdn
        workload = Workload(
            lambda: ",".join(facade(dns, port, bootstrap)),
            topic=unique("load"),
            rate_per_s=100,
            keys=8,
            client_config=WORKLOAD_CLIENT,
        ).start()
        wait_for(lambda: workload.snapshot().consumed > 0, "the workload's consumer to read")
        with Znodes(cluster) as zk:
            original = zk.assignment_with_group_offsets()
        shared = World(cluster, dns, path, config, original, workload, {})
        shared.before = shared.placement()
        yield shared
    finally:
        try:
            if workload is not None:
                workload.stop()
            SandboxCluster.load(cluster.workdir).down(grace=20)
            cluster.down(grace=10)
        finally:
            dns.down()


def test_the_plan_shows_batches_bytes_per_broker_and_the_time_at_the_throttle(world: World) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "migrator.cli", "plan", PHASE, "--config", str(world.config_path), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    [phase] = json.loads(result.stdout)["phases"]
    steps = {s["name"]: s for s in phase["steps"]}
    assert list(steps) == ["mover-ready", "move-replicas", "move-leadership", "repoint-facade", "retire-vm-brokers", "stop-vm-hosts"]
    assert steps["mover-ready"]["actions"][0]["detail"] == {"vm_brokers": list(VM), "kubernetes_brokers": list(K8S)}
    *batches, estimate = steps["move-replicas"]["actions"]
    assert len(batches) == estimate["detail"]["batches"] > 1
    assert all(b["verb"] == "reassign" and set(b["detail"]["bytes_in_per_broker"]) <= {str(i) for i in K8S} for b in batches)
    detail = estimate["detail"]
    assert set(detail["bytes_out_per_broker"]) == {str(i) for i in VM}
    # Every Kubernetes broker receives a copy of the ~5 MB, at 1 MB/s per broker.
    assert all(n > 4_500_000 for n in detail["bytes_in_per_broker"].values())
    assert detail["throttle_bytes_per_second"] == 1_000_000
    assert detail["estimated_seconds"] >= max(detail["bytes_in_per_broker"].values()) / 1_000_000
    assert sum(b["detail"]["estimated_seconds"] for b in batches) == pytest.approx(detail["estimated_seconds"], abs=0.5)
    assert [a["target"] for a in steps["retire-vm-brokers"]["actions"]] == [f"broker {i}" for i in VM]
    assert world.placement() == world.before  # nothing changed


def test_a_move_paused_half_way_rolls_back_onto_the_vm_brokers(world: World) -> None:
    events = Recorder()
    outcome: list[BaseException | object] = []

    def drive() -> None:
        try:
            outcome.append(world.run(events.bus))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    runner = threading.Thread(target=drive)
    runner.start()
    wait_for(lambda: len(events.of("mover.batch_done")) >= 1, "a batch done", timeout=300)
    machine(world.config).request_pause("test: reverse half way")
    runner.join(300)
    # The batch in flight finishes (movement.on_pause: finish), then the move stops at its boundary.
    assert isinstance(outcome[0], OperatorPause) and "test: reverse half way" in str(outcome[0]), outcome
    assert 1 <= len(events.of("mover.batch_done")) < events.of("mover.reconciled")[0]["batches"]
    half = world.placement()
    # Half way: some replicas moved onto the Kubernetes brokers, some are still on the VM brokers.
    assert half["kubernetes"]["replicas"] > world.before["kubernetes"]["replicas"] and half["vm"]["replicas"] > 0
    progress = [e for e in events.of("progress") if e.get("environments")]
    assert progress and {"vm", "kubernetes"} <= set(progress[-1]["environments"])
    assert progress[-1]["bytes_moved"] > 0

    record = machine(world.config).rollback(build_phase(PHASE, world.config), context(world.config))
    assert record.status.value == "rolled_back", record.error
    with Znodes(world.cluster) as zk:
        assert {k: v for k, v in zk.assignment().items() if k in world.original} == world.original
        assert zk.throttles() == {}
    assert world.placement()["vm"]["replicas"] == world.before["vm"]["replicas"]


def _batch_in_flight_after_one_done(config: MigrationConfig) -> bool:
    """Whether the group moving now has a batch in flight and one done, as the checkpoint says."""
    loaded = LocalFileStore(config.checkpoint.path).load()
    record = loaded.checkpoint.phases.get(PHASE) if loaded else None
    if record is None or "group" not in record.state:
        return False
    forward = (record.state.get("movers", {}).get(str(record.state["group"])) or {}).get("forward") or {}
    return forward.get("batch") is not None and bool(forward.get("done_batches"))


def test_killed_mid_batch_resumes_and_the_gate_pauses_for_a_dead_destination_broker(world: World) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.cluster.rebalance_support", str(world.config_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: _batch_in_flight_after_one_done(world.config),
            "a batch in flight after one done",
            timeout=300,
            interval=0.2,
        )
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)

    events = Recorder()
    killed: list[int] = []

    def kill_a_destination(event: Event) -> None:
        if event.kind == "mover.batch_started" and not killed:
            killed.append(1001)
            SandboxCluster.load(world.cluster.workdir).kill_broker(1001)

    def restart_it(event: Event) -> None:
        if event.kind == "rebalance.gate_paused":
            threading.Thread(target=lambda: SandboxCluster.load(world.cluster.workdir).start_broker(1001)).start()

    events.bus.subscribe(kill_a_destination)
    events.bus.subscribe(restart_it)
    record = world.run(events.bus, until="move-leadership")
    assert record.status.value == "paused", record.error  # stopped after move-leadership, as asked
    assert killed
    reconciled = events.of("mover.reconciled")[0]
    assert reconciled["resumed"] and reconciled["done_batches"] >= 1
    [paused] = world.journal("health_gate.paused")[-1:]
    assert "1001" in paused["reason"]
    [resumed] = world.journal("health_gate.resumed")[-1:]
    assert resumed["reason"].startswith("healthy for 5 s after")
    assert world.placement() == {
        "vm": {"replicas": 0, "leaders": 0},
        "kubernetes": {"replicas": sum(map(len, world.original.values())), "leaders": len(world.original)},
    }
    with Znodes(world.cluster) as zk:
        assert zk.throttles() == {}
        assert set(zk.brokers()) == {*VM, *K8S}


def test_a_stray_replica_on_a_vm_broker_stops_retirement_then_the_phase_finishes(world: World) -> None:
    admin = AdminClient({"bootstrap.servers": world.cluster.bootstrap_servers})
    stray = unique("stray")
    admin.create_topics([NewTopic(stray, 1, replica_assignment=[[1000, 0]])])[stray].result()
    with pytest.raises(PermanentError, match=rf"replica lists of 1 partition\(s\) \({stray}-0\)"):
        world.run(EventBus())
    assert set(SandboxCluster.load(world.cluster.workdir).brokers) >= {*VM, *K8S}
    admin.delete_topics([stray])[stray].result()
    with ZooKeeper.from_config(world.config.cluster) as zk:
        wait_for(lambda: not zk.exists(f"/brokers/topics/{stray}") and not zk.exists(f"/admin/delete_topics/{stray}"), "stray deleted")

    record = world.run(EventBus())
    assert record.status.value == "done", record.error
    with Znodes(world.cluster) as zk:
        assert set(zk.brokers()) == set(K8S)  # no VM broker registered: the cutover's entry condition
        assert zk.controller() in K8S
        assert zk.throttles() == {}
    port, dns = world.cluster.broker_port, world.config.dns
    loaded = SandboxCluster.load(world.cluster.workdir)
    hosts = {b: loaded.brokers[b].address for b in K8S}
    assert facade(world.dns, port, dns.bootstrap_fqdn) == sorted(hosts.values())
    for i, vm in enumerate(VM):
        assert facade(world.dns, port, dns.broker_name(vm)) == [hosts[K8S[i]]]
        assert facade(world.dns, port, dns.broker_name(K8S[i])) == [hosts[K8S[i]]]
    bootstrap = ",".join(facade(world.dns, port, dns.bootstrap_fqdn))
    assert sorted(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=20).brokers) == sorted(K8S)


def test_rolling_the_whole_phase_back_restarts_the_vm_brokers_moves_everything_back_and_repoints_the_facade(
    world: World,
) -> None:
    record = machine(world.config).rollback(build_phase(PHASE, world.config), context(world.config))
    assert record.status.value == "rolled_back", record.error
    with Znodes(world.cluster) as zk:
        assert set(zk.brokers()) == {*VM, *K8S}
        assert {k: v for k, v in zk.assignment().items() if k in world.original} == world.original
        assert zk.throttles() == {}
    port, dns = world.cluster.broker_port, world.config.dns
    loaded = SandboxCluster.load(world.cluster.workdir)
    assert facade(world.dns, port, dns.bootstrap_fqdn) == sorted(loaded.brokers[b].address for b in VM)
    assert facade(world.dns, port, dns.broker_name(0)) == [loaded.brokers[0].address]
    assert facade(world.dns, port, dns.broker_name(1000)) == []  # created by the phase, so removed again

    # The workload ran through every test of the module: the move, the pauses, the kills, the retirement
    # and this rollback.
    report = world.workload.stop()
    assert report.zero_loss and report.lost == 0 and report.duplicated == 0, report.progress_line()
    assert report.acknowledged > 0 and report.failed == 0
