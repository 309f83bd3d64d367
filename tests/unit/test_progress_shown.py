"""Progress a long step reports is kept in the checkpoint (for `migrator status` in another process)
and drawn as a bar with bytes, rate and ETA."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from tests.unit.engine_fakes import FakeClock, FakeSystem, KeyStep, context_with_events, scratch_directory

from migrator.cli.progress import ProgressBars, progress_line
from migrator.engine.checkpoint import LocalFileStore
from migrator.engine.events import Event
from migrator.engine.machine import Machine
from migrator.engine.phase import Phase

FIGURES = [
    {"bytes_total": 4_000_000_000, "bytes_moved": 0, "partitions_total": 8, "partitions_done": 0, "rate_bytes_per_second": None, "eta_seconds": None},
    {"bytes_total": 4_000_000_000, "bytes_moved": 1_000_000_000, "partitions_total": 8, "partitions_done": 2, "rate_bytes_per_second": 20_000_000.0, "eta_seconds": 150.0, "batch": 1, "batches_total": 4},
]


@pytest.fixture
def store() -> Iterator[LocalFileStore]:
    with scratch_directory() as directory:
        yield LocalFileStore(directory / "checkpoint")


def test_the_last_progress_of_a_step_is_in_the_checkpoint_while_it_runs(store) -> None:
    system, clock = FakeSystem(), FakeClock()
    step = KeyStep(system, "move-replicas", {"a": 1})
    seen_by_status: list[dict | None] = []
    ctx, _ = context_with_events()

    def move() -> None:
        for figures in FIGURES:
            ctx.events.emit("progress", "demo", "move-replicas", **figures)
            # What `migrator status` in another process reads now:
            seen_by_status.append(LocalFileStore(store.directory).load().checkpoint.phases["demo"].step("move-replicas").progress)

    step.hooks["apply"] = move
    Machine(store, "m", sleep=clock.sleep, monotonic=clock.monotonic).run(Phase("demo", [step]), ctx)
    assert [p["bytes_moved"] for p in seen_by_status] == [0, 1_000_000_000]
    assert seen_by_status[-1]["eta_seconds"] == 150.0 and "at" in seen_by_status[-1]


def test_the_progress_line_shows_bytes_rate_and_eta() -> None:
    line = progress_line(FIGURES[1])
    assert line == "1.0 GB of 4.0 GB (25%), 20.0 MB/s, ETA 2m30s, 2/8 partitions, batch 1/4"
    assert "rate unknown yet" in progress_line(FIGURES[0]) and "ETA unknown" in progress_line(FIGURES[0])


def test_the_bar_follows_the_progress_events() -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=False)
    bars = ProgressBars(Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[line]}"), console=console))
    for figures in FIGURES:
        bars.on_event(Event("progress", "broker-id-shift", "move-replicas", figures))
    bars.on_event(Event("step.done", "broker-id-shift", "move-replicas", {}))
    (task,) = bars.progress.tasks
    assert task.total == 4_000_000_000 and task.completed == 1_000_000_000
    bars.close()
    assert "20.0 MB/s" in out.getvalue() and "ETA 2m30s" in out.getvalue()
