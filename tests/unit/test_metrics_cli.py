"""`migrator metrics serve` end to end (a real process answering a real scrape), and a metrics port
that cannot be opened as bad input. No Kafka: the cluster reads fail, and the exporter says so."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from migrator.cli import app
from migrator.engine.checkpoint import NEW, Checkpoint, LocalFileStore, PhaseRecord, PhaseStatus
from migrator.sandbox.ports import free_port

runner = CliRunner()


def _config(tmp_path: Path) -> Path:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    path = tmp_path / "migration.yaml"
    path.write_text(yaml.safe_dump({
        "migration_id": "cli-metrics",
        "cluster": {"zookeeper_connect": f"127.0.0.1:{closed}", "bootstrap_servers": f"127.0.0.1:{closed}", "timeout_seconds": 1},
        "checkpoint": {"path": str(tmp_path / "state")},
    }))
    return path


def _scrape(url: str, timeout: float = 30.0) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                text = answer.read().decode()
            return {
                s.name + str(sorted(s.labels.items())): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_metrics_serve_answers_scrapes_and_counts_failed_cluster_reads(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "migrator.cli", "metrics", "serve", "-c", str(_config(tmp_path)),
               "--port", str(port), "--address", "127.0.0.1", "--sample-seconds", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        found = _scrape(url)
        assert found["kafka_migration_info[('migration_id', 'cli-metrics')]"] == 1
        assert found["kafka_migration_phase_state[('phase', 'preflight'), ('state', 'pending')]"] == 1
        deadline = time.monotonic() + 30
        while _scrape(url)["kafka_migration_cluster_sample_failures_total[]"] < 1:
            assert time.monotonic() < deadline, "the sampler never reported the unreachable cluster"
            time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_metrics_port_in_use_is_bad_input_and_nothing_runs(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["run", "preflight", "-c", str(config), "--yes", "--metrics-port", str(port)])
    assert result.exit_code == 2, result.output
    assert "--metrics-port" in result.output
    assert not (tmp_path / "state" / "checkpoint.json").exists()


def test_watch_once_shows_the_recorded_phases_and_the_unreadable_cluster(tmp_path: Path) -> None:
    config = _config(tmp_path)
    store = LocalFileStore(tmp_path / "state")
    checkpoint = Checkpoint(migration_id="cli-metrics")
    checkpoint.phases["preflight"] = PhaseRecord(name="preflight", status=PhaseStatus.DONE)
    store.save(checkpoint, expected_version=NEW)

    result = runner.invoke(app, ["watch", "-c", str(config), "--once", "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    states = {(r["labels"]["phase"], r["labels"]["state"]): r["value"] for r in data["kafka_migration_phase_state"]}
    assert states[("preflight", "done")] == 1 and states[("dns-facade", "pending")] == 1
    assert data["kafka_migration_cluster_sample_failures_total"][0]["value"] == 1
    assert data["kafka_migration_move_eta_seconds"][0]["value"] is None

    table = runner.invoke(app, ["watch", "-c", str(config), "--once"])
    assert table.exit_code == 0, table.output
    shown = " ".join(table.stdout.split())
    assert "preflight" in shown and "1 failed reads" in shown
