"""strimzi-overrides/overrides.yaml against the facts it claims, and the verifier's comparisons.

The forbidden-prefix list is checked against the description in Strimzi 0.45.2's own Kafka CRD (which
Strimzi generates from KafkaClusterSpec.FORBIDDEN_PREFIXES), so our copy cannot drift unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from confluent_kafka import KafkaError, KafkaException

from migrator.clients.kafka import ConfigValue
from migrator.cluster.overrides_verifier import ExpectedConfig, verify_overrides
from migrator.platforms.target.config import (
    STRIMZI_FORBIDDEN_PREFIX_EXCEPTIONS,
    STRIMZI_FORBIDDEN_PREFIXES,
    strimzi_drops,
)
from migrator.platforms.target.strimzi_manifests import load_override_specs
from migrator.assets import asset_dir
from tests.unit.strimzi_crds import crd_schema

SPECS = load_override_specs()


def test_the_forbidden_prefixes_match_strimzi_0_45_2() -> None:
    kafka = crd_schema("040-Crd-kafka.yaml")["properties"]["spec"]["properties"]["kafka"]
    described = kafka["properties"]["config"]["description"]
    found = re.search(r"following prefixes cannot be set: (.*) \(with the exception of: (.*)\)\.", described)
    assert found, described
    split = lambda text: [item.strip() for item in text.split(",")]  # noqa: E731
    assert tuple(split(found[1])) == STRIMZI_FORBIDDEN_PREFIXES
    assert set(split(found[2])) == STRIMZI_FORBIDDEN_PREFIX_EXCEPTIONS


def test_what_the_fork_lets_through_is_what_upstream_drops() -> None:
    for spec in SPECS:
        prefix = spec.fork.forbidden_prefix if spec.fork else None
        if prefix is not None:
            assert prefix in STRIMZI_FORBIDDEN_PREFIXES and spec.key.startswith(prefix), spec.key
            assert strimzi_drops(spec.key), f"{spec.key} is not dropped upstream, so it needs no fork"
        elif spec.set_in == "kafka_config":
            assert not strimzi_drops(spec.key), f"upstream drops {spec.key}: the fork must let it through"
    (cruise,) = [s for s in SPECS if s.set_in == "cruise_control_config"]
    assert strimzi_drops(cruise.key) and cruise.fork is None  # forbidden, yet reachable without the fork


def test_every_override_is_explained_in_the_readme() -> None:
    readme = (asset_dir("strimzi-overrides") / "README.md").read_text()
    for spec in SPECS:
        assert f"`{spec.key}`" in readme
        if spec.fork:
            assert spec.fork.builder.split(".")[-1] in readme


ZK = ExpectedConfig("zookeeper.connect", "zk1:2181,zk2:2181/kafka", "zookeeper_connect")
PROTOCOLS = ExpectedConfig("listener.security.protocol.map", "SHARED-9094:PLAINTEXT", "list_entry")
NO_CONTROL_PLANE = ExpectedConfig("control.plane.listener.name", None, "absent")
RESERVED = ExpectedConfig("reserved.broker.max.id", "1999", "at_least")
INTER_BROKER = ExpectedConfig("inter.broker.listener.name", "SHARED-9094")


@pytest.mark.parametrize(
    ("expected", "actual", "holds"),
    [
        (ZK, "zk2:2181,zk1:2181/kafka", True),  # host order does not matter to ZooKeeper clients
        (ZK, "zk1:2181,zk2:2181/kafka/", True),
        (ZK, "zk1:2181,zk2:2181", False),  # no chroot: another cluster
        (ZK, "zk1:2181,zk2:2181/kafka2", False),
        (ZK, "zk1:2181,zk3:2181/kafka", False),
        (ZK, None, False),
        (PROTOCOLS, "PLAINTEXT:PLAINTEXT,shared-9094:PLAINTEXT", True),
        (PROTOCOLS, "SHARED-9094:SSL", False),
        (NO_CONTROL_PLANE, None, True),
        (NO_CONTROL_PLANE, "CONTROLPLANE-9090", False),
        (RESERVED, "2000", True),
        (RESERVED, "1000", False),
        (RESERVED, "lots", False),
        (INTER_BROKER, "SHARED-9094", True),
        (INTER_BROKER, "REPLICATION-9091", False),
    ],
)
def test_comparisons(expected: ExpectedConfig, actual: str | None, holds: bool) -> None:
    reported = None if actual is None else ConfigValue(actual, "STATIC_BROKER_CONFIG", False)
    assert expected.holds(reported) is holds


def test_a_key_kafka_hides_can_only_be_seen_as_set() -> None:
    topic = ExpectedConfig("cruise.control.metrics.topic", "cc.metrics", "set")
    assert topic.holds(ConfigValue(None, "STATIC_BROKER_CONFIG", False))
    assert not topic.holds(ConfigValue(None, "DEFAULT_CONFIG", True))
    assert not topic.holds(None)


class FakeAdmin:
    """Stands in for KafkaAdmin.broker_configs in this pure test; tests/cluster asks real brokers."""

    def __init__(self, configs: dict[int, dict[str, ConfigValue]]) -> None:
        self.configs = configs

    def broker_configs(self, broker_ids: Sequence[int]) -> dict[int, dict[str, ConfigValue]]:
        (broker_id,) = broker_ids
        if broker_id not in self.configs:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "broker 7 is down"))
        return {broker_id: self.configs[broker_id]}


def test_the_report_has_one_row_per_broker_and_override() -> None:
    expected = [ExpectedConfig("inter.broker.listener.name", "SHARED-9094"), ExpectedConfig("x.unknown", "1")]
    admin = FakeAdmin({1000: {"inter.broker.listener.name": ConfigValue("SHARED-9094", "STATIC_BROKER_CONFIG", False)}})
    report = verify_overrides(admin, [1000, 7], expected)
    rows = [(c.broker_id, c.key, c.actual, c.in_effect, c.source) for c in report.checks]
    assert rows == [
        (1000, "inter.broker.listener.name", "SHARED-9094", True, "STATIC_BROKER_CONFIG"),
        (1000, "x.unknown", None, False, "NOT_REPORTED"),
        (7, "inter.broker.listener.name", None, False, "UNAVAILABLE: broker 7 is down"),
        (7, "x.unknown", None, False, "UNAVAILABLE: broker 7 is down"),
    ]
    assert not report.in_effect and len(report.not_in_effect) == 3
    assert report.to_dict()["checks"][0] == {
        "broker_id": 1000,
        "key": "inter.broker.listener.name",
        "expected": "SHARED-9094",
        "actual": "SHARED-9094",
        "in_effect": True,
        "source": "STATIC_BROKER_CONFIG",
    }
    assert not verify_overrides(admin, [], expected).in_effect  # nothing checked proves nothing
