"""`migrator demo`: a migration on the embedded local cluster under load, with the workload report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from migrator.cli.metrics import MetricsPortOption, serving
from migrator.cli.output import OutputFormat, OutputOption, emit, err_console, fail
from migrator.demo import run_demo
from migrator.errors import MigratorError


def demo(
    workdir: Path = typer.Option(None, "--workdir", help="keep the sandbox's data and logs here (default: a temp dir)"),
    seconds: float = typer.Option(10.0, "--seconds", min=1, help="at least this long under load"),
    rate: float = typer.Option(200.0, "--rate", min=1, help="messages per second the workload produces"),
    metrics_port: int | None = MetricsPortOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Start the local sandbox, run the phases under continuous produce/consume load, report loss."""
    try:
        result = run_demo(
            workdir=workdir,
            min_load_seconds=seconds,
            rate_per_s=rate,
            on_progress=lambda line: err_console.print(f"[dim]demo[/] {line}", highlight=False),
            metrics=lambda session: serving(session, metrics_port),
        )
    except MigratorError as error:
        raise fail(error, output) from None
    table = Table(title="Demo: what the clients saw", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for key in ("produced", "acknowledged", "consumed", "lost", "duplicated", "out_of_order", "produce_p99_ms"):
        table.add_row(key, str(result.workload.get(key)))
    for name, status in result.phases.items():
        table.add_row(f"phase {name}", status)
    emit(result.to_dict(), output, table)
    if not result.ok:
        raise typer.Exit(code=1)
