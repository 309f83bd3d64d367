"""`migrator watch`: the dashboard's numbers live in the terminal (rich; plain enough for ssh).

It reads what `migrator metrics serve` reads: the checkpoint, and the cluster and DNS facade every
few seconds. The move's bytes come from what the mover last recorded in the checkpoint (a batch
boundary); live per-poll progress is on the exporter of the process that runs the move.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta
from pathlib import Path

import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from migrator.cli.metrics import exporter_for
from migrator.cli.output import OutputFormat, OutputOption, console, emit, fail
from migrator.config import load_config
from migrator.errors import MigratorError
from migrator.metrics.environments import ENVIRONMENTS
from migrator.metrics.readings import Readings
from migrator.session import Session

_STATE_STYLE = {"done": "green", "running": "cyan", "paused": "yellow", "failed": "red", "rolling_back": "magenta"}


def watch(
    config: Path = typer.Option(Path("migration.yaml"), "--config", "-c", help="path of migration.yaml"),
    interval: float = typer.Option(2.0, "--interval", min=0.5, help="seconds between refreshes (and cluster reads)"),
    once: bool = typer.Option(False, "--once", help="read once, print, and exit"),
    output: OutputFormat = OutputOption,
) -> None:
    """Watch the migration live: phases, where leaders and replicas are, data moved with ETA, health,
    throttles, DNS facade targets and pauses. Ctrl-C stops watching (it changes nothing)."""
    try:
        session = Session.open(load_config(config))
        exporter = exporter_for(session, sample_seconds=interval)
        with exporter:
            if once or output is not OutputFormat.table:
                if exporter.sampler is not None:
                    exporter.sampler.sample_once()
                readings = exporter.readings()
                emit(readings.to_dict(), output, render(readings, session.config.migration_id))
                return
            exporter.start_sampling()
            with Live(console=console, refresh_per_second=4, auto_refresh=False) as live:
                while True:
                    live.update(render(exporter.readings(), session.config.migration_id), refresh=True)
                    time.sleep(interval)
    except MigratorError as error:
        raise fail(error) from None
    except KeyboardInterrupt:
        pass


def render(readings: Readings, migration_id: str) -> RenderableType:
    return Group(
        _header(readings, migration_id),
        _phases(readings),
        _placement(readings),
        _movement(readings),
        _health(readings),
        _facade(readings),
    )


def _header(readings: Readings, migration_id: str) -> Text:
    passed = readings.value("kafka_migration_point_of_no_return_passed", 0.0)
    ponr = Text("POINT OF NO RETURN PASSED", style="bold red") if passed else Text("every phase can roll back", style="green")
    sampled = readings.value("kafka_migration_cluster_sample_timestamp_seconds")
    age = f"cluster read {time.time() - sampled:.0f} s ago" if sampled else "cluster not read yet"
    failures = readings.value("kafka_migration_cluster_sample_failures_total", 0.0) or 0.0
    failed = f", {failures:.0f} failed reads" if failures else ""
    return Text.assemble((f"Migration {migration_id}", "bold"), "  ", ponr, f"  ({age}{failed})")


def _phases(readings: Readings) -> Table:
    table = Table(title="Phases", title_justify="left", expand=True)
    for column in ("#", "phase", "state", "steps"):
        table.add_column(column)
    order = sorted(readings.all("kafka_migration_phase_order"), key=lambda r: r.value)
    pauses = {r.labels["phase"]: r.labels["reason"] for r in readings.all("kafka_migration_pause_info")}
    for reading in order:
        phase = reading.labels["phase"]
        state = next((r.labels["state"] for r in readings.all("kafka_migration_phase_state", phase=phase) if r.value), "?")
        steps = []
        for step in readings.all("kafka_migration_step_state", phase=phase):
            if step.value:
                mark = " [bold red](no return)[/]" if step.labels["reversible"] == "false" else ""
                steps.append(f"{escape(step.labels['step'])}=[{_STATE_STYLE.get(step.labels['state'], 'dim')}]{step.labels['state']}[/]{mark}")
        note = f"\n[yellow]paused: {escape(pauses[phase])}[/]" if phase in pauses else ""
        table.add_row(f"{reading.value:.0f}", phase, f"[{_STATE_STYLE.get(state, 'dim')}]{state}[/]", ", ".join(steps) + note)
    return table


def _share_row(table: Table, what: str, readings: Readings, name: str) -> None:
    if not readings.all(name):
        table.add_row(what, "-", "-", "cluster not read yet", "")
        return
    counts = {env: readings.value(name, 0.0, env=env) or 0.0 for env in ENVIRONMENTS}
    total = sum(counts.values())
    share = counts["kubernetes"] / total if total else 0.0
    table.add_row(what, f"{counts['vm']:.0f}", f"{counts['kubernetes']:.0f}", ProgressBar(total=1.0, completed=share, width=30), f"{share:.0%}")


def _placement(readings: Readings) -> Table:
    table = Table(title="Where the data lives", title_justify="left", expand=True)
    for column in ("", "vm", "kubernetes", "share on kubernetes", ""):
        table.add_column(column)
    _share_row(table, "brokers", readings, "kafka_migration_brokers")
    _share_row(table, "leaders", readings, "kafka_migration_leaders")
    _share_row(table, "replicas", readings, "kafka_migration_replicas")
    return table


def _movement(readings: Readings) -> Table:
    planned = readings.value("kafka_migration_move_planned_bytes", 0.0) or 0.0
    moved = readings.value("kafka_migration_move_moved_bytes", 0.0) or 0.0
    rate = readings.value("kafka_migration_move_rate_bytes_per_second", 0.0) or 0.0
    eta = readings.value("kafka_migration_move_eta_seconds", math.nan)
    batch, batches = readings.value("kafka_migration_move_batch", 0.0), readings.value("kafka_migration_move_batches", 0.0)
    table = Table(title="Data movement", title_justify="left", expand=True, show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("moved", Group(ProgressBar(total=planned or 1.0, completed=moved, width=40), f"{_bytes(moved)} of {_bytes(planned)}"))
    eta_text = "unknown" if eta is None or math.isnan(eta) else str(timedelta(seconds=round(eta)))
    table.add_row("rate / ETA", f"{_bytes(rate)}/s, ETA {eta_text}")
    table.add_row("batch", f"{batch or 0:.0f} of {batches or 0:.0f}; {readings.value('kafka_migration_reassignments_in_flight', 0.0) or 0:.0f} reassignments in flight")
    throttles = [f"{r.labels['broker']} {r.labels['direction']} {_bytes(r.value)}/s" for r in readings.all("kafka_migration_throttle_rate_bytes_per_second") if r.value]
    table.add_row("throttles in force", ", ".join(throttles) or "none")
    return table


def _health(readings: Readings) -> Table:
    table = Table(title="Health", title_justify="left", expand=True)
    for column in ("under-replicated", "under min ISR", "offline", "canary p99", "canary errors", "paused phases"):
        table.add_column(column)
    figures = [readings.value(f"kafka_migration_{n}_partitions") for n in ("under_replicated", "under_min_isr", "offline")]
    table.add_row(
        *(("-" if v is None else f"[{'red' if v else 'green'}]{v:.0f}[/]") for v in figures),
        _canary_p99(readings),
        f"{readings.value('kafka_migration_canary_produce_errors_total', 0.0) or 0:.0f}",
        f"{readings.value('kafka_migration_paused_phases', 0.0) or 0:.0f}",
    )
    return table


def _canary_p99(readings: Readings) -> str:
    """The bucket bound under which 99% of the canary latencies fall (no data: -)."""
    buckets = sorted(
        ((float(r.labels["le"]), r.value) for r in readings.all("kafka_migration_canary_produce_latency_seconds_bucket")),
        key=lambda b: b[0],
    )
    total = buckets[-1][1] if buckets else 0.0
    bound = next((le for le, count in buckets if count >= 0.99 * total), None) if total else None
    return "-" if bound is None else f"<= {bound * 1000:g} ms"


def _facade(readings: Readings) -> Table:
    table = Table(title="DNS facade", title_justify="left", expand=True)
    for column in ("name", "answers", "environment"):
        table.add_column(column)
    by_name: dict[str, list[tuple[str, str]]] = {}
    for r in readings.all("kafka_migration_dns_facade_target_info"):
        by_name.setdefault(r.labels["name"], []).append((r.labels["target"], r.labels["env"]))
    for name, answers in sorted(by_name.items()):
        table.add_row(name, ", ".join(t for t, _ in sorted(answers)), ", ".join(sorted({e for _, e in answers})))
    if not by_name:
        table.add_row("-", "no facade name answers yet", "")
    return table


def _bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
