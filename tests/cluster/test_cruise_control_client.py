"""The Cruise Control client against the test double, and the double against its OpenAPI description.

Dry runs only on the shared sandbox: nothing here moves data (the mover's tests do, on private clusters).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from migrator.clients.cruise_control import (
    NO_TASK_IN_PROGRESS,
    CruiseControl,
    CruiseControlError,
    Optimization,
)
from migrator.config import MigrationConfig, load_config
from migrator.sandbox.cluster import SandboxCluster
from tests.cluster.native_mover_support import assignment, create_topic, unique
from tests.cruise_control_double.server import CruiseControlDouble

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def config(sandbox: SandboxCluster, tmp_path_factory: pytest.TempPathFactory) -> MigrationConfig:
    return load_config(sandbox.write_migration_config(tmp_path_factory.mktemp("cc-client") / "migration.yaml"))


@pytest.fixture
def double(config: MigrationConfig) -> Iterator[CruiseControlDouble]:
    with CruiseControlDouble(config) as cc:
        yield cc
    assert cc.violations == [], "the double answered against the OpenAPI description"


def test_executor_state_and_user_tasks_of_an_idle_cruise_control(double: CruiseControlDouble):
    with CruiseControl(double.url) as cc:
        state = cc.executor_state()
        assert state.state == NO_TASK_IN_PROGRESS and not state.busy and state.task_id is None
        tasks = cc.user_tasks()
    # The state request itself is an async user task, as in Cruise Control.
    assert [t.status for t in tasks] == ["Completed"]
    assert tasks[0].request_url.startswith("GET /kafkacruisecontrol/state?")
    assert "substates=executor" in tasks[0].request_url


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


def test_kafka_cluster_state_and_stop_without_an_execution(double: CruiseControlDouble, sandbox: SandboxCluster):
    with CruiseControl(double.url) as cc:
        state = cc.kafka_cluster_state()
        assert state["KafkaBrokerState"]["Summary"]["Brokers"] == 3
        assert sum(state["KafkaBrokerState"]["IsController"].values()) == 1
        assert cc.stop_proposal_execution() == "Proposal execution stopped."
    assert any("stop_external_agent=false" in r for r in double.requests)


def test_the_double_rejects_what_the_openapi_description_forbids(double: CruiseControlDouble):
    base = f"{double.url}/kafkacruisecontrol"
    # execution_progress_check_interval_ms has minimum 5000; brokerid is required; substates is an enum.
    refused = [
        requests.post(f"{base}/remove_broker", params={"brokerid": "0", "execution_progress_check_interval_ms": "100", "json": "true"}),
        requests.post(f"{base}/remove_broker", params={"json": "true"}),
        requests.get(f"{base}/state", params={"substates": "executor,bogus", "json": "true"}),
        # A repeated list parameter: Cruise Control would silently keep only the first value.
        requests.post(f"{base}/remove_broker", params=[("brokerid", "0"), ("brokerid", "1"), ("json", "true")]),
    ]
    assert [r.status_code for r in refused] == [400, 400, 400, 400]
    assert "less than the minimum of 5000" in refused[0].json()["errorMessage"]
    assert "brokerid" in refused[1].json()["errorMessage"]
    assert len(double.rejected) == 4
    with CruiseControl(double.url) as cc:
        with pytest.raises(CruiseControlError) as failure:
            cc.request("POST", "remove_broker", {"brokerid": "0", "execution_progress_check_interval_ms": 100})
    assert failure.value.status == 400
