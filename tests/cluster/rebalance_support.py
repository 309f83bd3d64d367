"""The rig of phase 4's cluster tests, and the child process the kill -9 test kills.

    python -m tests.cluster.rebalance_support <migration.yaml>

runs phase cruise-control-rebalance up to move-replicas with the real step machine and checkpoint
store, as `migrator run` would.

The rig: three VM brokers (racks a, b, c) prepared with the shared listener, a BIND serving the facade,
phases dns-facade and mixed-cluster-join done with the `local` target (sandbox brokers 1000-1002 set up
as the forked operator would set up pods).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from migrator.config import MigrationConfig, load_config
from migrator.engine.checkpoint import LocalFileStore
from migrator.engine.events import EventBus
from migrator.engine.machine import Machine
from migrator.engine.step import StepContext
from migrator.sandbox.cluster import SandboxCluster
from migrator.sandbox.dns_server import DnsServer
from phases import build_phase
from tests.cluster.test_join_local import local_target_section

PHASE = "cruise-control-rebalance"
VM = (0, 1, 2)
K8S = (1000, 1001, 1002)


def write_config(cluster: SandboxCluster, dns: DnsServer, directory: Path, shared_port: int) -> Path:
    path = cluster.write_migration_config(directory / "migration.yaml", migration_id="rebalance")
    data = yaml.safe_load(path.read_text())
    data["source_platform"] = {"kind": "local", "local": {"sandbox_dir": str(cluster.workdir)}, "register_timeout_seconds": 120}
    data["dns"] = dns.config_section([dns] * len(dns.nameservers), ttl_seconds=1) | {"client_scan": {"confirmed": True}}
    data["target"] = local_target_section(len(K8S), shared_port)
    data["cruise_control_rebalance"] = {
        "mover": "native",
        "brokers_per_batch": 2,  # brokers 0 and 1, then 2: every partition moves in both groups
        # Small data, a slow throttle: each batch lasts long enough to be interrupted.
        "movement": {
            "throttle_bytes_per_second": 1_000_000,
            "max_moves_per_broker": 3,
            "poll_interval_seconds": 0.5,
            "safety_interval_seconds": 2,
            "progress_interval_seconds": 1,
        },
        "health_gate": {"healthy_for_seconds": 5, "check_interval_seconds": 1, "max_pause_seconds": 300},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def machine(config: MigrationConfig) -> Machine:
    return Machine(LocalFileStore(config.checkpoint.path), config.migration_id, break_stale_lock=True)


def context(config: MigrationConfig, bus: EventBus | None = None) -> StepContext:
    return StepContext(config=config, state={}, events=bus or EventBus())


def _child(config_path: str) -> None:
    config = load_config(Path(config_path))
    machine(config).run(build_phase(PHASE, config), context(config), until="move-replicas")


if __name__ == "__main__":
    _child(sys.argv[1])
