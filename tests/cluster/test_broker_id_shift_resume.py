"""`migrator run broker-id-shift` SIGKILLed in the middle of a batch, then `migrator resume`: it
reconciles with the cluster and finishes with the same end state as an uninterrupted run, and the
throttles someone else set before the run are still there, unchanged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migrator.cli import app
from migrator.clients.kafka import KafkaAdmin
from migrator.cluster.throttles import FOLLOWER_REPLICAS, LEADER_RATE
from migrator.config import load_config
from migrator.engine.checkpoint import LocalFileStore
from migrator.sandbox.cluster import SandboxCluster
from migrator.sandbox.dns_server import DnsServer
from migrator.sandbox.workload import Workload
from tests.cluster.broker_id_shift_support import (
    OFFSET,
    WORKLOAD_CLIENT,
    Znodes,
    facade,
    fill,
    settle_earlier_phases,
    unique,
    wait_for,
    write_config,
)
from tests.dns_fixtures import bind_primary  # noqa: F401

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
PHASE = "broker-id-shift"
OLD = {0: "a", 1: "b", 2: "c"}
NEW = {b + OFFSET: rack for b, rack in OLD.items()}


@pytest.fixture
def cluster(sandbox_factory) -> Iterator[SandboxCluster]:
    """A private 3-broker cluster. Brokers the phase starts are recorded only in sandbox.json (by the
    process that started them), so the cluster is stopped from there too."""
    private = sandbox_factory()
    try:
        yield private
    finally:
        SandboxCluster.load(private.workdir).down(grace=20)


def _step(config_path: Path, name: str) -> dict:
    loaded = LocalFileStore(load_config(config_path).checkpoint.path).load()
    if loaded is None or PHASE not in loaded.checkpoint.phases:
        return {}
    return loaded.checkpoint.phases[PHASE].step(name).model_dump(mode="json")


def test_a_run_killed_mid_batch_resumes_to_the_same_end_state_and_keeps_foreign_throttles(
    cluster: SandboxCluster, bind_primary: DnsServer, tmp_path: Path  # noqa: F811
) -> None:
    # A low throttle and two moves per broker: a batch of the 3 MB partitions takes seconds.
    path = write_config(
        cluster, bind_primary, tmp_path, "shift-killed",
        throttle_bytes_per_second=1_000_000, max_moves_per_broker=2, poll_interval_seconds=0.5,
    )  # fmt: skip
    config = load_config(path)
    data = unique("ledger")
    fill(cluster, data, partitions=4, mb=12)
    foreign = {"broker 1": {LEADER_RATE: "987654321"}, f"topic {data}": {FOLLOWER_REPLICAS: "0:2"}}
    with KafkaAdmin(config.cluster) as admin:
        admin.alter_broker_config(1, {LEADER_RATE: "987654321"})
        admin.alter_topic_config(data, {FOLLOWER_REPLICAS: "0:2"})
    settle_earlier_phases(path)
    port = cluster.broker_port
    workload = Workload(
        lambda: ",".join(facade(bind_primary, port, config.dns.bootstrap_fqdn)),
        topic=unique("canary"),
        rate_per_s=100,
        keys=8,
        client_config=WORKLOAD_CLIENT,
    )

    with workload, Znodes(cluster) as zk:
        original = zk.assignment_with_group_offsets()
        assert zk.throttles() == foreign
        log = (tmp_path / "run.log").open("w")
        run = subprocess.Popen(
            [sys.executable, "-m", "migrator.cli", "run", PHASE, "--config", str(path), "--yes"],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(
                lambda: zk.in_flight(data) and _step(path, "move-replicas").get("status") == "applying",
                "a batch of the data topic to be in flight",
                timeout=240,
                interval=0.1,
            )
        finally:
            run.send_signal(signal.SIGKILL)
            assert run.wait(30) == -signal.SIGKILL
        # Killed mid-batch: the move goes on in the cluster, our throttles are still set.
        assert zk.in_flight(data)
        assert zk.throttles() != foreign

        result = CliRunner().invoke(app, ["resume", "--config", str(path), "--yes", "--break-stale-lock", "--output", "json"])
        err = " ".join(result.stderr.split())
        assert result.exit_code == 0, err
        assert json.loads(result.stdout)["status"] == "done"
        assert "mover.reconciled" in err  # the resumed move read the cluster before doing anything

        assert zk.brokers() == NEW
        after = zk.assignment()
        assert after == {key: [b + OFFSET for b in replicas] for key, replicas in original.items()}
        assert all(leader == after[key][0] for key, leader in zk.leaders().items())
        assert zk.throttles() == foreign  # ours are gone; theirs are exactly as they were
    report = workload.report
    assert report is not None and report.zero_loss, report.progress_line()
    assert _step(path, "move-replicas")["attempts"] >= 2  # verified, then applied again after the kill
    new_hosts = sorted(SandboxCluster.load(cluster.workdir).brokers[b].address for b in NEW)
    assert facade(bind_primary, port, config.dns.bootstrap_fqdn) == new_hosts
