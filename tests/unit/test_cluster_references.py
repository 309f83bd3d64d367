"""Where retired broker IDs are still named: the replica lists, the reassignments in flight (KIP-455
adding/removing and the legacy znode) and the topics' throttled-replica lists, read from znodes."""

from __future__ import annotations

from collections.abc import Sequence

from migrator.cluster.holdings import references


class Znodes:
    """The three reads `references` makes, over fixed znode contents (a fake of the ZooKeeper client)."""

    def __init__(self, topics: dict, configs: dict, legacy: dict | None = None) -> None:
        self._topics, self._configs, self._legacy = topics, configs, legacy

    def topics(self) -> dict:
        return self._topics

    def reassign_partitions(self) -> dict | None:
        return self._legacy

    def get_json_many(self, paths: Sequence[str]) -> dict:
        return {p: self._configs.get(p.rsplit("/", 1)[-1]) for p in paths}


def test_every_kind_of_list_that_names_a_vm_broker_is_found() -> None:
    zk = Znodes(
        topics={
            "clean": {"partitions": {"0": [1000, 1001]}},
            "stray": {"partitions": {"0": [1000, 0], "1": [1001, 1002]}},
            "moving": {"partitions": {"0": [1000, 1001, 2]}, "removing_replicas": {"0": [2]}},
        },
        configs={
            "clean": {"config": {"leader.replication.throttled.replicas": "0:1000,0:1001"}},
            "moving": {"config": {"follower.replication.throttled.replicas": "0:2", "retention.ms": "1"}},
        },
        legacy={"version": 1, "partitions": [{"topic": "clean", "partition": 0, "replicas": [1, 1000]}]},
    )
    found = references(zk, [0, 1, 2])
    assert found.replica_lists == ["moving-0", "stray-0"]
    assert found.reassignments == ["clean-0", "moving-0"]
    assert found.throttle_lists == ["moving-0 (follower.replication.throttled.replicas)"]
    assert "the replica lists of 2 partition(s) (moving-0, stray-0)" in found.describe()
    assert references(zk, [7]).empty
