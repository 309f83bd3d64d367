"""How the local platforms (source_platform and target kind: local) reach the sandbox without importing it.

The sandbox (migrator/sandbox) is the local rig of the tests, the bench and the demo; only they and the
CLI's sandbox and demo verbs import it (a contract in pyproject.toml). They hand the local platforms
what those need of it through `provide_sandbox` (the CLI does so when it starts), so a production
module never depends on the rig.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrator.errors import BadInput


@dataclass(frozen=True)
class SandboxHooks:
    #: The running sandbox kept in a folder (SandboxCluster.load): read afresh on every call, since
    #: another process may have changed it.
    load: Callable[[Path], Any]
    #: The loopback address a sandbox broker of that id listens on.
    broker_host: Callable[[int], str]
    #: What the sandbox starts a broker from: (id, rack, server.properties without the keys it writes).
    broker_spec: Callable[[int, "str | None", Mapping[str, str]], Any]


_provided: list[SandboxHooks] = []


def provide_sandbox(hooks: SandboxHooks) -> None:
    """Called once by whoever loaded the sandbox (the CLI, the tests); the last call wins."""
    _provided[:] = [hooks]


def sandbox_hooks() -> SandboxHooks:
    if not _provided:
        raise BadInput(
            "kind: local runs brokers in the local sandbox (`migrator sandbox up`), which this program has not "
            "loaded. Run the migration with the `migrator` command, or use kind ec2 or manual. Nothing was changed."
        )
    return _provided[0]
