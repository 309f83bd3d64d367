"""The overrides verifier against real brokers: a "VM" broker carrying only the shared listener and a
"Strimzi" broker started with the rendered overrides, in one ZooKeeper cluster as in the mixed phase.

The Strimzi broker's server.properties hold what the forked operator would write for the override
keys: spec.kafka.config entries verbatim, the shared listener as Strimzi renders a spec.kafka.listeners
entry, and the Cruise Control metrics topic from spec.cruiseControl.config.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from migrator.clients.kafka import KafkaAdmin
from migrator.cluster.overrides_verifier import UNAVAILABLE, verify_overrides
from migrator.config import MigrationConfig
from migrator.platforms.target.strimzi_manifests import RenderedManifests, render_manifests
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster
from migrator.sandbox.ports import free_port

pytestmark = pytest.mark.cluster

SHARED = {"name": "shared", "port": 9094}
SHARED_NAME = "SHARED-9094"


def shared_listener(port: int) -> dict[str, str]:
    """The shared listener on a broker: its own client listener plus SHARED-9094 on `port`."""
    return {
        "listeners": f"PLAINTEXT://{{host}}:{{port}},{SHARED_NAME}://{{host}}:{port}",
        "listener.security.protocol.map": f"PLAINTEXT:PLAINTEXT,{SHARED_NAME}:PLAINTEXT",
    }


def migration_config(cluster: SandboxCluster, tmp_path: Path, **target: Any) -> MigrationConfig:
    data = yaml.safe_load(cluster.write_migration_config(tmp_path / "migration.yaml").read_text())
    data["cluster"]["timeout_seconds"] = 3
    data["target"] = {
        "cluster_name": "events",
        "replicas": 1,
        "node_ids": "[1500-1999]",
        "shared_listener": SHARED,
        "cruise_control": {"enabled": True, "metrics_topic": "vm.cc.metrics"},
        "operator": {"forked_image": "registry.example.com/strimzi/operator:0.45.2-mixed-zk"},
        **target,
    }
    return MigrationConfig.model_validate(data)


def strimzi_broker_config(rendered: RenderedManifests, shared_port: int) -> dict[str, object]:
    config: dict[str, object] = dict(rendered.kafka["spec"]["kafka"]["config"])
    config.update(shared_listener(shared_port))
    config["cruise.control.metrics.topic"] = rendered.kafka["spec"]["cruiseControl"]["config"]["metric.reporter.topic"]
    return config


def test_the_verifier_tells_which_overrides_each_broker_runs_with(
    sandbox_factory: Callable[..., SandboxCluster], tmp_path: Path
) -> None:
    vm = BrokerSpec(0, "a", config={**shared_listener(free_port()), "inter.broker.listener.name": SHARED_NAME})
    cluster = sandbox_factory(brokers=[vm])
    config = migration_config(cluster, tmp_path)
    rendered = render_manifests(config)
    assert rendered.kafka["spec"]["kafka"]["config"]["reserved.broker.max.id"] == "1999"
    # Kafka would refuse broker 1500 without reserved.broker.max.id: starting it proves the override works.
    cluster.add_broker(BrokerSpec(1500, "b", config=strimzi_broker_config(rendered, free_port())))

    with KafkaAdmin(config.cluster) as admin:
        strimzi = verify_overrides(admin, [1500], rendered.expectations())
        assert strimzi.in_effect, strimzi.to_dict()
        rows = {check.key: check for check in strimzi.checks}
        assert rows["zookeeper.connect"].actual == cluster.zookeeper_connect
        assert rows["zookeeper.connect"].source == "STATIC_BROKER_CONFIG"
        assert rows["inter.broker.listener.name"].actual == SHARED_NAME
        assert rows["reserved.broker.max.id"].actual == "1999"
        assert rows["control.plane.listener.name"].source == "DEFAULT_CONFIG"
        assert rows["cruise.control.metrics.topic"].actual is None  # set, but Kafka hides its value

        # The VM broker shares the ZooKeeper and listener settings; it runs no Cruise Control metrics
        # reporter (Kafka does not even report the key then) and lacks the Strimzi-side settings.
        shared = verify_overrides(admin, [0], rendered.expectations("vm"))
        assert [(c.key, c.source) for c in shared.not_in_effect] == [("cruise.control.metrics.topic", "NOT_REPORTED")]
        vm_report = verify_overrides(admin, [0], rendered.expectations())
        assert {c.key for c in vm_report.not_in_effect} == {"reserved.broker.max.id", "cruise.control.metrics.topic"}
        (reserved,) = [c for c in vm_report.checks if c.key == "reserved.broker.max.id"]
        assert (reserved.actual, reserved.source) == ("1000", "DEFAULT_CONFIG")

        # Another chroot and another shared listener: both brokers are caught out.
        other = render_manifests(
            config.model_copy(
                update={
                    "cluster": config.cluster.model_copy(update={"zookeeper_connect": cluster.zookeeper_hosts + "/other"}),
                    "target": migration_config(
                        cluster, tmp_path, shared_listener={"name": "shared", "port": 9095}, cruise_control={}
                    ).target,
                }
            )
        )
        wrong = verify_overrides(admin, [0, 1500], other.expectations("vm"))
        assert {(c.broker_id, c.key) for c in wrong.not_in_effect} == {
            (broker, key)
            for broker in (0, 1500)
            for key in ("zookeeper.connect", "inter.broker.listener.name", "listener.security.protocol.map")
        }

        # A broker that is not there cannot show anything in effect.
        missing = verify_overrides(admin, [4242], rendered.expectations())
        assert not missing.in_effect
        assert all(c.source.startswith(UNAVAILABLE) for c in missing.checks)
