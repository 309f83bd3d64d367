"""`migrator metrics serve`, and the --metrics-port option of the long-running verbs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from migrator.cli.output import err_console, fail
from migrator.config import load_config
from migrator.errors import MigratorError
from migrator.metrics.exporter import DEFAULT_PORT, DEFAULT_SAMPLE_SECONDS, Exporter
from migrator.session import Session
from phases import step_layout
from phases.mixed_cluster_join import kubernetes_node_ids

app = typer.Typer(help="The migrator's Prometheus metrics (kafka_migration_*).", no_args_is_help=True)

MetricsPortOption = typer.Option(
    None,
    "--metrics-port",
    envvar="MIGRATOR_METRICS_PORT",
    min=0,
    max=65535,
    help=f"serve Prometheus metrics on this port while the command runs (e.g. {DEFAULT_PORT}; 0: any free port)",
)


def exporter_for(session: Session, **options: Any) -> Exporter:
    """The exporter of `session`'s migration, told by the phases what their steps are and which
    brokers are on Kubernetes."""
    return Exporter(session.config, session.machine.store, step_layout(session.config), kubernetes_node_ids, **options)


@contextmanager
def serving(session: Session, port: int | None) -> Iterator[Exporter | None]:
    """The exporter for one command, subscribed to its session's events; nothing when `port` is None."""
    if port is None:
        yield None
        return
    with exporter_for(session, events=session.events) as exporter:
        exporter.serve(port)
        err_console.print(f"[dim]metrics on http://0.0.0.0:{exporter.port}/metrics[/]", highlight=False)
        yield exporter


@app.command()
def serve(
    config: Path = typer.Option(Path("migration.yaml"), "--config", "-c", help="path of migration.yaml"),
    port: int = typer.Option(DEFAULT_PORT, "--port", min=0, max=65535, help="port to serve /metrics on"),
    address: str = typer.Option("0.0.0.0", "--address", help="address to listen on"),
    sample_seconds: float = typer.Option(
        DEFAULT_SAMPLE_SECONDS, "--sample-seconds", min=1, help="how often to read the cluster and the DNS facade"
    ),
) -> None:
    """Serve the migration's metrics from its checkpoint and the live cluster until interrupted
    (for a Prometheus that watches a migration driven from elsewhere)."""
    try:
        session = Session.open(load_config(config))
        with exporter_for(session, sample_seconds=sample_seconds) as exporter:
            exporter.serve(port, address)
            err_console.print(f"serving metrics on http://{address}:{exporter.port}/metrics (Ctrl-C stops)", highlight=False)
            threading.Event().wait()
    except MigratorError as error:
        raise fail(error) from None
    except KeyboardInterrupt:
        pass
