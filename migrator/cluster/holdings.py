"""What ZooKeeper says a set of brokers still holds, and what still names them.

    holdings(zk, [0, 1, 2])     # broker -> "2 replica(s) (t-0, t-1) and leads 1 partition(s) (t-0)"
    references(zk, [0, 1, 2])   # every replica list, reassignment and throttle list naming them

A broker is safe to retire once it holds nothing; before a KRaft cutover, once nothing names it either:
the migration stalls while a retired broker ID is still in a replica list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from migrator.clients.zk import ZooKeeper
from migrator.cluster.throttles import TOPIC_THROTTLE_CONFIGS

_SHOWN = 10


def holdings(zk: ZooKeeper, broker_ids: Iterable[int]) -> dict[int, str]:
    """What each broker still holds: replicas (in flight included) and leaderships; absent when nothing."""
    wanted = set(broker_ids)
    topics = zk.topics()
    keys = [(t, int(p)) for t, data in topics.items() for p in data.get("partitions", {})]
    states = zk.partition_states(keys)
    replicas: dict[int, list[str]] = {}
    leads: dict[int, list[str]] = {}
    for topic, data in topics.items():
        for p, assigned in data.get("partitions", {}).items():
            name = f"{topic}-{p}"
            for b in wanted.intersection(assigned):
                replicas.setdefault(b, []).append(name)
            leader = (states.get((topic, int(p))) or {}).get("leader")
            if leader in wanted:
                leads.setdefault(leader, []).append(name)
    found = {}
    for b in sorted(wanted):
        parts = []
        if b in replicas:
            parts.append(f"{len(replicas[b])} replica(s) ({names(replicas[b])})")
        if b in leads:
            parts.append(f"leads {len(leads[b])} partition(s) ({names(leads[b])})")
        if parts:
            found[b] = " and ".join(parts)
    return found


@dataclass(frozen=True)
class References:
    """Where the brokers' IDs still appear: partitions ("topic-p"), per kind of list."""

    replica_lists: list[str]
    reassignments: list[str]
    throttle_lists: list[str]

    @property
    def empty(self) -> bool:
        return not (self.replica_lists or self.reassignments or self.throttle_lists)

    def describe(self) -> str:
        parts = []
        if self.replica_lists:
            parts.append(f"the replica lists of {len(self.replica_lists)} partition(s) ({names(self.replica_lists)})")
        if self.reassignments:
            parts.append(f"{len(self.reassignments)} reassignment(s) ({names(self.reassignments)})")
        if self.throttle_lists:
            parts.append(f"{len(self.throttle_lists)} throttled-replica list(s) ({names(self.throttle_lists)})")
        return "; ".join(parts) or "nothing"


def references(zk: ZooKeeper, broker_ids: Iterable[int]) -> References:
    """Every replica list, reassignment in flight (KIP-455 adding/removing, the legacy znode) and topic
    throttled-replica list (`partition:broker` entries) that names one of `broker_ids`."""
    wanted = set(broker_ids)
    topics = zk.topics()
    replica_lists, reassignments = [], []
    for topic, data in sorted(topics.items()):
        moving = {**data.get("adding_replicas", {})}
        for p, removing in data.get("removing_replicas", {}).items():
            moving[p] = [*moving.get(p, []), *removing]
        for p, assigned in sorted(data.get("partitions", {}).items(), key=lambda item: int(item[0])):
            if wanted.intersection(assigned):
                replica_lists.append(f"{topic}-{p}")
            if wanted.intersection(moving.get(p, [])):
                reassignments.append(f"{topic}-{p}")
    legacy = (zk.reassign_partitions() or {}).get("partitions", [])
    reassignments += [f"{e['topic']}-{e['partition']}" for e in legacy if wanted.intersection(e.get("replicas", []))]
    configs = zk.get_json_many([f"/config/topics/{t}" for t in sorted(topics)])
    throttle_lists = []
    for path, data in configs.items():
        topic = path.rsplit("/", 1)[-1]
        for key, value in ((data or {}).get("config") or {}).items():
            if key not in TOPIC_THROTTLE_CONFIGS:
                continue
            for entry in str(value).split(","):
                partition, _, broker = entry.strip().partition(":")
                if broker.isdigit() and int(broker) in wanted:
                    throttle_lists.append(f"{topic}-{partition} ({key})")
    return References(replica_lists, sorted(set(reassignments)), throttle_lists)


def names(items: list[str]) -> str:
    return ", ".join(items[:_SHOWN]) + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")
