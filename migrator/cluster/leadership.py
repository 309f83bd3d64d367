"""Who leads: preferred leader elections for a set of partitions, and moving the controller off brokers
about to be retired. Shared by the phases that move data and then retire brokers.

    not_preferred(zk, keys)                        # partition -> (leader, preferred leader) where they differ
    elect_preferred(zk, admin, keys, ...)          # a few elections; what still differs is left to verify
    move_controller_off(zk, leaving, ...)          # ask ZooKeeper for a new controller until it is elsewhere
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from migrator.clients.kafka import KafkaAdmin
from migrator.clients.zk import ZooKeeper
from migrator.errors import PermanentError, TemporaryError

PartitionKey = tuple[str, int]
_SHOWN = 10


def not_preferred(zk: ZooKeeper, keys: list[PartitionKey]) -> dict[PartitionKey, tuple[int, int]]:
    """partition -> (leader, preferred leader) where they differ; a deleted partition leads nothing."""
    topics = zk.topics(sorted({t for t, _ in keys}))
    states = zk.partition_states(keys)
    found = {}
    for topic, partition in keys:
        replicas = (topics.get(topic) or {}).get("partitions", {}).get(str(partition))
        if not replicas:
            continue
        leader = (states.get((topic, partition)) or {}).get("leader", -1)
        if leader != replicas[0]:
            found[(topic, partition)] = (leader, replicas[0])
    return found


def elect_preferred(
    zk: ZooKeeper,
    admin: KafkaAdmin,
    keys: list[PartitionKey],
    *,
    attempts: int,
    sleep: Callable[[float], None],
    interval: float,
    on_attempt: Callable[[int, int, int], None] = lambda attempt, asked, failed: None,
) -> None:
    """Preferred leader election for the partitions of `keys` not led by their first replica, tried
    `attempts` times (a replica that just joined the ISR may not be electable at the first call)."""
    for attempt in range(attempts):
        if attempt:
            sleep(interval)
        pending = not_preferred(zk, keys)
        if not pending:
            return
        failures = {k: e for k, e in admin.elect_preferred_leaders(sorted(pending)).items() if e}
        on_attempt(attempt + 1, len(pending), len(failures))


def describe_not_preferred(pending: dict[PartitionKey, tuple[int, int]], total: int, what: str = "moved") -> str:
    shown = ", ".join(
        f"{t}-{p} (leader {now}, preferred {first})" for (t, p), (now, first) in sorted(pending.items())[:_SHOWN]
    )
    return f"{len(pending)} of {total} {what} partition(s) are not led by their preferred replica: {shown}"


def move_controller_off(
    zk: ZooKeeper,
    leaving: set[int],
    live: set[int],
    *,
    elections: int,
    sleep: Callable[[float], None],
    interval: float,
    on_election: Callable[[int], Any] = lambda controller: None,
) -> None:
    """Until the controller runs on a broker outside `leaving`, delete /controller (a new election);
    TemporaryError when it is still there after `elections` tries."""
    if not live - leaving:
        raise PermanentError(
            f"Retiring broker(s) {_ids(leaving)} would leave no broker to take over as controller; nothing was stopped."
        )
    for _ in range(elections):
        controller = (zk.controller() or {}).get("brokerid")
        if controller is not None and controller not in leaving:
            return
        if controller is not None:
            on_election(controller)
            zk.request_controller_election()
        sleep(interval)
    raise TemporaryError(
        f"The controller is still on broker(s) {_ids(leaving)} (or being elected) after {elections} "
        "elections; nothing was stopped. Retrying shortly.",
        delay=10.0,
    )


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in sorted(ids)) or "none"
