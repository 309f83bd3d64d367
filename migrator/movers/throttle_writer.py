"""Replication throttles of one batch: set exactly what it needs, remember what is ours, remove only that.

Throttles left behind are the most common bug of peer tools, and clobbering a throttle an operator
set is the second. So:

- Before we set anything, the ledger records the throttles already in effect on every broker and
  topic the run may touch (the baseline). Those are foreign: a broker that already has a rate keeps
  it (we neither override nor remove it; it limits our move too), a topic list keeps its entries,
  and a topic throttled with `*` needs nothing from us.
- Every throttle we are about to set is written into the ledger and made durable (`persist`) BEFORE
  the config change, so a kill between the two leaves a record, never an orphan.
- Topic lists change element-wise (APPEND / SUBTRACT), so entries someone else adds meanwhile survive.
- Removal is idempotent and bounded: each entity gets a few attempts; what still fails (a broker that
  is down) stays in the ledger and is reported, and the next sweep (resume, end, rollback) retries it.

Broker dynamic configs are read from each broker's memory, which follows ZooKeeper with a lag: a
value we deleted a moment ago may still be described. That is why foreignness is judged once, from
the baseline, and never from a later read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from migrator.clients.kafka import KAFKA_IO_ERRORS
from migrator.clients.kafka import ConfigValue, KafkaAdmin
from migrator.cluster.throttles import (
    BROKER_THROTTLE_CONFIGS,
    FOLLOWER_REPLICAS,
    LEADER_REPLICAS,
    throttles_from_configs,
)
from migrator.engine.step import JSON
from migrator.errors import MigratorError

#: The topic-list value that throttles every replica of the topic.
ALL_REPLICAS = "*"
_OURS_SOURCE = "DYNAMIC_BROKER_CONFIG"
_PARALLEL = 16
T = TypeVar("T")


def replica_entries(partition: int, brokers: Iterable[int]) -> set[str]:
    return {f"{partition}:{b}" for b in brokers}


@dataclass(frozen=True)
class BatchThrottles:
    """What one batch needs: both rates on every broker it touches; the leader list names every
    current replica of a moving partition (any of them may lead while it moves), the follower list
    only the new replicas."""

    brokers: frozenset[int]
    leader: Mapping[str, frozenset[str]]
    follower: Mapping[str, frozenset[str]]

    @classmethod
    def for_moves(cls, moves: Iterable[tuple[str, int, Sequence[int], Sequence[int]]]) -> BatchThrottles:
        """From (topic, partition, current replicas, target replicas) of each move."""
        brokers: set[int] = set()
        leader: dict[str, set[str]] = {}
        follower: dict[str, set[str]] = {}
        for topic, partition, current, target in moves:
            adding = [b for b in target if b not in current]
            if not adding:
                continue
            brokers.update(current, target)
            leader.setdefault(topic, set()).update(replica_entries(partition, current))
            follower.setdefault(topic, set()).update(replica_entries(partition, adding))
        return cls(
            frozenset(brokers),
            {t: frozenset(e) for t, e in leader.items()},
            {t: frozenset(e) for t, e in follower.items()},
        )

    @property
    def topics(self) -> set[str]:
        return set(self.leader) | set(self.follower)

    def lists(self) -> dict[str, dict[str, frozenset[str]]]:
        out: dict[str, dict[str, frozenset[str]]] = {}
        for key, per_topic in ((LEADER_REPLICAS, self.leader), (FOLLOWER_REPLICAS, self.follower)):
            for topic, entries in per_topic.items():
                out.setdefault(topic, {})[key] = entries
        return out


@dataclass
class Writes:
    """Config changes to make: rates to SET per broker, entries to APPEND per topic and key."""

    rates: dict[int, dict[str, str]] = field(default_factory=dict)
    appends: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.rates or self.appends)


@dataclass
class ThrottleLedger:
    """The JSON memory of throttles: the foreign baseline and what we set. Lives in the checkpoint."""

    #: Brokers and topics whose throttles in effect before the run were recorded.
    baselined_brokers: set[int] = field(default_factory=set)
    baselined_topics: set[str] = field(default_factory=set)
    #: Foreign throttles from the baseline: left exactly as they are.
    foreign_rates: dict[int, dict[str, str]] = field(default_factory=dict)
    foreign_lists: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    #: Ours: broker -> {rate key: value we set}; topic -> {list key: entries we appended}.
    rates: dict[int, dict[str, str]] = field(default_factory=dict)
    lists: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    #: Brokers whose recorded rates are known to be written (a rate recorded but maybe not yet
    #: written, after a crash, is written again).
    rates_written: set[int] = field(default_factory=set)

    # -- baseline ------------------------------------------------------------------------------

    def missing_baseline(self, brokers: Iterable[int], topics: Iterable[str]) -> tuple[list[int], list[str]]:
        return (
            sorted(set(brokers) - self.baselined_brokers),
            sorted(set(topics) - self.baselined_topics),
        )

    def record_baseline(
        self,
        broker_configs: Mapping[int, Mapping[str, ConfigValue]],
        topic_configs: Mapping[str, Mapping[str, ConfigValue]],
    ) -> None:
        """Record what is in effect on entities seen for the first time. An entity already
        baselined keeps its record: a later read may show our own values."""
        fresh_brokers = {b: c for b, c in broker_configs.items() if b not in self.baselined_brokers}
        fresh_topics = {t: c for t, c in topic_configs.items() if t not in self.baselined_topics}
        for throttle in throttles_from_configs(fresh_brokers, fresh_topics):
            if throttle.scope == "broker":
                self.foreign_rates.setdefault(int(throttle.entity), {})[throttle.name] = throttle.value
            else:
                entries = [e.strip() for e in throttle.value.split(",") if e.strip()]
                self.foreign_lists.setdefault(throttle.entity, {})[throttle.name] = sorted(entries)
        self.baselined_brokers.update(fresh_brokers)
        self.baselined_topics.update(fresh_topics)

    # -- intents -------------------------------------------------------------------------------

    def intend(self, need: BatchThrottles, rate: int) -> Writes:
        """Record as ours what `need` requires and nobody else already provides; return the writes.

        Entries already ours are appended again (APPEND is idempotent), and so are rates not yet
        confirmed written, so a re-run after a crash between recording and writing completes the
        writes. A rate confirmed written (kept from the batch before) is not written again: each
        write makes the broker rebuild its whole configuration.
        """
        missing = self.missing_baseline(need.brokers, need.topics)
        if missing != ([], []):
            raise MigratorError(f"throttle baseline not recorded for brokers/topics {missing}: a bug in the mover")
        writes = Writes()
        for broker in sorted(need.brokers):
            foreign = self.foreign_rates.get(broker, {})
            wanted = {key: str(rate) for key in BROKER_THROTTLE_CONFIGS if key not in foreign}
            if not wanted or (broker in self.rates_written and self.rates.get(broker) == wanted):
                continue
            self.rates[broker] = wanted
            self.rates_written.discard(broker)
            writes.rates[broker] = dict(wanted)
        for topic, per_key in sorted(need.lists().items()):
            for key, entries in sorted(per_key.items()):
                foreign = set(self.foreign_lists.get(topic, {}).get(key, []))
                if ALL_REPLICAS in foreign:
                    continue
                ours = set(self.lists.get(topic, {}).get(key, [])) | (set(entries) - foreign)
                if ours:
                    self.lists.setdefault(topic, {})[key] = sorted(ours)
                    writes.appends.setdefault(topic, {})[key] = sorted(ours)
        return writes

    # -- removal -------------------------------------------------------------------------------

    @staticmethod
    def rate_still_ours(ours: str, current: ConfigValue | None) -> bool:
        """Whether deleting our rate key is right. A per-broker value other than ours means someone
        replaced it while we ran: theirs now, left alone. Anything else (absent, a default, a stale
        read of our own value) is safe to delete: DELETE of an absent key changes nothing."""
        if current is None or current.source != _OURS_SOURCE:
            return True
        return current.value == ours

    def confirm_rates(self, brokers: Iterable[int]) -> None:
        self.rates_written.update(b for b in brokers if b in self.rates)

    def forget_rates(self, broker: int) -> None:
        self.rates.pop(broker, None)
        self.rates_written.discard(broker)

    def forget_lists(self, topic: str) -> None:
        self.lists.pop(topic, None)

    @property
    def empty(self) -> bool:
        return not self.rates and not self.lists

    def describe_ours(self) -> list[str]:
        found = [f"broker {b} {k}={v}" for b, keys in sorted(self.rates.items()) for k, v in sorted(keys.items())]
        found += [
            f"topic {t} {k} += {','.join(e)}" for t, keys in sorted(self.lists.items()) for k, e in sorted(keys.items())
        ]
        return found

    def describe_foreign(self) -> list[str]:
        found = [
            f"broker {b} {k}={v}" for b, keys in sorted(self.foreign_rates.items()) for k, v in sorted(keys.items())
        ]
        found += [
            f"topic {t} {k}={','.join(e)}"
            for t, keys in sorted(self.foreign_lists.items())
            for k, e in sorted(keys.items())
        ]
        return found

    # -- JSON ----------------------------------------------------------------------------------

    def to_json(self) -> JSON:
        return {
            "baselined_brokers": sorted(self.baselined_brokers),
            "baselined_topics": sorted(self.baselined_topics),
            "foreign_rates": {str(b): dict(v) for b, v in sorted(self.foreign_rates.items())},
            "foreign_lists": {t: dict(v) for t, v in sorted(self.foreign_lists.items())},
            "rates": {str(b): dict(v) for b, v in sorted(self.rates.items())},
            "lists": {t: dict(v) for t, v in sorted(self.lists.items())},
            "rates_written": sorted(self.rates_written),
        }

    @classmethod
    def from_json(cls, data: JSON | None) -> ThrottleLedger:
        data = data or {}
        return cls(
            baselined_brokers={int(b) for b in data.get("baselined_brokers", [])},
            baselined_topics=set(data.get("baselined_topics", [])),
            foreign_rates={int(b): dict(v) for b, v in data.get("foreign_rates", {}).items()},
            foreign_lists={t: {k: list(e) for k, e in v.items()} for t, v in data.get("foreign_lists", {}).items()},
            rates={int(b): dict(v) for b, v in data.get("rates", {}).items()},
            lists={t: {k: list(e) for k, e in v.items()} for t, v in data.get("lists", {}).items()},
            rates_written={int(b) for b in data.get("rates_written", [])},
        )


class ThrottleWriter:
    """Applies a ledger to the cluster. `persist` must make the ledger's JSON durable before it returns
    (the executor stores it in the checkpointed state and saves that)."""

    def __init__(
        self,
        admin: KafkaAdmin,
        ledger: ThrottleLedger,
        persist: Callable[[], None],
        *,
        attempts: int = 3,
        wait_max: float = 5.0,
    ) -> None:
        self.admin = admin
        self.ledger = ledger
        self._persist = persist
        self._attempts = attempts
        self._wait_max = wait_max

    def baseline(self, brokers: Iterable[int], topics: Iterable[str]) -> None:
        """Record the throttles in effect on entities not yet baselined (before we touch them)."""
        missing_brokers, missing_topics = self.ledger.missing_baseline(brokers, topics)
        if not missing_brokers and not missing_topics:
            return
        broker_configs = self._retry(lambda: self.admin.broker_configs(missing_brokers)) if missing_brokers else {}
        topic_configs = self._retry(lambda: self.admin.topic_configs(missing_topics)) if missing_topics else {}
        # A topic deleted meanwhile is not described; it still counts as baselined (nothing foreign on it).
        topic_configs = {t: topic_configs.get(t, {}) for t in missing_topics}
        self.ledger.record_baseline(broker_configs, topic_configs)
        self._persist()

    def apply(self, need: BatchThrottles, rate: int) -> Writes:
        """Set what `need` requires: recorded and persisted first, then written."""
        self.baseline(need.brokers, need.topics)
        writes = self.ledger.intend(need, rate)
        if not writes:
            return writes
        self._persist()
        calls = [partial(self.admin.alter_broker_config, b, set_=r) for b, r in sorted(writes.rates.items())]
        calls += [partial(self.admin.alter_topic_config, t, append=a) for t, a in sorted(writes.appends.items())]
        for error in self._all(calls):
            if error is not None:
                raise error
        # Not persisted on its own: lost in a crash, it only costs writing the same rates again.
        self.ledger.confirm_rates(writes.rates)
        return writes

    def release(self, live_brokers: Iterable[int] | None = None, keep_rates: Iterable[int] = ()) -> list[str]:
        """Remove our throttles, except the rates of the brokers in `keep_rates` (the next batch's,
        handed to it instead of deleted and set again); returns what could not be removed (kept in
        the ledger). List entries always go: a partition moves in one batch only.

        Brokers known to be down are not asked (each request would wait for its timeout); their rates
        stay recorded, and a later sweep removes them once the broker is back.
        """
        live = None if live_brokers is None else set(live_brokers)
        leftovers: list[str] = []
        topics = sorted(self.ledger.lists)
        for topic, error in zip(topics, self._all([partial(self._release_topic, t) for t in topics])):
            if error is None:
                self.ledger.forget_lists(topic)
            else:
                leftovers.append(f"topic {topic} replica lists ({_reason(error)})")
        kept = set(keep_rates)
        brokers = sorted(b for b in self.ledger.rates if b not in kept)
        reachable = [b for b in brokers if live is None or b in live]
        leftovers += [f"broker {b} rates (the broker is down)" for b in brokers if b not in reachable]
        for broker, error in zip(reachable, self._all([partial(self._release_broker, b) for b in reachable])):
            if error is None:
                self.ledger.forget_rates(broker)
            else:
                leftovers.append(f"broker {broker} rates ({_reason(error)})")
        self._persist()
        return leftovers

    def _release_broker(self, broker: int) -> None:
        current = self.admin.broker_configs([broker]).get(broker, {})
        ours = self.ledger.rates[broker]
        doomed = [key for key, value in sorted(ours.items()) if self.ledger.rate_still_ours(value, current.get(key))]
        self.admin.alter_broker_config(broker, delete=doomed)

    def _release_topic(self, topic: str) -> None:
        ours = self.ledger.lists[topic]
        try:
            self.admin.alter_topic_config(topic, subtract=ours)
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                return  # the topic was deleted, and its configs with it
            raise
        # SUBTRACT leaves an empty value behind; an empty list we emptied is deleted so the topic
        # looks as it did. Topic configs are read from ZooKeeper, so this read is not stale.
        current = self.admin.topic_configs([topic]).get(topic, {})
        emptied = [
            key
            for key in ours
            if (entry := current.get(key)) is not None and not entry.is_default and not (entry.value or "").strip()
        ]
        if emptied:
            self.admin.alter_topic_config(topic, delete=emptied)

    def _all(self, calls: Sequence[Callable[[], object]]) -> list[BaseException | None]:
        """Run the calls concurrently (each goes to its own broker, so none need wait for another),
        each with bounded retries; per call None or the error it finally failed with."""

        def attempt(call: Callable[[], object]) -> BaseException | None:
            try:
                self._retry(call)
            except KAFKA_IO_ERRORS as exc:
                return exc
            return None

        if len(calls) <= 1:
            return [attempt(call) for call in calls]
        with ThreadPoolExecutor(max_workers=min(len(calls), _PARALLEL), thread_name_prefix="throttles") as pool:
            return list(pool.map(attempt, calls))

    def _retry(self, call: Callable[[], T]) -> T:
        for attempt in Retrying(
            retry=retry_if_exception_type(KAFKA_IO_ERRORS),
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.5, max=self._wait_max),
            reraise=True,
        ):
            with attempt:
                return call()
        raise AssertionError("unreachable: Retrying returns from the block or raises")


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
