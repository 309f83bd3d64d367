"""The Cruise Control client, config and test double where no Kafka cluster is needed.

The double answers `state` (idle executor), `user_tasks` and `stop_proposal_execution` without
touching a cluster, so these run against the real HTTP server and the OpenAPI description.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from pydantic import ValidationError

from migrator.clients.cruise_control import (
    NO_TASK_IN_PROGRESS,
    CruiseControl,
    CruiseControlError,
    ExecutorState,
    Proposal,
)
from migrator.config import MigrationConfig
from migrator.errors import BadInput
from migrator.movers.cruise_control_config import CruiseControlConfig
from tests.cruise_control_double import proposals
from tests.cruise_control_double.server import CruiseControlDouble

# Nothing listens there: the endpoints used below never reach the cluster.
NO_CLUSTER = MigrationConfig.model_validate(
    {"migration_id": "unit", "cluster": {"zookeeper_connect": "127.0.0.1:9/kafka", "bootstrap_servers": "127.0.0.1:9"}}
)


@pytest.fixture
def double() -> Iterator[CruiseControlDouble]:
    with CruiseControlDouble(NO_CLUSTER) as cc:
        yield cc
    assert cc.violations == [], "the double answered against the OpenAPI description"


def test_an_idle_executor_and_its_user_tasks(double: CruiseControlDouble):
    with CruiseControl(double.url) as cc:
        state = cc.executor_state()
        tasks = cc.user_tasks()
        assert cc.user_tasks([tasks[0].user_task_id]) == tasks
        assert cc.user_tasks(["00000000-0000-0000-0000-000000000000"]) == []
    assert state.state == NO_TASK_IN_PROGRESS and not state.busy and state.task_id is None
    assert [t.status for t in tasks] == ["Completed"] and tasks[0].request_url.startswith("GET /kafkacruisecontrol/state?")


def test_stop_never_asks_to_stop_external_agents_unless_told(double: CruiseControlDouble):
    with CruiseControl(double.url) as cc:
        assert cc.stop_proposal_execution() == "Proposal execution stopped."
    assert any("stop_proposal_execution" in r and "stop_external_agent=false" in r for r in double.requests)


def test_the_double_rejects_what_the_openapi_description_forbids(double: CruiseControlDouble):
    base = f"{double.url}/kafkacruisecontrol"
    refused = [
        # execution_progress_check_interval_ms has a minimum of 5000.
        requests.post(f"{base}/remove_broker", params={"brokerid": "0", "execution_progress_check_interval_ms": "100"}),
        # brokerid is required.
        requests.post(f"{base}/remove_broker", params={"json": "true"}),
        # substates is an enum.
        requests.get(f"{base}/state", params={"substates": "executor,bogus"}),
        # A repeated list parameter: Cruise Control would silently keep only the first value.
        requests.post(f"{base}/remove_broker", params=[("brokerid", "0"), ("brokerid", "1")]),
        # A number where an integer list is declared.
        requests.post(f"{base}/demote_broker", params={"brokerid": "zero"}),
    ]
    assert [r.status_code for r in refused] == [400] * 5
    assert "less than the minimum of 5000" in refused[0].json()["errorMessage"]
    assert "brokerid" in refused[1].json()["errorMessage"]
    assert len(double.rejected) == 5
    with CruiseControl(double.url) as cc, pytest.raises(CruiseControlError) as failure:
        cc.request("POST", "remove_broker", {"brokerid": "0", "execution_progress_check_interval_ms": 100})
    assert failure.value.status == 400


def test_absent_parameters_with_a_null_default_in_the_spec_are_accepted(double: CruiseControlDouble):
    # kafka_cluster_state's `topic` and user_tasks' `entries` carry defaults their own schemas reject
    # (null, MAX_INT); leaving them out is what every client does. stop needs no cluster.
    base = f"{double.url}/kafkacruisecontrol"
    assert requests.get(f"{base}/user_tasks", params={"json": "true"}).status_code == 200
    assert requests.get(f"{base}/user_tasks", params={"json": "true", "entries": "3"}).status_code == 200
    assert requests.get(f"{base}/user_tasks", params={"json": "true", "entries": "-1"}).status_code == 400


def test_polling_with_an_unknown_user_task_id_is_refused_as_after_a_restart(double: CruiseControlDouble):
    with CruiseControl(double.url) as cc:
        first = cc.request("GET", "state", {"substates": "executor"})
        double.restart()
        with pytest.raises(CruiseControlError, match="Unexpected header") as failure:
            cc.request("GET", "state", {"substates": "executor"}, user_task_id=first.user_task_id)
        assert failure.value.status == 500
        assert cc.user_tasks() == [], "a restarted Cruise Control knows no task"


def test_an_unreachable_cruise_control_is_bad_input():
    with CruiseControl("http://127.0.0.1:9", timeout_seconds=1) as cc, pytest.raises(BadInput, match="did not answer state"):
        cc.executor_state()


def test_proposals_and_executor_state_parse_cruise_controls_json():
    proposal = Proposal.from_json(
        {"topicPartition": "my-topic-with-dashes-12", "oldLeader": 1, "oldReplicas": [1, 2], "newReplicas": [3, 2]}
    )
    assert (proposal.topic, proposal.partition, proposal.new_replicas) == ("my-topic-with-dashes", 12, (3, 2))
    state = ExecutorState.from_json(
        {
            "state": "INTER_BROKER_REPLICA_MOVEMENT_TASK_IN_PROGRESS",
            "triggeredUserTaskId": "abc",
            "triggeredSelfHealingTaskId": "",
            "numFinishedPartitionMovements": 3,
            "finishedDataMovement": 0,
            "totalDataToMove": 12,
        }
    )
    assert state.busy and state.task_id == "abc" and state.total_data_to_move_mb == 12
    healing = ExecutorState.from_json({"state": "STARTING_EXECUTION", "triggeredUserTaskId": "", "triggeredSelfHealingTaskId": "h1"})
    assert healing.task_id == "h1" and healing.triggered_user_task_id is None


def test_cruise_control_config(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(ValidationError, match="without the /kafkacruisecontrol prefix"):
        CruiseControlConfig(url="http://cc:9090/kafkacruisecontrol")
    with pytest.raises(ValidationError):
        CruiseControlConfig(url="http://cc:9090", execution_progress_check_interval_ms=1000)
    monkeypatch.setenv("CC_PASSWORD", "s3cret")
    config = CruiseControlConfig.model_validate(
        {"url": "https://cc:9090/", "username": "migrator", "password": {"env": "CC_PASSWORD"}}
    )
    assert config.url == "https://cc:9090" and config.auth() == ("migrator", "s3cret")
    assert "s3cret" not in config.model_dump_json()


def test_the_doubles_drain_is_deterministic_and_uses_only_the_destinations():
    assignment = {("t", 0): (0, 1, 2), ("t", 1): (2, 0, 1), ("t", 2): (1, 2, 0), ("u", 0): (0, 1)}
    moved = proposals.drain(assignment, removed={2}, live={0, 1, 2, 3, 4}, destinations={3, 4})
    assert moved == {("t", 0): (0, 1, 3), ("t", 1): (4, 0, 1), ("t", 2): (1, 3, 0)}
    assert proposals.drain(assignment, {2}, {0, 1, 2, 3, 4}, {3, 4}) == moved
    with pytest.raises(proposals.ProposalError, match="no broker left"):
        proposals.drain({("t", 0): (0, 1)}, removed={0}, live={0, 1}, destinations={1})
    assert proposals.demote(assignment, {0}) == {("t", 0): (1, 2, 0), ("u", 0): (1, 0)}


def test_a_read_whose_task_was_forgotten_is_asked_again_but_a_post_is_not(monkeypatch: pytest.MonkeyPatch):
    from migrator.clients.cruise_control import Reply

    def scripted(answers: list) -> object:
        calls: list[str | None] = []

        def request(method, endpoint, params, user_task_id=None):  # noqa: ANN001 - stands in for one method
            calls.append(user_task_id)
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

        request.calls = calls  # type: ignore[attr-defined]
        return request

    forgotten = CruiseControlError(500, "Error processing ... 'Unexpected header abc (value: User-Task-ID) in the request.'", "x")
    busy = Reply(202, "abc", {"version": 1, "progress": []})
    done = Reply(200, "def", {"version": 1})
    with CruiseControl("http://127.0.0.1:9", sleep=lambda s: None) as cc:
        monkeypatch.setattr(cc, "request", scripted([busy, forgotten, done]))
        assert cc.complete("GET", "state", {}, timeout_seconds=10) == done
        assert cc.request.calls == [None, "abc", None]  # type: ignore[attr-defined]
        monkeypatch.setattr(cc, "request", scripted([busy, forgotten]))
        with pytest.raises(CruiseControlError) as failure:
            cc.complete("POST", "remove_broker", {}, timeout_seconds=10)
        assert failure.value.task_forgotten
