"""The Kafka client on a real sandbox: what the libraries underneath do not handle on their own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from migrator.clients.kafka import KafkaAdmin
from migrator.clients.zk import ZooKeeper
from migrator.cluster.throttles import LEADER_REPLICAS
from migrator.config import load_config
from migrator.clients.kafka import KAFKA_IO_ERRORS
from tests.cluster.native_mover_support import create_topic, unique, wait_for

pytestmark = pytest.mark.cluster


def answers(call: Callable[[], object]) -> Callable[[], bool]:
    def answered() -> bool:
        try:
            call()
        except KAFKA_IO_ERRORS:
            return False
        return True

    return answered


def test_reassignment_calls_reach_the_new_controller_after_the_old_one_died(sandbox_factory, tmp_path: Path) -> None:
    cluster = sandbox_factory()
    config = load_config(cluster.write_migration_config(tmp_path / "migration.yaml"))
    with ZooKeeper.from_config(config.cluster) as zk, KafkaAdmin(config.cluster) as admin:
        assert admin.list_partition_reassignments() == {}  # the client now knows the controller
        dead = zk.controller()["brokerid"]
        cluster.kill_broker(dead)
        wait_for(lambda: (zk.controller() or {}).get("brokerid") not in (None, dead), "a new controller")

        # kafka-python alone keeps sending to the dead broker: this would never answer.
        assert wait_for(answers(admin.list_partition_reassignments), "reassignments to be listed again", timeout=120)
        assert admin.list_partition_reassignments() == {}


def test_topic_config_changes_reach_the_new_controller_after_the_old_one_died(sandbox_factory, tmp_path: Path) -> None:
    cluster = sandbox_factory()
    config = load_config(cluster.write_migration_config(tmp_path / "migration.yaml"))
    topic = unique("controller-moved")
    create_topic(cluster, topic, partitions=1, mb=0)
    with ZooKeeper.from_config(config.cluster) as zk, KafkaAdmin(config.cluster) as admin:
        admin.alter_topic_config(topic, append={LEADER_REPLICAS: ["0:0"]})  # librdkafka now knows the controller
        dead = zk.controller()["brokerid"]
        cluster.kill_broker(dead)
        wait_for(lambda: (zk.controller() or {}).get("brokerid") not in (None, dead), "a new controller")

        # librdkafka alone waits for the dead controller to come back: this would never answer.
        change = lambda: admin.alter_topic_config(topic, subtract={LEADER_REPLICAS: ["0:0"]})  # noqa: E731
        assert wait_for(answers(change), "the topic config change to be accepted", timeout=120)
        assert not (admin.topic_configs([topic])[topic][LEADER_REPLICAS].value or "").strip()
