"""The CLI against the real sandbox: a phase run end to end, a safety gate, a foreign cluster id,
and the demo's JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from migrator.cli import app
from migrator.sandbox.cluster import SandboxCluster

pytestmark = pytest.mark.cluster
runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_preflight_runs_records_the_baseline_and_rolls_back(sandbox: SandboxCluster, tmp_path: Path) -> None:
    config = str(sandbox.write_migration_config(tmp_path / "migration.yaml", migration_id="cli-preflight"))

    code, out, err = _invoke("plan", "preflight", "--config", config, "--output", "json")
    assert code == 0, err
    (planned,) = json.loads(out)["phases"]
    assert [s["name"] for s in planned["steps"]] == ["record-inventory"]
    assert not (tmp_path / ".migrator" / "checkpoint.json").exists()  # a plan writes nothing

    code, out, err = _invoke("run", "preflight", "--config", config, "--yes", "--output", "json")
    assert code == 0, err
    record = json.loads(out)
    assert record["status"] == "done"
    assert sorted(record["state"]["baseline"]["brokers"]) == ["0", "1", "2"]
    assert record["state"]["baseline"]["cluster_id"] == sandbox.cluster_id

    code, out, _ = _invoke("status", "--config", config, "--output", "json")
    assert code == 0 and json.loads(out)["phases"][0]["status"] == "done"

    code, out, err = _invoke("rollback", "preflight", "--config", config, "--yes", "--output", "json")
    assert code == 0, err
    assert json.loads(out)["status"] == "rolled_back"


def test_wrong_cluster_id_is_bad_input_and_changes_nothing(sandbox: SandboxCluster, tmp_path: Path) -> None:
    path = sandbox.write_migration_config(tmp_path / "migration.yaml", migration_id="cli-wrong-id")
    data = yaml.safe_load(path.read_text())
    data["cluster"]["cluster_id"] = "AAAAAAAAAAAAAAAAAAAAAA"
    path.write_text(yaml.safe_dump(data))
    for args in (("inventory",), ("run", "preflight", "--yes")):
        code, _, err = _invoke(*args, "--config", str(path))
        assert code == 2, (args, err)
        assert "AAAAAAAAAAAAAAAAAAAAAA" in err and sandbox.cluster_id in err
    checkpoint = tmp_path / ".migrator" / "checkpoint.json"
    if checkpoint.exists():  # the lock and an empty record may exist; no step may have started
        phases = json.loads(checkpoint.read_text())["phases"]
        assert all(s["status"] == "pending" for p in phases.values() for s in p["steps"])


def test_unreachable_bootstrap_is_bad_input(sandbox: SandboxCluster, tmp_path: Path) -> None:
    path = sandbox.write_migration_config(tmp_path / "migration.yaml", migration_id="cli-no-bootstrap")
    data = yaml.safe_load(path.read_text())
    data["cluster"]["bootstrap_servers"] = "127.0.0.1:1"
    data["cluster"]["timeout_seconds"] = 3
    path.write_text(yaml.safe_dump(data))
    code, _, err = _invoke("inventory", "--config", str(path))
    assert code == 2 and "127.0.0.1:1" in err


def test_under_replicated_partitions_pause_preflight_with_exit_3(sandbox_factory, tmp_path: Path) -> None:
    cluster = sandbox_factory()
    config = str(cluster.write_migration_config(tmp_path / "migration.yaml", migration_id="cli-urp"))
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    admin.create_topics([NewTopic("urp-check", 3, 3)])["urp-check"].result(30)
    cluster.stop_broker(2)
    code, _, err = _invoke("run", "preflight", "--config", config, "--yes")
    assert code == 3, err
    assert "under_replicated" in err


def test_demo_prints_a_clean_workload_report_as_json(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "migrator.cli", "demo", "--output", "json", "--seconds", "5", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    for key in ("produced", "acknowledged", "consumed", "lost", "duplicated", "out_of_order", "produce_p99_ms"):
        assert key in report
    assert report["acknowledged"] > 0 and report["consumed"] == report["acknowledged"]
    assert report["lost"] == 0 and report["duplicated"] == 0 and report["out_of_order"] == 0
    assert report["phases"] == {"preflight": "done", "dns-facade": "done"}
    # The client config was rewritten to the facade names, and a client bootstrapped from it through
    # the demo's DNS server reaches every broker.
    assert report["client_bootstrap"].startswith("kafka-0.kafka.demo.test:")
    assert report["facade_brokers"] == [0, 1, 2]
    assert subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True).stdout == b""


def test_plan_with_a_chroot_that_does_not_exist_fails_like_run(sandbox: SandboxCluster, tmp_path: Path) -> None:
    path = sandbox.write_migration_config(tmp_path / "migration.yaml", migration_id="cli-no-chroot")
    data = yaml.safe_load(path.read_text())
    hosts = data["cluster"]["zookeeper_connect"].split("/")[0]
    data["cluster"]["zookeeper_connect"] = f"{hosts}/no-such-chroot"
    path.write_text(yaml.safe_dump(data))
    for args in (("plan",), ("plan", "preflight"), ("run", "preflight", "--yes")):
        code, out, err = _invoke(*args, "--config", str(path), "--output", "json")
        assert code == 2, (args, err)
        assert "no-such-chroot" in json.loads(out)["error"]["message"]
