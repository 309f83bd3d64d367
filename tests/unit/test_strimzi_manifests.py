"""Rendering the Kafka CR, the KafkaNodePool and the operator overlay: valid against Strimzi 0.45.2's
own CRD schemas (read in place from the upstream install files), deterministic, carrying the
overrides, and diffable against what a cluster holds."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
import yaml

from migrator.config import MigrationConfig
from migrator.errors import BadInput
from migrator.platforms.target.strimzi_manifests import (
    BUILD_ANNOTATION,
    RenderedManifests,
    apply_overlay,
    object_identity,
    render_manifests,
    render_overrides,
)
from tests.unit.strimzi_crds import crd_schema, load_install_file

FORKED = "registry.example.com/strimzi/operator:0.45.2-mixed-zk"


def config(**target: Any) -> MigrationConfig:
    section: dict[str, Any] = {
        "cluster_name": "events",
        "replicas": 3,
        "shared_listener": {"name": "shared", "port": 9094, "advertised_host_template": "kafka-{nodeId}.example.com"},
        "operator": {"forked_image": FORKED},
    }
    section.update(target)
    return MigrationConfig.model_validate(
        {
            "migration_id": "m1",
            "cluster": {"zookeeper_connect": "zk1:2181,zk2:2181/kafka", "bootstrap_servers": "vm-0:9092"},
            "target": section,
        }
    )


def strict(schema: Any) -> Any:
    """The CRD schema with unknown fields refused: the API server prunes them silently, so a misspelt
    field would otherwise vanish without a word."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema.setdefault("additionalProperties", False)
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def validator(crd_file: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(strict(crd_schema(crd_file)))


def test_the_kafka_cr_and_node_pool_are_valid_against_strimzis_crds() -> None:
    rendered = render_manifests(
        config(
            cruise_control={"enabled": True},
            rack_topology_key="topology.kubernetes.io/zone",
            listeners=[{"name": "plain", "port": 9092}, {"name": "tls", "port": 9093, "tls": True, "type": "loadbalancer"}],
            storage={"type": "persistent-claim", "size": "500Gi", "storage_class": "gp3", "delete_claim": True},
        )
    )
    validator("040-Crd-kafka.yaml").validate(rendered.kafka)
    validator("04A-Crd-kafkanodepool.yaml").validate(rendered.node_pool)
    minimal = render_manifests(config(storage={"type": "ephemeral"}))
    validator("040-Crd-kafka.yaml").validate(minimal.kafka)
    validator("04A-Crd-kafkanodepool.yaml").validate(minimal.node_pool)


def test_the_schema_check_catches_a_misspelt_field() -> None:
    kafka = render_manifests(config()).kafka
    kafka["spec"]["kafka"]["listeners"][1]["configuration"]["advertisedHostTemplte"] = "x"
    with pytest.raises(jsonschema.ValidationError, match="advertisedHostTemplte"):
        validator("040-Crd-kafka.yaml").validate(kafka)


def test_the_kafka_cr_carries_the_overrides_and_strimzis_switches() -> None:
    kafka = render_manifests(config(inter_broker_protocol_version="3.9", extra_config={"min.insync.replicas": 2})).kafka
    assert kafka["metadata"]["annotations"] == {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "disabled"}
    assert kafka["metadata"]["labels"]["kafka-k8s-migrator/migration-id"] == "m1"
    assert kafka["spec"]["kafka"]["config"] == {
        "zookeeper.connect": "zk1:2181,zk2:2181/kafka",
        "zookeeper.ssl.client.enable": "false",
        "inter.broker.listener.name": "SHARED-9094",
        "reserved.broker.max.id": "1999",
        "inter.broker.protocol.version": "3.9",
        "min.insync.replicas": 2,
    }
    assert kafka["spec"]["kafka"]["listeners"][-1] == {
        "name": "shared",
        "port": 9094,
        "type": "internal",
        "tls": False,
        "configuration": {"advertisedHostTemplate": "kafka-{nodeId}.example.com"},
    }
    assert kafka["spec"]["zookeeper"] == {"replicas": 1, "storage": {"type": "ephemeral"}}
    assert "cruiseControl" not in kafka["spec"] and "rack" not in kafka["spec"]["kafka"]


def test_each_override_says_why_how_to_verify_and_how_handback_removes_it() -> None:
    (inter_broker,) = [o for o in render_manifests(config()).overrides if o.key == "inter.broker.listener.name"]
    shown = inter_broker.to_dict()
    assert shown["value"] == "SHARED-9094"
    assert shown["fork"] == {"forbidden_prefix": "inter.broker.listener.name", "builder": "KafkaBrokerConfigurationBuilder.withListeners"}
    assert all(shown[field] for field in ("why", "verify", "handback"))


def test_reserved_broker_max_id_is_rendered_only_for_ids_above_1000() -> None:
    low = render_manifests(config(node_ids="[100-199]"))
    assert "reserved.broker.max.id" not in low.kafka["spec"]["kafka"]["config"]
    assert "reserved.broker.max.id" not in [o.key for o in low.overrides]


def test_cruise_control_gets_the_shared_metrics_topic_without_the_fork() -> None:
    rendered = render_manifests(config(cruise_control={"enabled": True, "metrics_topic": "vm.cc.metrics"}))
    assert rendered.kafka["spec"]["cruiseControl"] == {"config": {"metric.reporter.topic": "vm.cc.metrics"}}
    assert "cruise.control.metrics.topic" not in rendered.kafka["spec"]["kafka"]["config"]
    (topic,) = [o for o in rendered.overrides if o.key == "cruise.control.metrics.topic"]
    assert topic.value == "vm.cc.metrics" and topic.spec.fork is None


def test_the_node_pool_asks_for_the_range_and_brokers_only() -> None:
    pool = render_manifests(config(node_ids="[2000-2099]", replicas=5)).node_pool
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == "events"
    assert pool["metadata"]["annotations"] == {"strimzi.io/next-node-ids": "[2000-2099]"}
    assert pool["spec"] == {
        "replicas": 5,
        "roles": ["broker"],
        "storage": {"type": "persistent-claim", "size": "100Gi", "deleteClaim": False},
    }


def test_the_overlays_switch_only_the_operator_image() -> None:
    rendered = render_manifests(config())
    upstream = copy.deepcopy(load_install_file("060-Deployment-strimzi-cluster-operator.yaml"))
    forked = apply_overlay(upstream, rendered.operator_forked)
    assert forked["spec"]["template"]["spec"]["containers"][0]["image"] == FORKED
    assert forked["metadata"]["annotations"] == {BUILD_ANNOTATION: "forked"}
    back = apply_overlay(forked, rendered.operator_upstream)
    assert back["spec"]["template"]["spec"]["containers"][0]["image"] == "quay.io/strimzi/operator:0.45.2"
    # Everything else, the pod template's env (default images) included, is untouched both ways.
    for merged in (forked, back):
        merged = copy.deepcopy(merged)
        merged["metadata"].pop("annotations")
        merged["metadata"].pop("namespace")
        merged["spec"]["template"]["spec"]["containers"][0]["image"] = "quay.io/strimzi/operator:0.45.2"
        assert merged == upstream


def test_apply_overlay_merges_named_lists_by_name() -> None:
    base = {"containers": [{"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}]}, {"name": "b", "image": "2"}]}
    merged = apply_overlay(base, {"containers": [{"name": "b", "image": "3"}, {"name": "c", "image": "4"}]})
    assert merged == {
        "containers": [
            {"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "3"},
            {"name": "c", "image": "4"},
        ]
    }
    assert base["containers"][1]["image"] == "2"


def test_rendering_is_deterministic() -> None:
    first = render_manifests(config(extra_config={"b.key": 1, "a.key": 2}))
    second = render_manifests(config(extra_config={"a.key": 2, "b.key": 1}))
    assert first.yaml == second.yaml
    assert list(first.kafka["spec"]["kafka"]["config"])[-2:] == ["a.key", "b.key"]
    assert [object_identity(o)[1] for o in first.objects] == ["Deployment", "Kafka", "KafkaNodePool"]
    assert list(yaml.safe_load_all(first.yaml)) == first.objects


def served(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` as the API server returns it: server metadata, status, and for the Deployment the rest of
    Strimzi's install Deployment around the fields the overlay sets."""
    live = copy.deepcopy(obj)
    live["metadata"].update(uid="u-1", resourceVersion="42", generation=3, creationTimestamp="2025-01-01T00:00:00Z")
    live["metadata"]["managedFields"] = [{"manager": "kafka-k8s-migrator"}]
    live["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    live["status"] = {"observedGeneration": 3}
    if live["kind"] == "Deployment":
        container = live["spec"]["template"]["spec"]["containers"][0]
        container["env"] = [{"name": "STRIMZI_FULL_RECONCILIATION_INTERVAL_MS", "value": "120000"}]
        live["spec"]["replicas"] = 1
    return live


def test_no_diff_when_the_cluster_holds_what_we_render() -> None:
    rendered = render_manifests(config())
    assert rendered.diff_against([served(obj) for obj in rendered.objects]) == ""


def test_the_diff_shows_what_would_change() -> None:
    rendered = render_manifests(config())
    live = [served(obj) for obj in rendered.objects]
    live[0]["spec"]["template"]["spec"]["containers"][0]["image"] = "quay.io/strimzi/operator:0.45.2"
    live[2]["spec"]["replicas"] = 2
    diff = rendered.diff_against(live)
    assert "-      - image: quay.io/strimzi/operator:0.45.2\n+      - image: " + FORKED in diff
    assert "-  replicas: 2\n+  replicas: 3\n" in diff
    assert "--- live: KafkaNodePool kafka/brokers\n+++ rendered: KafkaNodePool kafka/brokers" in diff
    assert "Kafka kafka/events" not in diff  # unchanged objects stay out of the diff


def test_an_object_missing_from_the_cluster_shows_as_added() -> None:
    rendered = render_manifests(config())
    diff = rendered.diff_against([served(rendered.operator_forked), None])
    assert "--- live: Kafka kafka/events (absent)" in diff
    assert "+  name: events\n" in diff


def test_render_needs_a_strimzi_target() -> None:
    without = MigrationConfig.model_validate(
        {"migration_id": "m1", "cluster": {"zookeeper_connect": "zk:2181/kafka", "bootstrap_servers": "vm-0:9092"}}
    )
    with pytest.raises(BadInput, match="no target section"):
        render_manifests(without)
    local = config(kind="local", operator=None)
    with pytest.raises(BadInput, match="target.kind is local"):
        render_manifests(local)
    assert [o.key for o in render_overrides(local)][:3] == [
        "zookeeper.connect",
        "zookeeper.ssl.client.enable",
        "inter.broker.listener.name",
    ]


def test_extra_config_cannot_shadow_an_override() -> None:
    with pytest.raises(BadInput, match="reserved.broker.max.id"):
        render_manifests(config(extra_config={"reserved.broker.max.id": 5000}))


def test_expectations_for_vm_brokers_are_the_shared_ones() -> None:
    rendered: RenderedManifests = render_manifests(config())
    assert [e.key for e in rendered.expectations("vm")] == [
        "zookeeper.connect",
        "zookeeper.ssl.client.enable",
        "inter.broker.listener.name",
        "listener.security.protocol.map",
        "control.plane.listener.name",
    ]
    assert "reserved.broker.max.id" in [e.key for e in rendered.expectations()]
