"""Everything `migrator sandbox up` adds to the bare cluster so that each built phase runs from the CLI
against it, runbook commands verbatim: VM brokers prepared for the mixed-cluster join (the client
listener named as Strimzi names the target's first listener, and a shared inter-broker listener), a
BIND primary for the DNS facade (detached, like the brokers, and stopped by `sandbox down`), and a
migration.yaml naming the local source and target platforms and the ID settings.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import yaml

from migrator.config import MigrationConfig
from migrator.errors import MigratorError
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster
from migrator.sandbox.dns_server import DnsServer
from migrator.sandbox.ports import broker_host, free_shared_port

ZONE = "sandbox.test."
DNS_STATE = "dns.json"
#: The broker-ID shift moves broker N to N + ID_OFFSET; the join's node pool takes ids from NEW_NODE_IDS.
ID_OFFSET = 100
NEW_NODE_IDS = "[1000-1999]"
TARGET_REPLICAS = 3
#: As Strimzi names the listener of target.listeners[0] (plain, 9092).
CLIENT_LISTENER = "PLAIN-9092"


def shared_listener_port(broker_ids: list[int]) -> int:
    """A port free on the VM brokers' addresses, the shifted ones' and the target's first ones'."""
    ids = [*broker_ids, *(b + ID_OFFSET for b in broker_ids), *range(1000, 1000 + TARGET_REPLICAS)]
    return free_shared_port([broker_host(i) for i in ids])


def listener_config(shared_port: int) -> dict[str, str]:
    """server.properties of every VM broker, the shifted ones included ({host} and {port} filled in per broker)."""
    shared = f"SHARED-{shared_port}"
    return {
        "listeners": f"{CLIENT_LISTENER}://{{host}}:{{port}},{shared}://{{host}}:{shared_port}",
        "listener.security.protocol.map": f"{CLIENT_LISTENER}:PLAINTEXT,{shared}:PLAINTEXT",
        "inter.broker.listener.name": shared,
    }


def prepared_brokers(broker_ids: list[int], racks: list[str | None], shared_port: int) -> list[BrokerSpec]:
    config = listener_config(shared_port)
    return [BrokerSpec(i, rack, dict(config)) for i, rack in zip(broker_ids, racks)]


def shared_port_of(cluster: SandboxCluster) -> int | None:
    listeners = next(iter(cluster.brokers.values())).spec.config.get("listeners", "")
    for listener in listeners.split(","):
        if listener.startswith("SHARED-"):
            return int(listener.rsplit(":", 1)[1])
    return None


# ----------------------------------------------------------------------------------- DNS server


def dns_up(workdir: Path) -> dict[str, Any]:
    """The sandbox's BIND primary, started unless it still runs; returns the config's dns: section."""
    state_path = workdir / "dns" / DNS_STATE
    if state_path.exists():
        state = json.loads(state_path.read_text())
        if _named_alive(state["pid"]):
            return state["section"]
    server = DnsServer(workdir / "dns", ZONE, nameservers=("ns1", "ns2")).up()
    assert server._process is not None  # up() returned: named runs
    # Both NS names point at the one primary: verification then asks "every authoritative server".
    section = server.config_section([server, server], ttl_seconds=5) | {"client_scan": {"confirmed": True}}
    state_path.write_text(json.dumps({"pid": server._process.pid, "section": section}, indent=2) + "\n")
    return section


def dns_down(workdir: Path, grace: float = 10.0) -> bool:
    """Stop the sandbox's BIND if it runs; True when one was stopped."""
    state_path = workdir / "dns" / DNS_STATE
    if not state_path.exists():
        return False
    pid = json.loads(state_path.read_text())["pid"]
    if not _named_alive(pid):
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _named_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _named_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    return True


def _named_alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return b"named" in cmdline and status != "Z"


# ------------------------------------------------------------------------------- migration.yaml


def write_rehearsal_config(cluster: SandboxCluster, path: Path, dns: dict[str, Any]) -> Path:
    """migration.yaml with which every built phase runs against this sandbox."""
    path = cluster.write_migration_config(path)
    data = yaml.safe_load(path.read_text())
    shared_port = shared_port_of(cluster)
    if shared_port is None:
        raise MigratorError(
            f"The sandbox in {cluster.workdir} was made before its brokers got the shared listener the "
            f"mixed-cluster join needs; delete it (`migrator sandbox down --purge --dir {cluster.workdir}`) and "
            "run `migrator sandbox up` again."
        )
    ids = sorted(cluster.brokers)
    # Clients bootstrap from the shifted brokers too once the old ones are retired.
    data["cluster"]["bootstrap_servers"] += "," + ",".join(f"{broker_host(b + ID_OFFSET)}:{cluster.broker_port}" for b in ids)
    data["dns"] = dns
    data["source_platform"] = {
        "kind": "local",
        "local": {"sandbox_dir": str(cluster.workdir)},
        "server_properties": listener_config(shared_port),
    }
    data["broker_id_shift"] = {"id_offset": ID_OFFSET}
    data["target"] = {
        "kind": "local",
        "cluster_name": "sandbox",
        "replicas": TARGET_REPLICAS,
        "node_ids": NEW_NODE_IDS,
        "listeners": [{"name": "plain", "port": 9092}],
        "shared_listener": {"name": "shared", "port": shared_port},
        "rack_topology_key": "topology.kubernetes.io/zone",
    }
    MigrationConfig.model_validate(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
