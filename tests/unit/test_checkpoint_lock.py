"""The lock that stops two processes from driving one migration."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.engine_fakes import scratch_directory

from migrator.engine.checkpoint import LocalFileStore
from migrator.engine.lock import BREAK_STALE_FLAG, LockInfo
from migrator.errors import BadInput


@pytest.fixture
def directory() -> Iterator[Path]:
    with scratch_directory() as scratch:
        yield scratch / "checkpoint"


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def plant_lock(directory: Path, pid: int, host: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    info = LockInfo(pid=pid, host=host, user="alice", started_at="2026-01-01T00:00:00+00:00", command="migrator run")
    (directory / "lock.json").write_text(json.dumps(info.to_dict()))


def test_the_lock_file_names_its_holder(directory: Path) -> None:
    store = LocalFileStore(directory)
    store.lock()
    content = json.loads((directory / "lock.json").read_text())

    assert content["pid"] == os.getpid()
    assert content["host"] == socket.gethostname()
    assert content["user"] and content["started_at"] and content["token"]
    assert store.lock_holder().pid == os.getpid()
    assert [p.name for p in directory.iterdir()] == ["lock.json"]
    store.unlock()
    assert store.lock_holder() is None and not (directory / "lock.json").exists()


def test_a_second_process_is_refused_and_told_who_holds_the_lock(directory: Path) -> None:
    first, second = LocalFileStore(directory), LocalFileStore(directory)
    with first.locked():
        with pytest.raises(BadInput) as refused:
            second.lock()
    message = str(refused.value)
    assert f"pid {os.getpid()}" in message and socket.gethostname() in message and "held by" in message
    second.lock()  # free again once the first released it
    second.unlock()


def test_a_stale_lock_is_broken_only_with_the_flag(directory: Path) -> None:
    pid = dead_pid()
    plant_lock(directory, pid, socket.gethostname())
    store = LocalFileStore(directory)

    with pytest.raises(BadInput) as refused:
        store.lock()
    assert "looks stale" in str(refused.value) and BREAK_STALE_FLAG in str(refused.value)
    assert store.lock_holder().pid == pid

    mine = store.lock(break_stale=True)
    assert store.lock_holder() == mine
    [entry] = store.read_journal()
    assert entry.event == "lock.broken" and entry.detail["stale_lock"]["pid"] == pid
    store.unlock()


def test_breaking_is_refused_while_the_holder_lives_or_runs_elsewhere(directory: Path) -> None:
    plant_lock(directory, os.getppid(), socket.gethostname())
    with pytest.raises(BadInput, match="held by alice@"):
        LocalFileStore(directory).lock(break_stale=True)

    plant_lock(directory, dead_pid(), "another-host.example")
    with pytest.raises(BadInput, match="If that process is gone on another-host.example, delete the lock file"):
        LocalFileStore(directory).lock(break_stale=True)


def test_unlock_never_removes_a_lock_another_process_took(directory: Path) -> None:
    store = LocalFileStore(directory)
    store.lock()
    plant_lock(directory, os.getppid(), socket.gethostname())  # someone broke ours and took it
    store.unlock()
    assert store.lock_holder().user == "alice"


def test_locked_releases_on_any_exit_and_nests(directory: Path) -> None:
    store = LocalFileStore(directory)
    with pytest.raises(KeyboardInterrupt):
        with store.locked():
            with store.locked():
                assert store.lock_holder() is not None
            assert store.lock_holder() is not None
            raise KeyboardInterrupt
    assert store.lock_holder() is None


def test_an_unwritable_directory_is_bad_input(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(BadInput, match="writable directory"):
        LocalFileStore(blocker / "checkpoint").lock()
