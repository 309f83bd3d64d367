"""Which brokers of a mixed cluster are the VM brokers and which the Kubernetes (target) brokers.

    ids = kubernetes_ids(config.target.node_id_candidates, joined=[1000, 1001, 1002])   # the join's record, else the range
    envs = read_environments(zk, ids)        # Environments(vm=(0, 1, 2), kubernetes=(1000, 1001, 1002))
    placement(zk, envs)                      # replicas and leaders per environment, for progress

A Kubernetes broker is one whose ID the target's node pool was given: the IDs the join recorded from
the pool's status, or, before that record exists (a dry run), any ID of the configured node-ID range.
Every other broker that is registered, or still named in a replica list while down, is a VM broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from migrator.clients.zk import ZooKeeper

Environment = Literal["vm", "kubernetes"]
ENVIRONMENTS: tuple[Environment, ...] = ("vm", "kubernetes")


@dataclass(frozen=True)
class Environments:
    vm: tuple[int, ...]
    kubernetes: tuple[int, ...]

    def of(self, broker: int) -> Environment | None:
        if broker in self.kubernetes:
            return "kubernetes"
        return "vm" if broker in self.vm else None

    def to_json(self) -> dict[str, list[int]]:
        return {"vm": list(self.vm), "kubernetes": list(self.kubernetes)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Environments:
        return cls(tuple(int(b) for b in data["vm"]), tuple(int(b) for b in data["kubernetes"]))


def kubernetes_ids(node_id_range: Iterable[int], joined: Iterable[int] | None = None) -> set[int]:
    """The target's broker IDs: those the join recorded (the pool's status.nodeIds), else the whole
    configured range (target.node_id_candidates)."""
    return set(joined) if joined is not None else set(node_id_range)


def split_brokers(registered: Iterable[int], replica_holders: Iterable[int], kubernetes: Iterable[int]) -> Environments:
    """Registered Kubernetes IDs on one side; every other broker that is registered or holds replicas
    (a VM broker that is down still owns them) on the other."""
    k8s = set(kubernetes)
    live = set(registered)
    return Environments(
        vm=tuple(sorted((live | set(replica_holders)) - k8s)),
        kubernetes=tuple(sorted(live & k8s)),
    )


def read_environments(zk: ZooKeeper, kubernetes: Iterable[int]) -> Environments:
    holders = {b for t in zk.topics().values() for replicas in t.get("partitions", {}).values() for b in replicas}
    return split_brokers(zk.broker_ids(), holders, kubernetes)


def placement(zk: ZooKeeper, envs: Environments) -> dict[str, dict[str, int]]:
    """Replicas and leaders per environment ("other": a broker of neither, e.g. a leader of -1 is none)."""
    topics = zk.topics()
    keys = [(t, int(p)) for t, data in topics.items() for p in data.get("partitions", {})]
    states = zk.partition_states(keys)
    counts = {env: {"replicas": 0, "leaders": 0} for env in ENVIRONMENTS}
    for topic, data in topics.items():
        for p, replicas in data.get("partitions", {}).items():
            for b in replicas:
                if (env := envs.of(b)) is not None:
                    counts[env]["replicas"] += 1
            leader = (states.get((topic, int(p))) or {}).get("leader", -1)
            if (env := envs.of(leader)) is not None:
                counts[env]["leaders"] += 1
    return counts
