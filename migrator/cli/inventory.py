"""`migrator inventory`: what the cluster looks like right now (read-only)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Group
from rich.table import Table

from migrator.cli.output import OutputFormat, OutputOption, emit, fail
from migrator.cluster.inventory import read_inventory
from migrator.cluster.model import Inventory
from migrator.config import load_config
from migrator.errors import MigratorError

app = typer.Typer(help="Show brokers, topics, partition health, reassignments and throttles (read-only).")


@app.callback(invoke_without_command=True)
def inventory(
    config: Path = typer.Option(Path("migration.yaml"), "--config", "-c", help="path of migration.yaml"),
    output: OutputFormat = OutputOption,
) -> None:
    """Read the cluster named in the config and show its inventory."""
    try:
        found = read_inventory(load_config(config))
    except MigratorError as error:
        raise fail(error, output) from None
    emit(found.to_dict(), output, render(found))


def render(inventory: Inventory) -> Group:
    """The brokers table and the summary, for humans."""
    brokers = Table(title="Brokers")
    for column in ("id", "rack", "host:port", "replicas", "leaders", "bytes"):
        brokers.add_column(column, justify="right" if column in ("id", "replicas", "leaders", "bytes") else "left")
    replicas, leaders, sizes = inventory.replica_counts, inventory.leader_counts, inventory.bytes_per_broker
    for broker_id in replicas:
        broker = inventory.brokers.get(broker_id)
        brokers.add_row(
            str(broker_id) + ("" if broker else " (not registered)"),
            (broker.rack or "-") if broker else "-",
            broker.address if broker else "-",
            str(replicas[broker_id]),
            str(leaders.get(broker_id, 0)),
            _bytes(sizes.get(broker_id, 0)),
        )

    summary = Table(title="Summary", show_header=False)
    summary.add_column("what")
    summary.add_column("value", justify="right")
    for key, value in inventory.summary().items():
        summary.add_row(key.replace("_", " "), "-" if value is None else str(value))
    parts: list[Table] = [brokers, summary]

    if inventory.reassignments:
        moves = Table(title="Reassignments in flight")
        for column in ("partition", "replicas", "adding", "removing", "source"):
            moves.add_column(column)
        for r in inventory.reassignments:
            moves.add_row(f"{r.topic}-{r.partition}", _ids(r.replicas), _ids(r.adding), _ids(r.removing), r.source)
        parts.append(moves)
    if inventory.throttles:
        throttles = Table(title="Replication throttles")
        for column in ("scope", "entity", "config", "value", "source"):
            throttles.add_column(column, overflow="fold")
        for t in inventory.throttles:
            throttles.add_row(t.scope, t.entity, t.name, t.value, t.source)
        parts.append(throttles)
    return Group(*parts)


def _ids(ids: tuple[int, ...]) -> str:
    return ",".join(map(str, ids)) or "-"


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
