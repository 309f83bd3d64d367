"""`migrator status`, from another process's point of view, shows a running move's bytes moved, rate
and ETA from the checkpoint while the move runs on the real sandbox."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migrator.cli import app
from migrator.sandbox.cluster import BrokerSpec
from tests.cluster.native_mover_support import (
    Recorder,
    assignment,
    context,
    create_topic,
    machine,
    mapping_plan,
    move_phase,
    unique,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.cluster


def test_status_shows_bytes_rate_and_eta_of_a_running_move(sandbox_factory, tmp_path: Path) -> None:
    cluster = sandbox_factory(brokers=[BrokerSpec(0, "a"), BrokerSpec(1, "b"), BrokerSpec(2, "c"), BrokerSpec(3, "c")])
    config = write_config(
        cluster, tmp_path, throttle_bytes_per_second=400_000, poll_interval_seconds=0.5, progress_interval_seconds=1
    )
    topic = unique("status")
    create_topic(cluster, topic, partitions=2, mb=8)
    plan = mapping_plan(config, [topic], {2: 3}, moves_per_broker=2)
    outcome: list[object] = []
    runner = threading.Thread(
        target=lambda: outcome.append(machine(config).run(move_phase(), context(config, plan, Recorder().bus))),
        daemon=True,
    )
    runner.start()
    path = str(tmp_path / "migration.yaml")

    def moving() -> dict | None:
        result = CliRunner().invoke(app, ["status", "--config", path, "--output", "json"])
        phases = json.loads(result.stdout)["phases"] if result.exit_code == 0 else []
        for phase in phases:
            for step in phase["steps"]:
                progress = step.get("progress") or {}
                if progress.get("bytes_moved") and progress.get("rate_bytes_per_second") and progress.get("eta_seconds"):
                    return progress
        return None

    try:
        progress = wait_for(moving, "status to show the move's progress", timeout=120)
        assert 0 < progress["bytes_moved"] < progress["bytes_total"]
        table = CliRunner().invoke(app, ["status", "--config", path], env={"COLUMNS": "300"})
        assert "ETA " in table.stdout and "B/s" in table.stdout and " partitions" in table.stdout, table.stdout
    finally:
        runner.join(300)
    assert outcome and outcome[0].status.value == "done", outcome
    assert all(assignment(config, [topic])[(m.topic, m.partition)] == m.target for m in plan.moves)
