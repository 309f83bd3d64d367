"""Bad input exits with code 2 and one paragraph naming the cause and the fix, and changes nothing.

These cases need no Kafka: the config is rejected, the ZooKeeper does not answer, the lock is held,
or the checkpoint belongs to another migration. The cluster-id mismatch is in tests/cluster.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from migrator.cli import app
from migrator.engine.checkpoint import Checkpoint, LocalFileStore
from migrator.engine.lock import LockInfo

runner = CliRunner()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path: Path, **overrides: object) -> Path:
    port = _closed_port()
    data: dict = {
        "migration_id": "unit",
        "cluster": {
            "zookeeper_connect": f"127.0.0.1:{port}/kafka",
            "bootstrap_servers": f"127.0.0.1:{port}",
            "cluster_id": "abc",
            "timeout_seconds": 2,
        },
        "checkpoint": {"path": str(tmp_path / "ckpt")},
    }
    data.update(overrides)
    path = tmp_path / "migration.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _invoke(*args: str):
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join((result.stdout + result.stderr).split())


def test_invalid_config_names_the_field_and_changes_nothing(tmp_path: Path) -> None:
    path = _config(tmp_path, migration_id="Not Valid!")
    code, text = _invoke("run", "preflight", "--config", str(path), "--yes")
    assert code == 2
    assert "migration_id" in text and "not valid" in text
    assert not (tmp_path / "ckpt").exists()


def test_unknown_config_key_is_rejected(tmp_path: Path) -> None:
    path = _config(tmp_path, clutser={})
    code, text = _invoke("status", "--config", str(path))
    assert code == 2 and "clutser" in text


def test_missing_config_file_says_how_to_get_one(tmp_path: Path) -> None:
    code, text = _invoke("inventory", "--config", str(tmp_path / "nope.yaml"))
    assert code == 2 and "does not exist" in text and "sandbox up" in text


def test_unreachable_zookeeper_is_bad_input(tmp_path: Path) -> None:
    path = _config(tmp_path)
    code, text = _invoke("inventory", "--config", str(path))
    assert code == 2
    assert "ZooKeeper" in text and "zookeeper_connect" in text


def test_run_refused_while_another_live_process_holds_the_lock(tmp_path: Path) -> None:
    path = _config(tmp_path)
    holder = subprocess.Popen(["sleep", "60"])
    try:
        lock = tmp_path / "ckpt" / "lock.json"
        lock.parent.mkdir(parents=True)
        info = LockInfo(pid=holder.pid, host=socket.gethostname(), user="someone", started_at="now", command="migrator run")
        lock.write_text(json.dumps(info.to_dict()))
        code, text = _invoke("run", "preflight", "--config", str(path), "--yes")
    finally:
        holder.kill()
        holder.wait()
    assert code == 2
    assert "someone" in text and str(holder.pid) in text
    assert json.loads(lock.read_text())["pid"] == holder.pid
    assert not (tmp_path / "ckpt" / "checkpoint.json").exists()


def test_stale_lock_needs_the_explicit_flag(tmp_path: Path) -> None:
    path = _config(tmp_path)
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock = tmp_path / "ckpt" / "lock.json"
    lock.parent.mkdir(parents=True)
    info = LockInfo(pid=dead.pid, host=socket.gethostname(), user="someone", started_at="now", command="migrator run")
    lock.write_text(json.dumps(info.to_dict()))
    code, text = _invoke("run", "preflight", "--config", str(path), "--yes")
    assert code == 2 and "--break-stale-lock" in text
    assert lock.exists()


def test_checkpoint_of_another_migration_is_refused(tmp_path: Path) -> None:
    path = _config(tmp_path)
    store = LocalFileStore(tmp_path / "ckpt")
    store.save(Checkpoint(migration_id="someone-else"), expected_version=None)
    before = (tmp_path / "ckpt" / "checkpoint.json").read_bytes()
    for args in (("status",), ("run", "preflight", "--yes"), ("rollback", "preflight", "--yes")):
        code, text = _invoke(*args, "--config", str(path))
        assert code == 2, args
        assert "someone-else" in text and "migration_id" in text
    assert (tmp_path / "ckpt" / "checkpoint.json").read_bytes() == before


def test_unknown_phase_lists_the_phases(tmp_path: Path) -> None:
    code, text = _invoke("run", "no-such-phase", "--config", str(_config(tmp_path)), "--yes")
    assert code == 2 and "preflight" in text


def test_secret_from_unset_environment_variable_is_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIGRATOR_TEST_PASSWORD", raising=False)
    cluster = yaml.safe_load(_config(tmp_path).read_text())["cluster"]
    cluster.update(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u",
                   sasl_password={"env": "MIGRATOR_TEST_PASSWORD"})
    code, text = _invoke("inventory", "--config", str(_config(tmp_path, cluster=cluster)))
    assert code == 2 and "MIGRATOR_TEST_PASSWORD" in text
