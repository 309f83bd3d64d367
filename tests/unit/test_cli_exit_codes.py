"""One exit code per situation, decided in migrator/errors.py, documented in the README, and the same
in JSON output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from migrator.cli import app
from migrator.cli.migration import _finish_all
from migrator.cli.output import OutputFormat
from migrator.engine.checkpoint import PhaseRecord, PhaseStatus
from migrator.engine.machine import PAUSE_REQUESTED
from migrator.errors import BadInput, MigratorError, OperatorPause, SafetyGateError
from migrator.movers.executor import MovePaused

README = Path(__file__).resolve().parents[2] / "README.md"


def test_each_situation_has_its_own_code_and_the_readme_table_matches() -> None:
    codes = {
        MigratorError.exit_code: "failed",
        BadInput.exit_code: "bad input",
        SafetyGateError.exit_code: "safety gate",
        OperatorPause.exit_code: "paused by the operator",
    }
    assert sorted(codes) == [1, 2, 3, 4]
    assert MovePaused.exit_code == OperatorPause.exit_code  # the mover's pause is the operator's
    text = README.read_text()
    section = text[text.index("Exit codes") :]
    section = section[: section.index("\n\n", section.index("| code |"))]
    table = dict(re.findall(r"^\| (\d) \| ([^|]+) \|", section, re.MULTILINE))
    for code, words in codes.items():
        assert words in table[str(code)], (code, table)


def test_a_run_stopped_by_the_operators_pause_exits_with_its_own_code() -> None:
    paused = PhaseRecord(name="demo", status=PhaseStatus.PAUSED, pause_reason=f"{PAUSE_REQUESTED} ops@laptop: night")
    with pytest.raises(typer.Exit) as stopped:
        _finish_all([paused], OutputFormat.json)
    assert stopped.value.exit_code == 4
    until = PhaseRecord(name="demo", status=PhaseStatus.PAUSED, pause_reason="stopped after step x as asked (--until)")
    _finish_all([until], OutputFormat.json)  # what was asked for: exit 0


def test_json_errors_are_an_object_with_message_and_exit_code(tmp_path: Path) -> None:
    path = tmp_path / "migration.yaml"
    path.write_text(yaml.safe_dump({"migration_id": "Not Valid!", "cluster": {}}))
    result = CliRunner().invoke(app, ["status", "--config", str(path), "--output", "json"])
    assert result.exit_code == 2
    error = yaml.safe_load(result.stdout)["error"]
    assert error["exit_code"] == 2 and "migration_id" in error["message"]
