"""Which brokers ZooKeeper says hold data: replica lists (reassignments in flight included) and
partition leaders. The broker-ID shift and the mixed-cluster join both ask it before a broker may go,
and the join asks which IDs are taken by brokers that are down but still named in a replica list."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from migrator.clients.zk import ZooKeeper
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
