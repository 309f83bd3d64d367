"""Whether the mixed-cluster overrides are in effect on running brokers.

The Kafka CR says what we asked for; only the broker says what it runs with. Each broker's effective
config comes from the Admin API (describe_configs on the BROKER resource), and every expected setting
gets one row: broker, key, expected, actual, in_effect, source.

    report = verify_overrides(admin, [1000, 1001, 1002], [o.expectation for o in rendered.overrides])
    report.in_effect            # every row holds
    report.to_dict()            # for --output json|yaml
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal, Protocol

from confluent_kafka import KafkaException

from migrator.clients.kafka import ConfigValue

Match = Literal["equals", "zookeeper_connect", "list_entry", "absent", "at_least", "set"]
UNAVAILABLE = "UNAVAILABLE"


class BrokerConfigSource(Protocol):
    """What the verifier needs from migrator.clients.kafka.KafkaAdmin."""

    def broker_configs(self, broker_ids: Sequence[int]) -> dict[int, dict[str, ConfigValue]]: ...


@dataclass(frozen=True)
class ExpectedConfig:
    """One broker setting and how a running broker's value is compared with it."""

    key: str
    value: str | None
    match: Match = "equals"

    def holds(self, entry: ConfigValue | None) -> bool:
        actual = entry.value if entry is not None else None
        if self.match == "absent":
            return actual is None or actual.strip() == ""
        if self.match == "set":
            # Kafka treats keys it does not define itself (e.g. metrics reporter settings) as sensitive
            # and hides their values: only that the broker was given the key can be seen.
            return entry is not None and entry.source != "DEFAULT_CONFIG"
        if actual is None or self.value is None:
            return False
        if self.match == "equals":
            return actual == self.value
        if self.match == "zookeeper_connect":
            return _zookeeper_target(actual) == _zookeeper_target(self.value)
        if self.match == "list_entry":
            # Kafka upper-cases listener names, so the map compares as it does.
            return self.value.strip().upper() in {item.strip().upper() for item in actual.split(",")}
        if self.match == "at_least":
            try:
                return int(actual) >= int(self.value)
            except ValueError:
                return False
        raise ValueError(f"unknown match {self.match!r}")


def _zookeeper_target(connect: str) -> tuple[frozenset[str], str]:
    """The ensemble (host order does not matter to ZooKeeper clients) and the chroot (it does)."""
    hosts, slash, chroot = connect.strip().partition("/")
    return frozenset(h.strip().lower() for h in hosts.split(",") if h.strip()), (slash + chroot).rstrip("/")


@dataclass(frozen=True)
class OverrideCheck:
    broker_id: int
    key: str
    expected: str | None
    actual: str | None
    in_effect: bool
    #: Where the broker's value comes from (STATIC_BROKER_CONFIG, DEFAULT_CONFIG, ...), or UNAVAILABLE
    #: with the reason when the broker could not be asked.
    source: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class OverridesReport:
    checks: tuple[OverrideCheck, ...]

    @property
    def in_effect(self) -> bool:
        return bool(self.checks) and all(check.in_effect for check in self.checks)

    @property
    def not_in_effect(self) -> tuple[OverrideCheck, ...]:
        return tuple(check for check in self.checks if not check.in_effect)

    def to_dict(self) -> dict[str, object]:
        return {"in_effect": self.in_effect, "checks": [check.to_dict() for check in self.checks]}


def verify_overrides(
    admin: BrokerConfigSource, broker_ids: Iterable[int], expected: Sequence[ExpectedConfig]
) -> OverridesReport:
    """One row per broker and expected setting, in the order given. A broker that cannot be asked
    (not registered yet, stopped) gets rows that are not in effect, so a caller waiting for new
    brokers sees the same report shape throughout."""
    checks: list[OverrideCheck] = []
    for broker_id in broker_ids:
        try:
            configs = admin.broker_configs([broker_id])[broker_id]
        except KafkaException as exc:
            reason = f"{UNAVAILABLE}: {exc.args[0].str() if exc.args else exc}"
            checks += [OverrideCheck(broker_id, e.key, e.value, None, False, reason) for e in expected]
            continue
        for item in expected:
            entry = configs.get(item.key)
            actual = entry.value if entry is not None else None
            source = entry.source if entry is not None else "NOT_REPORTED"
            checks.append(OverrideCheck(broker_id, item.key, item.value, actual, item.holds(entry), source))
    return OverridesReport(tuple(checks))
