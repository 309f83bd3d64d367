"""Which described configs count as throttles in effect (pure)."""

from __future__ import annotations

from migrator.clients.kafka import ConfigValue
from migrator.cluster.model import Throttle
from migrator.cluster.throttles import (
    FOLLOWER_RATE,
    FOLLOWER_REPLICAS,
    LEADER_RATE,
    LEADER_REPLICAS,
    throttles_from_configs,
)


def test_dynamic_and_static_values_are_throttles_defaults_are_not():
    brokers = {
        1: {LEADER_RATE: ConfigValue("1000", "DYNAMIC_BROKER_CONFIG", False)},
        0: {
            LEADER_RATE: ConfigValue("2000", "DYNAMIC_DEFAULT_BROKER_CONFIG", False),
            FOLLOWER_RATE: ConfigValue("3000", "STATIC_BROKER_CONFIG", False),
        },
        # What Kafka 3.9.1 describes after a dynamic rate was deleted: the old number, as a default.
        2: {LEADER_RATE: ConfigValue("1000", "DEFAULT_CONFIG", True)},
    }
    topics = {
        "b": {
            LEADER_REPLICAS: ConfigValue("0:1,1:2", "DYNAMIC_TOPIC_CONFIG", False),
            FOLLOWER_REPLICAS: ConfigValue("", "DEFAULT_CONFIG", True),
        },
        "a": {FOLLOWER_REPLICAS: ConfigValue("*", "DYNAMIC_TOPIC_CONFIG", False)},
    }
    assert throttles_from_configs(brokers, topics) == [
        Throttle("broker", "0", LEADER_RATE, "2000", "DYNAMIC_DEFAULT_BROKER_CONFIG"),
        Throttle("broker", "0", FOLLOWER_RATE, "3000", "STATIC_BROKER_CONFIG"),
        Throttle("broker", "1", LEADER_RATE, "1000", "DYNAMIC_BROKER_CONFIG"),
        Throttle("topic", "a", FOLLOWER_REPLICAS, "*", "DYNAMIC_TOPIC_CONFIG"),
        Throttle("topic", "b", LEADER_REPLICAS, "0:1,1:2", "DYNAMIC_TOPIC_CONFIG"),
    ]


def test_no_configs_no_throttles():
    assert throttles_from_configs({0: {}}, {"t": {}}) == []
