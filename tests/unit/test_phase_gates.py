"""Every built phase carries the safety gate, so the machine asks it before each of its steps; the
phases that had none (dns-facade, operator-handback) included. After the KRaft cutover the handback's
gate reads the cluster through the brokers, ZooKeeper being gone."""

from __future__ import annotations

import pytest

from migrator.cluster.broker_inventory import read_inventory_from_brokers
from migrator.cluster.inventory import read_inventory
from migrator.cluster.safety import ALL_CHECKS, SafetyGate
from migrator.config import MigrationConfig
from phases import build_phase

CONFIG = {
    "migration_id": "m1",
    "cluster": {"zookeeper_connect": "zk1:2181/kafka", "bootstrap_servers": "vm-0:9092", "cluster_id": "c1"},
    "dns": {
        "provider": "rfc2136",
        "zone": "example.com",
        "rfc2136": {"primary": "ns1.example.com", "tsig": {"name": "k", "secret": {"env": "UNSET_IN_THIS_TEST"}}},
    },
    "target": {
        "kind": "strimzi",
        "cluster_name": "events",
        "replicas": 3,
        "shared_listener": {"name": "shared", "port": 9095},
        "operator": {"forked_image": "registry.example/strimzi-fork:0.45.2"},
    },
}


@pytest.mark.parametrize("name", ["preflight", "dns-facade", "mixed-cluster-join", "operator-handback"])
def test_the_phase_has_a_safety_gate(name: str) -> None:
    phase = build_phase(name, MigrationConfig.model_validate(CONFIG))
    assert isinstance(phase.gate, SafetyGate) and phase.gate.checks == ALL_CHECKS


def test_the_handback_gate_reads_through_the_brokers() -> None:
    config = MigrationConfig.model_validate(CONFIG)
    assert build_phase("operator-handback", config).gate.read is read_inventory_from_brokers
    assert build_phase("preflight", config).gate.read is read_inventory


def test_the_canary_joins_the_gate_when_enabled() -> None:
    config = MigrationConfig.model_validate({**CONFIG, "safety": {"canary": {"enabled": True}}})
    gate = build_phase("preflight", config).gate
    assert gate.canary is not None and gate.name.endswith(",canary]")
    assert build_phase("preflight", MigrationConfig.model_validate(CONFIG)).gate.canary is None
