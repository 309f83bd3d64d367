"""Rendering shared by every CLI command: table (rich), json or yaml, and one-paragraph errors."""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Any

import typer
import yaml
from rich.console import Console, RenderableType

from migrator.errors import MigratorError

console = Console()
err_console = Console(stderr=True)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"


OutputOption = typer.Option(OutputFormat.table, "--output", "-o", help="table, json or yaml")


def emit(data: Any, output: OutputFormat, table: RenderableType | None = None) -> None:
    """Print `data` as JSON/YAML, or the given rich table (or text) for humans."""
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    elif output is OutputFormat.yaml:
        sys.stdout.write(yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False))
    elif table is not None:
        console.print(table)
    else:
        console.print_json(json.dumps(data, default=str))


def fail(error: MigratorError, output: OutputFormat = OutputFormat.table) -> "typer.Exit":
    """Print the error paragraph and return the Exit carrying its code (see migrator.errors: 1 failed,
    2 bad input, 3 paused on a safety gate, 4 paused by the operator). With --output json or yaml the
    error is an object on stdout, {"error": {"message", "exit_code", "kind"}}, so a script can parse it."""
    if output is OutputFormat.table:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
    else:
        emit({"error": {"message": str(error), "exit_code": error.exit_code, "kind": type(error).__name__}}, output)
    return typer.Exit(code=error.exit_code)
