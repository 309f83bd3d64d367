"""`migrator sandbox up` gives a newcomer a rehearsal rig: the migration.yaml it writes plans every built
phase and runs the first ones from the CLI, runbook commands verbatim; `sandbox down` stops all of it,
BIND included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migrator.cli import app
from migrator.config import load_config
from migrator.sandbox.rehearsal import DNS_STATE, _named_alive

pytestmark = pytest.mark.cluster


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    # An unexpected exception leaves no output: its repr is the message to see.
    err = " ".join(result.stderr.split()) or (repr(result.exception) if result.exception else "")
    return result.exit_code, result.stdout, err


def test_sandbox_up_writes_a_config_every_built_phase_runs_with_and_down_stops_everything(tmp_path: Path) -> None:
    workdir = tmp_path / "rig"
    code, out, err = _invoke("sandbox", "up", "--dir", str(workdir), "--output", "json")
    try:
        assert code == 0, err
        details = json.loads(out)
        path = details["config"]
        config = load_config(Path(path))
        assert config.dns is not None and config.source_platform is not None and config.target is not None
        assert config.source_platform.kind == "local" and config.target.kind == "local"
        assert config.broker_id_shift is not None and config.broker_id_shift.id_offset == 100
        dns_pid = json.loads((workdir / "dns" / DNS_STATE).read_text())["pid"]
        assert _named_alive(dns_pid)

        code, out, err = _invoke("plan", "--config", path, "--output", "json")
        assert code == 0, err or out
        planned = json.loads(out)
        assert planned["not_planned"] == {}, planned["not_planned"]
        assert [p["phase"] for p in planned["phases"]] == [
            "preflight", "dns-facade", "broker-id-shift", "mixed-cluster-join", "cruise-control-rebalance",
            "operator-handback",
        ]
        for phase in ("preflight", "dns-facade"):
            code, out, err = _invoke("run", phase, "--config", path, "--yes", "--output", "json")
            assert code == 0, (phase, err)
            assert json.loads(out)["status"] == "done"

    finally:
        code, out, err = _invoke("sandbox", "down", "--dir", str(workdir), "--output", "json")
    assert code == 0, err
    assert not _named_alive(dns_pid)
    assert all(not p["alive"] for p in json.loads(out)["processes"])
