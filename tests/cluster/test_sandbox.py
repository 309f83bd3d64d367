"""The local Kafka sandbox itself: real ZooKeeper and brokers, started, changed and stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from kazoo.client import KazooClient

from migrator.config import load_config
from migrator.errors import BadInput
from migrator.sandbox import jars
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster, SandboxError
from migrator.sandbox.ports import HOST, broker_host, is_free

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie nobody reaped yet has exited all the same)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def znode_json(zk: KazooClient, path: str) -> dict:
    return json.loads(zk.get(path)[0])


@pytest.fixture
def zk_of():
    clients: list[KazooClient] = []

    def connect(hosts: str) -> KazooClient:
        client = KazooClient(hosts=hosts, timeout=10.0)
        client.start(timeout=15)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.stop()
        client.close()


def test_up_registers_every_broker_with_its_rack_under_the_chroot(sandbox: SandboxCluster, zk_of, tmp_path: Path):
    zk = zk_of(sandbox.zookeeper_hosts)  # no chroot: see where things really are

    assert sorted(zk.get_children("/kafka/brokers/ids")) == ["0", "1", "2"]
    assert zk.exists("/brokers") is None, "brokers must not register outside the chroot"
    for broker in sandbox.brokers.values():
        registration = znode_json(zk, f"/kafka/brokers/ids/{broker.id}")
        assert registration["rack"] == broker.spec.rack
        assert registration["endpoints"] == [f"PLAINTEXT://{broker.host}:{sandbox.broker_port}"]
    assert sandbox.zookeeper_connect == f"{sandbox.zookeeper_hosts}/kafka"
    assert znode_json(zk, "/kafka/cluster/id")["id"] == sandbox.cluster_id
    assert zk.exists("/kafka/controller") is not None

    admin = AdminClient({"bootstrap.servers": sandbox.bootstrap_servers})
    result = admin.describe_cluster(request_timeout=30).result(timeout=40)
    assert result.cluster_id == sandbox.cluster_id
    assert {(n.id, n.rack) for n in result.nodes} == {(0, "a"), (1, "b"), (2, "c")}

    config = load_config(sandbox.write_migration_config(tmp_path / "migration.yaml"))
    assert config.cluster.zookeeper_connect == sandbox.zookeeper_connect
    assert config.cluster.bootstrap_servers == sandbox.bootstrap_servers
    assert config.cluster.cluster_id == sandbox.cluster_id
    assert config.checkpoint.path == tmp_path / ".migrator"


def test_each_broker_has_its_own_address_and_all_share_one_port(sandbox: SandboxCluster):
    # Like VMs behind DNS names, which carry no port: only the address tells brokers apart.
    port = sandbox.broker_port
    assert len({b.host for b in sandbox.brokers.values()}) == len(sandbox.brokers)
    assert {b.port for b in sandbox.brokers.values()} == {port}
    assert sandbox.bootstrap_servers == ",".join(f"{broker_host(i)}:{port}" for i in sandbox.brokers)

    # A client that knows one broker learns every other one's own address.
    admin = AdminClient({"bootstrap.servers": sandbox.brokers[1].address})
    nodes = admin.describe_cluster(request_timeout=30).result(timeout=40).nodes
    assert {(n.id, n.host, n.port) for n in nodes} == {(i, broker_host(i), port) for i in sandbox.brokers}

    again = SandboxCluster.load(sandbox.workdir)  # as the CLI, another process, finds it
    assert again.broker_port == port
    assert {i: b.address for i, b in again.brokers.items()} == {i: b.address for i, b in sandbox.brokers.items()}


def test_the_shared_port_moves_only_while_no_broker_serves_on_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    strimzi_like = BrokerSpec(1500, "b", {"reserved.broker.max.id": 1999})
    cluster = SandboxCluster(tmp_path / "contested", [BrokerSpec(0, "a"), strimzi_like])
    rivals: list[socket.socket] = []

    def rival(host: str, port: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        rivals.append(sock)
        sock.bind((host, port))
        sock.listen()

    # Another program takes the chosen port on broker 1500's address between the check and the start.
    launch = cluster._launch

    def launch_after_a_rival(node):
        if node is cluster.brokers[1500] and not rivals:
            rival(node.host, node.port)
        launch(node)

    monkeypatch.setattr(cluster, "_launch", launch_after_a_rival)
    try:
        cluster.up()
        taken = rivals[0].getsockname()[1]
        assert "Address already in use" in cluster.brokers[1500].log_path.read_text(), (taken, cluster.broker_port)
        assert cluster.broker_port != taken, "nothing served yet, so every broker moves to a new port"
        assert {b.address for b in cluster.brokers.values()} == {f"127.1.0.1:{cluster.broker_port}", f"127.1.6.1:{cluster.broker_port}"}
        nodes = AdminClient({"bootstrap.servers": cluster.bootstrap_servers}).list_topics(timeout=30).brokers
        assert {(n.id, n.host, n.port) for n in nodes.values()} == {(0, "127.1.0.1", cluster.broker_port), (1500, "127.1.6.1", cluster.broker_port)}

        # Under running brokers the port cannot move: a new broker whose address has it taken fails clearly.
        rival(broker_host(7), cluster.broker_port)
        with pytest.raises(SandboxError, match=rf"Broker 7 cannot listen on 127\.1\.0\.8:{cluster.broker_port}.*0, 1500 already serve"):
            cluster.add_broker(BrokerSpec(7, "c"))
        assert 7 not in cluster.brokers and not (cluster.workdir / "broker-7").exists()
    finally:
        for sock in rivals:
            sock.close()
        cluster.down()


def test_brokers_join_leave_die_and_come_back(sandbox_factory, zk_of):
    cluster: SandboxCluster = sandbox_factory(brokers=[BrokerSpec(0, "a")])
    zk = zk_of(cluster.zookeeper_connect)  # chrooted, like a broker sees it

    added = cluster.add_broker(BrokerSpec(100, "c"))
    assert (added.host, added.port) == ("127.1.0.101", cluster.broker_port)
    assert znode_json(zk, "/brokers/ids/100")["rack"] == "c"
    assert znode_json(zk, "/brokers/ids/100")["endpoints"] == [f"PLAINTEXT://{added.address}"]
    assert cluster.bootstrap_servers.endswith(added.address)

    cluster.stop_broker(100)
    assert zk.exists("/brokers/ids/100") is None
    assert not alive(added.pid)
    assert "Controlled shutdown request returned successfully" in added.process.log_tail(400)

    cluster.start_broker(100)
    assert znode_json(zk, "/brokers/ids/100")["endpoints"] == [f"PLAINTEXT://{added.address}"]
    meta = (added.data_dir / "meta.properties").read_text()
    assert f"cluster.id={cluster.cluster_id}" in meta and "broker.id=100" in meta

    victim = cluster.brokers[0]
    dead_pid = victim.pid
    cluster.kill_broker(0)
    assert not alive(dead_pid)
    assert victim.process.exit_code == -signal.SIGKILL
    assert not victim.running

    cluster.start_broker(0)  # waits out the dead session's registration first
    assert victim.running and victim.pid != dead_pid
    assert sorted(zk.get_children("/brokers/ids")) == ["0", "100"]

    pids = [p.pid for p in (cluster.zookeeper, *cluster.brokers.values())]
    addresses = [(p.host, p.port) for p in (cluster.zookeeper, *cluster.brokers.values())]
    zk.stop()
    cluster.down()
    assert [pid for pid in pids if alive(pid)] == []
    assert [(host, port) for host, port in addresses if not is_free(port, host)] == []
    assert json.loads((cluster.workdir / "sandbox.json").read_text())["zookeeper"]["pid"] is None


def test_a_broker_that_cannot_start_fails_up_with_its_log_and_leaves_nothing_running(tmp_path: Path):
    cluster = SandboxCluster(tmp_path / "broken", [BrokerSpec(7, "a", {"log.segment.bytes": "lots"})])

    with pytest.raises(SandboxError) as raised:
        cluster.up()

    message = str(raised.value)
    assert "broker-7" in message and "log.segment.bytes" in message
    assert not cluster.zookeeper.running and not cluster.brokers[7].running
    assert not alive(cluster.zookeeper.pid)


def test_cli_up_status_down(tmp_path: Path):
    workdir = tmp_path / "cli-sandbox"

    def migrator(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "migrator.cli", "sandbox", *args, "--dir", str(workdir), "--output", "json"],
            capture_output=True, text=True, cwd=REPO, timeout=300,
        )

    started = migrator("up", "--brokers", "1")
    assert started.returncode == 0, started.stderr
    details = json.loads(started.stdout)
    pids = [p["pid"] for p in details["processes"]]
    addresses = [(p["host"], p["port"]) for p in details["processes"]]
    try:
        assert [p["name"] for p in details["processes"]] == ["zookeeper", "broker-0"]
        assert [host for host, _ in addresses] == [HOST, broker_host(0)]
        assert all(alive(pid) for pid in pids), "the cluster must outlive the `up` command"
        config = load_config(Path(details["config"]))
        # The rehearsal config also names the addresses the broker-ID shift's new brokers will have, so
        # that its bootstrap outlives the retired ones.
        assert set(details["bootstrap_servers"].split(",")) <= set(config.cluster.bootstrap_servers.split(","))
        assert config.cluster.cluster_id == details["cluster_id"]

        status = migrator("status")
        assert status.returncode == 0, status.stderr
        assert [p["alive"] for p in json.loads(status.stdout)["processes"]] == [True, True]

        again = migrator("up")
        assert again.returncode == BadInput.exit_code
        # With --output json the error is a JSON object on stdout.
        assert "already running" in json.loads(again.stdout)["error"]["message"]
    finally:
        stopped = migrator("down")
    assert stopped.returncode == 0, stopped.stderr
    assert [pid for pid in pids if alive(pid)] == []
    assert [(host, port) for host, port in addresses if not is_free(port, host)] == []
    assert [p["alive"] for p in json.loads(migrator("status").stdout)["processes"]] == [False, False]

    purged = migrator("down", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert not workdir.exists()
    assert migrator("status").returncode == BadInput.exit_code


def test_a_test_run_ended_by_sigterm_leaves_no_jvm_behind(tmp_path: Path):
    # What `timeout` or a cancelled CI job does to a pytest run holding a cluster.
    script = textwrap.dedent(
        f"""
        import time
        from migrator.sandbox.cluster import BrokerSpec, SandboxCluster
        cluster = SandboxCluster({str(tmp_path / "interrupted")!r}, [BrokerSpec(0, "a")]).up()
        print(cluster.zookeeper.pid, cluster.brokers[0].pid, flush=True)
        time.sleep(300)
        """
    )
    run = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        pids = [int(pid) for pid in run.stdout.readline().split()]
        assert len(pids) == 2, run.stderr.read()
        assert all(alive(pid) for pid in pids)
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=120)
    finally:
        run.kill()
    assert "KeyboardInterrupt" in run.stderr.read()
    assert [pid for pid in pids if alive(pid)] == []


def test_cached_jars_cost_no_maven_run(monkeypatch: pytest.MonkeyPatch):
    jars.ensure_jars()  # cached at collection
    monkeypatch.setenv("PATH", "/nonexistent")  # neither java nor mvn can be found now
    assert jars.ensure_jars() == jars.lib_dir()
    assert (jars.lib_dir() / f"kafka_2.13-{jars.KAFKA_VERSION}.jar").is_file()
