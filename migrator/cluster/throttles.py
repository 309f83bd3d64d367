"""Replication throttles: the config names and how to read the ones in effect.

Kafka throttles a move with two broker rates (on every source and destination broker) and two topic
replica lists (`partition:broker,...`, or `*`). Throttles left behind are the most common bug of peer
tools, so the inventory always shows every throttle in effect, ours or not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from migrator.clients.kafka import ConfigValue, KafkaAdmin
from migrator.cluster.model import Throttle

LEADER_RATE = "leader.replication.throttled.rate"
FOLLOWER_RATE = "follower.replication.throttled.rate"
LEADER_REPLICAS = "leader.replication.throttled.replicas"
FOLLOWER_REPLICAS = "follower.replication.throttled.replicas"

BROKER_THROTTLE_CONFIGS = (LEADER_RATE, FOLLOWER_RATE)
TOPIC_THROTTLE_CONFIGS = (LEADER_REPLICAS, FOLLOWER_REPLICAS)


def throttles_from_configs(
    broker_configs: Mapping[int, Mapping[str, ConfigValue]],
    topic_configs: Mapping[str, Mapping[str, ConfigValue]],
) -> list[Throttle]:
    """The throttles in effect, from described broker and topic configs."""
    # Only a value the broker attributes to a config someone set (dynamic, or static in
    # server.properties) counts: after a dynamic rate is deleted, Kafka 3.9.1 goes on describing the
    # old number with source DEFAULT_CONFIG.
    found = [
        Throttle("broker", str(broker_id), name, entry.value or "", entry.source)
        for broker_id, configs in sorted(broker_configs.items())
        for name in BROKER_THROTTLE_CONFIGS
        if (entry := configs.get(name)) is not None and _set(entry)
    ]
    found += [
        Throttle("topic", topic, name, entry.value or "", entry.source)
        for topic, configs in sorted(topic_configs.items())
        for name in TOPIC_THROTTLE_CONFIGS
        if (entry := configs.get(name)) is not None and _set(entry)
    ]
    return found


def _set(entry: ConfigValue) -> bool:
    return bool(entry.value) and not entry.is_default and entry.source != "DEFAULT_CONFIG"


def read_throttles(admin: KafkaAdmin, broker_ids: Iterable[int], topics: Iterable[str]) -> list[Throttle]:
    """Every replication throttle in effect on the given (live) brokers and topics."""
    return throttles_from_configs(admin.broker_configs(broker_ids), admin.topic_configs(topics))
