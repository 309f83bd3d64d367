"""The `target:` section: what Strimzi would silently reshape (node-ID ranges, forbidden config keys)
is refused at load time, and the derived values the overrides use are right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from migrator.config import load_config
from migrator.errors import BadInput
from migrator.platforms.target.config import (
    TargetConfig,
    parse_node_id_range,
    strimzi_drops,
)


def target(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "cluster_name": "events",
        "replicas": 3,
        "shared_listener": {"name": "shared", "port": 9094},
        "operator": {"forked_image": "registry.example.com/strimzi/operator:0.45.2-mixed-zk"},
    }
    data.update(changes)
    return data


def error_of(**changes: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        TargetConfig.model_validate(target(**changes))
    return str(caught.value)


def test_defaults_name_the_shared_listener_and_the_id_range() -> None:
    config = TargetConfig.model_validate(target())
    assert config.kind == "strimzi" and config.namespace == "kafka" and config.node_pool == "brokers"
    assert config.shared_listener.kafka_name == "SHARED-9094"
    assert config.shared_listener.security_protocol == "PLAINTEXT"
    assert config.node_id_candidates[:3] == (1000, 1001, 1002)
    assert config.operator is not None and config.operator.upstream_image == "quay.io/strimzi/operator:0.45.2"
    assert config.operator_namespace == "kafka"


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("[1000-1002]", (1000, 1001, 1002)),
        ("[0, 1, 2]", (0, 1, 2)),
        (" [ 10 - 8 , 20 ] ", (10, 9, 8, 20)),  # a range may count down, as in Strimzi
        ("[5, 5-6]", (5, 6)),  # an ID handed out already is skipped
    ],
)
def test_node_id_ranges_parse_as_strimzi_hands_them_out(text: str, ids: tuple[int, ...]) -> None:
    assert parse_node_id_range(text) == ids


@pytest.mark.parametrize("text", ["1000-1999", "[1000-1999", "[]", "[1000-]", "[a-b]", "[1000;1001]"])
def test_a_malformed_range_is_refused_because_strimzi_would_fall_back_to_zero(text: str) -> None:
    with pytest.raises(ValueError, match="from 0"):
        parse_node_id_range(text)
    assert "node_ids" in error_of(node_ids=text)


def test_a_range_smaller_than_the_pool_is_refused() -> None:
    assert "holds 2 IDs for 3 replicas" in error_of(node_ids="[1000-1001]")


@pytest.mark.parametrize(("node_ids", "reserved"), [("[1000-1999]", 1999), ("[998-1000]", None), ("[10-12]", None)])
def test_reserved_broker_max_id_is_needed_only_above_kafkas_default(node_ids: str, reserved: int | None) -> None:
    assert TargetConfig.model_validate(target(node_ids=node_ids)).reserved_broker_max_id == reserved


@pytest.mark.parametrize("version", ["3.9.2", "3.8.1", "4.0.0", "3.9"])
def test_kafka_versions_other_than_3_9_0_and_3_9_1_are_refused(version: str) -> None:
    assert "kafka_version" in error_of(kafka_version=version)


def test_strimzi_versions_other_than_0_45_1_and_0_45_2_are_refused() -> None:
    for version in ("0.45.0", "0.46.0", "0.44.0"):
        assert "not supported" in error_of(operator={"forked_image": "r/op:x", "strimzi_version": version})
    ok = TargetConfig.model_validate(target(operator={"forked_image": "r/op:x", "strimzi_version": "0.45.1"}))
    assert ok.operator is not None and ok.operator.upstream_image == "quay.io/strimzi/operator:0.45.1"


def test_the_upstream_image_must_be_the_same_version_and_differ_from_the_fork() -> None:
    assert "SAME version" in error_of(
        operator={"forked_image": "r/op:fork", "upstream_image": "quay.io/strimzi/operator:0.45.1"}
    )
    assert "same image" in error_of(operator={"forked_image": "quay.io/strimzi/operator:0.45.2"})
    digest = "quay.io/strimzi/operator@sha256:" + "a" * 64
    pinned = TargetConfig.model_validate(target(operator={"forked_image": "r/op:fork", "upstream_image": digest}))
    assert pinned.operator is not None and pinned.operator.upstream_image == digest


def test_kind_strimzi_needs_an_operator_section_and_local_does_not() -> None:
    assert "operator section" in error_of(operator=None)
    assert TargetConfig.model_validate(target(kind="local", operator=None)).kind == "local"


@pytest.mark.parametrize(
    "key", ["listeners", "advertised.listeners", "broker.rack", "zookeeper.connect", "ssl.keystore.type"]
)
def test_extra_config_that_strimzi_would_drop_is_refused(key: str) -> None:
    assert strimzi_drops(key)
    assert key in error_of(extra_config={key: "x"})


@pytest.mark.parametrize(
    "key", ["min.insync.replicas", "zookeeper.connection.timeout.ms", "ssl.cipher.suites", "reserved.broker.max.id"]
)
def test_extra_config_that_strimzi_passes_on_is_accepted(key: str) -> None:
    assert not strimzi_drops(key)
    assert TargetConfig.model_validate(target(extra_config={key: "1"})).extra_config == {key: "1"}


def test_listeners_must_be_unique_and_clear_of_strimzis_own_ports() -> None:
    assert "unique" in error_of(listeners=[{"name": "plain", "port": 9094}])
    assert "unique" in error_of(listeners=[{"name": "shared", "port": 9092}])
    assert "taken by Strimzi" in error_of(shared_listener={"name": "shared", "port": 9404})
    assert "shared_listener" in error_of(shared_listener={"name": "Shared", "port": 9094})


def test_a_tls_shared_listener_is_refused_with_the_reason() -> None:
    assert "truststore" in error_of(shared_listener={"name": "shared", "port": 9094, "tls": True})


def test_pod_names_must_stay_dns_labels() -> None:
    assert "63 characters" in error_of(cluster_name="c" * 40, node_pool="p" * 20)


def test_persistent_storage_needs_a_size() -> None:
    assert "size" in error_of(storage={"type": "persistent-claim"})
    assert TargetConfig.model_validate(target(storage={"type": "ephemeral"})).storage.to_crd() == {"type": "ephemeral"}


def test_migration_yaml_carries_the_target_section(tmp_path: Path) -> None:
    base = {
        "migration_id": "m1",
        "cluster": {"zookeeper_connect": "zk1:2181/kafka", "bootstrap_servers": "k0:9092"},
    }
    path = tmp_path / "migration.yaml"
    path.write_text(yaml.safe_dump({**base, "target": target()}))
    loaded = load_config(path)
    assert loaded.target is not None and loaded.target.cluster_name == "events"

    path.write_text(yaml.safe_dump({**base, "target": target(node_ids="[1000-1999")}))
    with pytest.raises(BadInput, match=r"target\.node_ids"):
        load_config(path)
