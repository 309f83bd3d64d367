"""`migrator sandbox up|status|down`: a real local ZooKeeper-mode Kafka cluster to try the migrator on.

The cluster outlives `up` (its JVMs run detached); `status` and `down` find it again through
DIR/sandbox.json.
"""

from __future__ import annotations

import shutil
from itertools import cycle
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from migrator.cli.output import OutputFormat, OutputOption, emit, fail
from migrator.errors import BadInput, MigratorError
from migrator.platforms.local_sandbox import provide_sandbox
from migrator.sandbox.cluster import STATE_FILE, BrokerSpec, SandboxCluster
from migrator.sandbox.hooks import HOOKS

# The CLI is where the sandbox meets the local platforms (kind: local): loaded with this verb, handed to them.
provide_sandbox(HOOKS)

app = typer.Typer(
    help="A real local Kafka cluster (ZooKeeper mode, Kafka 3.9.1) to try the migrator on.",
    no_args_is_help=True,
)

DirOption = typer.Option(Path(".sandbox"), "--dir", help="Folder holding the sandbox's data, logs and state.")
RACKS = ("a", "b", "c")
DEFAULT_BROKERS = 3


@app.command()
def up(
    workdir: Path = DirOption,
    brokers: int | None = typer.Option(
        None, "--brokers", min=1, max=20, help=f"Brokers to start (ids 0..N-1, racks a,b,c); default {DEFAULT_BROKERS}."
    ),
    output: OutputFormat = OutputOption,
) -> None:
    """Start ZooKeeper and the brokers and write DIR/migration.yaml (a stopped sandbox keeps its data)."""
    try:
        cluster = _existing_or_new(workdir.resolve(), brokers)
        cluster.up()
        config = cluster.write_migration_config(cluster.workdir / "migration.yaml")
    except MigratorError as error:
        raise fail(error) from None
    details = _details(cluster)
    details["config"] = str(config)
    table = _table(cluster, title=f"Sandbox up: cluster {cluster.cluster_id}")
    emit(details, output, table)
    if output is OutputFormat.table:
        typer.echo(f"bootstrap servers: {cluster.bootstrap_servers}")
        typer.echo(f"zookeeper connect: {cluster.zookeeper_connect}")
        typer.echo(f"config:            {config}")
        typer.echo(f"stop it with:      migrator sandbox down --dir {cluster.workdir}")


@app.command()
def status(workdir: Path = DirOption, output: OutputFormat = OutputOption) -> None:
    """Which of the sandbox's processes are alive."""
    try:
        cluster = SandboxCluster.load(workdir)
    except MigratorError as error:
        raise fail(error) from None
    emit(_details(cluster), output, _table(cluster, title=f"Sandbox in {cluster.workdir}"))


@app.command()
def down(
    workdir: Path = DirOption,
    purge: bool = typer.Option(False, "--purge", help="Also delete DIR with all data and logs."),
    output: OutputFormat = OutputOption,
) -> None:
    """Stop every process of the sandbox (brokers with a controlled shutdown, then ZooKeeper)."""
    try:
        cluster = SandboxCluster.load(workdir)
        cluster.down()
    except MigratorError as error:
        raise fail(error) from None
    details = _details(cluster)
    if purge:
        shutil.rmtree(cluster.workdir)
        details["purged"] = True
    emit(details, output, _table(cluster, title="Sandbox stopped" + (" and purged" if purge else "")))


def _existing_or_new(workdir: Path, brokers: int | None) -> SandboxCluster:
    if not (workdir / STATE_FILE).exists():
        count = DEFAULT_BROKERS if brokers is None else brokers
        specs = [BrokerSpec(i, rack) for i, rack in zip(range(count), cycle(RACKS))]
        return SandboxCluster(workdir, specs, stop_at_exit=False)
    cluster = SandboxCluster.load(workdir)
    if brokers is not None and brokers != len(cluster.brokers):
        raise BadInput(
            f"The sandbox in {workdir} already has {len(cluster.brokers)} brokers, not {brokers}. Start it "
            f"as it is (leave out --brokers), or delete it with `migrator sandbox down --purge --dir {workdir}` "
            "and start a new one."
        )
    return cluster


def _details(cluster: SandboxCluster) -> dict[str, Any]:
    processes = [cluster.zookeeper, *cluster.brokers.values()]
    return {
        "dir": str(cluster.workdir),
        "cluster_id": cluster.cluster_id,
        "zookeeper_connect": cluster.zookeeper_connect,
        "bootstrap_servers": cluster.bootstrap_servers,
        "processes": [
            {
                "name": p.name,
                "pid": p.pid,
                "host": p.host,
                "port": p.port,
                "alive": p.running,
                "log": str(p.log_path),
            }
            for p in processes
        ],
    }


def _table(cluster: SandboxCluster, title: str) -> Table:
    table = Table(title=title)
    for column in ("process", "rack", "address", "pid", "alive"):
        table.add_column(column)
    table.add_row(
        cluster.zookeeper.name, "", cluster.zookeeper.address, str(cluster.zookeeper.pid or ""),
        _yes_no(cluster.zookeeper.running),
    )
    for broker in cluster.brokers.values():
        table.add_row(
            broker.name, broker.spec.rack or "", broker.address, str(broker.pid or ""), _yes_no(broker.running)
        )
    table.caption = f"logs: {cluster.workdir}/<process>/*.log"
    return table


def _yes_no(alive: bool) -> str:
    return "[green]yes[/]" if alive else "[red]no[/]"
