"""Preferred leader election with a few tries: a replica that just joined the ISR may not be electable
on the first call, and a controller that just moved may not answer yet. `not_preferred` reads from
ZooKeeper which partitions are not led by their first replica."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from migrator.clients.kafka import KAFKA_IO_ERRORS, KafkaAdmin, PartitionKey
from migrator.clients.zk import ZooKeeper
from migrator.text import SHOWN


def elect_preferred_leaders(
    admin: KafkaAdmin,
    keys: Sequence[PartitionKey],
    *,
    attempts: int,
    pause: Callable[[], None],
    still_pending: Callable[[], Sequence[PartitionKey]] | None = None,
    on_attempt: Callable[[int, int, dict[PartitionKey, str]], None] = lambda attempt, asked, failed: None,
) -> dict[PartitionKey, str]:
    """Ask for the preferred leaders of `keys`, again (after `pause`) for those that failed, at most
    `attempts` times. `still_pending` re-reads which partitions still need an election before each try
    (default: those that failed the last one). Errors are answers, not exceptions: a caller's verify
    judges the outcome. Returns the failures of the last try; `on_attempt(attempt, asked, failures)`."""
    pending = sorted(keys)
    failures: dict[PartitionKey, str] = {}
    for attempt in range(attempts):
        if attempt:
            pause()
        if still_pending is not None:
            pending = sorted(still_pending())
        if not pending:
            return {}
        try:
            answered = admin.elect_preferred_leaders(pending)
        except KAFKA_IO_ERRORS as exc:  # e.g. no controller yet, after the old one died
            answered = {k: f"{type(exc).__name__}: {exc}" for k in pending}
        failures = {k: e for k, e in answered.items() if e}
        on_attempt(attempt, len(pending), failures)
        pending = sorted(failures)
        if not pending and still_pending is None:
            break
    return failures


def not_preferred(zk: ZooKeeper, keys: Sequence[PartitionKey]) -> dict[PartitionKey, tuple[int, int]]:
    """partition -> (leader, preferred leader) where they differ; a deleted partition leads nothing."""
    topics = zk.topics(sorted({t for t, _ in keys}))
    states = zk.partition_states(list(keys))
    found = {}
    for topic, partition in keys:
        replicas = (topics.get(topic) or {}).get("partitions", {}).get(str(partition))
        if not replicas:
            continue
        leader = (states.get((topic, partition)) or {}).get("leader", -1)
        if leader != replicas[0]:
            found[(topic, partition)] = (leader, replicas[0])
    return found


def describe_not_preferred(pending: dict[PartitionKey, tuple[int, int]], total: int, what: str = "moved") -> str:
    shown = ", ".join(
        f"{t}-{p} (leader {now}, preferred {first})" for (t, p), (now, first) in sorted(pending.items())[:SHOWN]
    )
    return f"{len(pending)} of {total} {what} partition(s) are not led by their preferred replica: {shown}"
