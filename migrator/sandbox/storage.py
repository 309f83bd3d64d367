"""Storage formatting: a KRaft node does not start on unformatted log dirs, and formatting needs the
cluster id (a new one for a KRaft sandbox, ZooKeeper's for nodes that join a ZooKeeper-mode cluster)."""

from __future__ import annotations

import base64
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path

from migrator.sandbox.nodes import BrokerProcess, SandboxError
from migrator.sandbox.process import JVM_OPTIONS

STORAGE_TOOL_HEAP = "128m"
_STORAGE_TOOL_TIMEOUT = 120.0


def new_cluster_id() -> str:
    """A new KRaft cluster id, as `kafka-storage random-uuid` prints one: a random UUID in base64url
    without padding (22 characters)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        # Kafka's Uuid.randomUuid() draws again for these too: a leading "-" reads as a command-line option.
        if not cluster_id.startswith("-"):
            return cluster_id


def format_storage(
    node: BrokerProcess, config: Mapping[str, object], cluster_id: str | None, java: str, jars: str, log4j: Path
) -> None:
    """`kafka-storage format` for a KRaft node whose log dirs lack meta.properties: a KRaft node does not
    start on unformatted storage. Dirs formatted already keep their data (--ignore-formatted)."""
    dirs = str(config["log.dirs"]).split(",")
    if "metadata.log.dir" in config:
        dirs.append(str(config["metadata.log.dir"]))
    if all((Path(d.strip()) / "meta.properties").exists() for d in dirs):
        return
    if cluster_id is None:
        raise SandboxError(
            f"Cannot format the storage of KRaft node {node.id}: the sandbox has no cluster id yet (its "
            "ZooKeeper-mode brokers create it on their first start)."
        )
    command = [
        java,
        f"-Xmx{STORAGE_TOOL_HEAP}",
        *JVM_OPTIONS,
        f"-Dlog4j.configuration=file:{log4j}",
        "-cp",
        jars,
        "kafka.tools.StorageTool",
        "format",
        "--cluster-id",
        cluster_id,
        "--config",
        str(node.config_path),
        "--ignore-formatted",
    ]
    try:
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=_STORAGE_TOOL_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise SandboxError(
            f"Formatting the storage of {node.name} (kafka.tools.StorageTool) took over "
            f"{_STORAGE_TOOL_TIMEOUT:.0f} s."
        ) from None
    output = result.stdout + result.stderr
    with open(node.log_path, "a") as log_file:  # the node's log tells the whole story of its start
        log_file.write(output)
    if result.returncode != 0:
        # The config dump and the stack frames are indented with tabs; the error is what is left.
        lines = [line for line in output.splitlines() if line.strip() and not line.startswith("\t")]
        quoted = "\n".join(lines[-15:])
        raise SandboxError(
            f"Formatting the storage of {node.name} (kafka.tools.StorageTool format) failed with exit code "
            f"{result.returncode}; its output (in {node.log_path}) ends:\n{quoted}"
        )
