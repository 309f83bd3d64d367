"""The pure parts of migrator/platforms/target/strimzi_api.py: reading Strimzi's status shapes, telling a
resourceVersion conflict from a field-manager conflict, the bounded re-read loop, and the waits with
an injected clock. (The API calls themselves are tested on the real API server in tests/k8s.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from migrator.config import MigrationConfig
from migrator.errors import BadInput, TemporaryError
from migrator.platforms.target.strimzi_api import (
    ObjectChanged,
    KafkaStatus,
    NodePoolStatus,
    StrimziPlatform,
    _field_conflicts,
)
from migrator.platforms.target.config import TargetConfig
from tests.fake_clock import FakeClock


def target(**changes: Any) -> TargetConfig:
    section: dict[str, Any] = {
        "cluster_name": "events",
        "replicas": 3,
        "shared_listener": {"name": "shared", "port": 9094},
        "operator": {"forked_image": "registry.example.com/strimzi/operator:0.45.2-mixed-zk"},
    }
    section.update(changes)
    config = MigrationConfig.model_validate(
        {
            "migration_id": "m",
            "cluster": {"zookeeper_connect": "zk:2181/kafka", "bootstrap_servers": "vm:9092"},
            "target": section,
        }
    )
    assert config.target is not None
    return config.target



def platform(clock: FakeClock | None = None, **options: Any) -> StrimziPlatform:
    clock = clock or FakeClock()
    return StrimziPlatform(k8s.ApiClient(), target(), sleep=clock.sleep, clock=clock, poll_interval=2.0, **options)


def kafka(generation: int, observed: int | None, *conditions: dict[str, str]) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": list(conditions)}
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": {"name": "events", "generation": generation}, "status": status}


READY = {"type": "Ready", "status": "True"}
NOT_READY = {"type": "NotReady", "status": "True", "reason": "NodeExistsException", "message": "/brokers/ids/0 exists"}


def test_ready_needs_the_current_generation_reconciled() -> None:
    assert KafkaStatus.from_object(kafka(2, 2, READY)).ready
    stale = KafkaStatus.from_object(kafka(2, 1, READY))
    assert not stale.ready and not stale.caught_up
    assert not KafkaStatus.from_object(kafka(1, None)).ready


def test_a_failure_reads_as_strimzi_writes_it() -> None:
    status = KafkaStatus.from_object(kafka(1, 1, NOT_READY))
    assert not status.ready
    assert status.not_ready is not None and status.not_ready.reason == "NodeExistsException"
    assert "NotReady=True (NodeExistsException: /brokers/ids/0 exists)" in status.describe()


def test_node_pool_status_reads_the_assigned_ids() -> None:
    pool = {
        "metadata": {"name": "brokers", "generation": 3},
        "spec": {"replicas": 3},
        "status": {"observedGeneration": 3, "nodeIds": [0, 1, 2]},
    }
    status = NodePoolStatus.from_object(pool)
    assert status.node_ids == (0, 1, 2) and status.caught_up and status.replicas == 3
    assert NodePoolStatus.from_object({"metadata": {"name": "b"}, "spec": {"replicas": 1}}).node_ids == ()


def conflict(body: dict[str, Any]) -> ApiException:
    error = ApiException(status=409, reason="Conflict")
    error.body = json.dumps(body)
    return error


FIELD_CONFLICT = {
    "reason": "Conflict",
    "details": {
        "causes": [{"reason": "FieldManagerConflict", "message": 'conflict with "human"', "field": ".spec.replicas"}]
    },
}
MOVED_ON = {"reason": "Conflict", "message": "the object has been modified; please apply your changes to the latest"}


def test_a_field_manager_conflict_is_told_apart_from_a_stale_resource_version() -> None:
    assert [c["field"] for c in _field_conflicts(conflict(FIELD_CONFLICT))] == [".spec.replicas"]
    assert _field_conflicts(conflict(MOVED_ON)) == []
    assert _field_conflicts(ApiException(status=404)) == []


def test_a_stale_write_is_retried_after_a_fresh_read_a_bounded_number_of_times() -> None:
    subject = platform(conflict_attempts=3)
    reads: list[int] = []

    def write(version: int) -> str:
        if version < 2:
            raise conflict(MOVED_ON)
        return f"written at {version}"

    assert subject._with_fresh_read("test", lambda: reads.append(len(reads)) or len(reads) - 1, write) == "written at 2"
    assert reads == [0, 1, 2]

    def always_stale(_: object) -> str:
        raise conflict(MOVED_ON)

    with pytest.raises(ObjectChanged, match="changed between our read and our write 3 times"):
        subject._with_fresh_read("test", lambda: None, always_stale)


def test_a_field_conflict_is_not_retried() -> None:
    calls: list[object] = []

    def write(_: object) -> str:
        calls.append(_)
        raise conflict(FIELD_CONFLICT)

    with pytest.raises(ApiException):
        platform()._with_fresh_read("test", lambda: None, write)
    assert len(calls) == 1


def test_waiting_for_node_ids_is_bounded_and_reports_what_it_saw() -> None:
    clock = FakeClock()
    subject = platform(clock)
    seen = [
        None,
        NodePoolStatus("brokers", 1, None, 3, (), (), None),
        NodePoolStatus("brokers", 1, 1, 3, (0, 1), (), None),
    ]
    subject.node_pool_status = lambda name=None: seen[min(len(clock.sleeps), 2)]  # type: ignore[method-assign]
    with pytest.raises(TemporaryError, match=r"status.nodeIds \[0, 1\]"):
        subject.wait_node_ids(timeout=10)
    assert sum(clock.sleeps) == 10

    done = NodePoolStatus("brokers", 1, 1, 3, (1000, 1001, 1002), (), None)
    subject.node_pool_status = lambda name=None: done  # type: ignore[method-assign]
    assert subject.wait_node_ids() == (1000, 1001, 1002)


def test_waiting_for_ready_ignores_a_ready_left_from_an_older_generation() -> None:
    clock = FakeClock()
    subject = platform(clock)
    states = [KafkaStatus.from_object(kafka(2, 1, READY)), KafkaStatus.from_object(kafka(2, 2, READY))]
    subject.kafka_status = lambda name=None: states[min(len(clock.sleeps), 1)]  # type: ignore[method-assign]
    assert subject.wait_ready().observed_generation == 2
    assert clock.sleeps == [2.0]


def test_a_local_target_is_refused() -> None:
    with pytest.raises(BadInput, match="target.kind is local"):
        StrimziPlatform(k8s.ApiClient(), target(kind="local", operator=None))


def test_an_overlay_for_another_deployment_is_refused() -> None:
    overlay = {
        "kind": "Deployment",
        "metadata": {"name": "other", "namespace": "kafka"},
        "spec": {"template": {"spec": {"containers": [{"name": "strimzi-cluster-operator", "image": "x"}]}}},
    }
    with pytest.raises(ValueError, match="target.operator names kafka/strimzi-cluster-operator"):
        platform().apply(overlay)
