"""Which brokers ZooKeeper says hold data: replica lists (reassignments in flight included) and
partition leaders. The broker-ID shift and the mixed-cluster join both ask it before a broker may go,
and the join asks which IDs are taken by brokers that are down but still named in a replica list.
`references` also finds the reassignment and throttle lists naming them: before a KRaft cutover a
retired broker must be named nowhere, as the migration stalls while its ID is in a replica list."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from migrator.clients.zk import ZooKeeper
from migrator.cluster.throttles import TOPIC_THROTTLE_CONFIGS
from migrator.errors import PermanentError
from migrator.text import name_list


def replica_holders(zk: ZooKeeper) -> set[int]:
    """Every broker ID named in some partition's replica list, live or not."""
    return {b for topic in zk.topics().values() for replicas in topic.get("partitions", {}).values() for b in replicas}


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
            parts.append(f"{len(replicas[b])} replica(s) ({name_list(replicas[b])})")
        if b in leads:
            parts.append(f"leads {len(leads[b])} partition(s) ({name_list(leads[b])})")
        if parts:
            found[b] = " and ".join(parts)
    return found


def refuse_while_holding(zk: ZooKeeper, broker_ids: Iterable[int], refusal: Callable[[str], str]) -> None:
    """PermanentError when any of `broker_ids` still holds data; `refusal` turns what they hold
    ("broker 1: 3 replica(s) (...); broker 2: ...") into the message."""
    held = holdings(zk, broker_ids)
    if held:
        raise PermanentError(refusal("; ".join(f"broker {b}: {h}" for b, h in held.items())))


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
            parts.append(f"the replica lists of {len(self.replica_lists)} partition(s) ({name_list(self.replica_lists)})")
        if self.reassignments:
            parts.append(f"{len(self.reassignments)} reassignment(s) ({name_list(self.reassignments)})")
        if self.throttle_lists:
            parts.append(f"{len(self.throttle_lists)} throttled-replica list(s) ({name_list(self.throttle_lists)})")
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
