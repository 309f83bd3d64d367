"""The embedded canary and the safety gate it feeds, on the real sandbox: a topic of ours with a
partition led by every broker, acks=all idempotent round trips with measured latencies, and a broken
cluster seen as a closed gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.cluster.broker_inventory import read_inventory_from_brokers
from migrator.cluster.canary import Canary, CanaryProbe
from migrator.cluster.canary_config import CanaryConfig
from migrator.cluster.inventory import read_inventory
from migrator.cluster.safety import CANARY, check_safety, SafetyGate
from migrator.clients.kafka import KafkaAdmin
from migrator.engine.events import Event, EventBus
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster
from tests.cluster.test_inventory import config_for, context
from tests.waiting import unique, wait_for

pytestmark = pytest.mark.cluster


def test_a_round_trip_reaches_every_broker_and_measures_latency(sandbox: SandboxCluster, tmp_path: Path) -> None:
    config = config_for(sandbox, tmp_path)
    settings = CanaryConfig(enabled=True, topic=unique("canary"))
    canary = Canary(config.cluster, settings)
    try:
        report = canary.round_trip()
        assert report.problem(settings) is None, report
        assert report.partitions == len(sandbox.brokers) == report.produced == report.consumed
        assert 0 < report.produce_latency_ms <= report.end_to_end_latency_ms < settings.max_end_to_end_latency_ms
        with KafkaAdmin(config.cluster) as admin:
            partitions = admin.metadata().topics[settings.topic].partitions.values()
        assert sorted(p.leader for p in partitions) == sorted(sandbox.brokers)  # each broker leads one
        assert {b for p in partitions for b in p.replicas} == set(sandbox.brokers)
        assert canary.round_trip().consumed == report.partitions  # the topic is reused, records read back
    finally:
        canary.close()


def test_the_gate_with_the_canary_passes_on_a_healthy_cluster(sandbox: SandboxCluster, tmp_path: Path) -> None:
    config = config_for(sandbox, tmp_path)
    safety = config.safety.model_copy(update={"canary": CanaryConfig(enabled=True, topic=unique("canary"))})
    config = config.model_copy(update={"safety": safety})
    ctx = context(config)
    produced: list[Event] = []
    ctx.events.subscribe(lambda event: produced.append(event) if event.kind == "canary.produce" else None)
    verdict = SafetyGate(config)(ctx)
    assert verdict.done, verdict.reason
    assert "canary" in verdict.reason and "round trips" in verdict.reason
    # What the metrics count: one acknowledged record per broker, each with its latency.
    assert len(produced) == len(sandbox.brokers) and all(e.data["latency_seconds"] > 0 for e in produced)
    # Read through the brokers alone (what the gate uses after the KRaft cutover), the cluster is the same.
    by_brokers, by_zookeeper = read_inventory_from_brokers(config), read_inventory(config)
    assert by_brokers.cluster_id == by_zookeeper.cluster_id and by_brokers.controller_id == by_zookeeper.controller_id
    assert sorted(by_brokers.brokers) == sorted(by_zookeeper.brokers)
    assert by_brokers.topics.keys() >= {settings for settings in by_zookeeper.topics if not settings.startswith("__")}
    assert check_safety(config, read=read_inventory_from_brokers).ok


def test_a_cluster_that_cannot_take_acks_all_writes_closes_the_gate(sandbox_factory, tmp_path: Path) -> None:
    cluster: SandboxCluster = sandbox_factory(brokers=[BrokerSpec(0, "a"), BrokerSpec(1, "b"), BrokerSpec(2, "c")])
    config = config_for(cluster, tmp_path, timeout_seconds=5)
    settings = CanaryConfig(enabled=True, topic=unique("canary"), timeout_seconds=8)
    probe = CanaryProbe(config.cluster, settings)
    failed: list[Event] = []
    events = EventBus()
    events.subscribe(lambda event: failed.append(event) if event.data.get("error") else None)
    assert probe(events)[0], probe.last
    assert failed == []
    cluster.stop_broker(1)
    cluster.stop_broker(2)
    # min.insync.replicas is 2 on this cluster: with one broker left no acks=all write can succeed.
    healthy, detail = wait_for(lambda: (r := probe(events)) and (None if r[0] else r), "the canary to fail", timeout=60)
    assert not healthy and "canary" in detail and failed
    verdict = SafetyGate(config, checks=[], canary=probe)(context(config))
    assert not verdict.done and CANARY in verdict.reason
