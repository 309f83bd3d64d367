"""`migrator`: one command per verb. Commands only parse, call and render; the work is elsewhere."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="migrator",
    help="Move a live ZooKeeper-mode Kafka fleet onto Kubernetes under Strimzi, phase by phase.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Registered after `app` exists: the command modules import nothing from here but are wired here.
from migrator.cli import clients as _clients  # noqa: E402
from migrator.cli import demo as _demo  # noqa: E402
from migrator.cli import inventory as _inventory  # noqa: E402
from migrator.cli import metrics as _metrics  # noqa: E402
from migrator.cli import migration as _migration  # noqa: E402
from migrator.cli import sandbox as _sandbox  # noqa: E402
from migrator.cli import watch as _watch  # noqa: E402

_migration.register(app)
app.command()(_demo.demo)
app.command()(_watch.watch)
app.add_typer(_clients.app, name="clients")
app.add_typer(_inventory.app, name="inventory")
app.add_typer(_metrics.app, name="metrics")
app.add_typer(_sandbox.app, name="sandbox")


def main() -> None:
    app()
