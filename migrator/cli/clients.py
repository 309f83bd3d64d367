"""`migrator clients scan`: find client configs that name brokers directly, and rewrite them to the
facade names as one patch per repository (the material for batch pull requests)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from migrator.cli.output import OutputFormat, OutputOption, emit, err_console, fail
from migrator.config import MigrationConfig, load_config
from migrator.dns.clients_scan import BrokerHost, FacadeName, Finding, facade_pattern, rewrite, scan
from migrator.errors import BadInput, MigratorError

app = typer.Typer(no_args_is_help=True)


@app.callback()
def clients() -> None:
    """Client adoption of the DNS facade: find and rewrite configs that name brokers directly."""


def parse_hosts(text: str, default_port: int) -> list[BrokerHost]:
    """'0=kafka1.example.com:9092,1=kafka2.example.com' -> brokers (port defaults to `default_port`)."""
    brokers = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        broker_id, _, address = item.partition("=")
        host, _, port = address.rpartition(":") if ":" in address else (address, "", str(default_port))
        if not broker_id.strip().isdigit() or not host or not port.isdigit():
            raise BadInput(
                f"--hosts entry {item!r} is not ID=HOST or ID=HOST:PORT (e.g. 0=kafka1.example.com:9092). "
                "Fix the list and run again."
            )
        brokers.append(BrokerHost(int(broker_id), host, int(port)))
    if not brokers:
        raise BadInput("--hosts is empty; give ID=HOST[:PORT] entries separated by commas.")
    return brokers


def _brokers(config: MigrationConfig | None, hosts: str | None, port: int) -> list[BrokerHost]:
    if hosts:
        return parse_hosts(hosts, port)
    if config is None:
        raise BadInput(
            "Say which broker hosts to look for: --config migration.yaml reads them from the live cluster, "
            "--hosts ID=HOST[:PORT],... gives them offline."
        )
    from migrator.dns.steps import inventory_from_cluster

    return [BrokerHost(b.id, b.host, b.port) for b in inventory_from_cluster(config)]


def _facade(config: MigrationConfig | None, pattern: str | None) -> FacadeName | None:
    if pattern:
        try:
            return facade_pattern(pattern)
        except ValueError as exc:
            raise BadInput(f"--facade-pattern: {exc}, e.g. 'kafka-{{id}}.example.com'.") from None
    if config is not None and config.dns is not None:
        dns = config.dns
        return lambda broker_id: dns.broker_name(broker_id).rstrip(".")
    return None


def _table(findings: list[Finding]) -> Table:
    table = Table(title=f"{len(findings)} places name a broker directly")
    for column in ("where", "broker", "found", "facade name"):
        table.add_column(column, overflow="fold")
    for f in findings:
        table.add_row(f"{f.path}:{f.line}:{f.column}", str(f.broker), f.match, f.replacement or "-")
    return table


@app.command("scan")
def scan_command(
    paths: list[Path] = typer.Argument(None, help="Files or folders to scan (default: dns.client_scan.paths)."),
    hosts: str | None = typer.Option(None, "--hosts", help="ID=HOST[:PORT],... instead of the live inventory."),
    port: int = typer.Option(9092, "--port", help="Port of --hosts entries that name none."),
    pattern: str | None = typer.Option(None, "--facade-pattern", help="e.g. 'kafka-{id}.example.com' (default: from the config)."),
    config_path: Path | None = typer.Option(None, "--config", "-c", help="migration.yaml (live brokers, facade names, paths)."),
    do_rewrite: bool = typer.Option(False, "--rewrite", help="Rewrite the findings to the facade names as patches."),
    patch_dir: Path | None = typer.Option(None, "--patch-dir", help="Where --rewrite writes one patch per repository."),
    in_place: bool = typer.Option(False, "--in-place", help="With --rewrite: also change the files themselves."),
    output: OutputFormat = OutputOption,
) -> None:
    """Find bootstrap strings that name the current brokers directly; with --rewrite, produce patches."""
    try:
        config = load_config(config_path) if config_path else None
        brokers = _brokers(config, hosts, port)
        facade = _facade(config, pattern)
        roots = list(paths or (config.dns.client_scan.paths if config and config.dns else []))
        if not roots:
            raise BadInput("Give the paths to scan (or list them under dns.client_scan.paths in the config).")
        if (do_rewrite or in_place) and facade is None:
            raise BadInput("--rewrite needs the facade names: give --facade-pattern, or --config with a dns: section.")
        if do_rewrite and patch_dir is None and not in_place:
            raise BadInput("--rewrite writes patches: give --patch-dir DIR (and --in-place to also change the files).")
        if in_place and not do_rewrite:
            raise BadInput("--in-place only applies with --rewrite; nothing was changed.")
        findings = scan(roots, brokers, facade)
        patch_of: dict[Path, Path] = {}
        if do_rewrite and findings:
            assert facade is not None
            for patch in rewrite(roots, brokers, facade, patch_dir, in_place=in_place):
                patch_of.update({f.resolve(): patch.path for f in patch.files if patch.path})
                where = f"patch {patch.path}" if patch.path else "in place"
                err_console.print(f"{patch.root}: {len(patch.files)} file(s) rewritten ({where})", highlight=False)
    except MigratorError as error:
        raise fail(error) from None
    rows = [f.to_json() | ({"patch": str(patch_of[f.path.resolve()])} if f.path.resolve() in patch_of else {}) for f in findings]
    emit(rows, output, _table(findings))
