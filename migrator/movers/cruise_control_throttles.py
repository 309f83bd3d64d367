"""Replication throttles around a Cruise Control execution: what must stop it before it starts, what
existed before it, and the sweep of what it left behind.

Cruise Control sets `*.replication.throttled.rate` on the brokers of an execution and the replica
lists on its topics, and removes them when the execution ends (ReplicationThrottleHelper). Two gaps
are ours to close:
- A rate it cannot remove (a static one in server.properties, which it skips; a cluster-wide
  dynamic default, which shows through once the per-broker value is deleted) makes its removal wait
  for a value that never comes (CC #2078, #2385): such rates are refused before anything moves.
- A Cruise Control that crashed mid-execution never removes its throttles; after the move, whatever
  was not there before it is removed (the baseline is recorded before the first execution).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from migrator.clients.kafka import KafkaAdmin
from migrator.cluster.model import Throttle
from migrator.cluster.throttles import BROKER_THROTTLE_CONFIGS

#: (scope, entity, name, value) of every throttle setting in effect.
Baseline = set[tuple[str, str, str, str]]

UNREMOVABLE_RATE_SOURCES = {
    "STATIC_BROKER_CONFIG": "static, in the broker's server.properties",
    "DYNAMIC_DEFAULT_BROKER_CONFIG": "cluster-wide dynamic default",
}


def unremovable_rates(admin: KafkaAdmin, brokers: Collection[int]) -> list[str]:
    """The throttle rates on `brokers` (live) that Cruise Control's throttle removal cannot clear."""
    found = []
    for broker, configs in sorted(admin.broker_configs(sorted(brokers)).items()):
        for name in BROKER_THROTTLE_CONFIGS:
            entry = configs.get(name)
            if entry is not None and entry.value and entry.source in UNREMOVABLE_RATE_SOURCES:
                found.append(f"broker {broker} {name}={entry.value} ({UNREMOVABLE_RATE_SOURCES[entry.source]})")
    return found


def baseline_of(throttles: Iterable[Throttle]) -> Baseline:
    return {(t.scope, t.entity, t.name, t.value) for t in throttles}


def extra(throttles: Iterable[Throttle], baseline: Baseline) -> list[str]:
    """What is set now and was not in `baseline` (static rates excepted: only a restart removes them)."""
    found = []
    for t in throttles:
        if t.scope == "broker":
            if (t.scope, t.entity, t.name, t.value) not in baseline and t.source != "STATIC_BROKER_CONFIG":
                found.append(f"broker {t.entity} {t.name}={t.value}")
            continue
        if added := _entries(t.value) - _entries(_before(baseline, t) or ""):
            found.append(f"topic {t.entity} {t.name} has {','.join(sorted(added))}")
    return found


def sweep(admin: KafkaAdmin, throttles: Iterable[Throttle], baseline: Baseline) -> list[str]:
    """Put every throttle setting back as the baseline had it: a rate not there is deleted, a rate
    changed is restored, list entries not there are subtracted. Returns what could not be changed."""
    failed = []
    for t in throttles:
        before = _before(baseline, t)
        try:
            if t.scope == "broker":
                if before is None and t.source != "STATIC_BROKER_CONFIG":
                    admin.alter_broker_config(int(t.entity), delete=[t.name])
                elif before is not None and before != t.value:
                    admin.alter_broker_config(int(t.entity), {t.name: before})
                continue
            added = _entries(t.value) - _entries(before or "")
            if added and before is None and added == _entries(t.value):
                admin.alter_topic_config(t.entity, delete=[t.name])
            elif added:
                admin.alter_topic_config(t.entity, subtract={t.name: sorted(added)})
        except Exception as exc:  # noqa: BLE001 - reported, retried by the next attempt
            failed.append(f"{t.scope} {t.entity} {t.name} ({type(exc).__name__}: {exc})")
    return failed


def _before(baseline: Baseline, throttle: Throttle) -> str | None:
    key = (throttle.scope, throttle.entity, throttle.name)
    return next((v for s, e, n, v in baseline if (s, e, n) == key), None)


def _entries(value: str) -> set[str]:
    return {e.strip() for e in value.split(",") if e.strip()}
