"""A plan is reviewable data: JSON round-trips, one move per line, same input -> same bytes; bad input is named."""

from __future__ import annotations

import json
import random

import pytest
from tests.unit.planner_fixtures import cluster

from migrator.cluster.model import Broker, PartitionState
from migrator.errors import BadInput
from migrator.movers.plan import BatchLimits, MovePlan, PlannerCluster
from migrator.movers.planner import plan_drain, plan_mapping, planner_cluster


def _fleet(seed: int = 1) -> PlannerCluster:
    rng = random.Random(seed)
    brokers = {b: "abc"[b % 3] for b in range(9)} | {100 + b: "abc"[b % 3] for b in range(9)}
    partitions = [(f"topic-{n % 5}", n, tuple(rng.sample(range(9), 3)), rng.randrange(10**9)) for n in range(200)]
    return cluster(brokers, partitions)


def _shuffled(c: PlannerCluster) -> PlannerCluster:
    partitions = list(c.partitions)
    random.Random(99).shuffle(partitions)
    return PlannerCluster(brokers=tuple(reversed(c.brokers)), partitions=tuple(partitions))


def test_plan_round_trips_through_json() -> None:
    plan = plan_drain(_fleet(), range(6), range(100, 106), BatchLimits(3, 5 * 10**9))
    again = MovePlan.from_dict(json.loads(plan.to_json()))
    assert again == plan
    assert again.summary == plan.summary
    assert again.to_dict() == plan.to_dict() == json.loads(plan.to_json())


def test_mapping_plan_round_trips_with_its_mapping() -> None:
    plan = plan_mapping(_fleet(), {b: 100 + b for b in range(9)})
    assert MovePlan.from_dict(json.loads(plan.to_json())).mapping == tuple((b, 100 + b) for b in range(9))


def test_plan_json_puts_one_move_per_line_for_review() -> None:
    plan = plan_drain(_fleet(), range(6), range(100, 106))
    lines = [line for line in plan.to_json().splitlines() if '"topic"' in line]
    assert len(lines) == len(plan.moves) > 0
    first = plan.moves[0]
    assert json.loads(lines[0].rstrip(",")) == {
        "topic": first.topic,
        "partition": first.partition,
        "current": list(first.current),
        "target": list(first.target),
        "bytes": first.bytes_to_move,
        "batch": 0,
    }


def test_empty_plan_is_valid_json() -> None:
    c = cluster({0: "a", 100: "a", 7: "a"}, [("t", 0, (7,), 1)])
    plan = plan_drain(c, [0], [100])
    assert plan.moves == () and plan.summary.batches == 0
    assert MovePlan.from_dict(json.loads(plan.to_json())) == plan


@pytest.mark.parametrize("kind", ["drain", "mapping"])
def test_same_input_in_any_order_gives_the_same_plan(kind: str) -> None:
    def plan(c: PlannerCluster) -> str:
        if kind == "drain":
            return plan_drain(c, range(6), range(100, 106)).to_json()
        return plan_mapping(c, {b: 100 + b for b in range(9)}).to_json()

    c = _fleet()
    assert plan(c) == plan(c) == plan(_shuffled(c))


def test_moves_are_listed_by_batch_then_partition() -> None:
    plan = plan_drain(_fleet(), range(6), range(100, 106), BatchLimits(2))
    keys = [(m.batch, m.topic, m.partition) for m in plan.moves]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: d.pop("moves"), "malformed"),
        (lambda d: d["moves"][0].update(partition="zero"), "malformed"),
        (lambda d: d.update(kind="shuffle"), "kind 'shuffle'"),
        (lambda d: d["moves"][0].update(target=[100, 100, 101]), "distinct brokers"),
        (lambda d: d["limits"].update(max_moves_per_broker=0), "must be positive"),
    ],
)
def test_a_damaged_plan_file_is_bad_input(mangle, message: str) -> None:
    data = plan_drain(_fleet(), range(6), range(100, 106)).to_dict()
    mangle(data)
    with pytest.raises(BadInput, match=message):
        MovePlan.from_dict(data)


@pytest.mark.parametrize(("per_broker", "max_bytes"), [(0, None), (5, 0), (-1, 10)])
def test_batch_limits_must_be_positive(per_broker: int, max_bytes: int | None) -> None:
    with pytest.raises(BadInput, match="must be positive"):
        BatchLimits(per_broker, max_bytes)


def test_planner_view_of_an_inventory_takes_the_largest_replica_as_the_size() -> None:
    brokers = [Broker(id=b, rack="ab"[b % 2], host="h", port=9092, endpoints=[]) for b in (0, 1, 100)]
    partitions = [
        PartitionState(topic="t", partition=0, replicas=[0, 1], isr=[0, 1], leader=0, size_bytes={0: 700, 1: 650}),
        PartitionState(topic="t", partition=1, replicas=[1], isr=[1], leader=1, size_bytes={}),
    ]
    view = planner_cluster(brokers, partitions)
    assert [(b.id, b.rack) for b in view.brokers] == [(0, "a"), (1, "b"), (100, "a")]
    assert [(p.topic, p.partition, p.replicas, p.size_bytes) for p in view.partitions] == [
        ("t", 0, (0, 1), 700),
        ("t", 1, (1,), 0),
    ]
    assert plan_mapping(view, {0: 100}).moves[0].bytes_to_move == 700
