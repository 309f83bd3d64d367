"""The local Kafka sandbox itself: real ZooKeeper and brokers, started, changed and stopped."""

from __future__ import annotations

import json
import os
import signal
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
from migrator.sandbox.ports import is_free

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
        assert registration["endpoints"] == [f"PLAINTEXT://{broker.address}"]
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


def test_brokers_join_leave_die_and_come_back(sandbox_factory, zk_of):
    cluster: SandboxCluster = sandbox_factory(brokers=[BrokerSpec(0, "a")])
    zk = zk_of(cluster.zookeeper_connect)  # chrooted, like a broker sees it

    added = cluster.add_broker(BrokerSpec(100, "c"))
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
    ports = [p.port for p in (cluster.zookeeper, *cluster.brokers.values())]
    zk.stop()
    cluster.down()
    assert [pid for pid in pids if alive(pid)] == []
    assert [port for port in ports if not is_free(port)] == []
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
    ports = [p["port"] for p in details["processes"]]
    try:
        assert [p["name"] for p in details["processes"]] == ["zookeeper", "broker-0"]
        assert all(alive(pid) for pid in pids), "the cluster must outlive the `up` command"
        config = load_config(Path(details["config"]))
        assert config.cluster.bootstrap_servers == details["bootstrap_servers"]
        assert config.cluster.cluster_id == details["cluster_id"]

        status = migrator("status")
        assert status.returncode == 0, status.stderr
        assert [p["alive"] for p in json.loads(status.stdout)["processes"]] == [True, True]

        again = migrator("up")
        assert again.returncode == BadInput.exit_code
        assert "already running" in again.stderr
    finally:
        stopped = migrator("down")
    assert stopped.returncode == 0, stopped.stderr
    assert [pid for pid in pids if alive(pid)] == []
    assert [port for port in ports if not is_free(port)] == []
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
