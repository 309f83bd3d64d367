"""Shared setup of the native mover's cluster tests, and the child process the kill test SIGKILLs.

    python -m tests.cluster.native_mover_support <migration.yaml> <plan.json>

runs the one-step phase `move-test` (the MoveReplicas step) with the real step machine and the
checkpoint store the config names, as `migrator run` would.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from migrator.clients.kafka import KafkaAdmin
from migrator.clients.zk import ZooKeeper
from migrator.cluster.inventory import read_inventory
from migrator.cluster.model import Throttle
from migrator.cluster.throttles import read_throttles
from migrator.config import MigrationConfig, load_config
from migrator.engine.checkpoint import LocalFileStore
from migrator.engine.events import Event, EventBus
from migrator.engine.machine import Machine
from migrator.engine.phase import Phase
from migrator.engine.step import StepContext
from migrator.movers.native import MoveReplicas, planner_view
from migrator.movers.plan import BatchLimits, MovePlan
from migrator.movers.planner import plan_mapping
from migrator.sandbox.cluster import SandboxCluster
from tests.waiting import unique, wait_for  # noqa: F401  (the mover tests import both from here)

PHASE = "move-test"






def write_config(cluster: SandboxCluster, directory: Path, **movement: Any) -> MigrationConfig:
    """migration.yaml for the cluster with a `movement:` section; the checkpoint lives beside it."""
    path = cluster.write_migration_config(directory / "migration.yaml")
    data = yaml.safe_load(path.read_text())
    data["movement"] = movement
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path)


def create_topic(
    cluster: SandboxCluster,
    name: str,
    partitions: int,
    replication: int = 3,
    mb: float = 0.0,
    assignment: list[list[int]] | None = None,
) -> None:
    """A topic whose partitions all have leaders, filled with about `mb` megabytes of 1 kB records;
    `assignment` (replicas per partition) instead of `replication` places its replicas."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    # confluent-kafka 2.x wants the partition count beside an assignment, not the replication factor.
    topic = (
        NewTopic(name, partitions, replica_assignment=assignment)
        if assignment
        else NewTopic(name, partitions, replication)
    )
    admin.create_topics([topic], operation_timeout=30)[name].result()
    wait_for(
        lambda: (t := admin.list_topics(name, timeout=10).topics.get(name)) is not None
        and len(t.partitions) == partitions
        and all(p.leader >= 0 for p in t.partitions.values()),
        f"leaders of {name}",
    )
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all", "linger.ms": 20})
    for i in range(int(mb * 1024)):
        producer.produce(name, key=str(i).encode(), value=b"m" * 1024)
        if i % 500 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0


def mapping_plan(
    config: MigrationConfig, topics: list[str], mapping: dict[int, int], moves_per_broker: int
) -> MovePlan:
    view = planner_view(read_inventory(config), topics)
    return plan_mapping(view, mapping, BatchLimits(max_moves_per_broker=moves_per_broker))


def assignment(config: MigrationConfig, topics: list[str]) -> dict[tuple[str, int], tuple[int, ...]]:
    with ZooKeeper.from_config(config.cluster) as zk:
        data = zk.topics(topics)
    return {(t, int(p)): tuple(r) for t, d in data.items() for p, r in d["partitions"].items()}


def throttles(config: MigrationConfig, brokers: list[int], topics: list[str]) -> set[Throttle]:
    with KafkaAdmin(config.cluster) as admin:
        return set(read_throttles(admin, brokers, topics))


def in_flight(config: MigrationConfig) -> set[tuple[str, int]]:
    with KafkaAdmin(config.cluster) as admin:
        return set(admin.list_partition_reassignments())


class Recorder:
    """Collects the events a run publishes."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.bus = EventBus()
        self.bus.subscribe(self.events.append)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.kind == kind]


def move_phase() -> Phase:
    return Phase(PHASE, [MoveReplicas()])


def machine(config: MigrationConfig) -> Machine:
    return Machine(LocalFileStore(config.checkpoint.path), config.migration_id, break_stale_lock=True)


def context(config: MigrationConfig, plan: MovePlan, bus: EventBus) -> StepContext:
    return StepContext(config=config, state={MoveReplicas.plan_key: plan.to_dict()}, events=bus)


def mover_state(config: MigrationConfig) -> dict[str, Any]:
    """The mover's memory as the checkpoint holds it ({} before the first save)."""
    loaded = LocalFileStore(config.checkpoint.path).load()
    if loaded is None or PHASE not in loaded.checkpoint.phases:
        return {}
    return loaded.checkpoint.phases[PHASE].state.get(MoveReplicas.memory_key) or {}


def _child(config_path: str, plan_path: str) -> None:
    config = load_config(Path(config_path))
    plan = MovePlan.from_dict(json.loads(Path(plan_path).read_text()))
    machine(config).run(move_phase(), context(config, plan, EventBus()))


if __name__ == "__main__":
    _child(*sys.argv[1:3])
