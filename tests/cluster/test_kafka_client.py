"""The Kafka client on a real sandbox: what the libraries underneath do not handle on their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.clients.kafka import KafkaAdmin
from migrator.clients.zk import ZooKeeper
from migrator.config import load_config
from migrator.movers.throttle_writer import KAFKA_IO_ERRORS
from tests.cluster.native_mover_support import wait_for

pytestmark = pytest.mark.cluster


def test_reassignment_calls_reach_the_new_controller_after_the_old_one_died(sandbox_factory, tmp_path: Path) -> None:
    cluster = sandbox_factory()
    config = load_config(cluster.write_migration_config(tmp_path / "migration.yaml"))
    with ZooKeeper.from_config(config.cluster) as zk, KafkaAdmin(config.cluster) as admin:
        assert admin.list_partition_reassignments() == {}  # the client now knows the controller
        dead = zk.controller()["brokerid"]
        cluster.kill_broker(dead)
        wait_for(lambda: (zk.controller() or {}).get("brokerid") not in (None, dead), "a new controller")

        def answered() -> bool:
            try:
                return admin.list_partition_reassignments() == {}
            except KAFKA_IO_ERRORS:
                return False

        # kafka-python alone keeps sending to the dead broker: this would never answer.
        assert wait_for(answered, "list_partition_reassignments to answer again", timeout=120)
