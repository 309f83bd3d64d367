"""The Cruise Control client against the test double, and the double against its OpenAPI description.

Dry runs only, on a cluster of the module's own: nothing here moves data (the mover's tests do).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from migrator.clients.cruise_control import (
    CruiseControl,
    CruiseControlError,
    Optimization,
)
from migrator.config import MigrationConfig
from migrator.sandbox.cluster import SandboxCluster
from tests.cluster.native_mover_support import assignment, create_topic, unique
from tests.cruise_control_double.server import CruiseControlDouble

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def sandbox(private: tuple[SandboxCluster, MigrationConfig]) -> SandboxCluster:
    """The module's own cluster (tests/cluster/conftest.py says why not the shared one)."""
    return private[0]


@pytest.fixture(scope="module")
def config(private: tuple[SandboxCluster, MigrationConfig]) -> MigrationConfig:
    return private[1]


@pytest.fixture
def double(config: MigrationConfig) -> Iterator[CruiseControlDouble]:
    with CruiseControlDouble(config) as cc:
        yield cc
    assert cc.violations == [], "the double answered against the OpenAPI description"


def test_a_dry_run_remove_broker_proposes_moves_only_to_the_destinations(
    double: CruiseControlDouble, sandbox: SandboxCluster, config: MigrationConfig
):
    topic = unique("cc-dry")
    create_topic(sandbox, topic, partitions=3, replication=2, assignment=[[0, 1], [1, 0], [0, 1]])
    before = assignment(config, [topic])
    with CruiseControl(double.url) as cc:
        result = cc.optimize("remove_broker", cc.remove_broker_params([0], destinations=[2]), timeout_seconds=30)
    assert isinstance(result, Optimization)
    mine = {(p.topic, p.partition): p for p in result.proposals if p.topic == topic}
    assert set(mine) == {(topic, 0), (topic, 1), (topic, 2)}
    for key, proposal in mine.items():
        assert proposal.old_replicas == before[key]
        assert 0 not in proposal.new_replicas and 2 in proposal.new_replicas and 1 in proposal.new_replicas
    assert result.summary["numReplicaMovements"] >= 3
    assert assignment(config, [topic]) == before, "a dry run moves nothing"
    # Cruise Control reads lists as one comma-separated value; that is what went out.
    assert any("brokerid=0&" in r and "destination_broker_ids=2" in r for r in double.requests)


def test_a_slow_proposal_answers_202_and_is_fetched_with_its_user_task_id(config: MigrationConfig):
    with CruiseControlDouble(config, max_block_seconds=0.1, proposal_delay_seconds=1.0) as double:
        with CruiseControl(double.url) as cc:
            params = cc.remove_broker_params([0], destinations=[2])
            first = cc.request("POST", "remove_broker", params)
            assert first.status == 202 and first.user_task_id
            assert first.body["progress"][0]["operation"] == "remove_broker"
            result = cc.optimize("remove_broker", params, timeout_seconds=30, user_task_id=first.user_task_id)
            assert isinstance(result, Optimization) and result.user_task_id == first.user_task_id
            # Only one task was created: the polls fetched it rather than starting new ones.
            assert [t.user_task_id for t in cc.user_tasks() if "remove_broker" in t.request_url] == [first.user_task_id]
            # Asking with that id but other parameters is refused, as Cruise Control does.
            with pytest.raises(CruiseControlError, match="Unexpected header"):
                cc.request("POST", "remove_broker", {**params, "brokerid": "1"}, user_task_id=first.user_task_id)
        assert double.violations == []


def test_without_valid_metric_windows_a_proposal_fails_with_cruise_controls_error(config: MigrationConfig):
    with CruiseControlDouble(config, windows_ready_after_seconds=3600) as double:
        with CruiseControl(double.url) as cc:
            with pytest.raises(CruiseControlError) as failure:
                cc.optimize("remove_broker", cc.remove_broker_params([0], destinations=[2]), timeout_seconds=30)
            assert cc.monitor_state()["numMonitoredWindows"] == 0
        assert failure.value.status == 500 and failure.value.not_enough_windows
        assert double.violations == []


def test_kafka_cluster_state(double: CruiseControlDouble, sandbox: SandboxCluster, config: MigrationConfig):
    topic = unique("cc-state")
    create_topic(sandbox, topic, partitions=2, replication=2, assignment=[[0, 1], [1, 2]])
    with CruiseControl(double.url) as cc:
        state = cc.kafka_cluster_state()
    brokers = state["KafkaBrokerState"]
    assert brokers["Summary"]["Brokers"] == 3 and sum(brokers["IsController"].values()) == 1
    total = sum(len(r) for r in assignment(config, None).values())
    assert sum(brokers["ReplicaCountByBrokerId"].values()) == brokers["Summary"]["Replicas"] == total


def test_a_dry_run_demote_hands_leadership_away_and_moves_nothing(
    double: CruiseControlDouble, sandbox: SandboxCluster, config: MigrationConfig
):
    topic = unique("cc-demote")
    create_topic(sandbox, topic, partitions=2, replication=2, assignment=[[1, 0], [0, 1]])
    before = assignment(config, [topic])
    with CruiseControl(double.url) as cc:
        result = cc.optimize("demote_broker", cc.demote_broker_params([1]), timeout_seconds=30)
    assert isinstance(result, Optimization)
    mine = {(p.topic, p.partition): p.new_replicas for p in result.proposals if p.topic == topic}
    assert mine == {(topic, 0): (0, 1)}
    assert assignment(config, [topic]) == before
