"""The move-replicas step's contract with the engine, with the executor stubbed (no cluster)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from confluent_kafka import KafkaError, KafkaException

from migrator.config import MigrationConfig
from migrator.engine.events import EventBus
from migrator.engine.step import StepContext
from migrator.errors import TemporaryError
from migrator.movers.native import MoveReplicas, NativeMover
from migrator.movers.plan import BatchLimits, MovePlan, PartitionMove


class DeadControllerExecutor:
    """Fails like a run whose controller died and stayed unreachable past the clients' retries."""

    def run(self, plan, memory):
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "Timed out waiting for controller"))


def test_a_cluster_that_stops_answering_mid_move_is_a_temporary_error_the_engine_retries(monkeypatch):
    @contextmanager
    def open_stub(config, **kwargs):
        yield DeadControllerExecutor()

    monkeypatch.setattr(NativeMover, "open", open_stub)
    plan = MovePlan("mapping", (0,), (100,), BatchLimits(), (PartitionMove("orders", 0, (0,), (100,), 1000, 0),))
    config = MigrationConfig.model_validate(
        {"migration_id": "m", "cluster": {"zookeeper_connect": "zk:2181", "bootstrap_servers": "kafka:9092"}}
    )
    ctx = StepContext(config=config, state={"move_plan": plan.to_dict()}, events=EventBus())

    with pytest.raises(TemporaryError, match="Timed out waiting for controller") as raised:
        MoveReplicas().apply(ctx)
    assert "recorded in the checkpoint" in str(raised.value)
