"""Decisions the broker-ID shift takes before it changes anything, on the shared sandbox: a reassignment
someone else started makes `migrator run` refuse (exit 2), and a target whose node IDs collide with no
broker makes the planner skip the phase and say what that saves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from migrator.cli import app
from migrator.clients.kafka import KafkaAdmin
from migrator.cluster.throttles import FOLLOWER_RATE, FOLLOWER_REPLICAS
from migrator.config import load_config
from migrator.engine.checkpoint import LocalFileStore
from migrator.sandbox.cluster import SandboxCluster
from migrator.sandbox.dns_server import DnsServer
from tests.cluster.broker_id_shift_support import Znodes, fill, settle_earlier_phases, unique, wait_for, write_config
from tests.dns_fixtures import bind_primary  # noqa: F401

pytestmark = pytest.mark.cluster

PHASE = "broker-id-shift"


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_a_reassignment_someone_else_started_is_a_safety_gate_exit_3(
    sandbox: SandboxCluster, bind_primary: DnsServer, tmp_path: Path  # noqa: F811
) -> None:
    path = write_config(sandbox, bind_primary, tmp_path, "shift-foreign")
    config = load_config(path)
    settle_earlier_phases(path)
    theirs = unique("theirs")
    # More than one replica fetch (1 MB) holds, so the throttle keeps their move in flight; min ISR 1
    # keeps a single replica healthy on the shared sandbox.
    fill(sandbox, theirs, partitions=1, mb=6, replication=1, config={"min.insync.replicas": "1"})
    with Znodes(sandbox) as zk:
        (source,) = zk.assignment()[(theirs, 0)]
    destination = (source + 1) % 3
    with KafkaAdmin(config.cluster) as admin:
        admin.alter_broker_config(destination, {FOLLOWER_RATE: "1024"})
        admin.alter_topic_config(theirs, {FOLLOWER_REPLICAS: f"0:{destination}"})
        assert admin.alter_partition_reassignments({(theirs, 0): [destination]}) == {(theirs, 0): None}
        try:
            with Znodes(sandbox) as zk:
                wait_for(lambda: zk.in_flight(theirs), "their reassignment to show")
                code, _, err = _invoke("run", PHASE, "--config", str(path), "--yes")

                assert code == 3, err
                assert f"{theirs}-0 -> [{destination}]" in err
                assert "did not start" in err and "--list" in err and "nothing was changed" in err
                assert sorted(zk.brokers()) == [0, 1, 2]  # no broker was started
                assert zk.in_flight(theirs)
            loaded = LocalFileStore(config.checkpoint.path).load()
            record = loaded.checkpoint.phases.get(PHASE) if loaded else None
            assert record is None or not record.started
        finally:
            admin.alter_partition_reassignments({(theirs, 0): None})
            admin.alter_broker_config(destination, delete=[FOLLOWER_RATE])
            admin.alter_topic_config(theirs, delete=[FOLLOWER_REPLICAS])
            wait_for(lambda: (theirs, 0) not in admin.list_partition_reassignments(), "their reassignment to be cancelled")
            topics = AdminClient({"bootstrap.servers": sandbox.bootstrap_servers})
            topics.delete_topics([theirs], operation_timeout=30)[theirs].result()


def test_a_target_range_clear_of_every_broker_skips_the_phase_and_says_what_that_saves(
    sandbox: SandboxCluster, bind_primary: DnsServer, tmp_path: Path  # noqa: F811
) -> None:
    fill(sandbox, unique("sized"), partitions=1, mb=2)
    path = write_config(sandbox, bind_primary, tmp_path, "shift-skipped")
    data = yaml.safe_load(path.read_text())
    data["target"] = {
        "cluster_name": "events",
        "replicas": 3,
        "node_ids": "[1000-1999]",
        "shared_listener": {"name": "shared", "port": 9094},
        "operator": {"forked_image": "registry.example.com/strimzi/operator:0.45.2-mixed-zk"},
    }
    path.write_text(yaml.safe_dump(data))

    code, out, err = _invoke("plan", PHASE, "--config", str(path), "--output", "json")
    assert code == 0, err
    (planned,) = json.loads(out)["phases"]
    reason = planned["skip_reason"]
    assert reason and "1000, 1001, 1002" in reason and "collide with no existing broker (0, 1, 2)" in reason
    saved = re.search(r"saves moving ([0-9.]+) (kB|MB|GB) \(([0-9]+) replicas\)", reason)
    assert saved is not None, reason
    scale = {"kB": 1e3, "MB": 1e6, "GB": 1e9}[saved[2]]
    assert float(saved[1]) * scale >= 5e6 and int(saved[3]) >= 3  # at least our ~2 MB x RF 3

    settle_earlier_phases(path)
    code, out, err = _invoke("run", PHASE, "--config", str(path), "--yes", "--output", "json")
    assert code == 0, err
    record = json.loads(out)
    assert record["status"] == "skipped" and "collide with no existing broker" in record["skip_reason"]
    with Znodes(sandbox) as zk:
        assert sorted(zk.brokers()) == [0, 1, 2]
