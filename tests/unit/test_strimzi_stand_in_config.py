"""The broker config the stand-in operator derives from a Kafka CR: the fork honours the overrides of
strimzi-overrides/ and nothing else that Strimzi forbids; the upstream build drops them and writes its
own ZooKeeper and listeners; and once every override is removed (handback step 1) the fork writes
exactly what upstream writes, as strimzi-overrides/README.md says."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from migrator.config import MigrationConfig
from migrator.platforms.target.strimzi_manifests import load_override_specs, render_manifests
from tests.k8s.strimzi_broker_config import (
    CONTROLPLANE,
    FORBIDDEN_PREFIX_EXCEPTIONS,
    FORBIDDEN_PREFIXES,
    FORK_LETS_THROUGH,
    REPLICATION,
    SHARED_PORT,
    broker_config,
    kraft_node_config,
    user_config,
)
from tests.unit.strimzi_crds import crd_schema

ZOOKEEPER = "127.0.0.1:2181/kafka"


def rendered_kafka(**target: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "cluster_name": "events",
        "replicas": 3,
        "node_ids": "[1000-1999]",
        "shared_listener": {"name": "shared", "port": 9094},
        "rack_topology_key": "topology.kubernetes.io/zone",
        "cruise_control": {"enabled": True},
        "operator": {"forked_image": "registry.example.com/strimzi/operator:0.45.2-mixed-zk"},
    }
    section.update(target)
    config = MigrationConfig.model_validate(
        {
            "migration_id": "m",
            "cluster": {"zookeeper_connect": ZOOKEEPER, "bootstrap_servers": "vm:9092"},
            "target": section,
        }
    )
    return render_manifests(config).kafka


def ports(name: str, inter_broker: bool) -> int | str:
    return SHARED_PORT if inter_broker else {CONTROLPLANE: 1, REPLICATION: 2, "PLAIN-9092": 3, "SHARED-9094": 4}[name]


def test_the_fork_honours_the_overrides() -> None:
    config = broker_config(rendered_kafka(), 1000, "fork", "b", ports)
    assert config["broker.id"] == "1000"
    assert config["zookeeper.connect"] == ZOOKEEPER
    assert config["zookeeper.ssl.client.enable"] == "false"
    assert config["inter.broker.listener.name"] == "SHARED-9094"
    assert "control.plane.listener.name" not in config
    assert "SHARED-9094://{host}:{port}" in config["listeners"].split(",")
    assert "SHARED-9094:PLAINTEXT" in config["listener.security.protocol.map"].split(",")
    assert config["reserved.broker.max.id"] == "1999"
    assert config["broker.rack"] == "b"
    assert config["cruise.control.metrics.topic"] == "__CruiseControlMetrics"


def test_the_upstream_build_drops_them_and_points_at_its_own_ensemble() -> None:
    config = broker_config(rendered_kafka(), 1000, "upstream", None, ports)
    assert config["zookeeper.connect"] == "events-zookeeper-client:2181"
    assert config["zookeeper.ssl.client.enable"] == "true"
    assert config["inter.broker.listener.name"] == REPLICATION
    assert config["control.plane.listener.name"] == CONTROLPLANE
    assert f"{REPLICATION}://{{host}}:{{port}}" in config["listeners"].split(",")
    assert config["reserved.broker.max.id"] == "1999"  # not a forbidden key: no fork needed
    assert "broker.rack" not in config


def test_the_stand_ins_forbidden_prefixes_are_those_strimzi_publishes_in_its_kafka_crd() -> None:
    described = crd_schema("040-Crd-kafka.yaml")["properties"]["spec"]["properties"]["kafka"]["properties"]["config"]["description"]
    found = re.search(r"following prefixes cannot be set: (.*) \(with the exception of: (.*)\)\.", described)
    assert found, described
    assert tuple(item.strip() for item in found[1].split(",")) == FORBIDDEN_PREFIXES
    assert {item.strip() for item in found[2].split(",")} == FORBIDDEN_PREFIX_EXCEPTIONS


def test_the_stand_ins_fork_lets_through_what_the_fork_recipe_adds_and_the_migrator_expects() -> None:
    readme = (Path(__file__).resolve().parents[2] / "strimzi-overrides" / "README.md").read_text()
    step = re.search(r"\*\*Let the keys through\.\*\*(.*?)`FORBIDDEN_PREFIX_EXCEPTIONS`", readme, re.S)
    assert step, "strimzi-overrides/README.md no longer has its 'Let the keys through' step"
    assert set(re.findall(r"`([a-z.]+)`", step[1])) == FORK_LETS_THROUGH
    # Two independent models of the fork, compared here: the migrator's (overrides.yaml) and this one.
    forked = {s.key for s in load_override_specs() if s.set_in == "kafka_config" and s.fork and s.fork.forbidden_prefix}
    assert forked == FORK_LETS_THROUGH


def test_the_fork_lets_through_only_what_overrides_yaml_says() -> None:
    kafka = rendered_kafka()
    forbidden = {"listeners": "X://:1", "ssl.keystore.location": "/k", "broker.id": 7}
    kafka["spec"]["kafka"]["config"].update({**forbidden, "num.io.threads": 4})
    passed = user_config(kafka, "fork")
    assert "listeners" not in passed and "ssl.keystore.location" not in passed and "broker.id" not in passed
    assert passed["num.io.threads"] == "4"
    assert "zookeeper.connect" not in user_config(kafka, "upstream")


def test_without_the_overrides_the_fork_writes_what_upstream_writes() -> None:
    kafka = rendered_kafka()
    handed_back = copy.deepcopy(kafka)
    for key in FORK_LETS_THROUGH:
        handed_back["spec"]["kafka"]["config"].pop(key)
    def both(cr: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
        return broker_config(cr, 1000, "fork", "a", ports), broker_config(cr, 1000, "upstream", "a", ports)

    fork, upstream = both(handed_back)
    assert fork == upstream
    fork, upstream = both(kafka)
    assert fork != upstream


@pytest.mark.parametrize("mode", ["fork", "upstream"])
def test_each_listener_is_placed_by_the_port_callback(mode: str) -> None:
    config = broker_config(rendered_kafka(), 1000, mode, None, ports)  # type: ignore[arg-type]
    endpoints = config["listeners"].split(",")
    assert [e.split("://")[0] for e in endpoints] == [CONTROLPLANE, REPLICATION, "PLAIN-9092", "SHARED-9094"]
    assert sum(e.endswith(":{port}") for e in endpoints) == 1
    assert config["advertised.listeners"] == config["listeners"]


VOTERS = "3000@127.1.12.1:1"


def kraft(cr: dict[str, Any], roles: list[str], mode: str) -> dict[str, str]:
    return kraft_node_config(cr, 1000, roles, mode, "a", ports, VOTERS)  # type: ignore[arg-type]


def test_a_kraft_broker_has_no_zookeeper_of_its_own_and_the_fork_keeps_the_overrides() -> None:
    upstream = kraft(rendered_kafka(), ["broker"], "upstream")
    assert upstream["node.id"] == "1000" and upstream["process.roles"] == "broker"
    assert upstream["controller.quorum.voters"] == VOTERS and upstream["controller.listener.names"] == CONTROLPLANE
    assert not any(key.startswith("zookeeper.") for key in upstream)
    assert upstream["inter.broker.listener.name"] == REPLICATION and "control.plane.listener.name" not in upstream
    assert CONTROLPLANE not in upstream["listeners"] and CONTROLPLANE not in upstream["advertised.listeners"]
    assert f"{CONTROLPLANE}:PLAINTEXT" in upstream["listener.security.protocol.map"].split(",")
    fork = kraft(rendered_kafka(), ["broker"], "fork")
    assert fork["zookeeper.connect"] == ZOOKEEPER and fork["inter.broker.listener.name"] == "SHARED-9094"
    assert "SHARED-9094://{host}:{port}" in fork["listeners"].split(",")


def test_a_kraft_controller_serves_the_controller_listener_only() -> None:
    controller = kraft(rendered_kafka(), ["controller"], "upstream")
    assert controller["listeners"] == f"{CONTROLPLANE}://{{host}}:1"
    assert "advertised.listeners" not in controller and "inter.broker.listener.name" not in controller
    assert "broker.rack" not in controller


def test_in_kraft_mode_too_the_fork_writes_what_upstream_writes_once_the_overrides_are_gone() -> None:
    kafka = rendered_kafka()
    handed_back = copy.deepcopy(kafka)
    for key in FORK_LETS_THROUGH:
        handed_back["spec"]["kafka"]["config"].pop(key)
    handed_back["spec"]["kafka"]["listeners"] = [l for l in kafka["spec"]["kafka"]["listeners"] if l["name"] != "shared"]
    for roles in (["broker"], ["controller"], ["broker", "controller"]):
        assert kraft(handed_back, roles, "fork") == kraft(handed_back, roles, "upstream")
        assert kraft(kafka, roles, "fork") != kraft(kafka, roles, "upstream")
