"""1:1 broker mapping plans (the broker-ID shift): each replica moves once, in place, keeping its rack."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.planner_fixtures import cluster

from migrator.errors import BadInput
from migrator.movers.planner import plan_mapping

OLD = {0: "a", 1: "b", 2: "c"}
NEW = {100: "a", 101: "b", 102: "c"}
SHIFT = {0: 100, 1: 101, 2: 102}


def _fleet(partitions):
    return cluster(OLD | NEW | {7: "a"}, partitions)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.sampled_from([0, 1, 2, 7]), min_size=1, max_size=3, unique=True), st.integers(0, 10**12)),
        min_size=1,
        max_size=30,
    )
)
def test_mapping_moves_each_replica_once_in_place(specs) -> None:
    partitions = [("t", n, tuple(replicas), size) for n, (replicas, size) in enumerate(specs)]
    c = _fleet(partitions)
    plan = plan_mapping(c, SHIFT)
    moves = {m.partition: m for m in plan.moves}
    for _, n, replicas, size in partitions:
        if not set(replicas) & set(SHIFT):
            assert n not in moves, "a partition with nothing on a mapped broker is not a move"
            continue
        m = moves[n]
        assert m.current == replicas
        # Position by position: the preferred leader (position 0) and every other slot keep their place.
        assert m.target == tuple(SHIFT.get(b, b) for b in replicas)
        assert [NEW.get(b, "a") for b in m.target] == [OLD.get(b, "a") for b in m.current], "racks kept"
        assert m.bytes_to_move == size * len(set(replicas) & set(SHIFT))
    # Each old replica lands on exactly one new broker, so replicas moved == replicas on old brokers.
    assert plan.summary.replicas == sum(len(set(r) & set(SHIFT)) for _, _, r, _ in partitions)
    assert plan.kind == "mapping" and plan.mapping == tuple(sorted(SHIFT.items()))


def test_mapping_summary_counts_bytes_out_of_old_and_into_new_brokers() -> None:
    plan = plan_mapping(_fleet([("t", 0, (0, 1, 7), 10), ("t", 1, (2, 7), 5), ("u", 0, (7,), 99)]), SHIFT)
    s = plan.summary
    assert (s.partitions, s.replicas, s.total_bytes) == (2, 3, 25)
    assert s.bytes_out_per_broker == {0: 10, 1: 10, 2: 5}
    assert s.bytes_in_per_broker == {100: 10, 101: 10, 102: 5}


def test_mapping_onto_a_broker_that_already_holds_the_partition_is_bad_input() -> None:
    c = _fleet([("t", 0, (0, 1), 1), ("t", 1, (0, 100), 1)])
    with pytest.raises(BadInput, match=r"t-1 \[0, 100\] -> \[100, 100\]"):
        plan_mapping(c, SHIFT)


def test_mapping_that_changes_racks_is_refused_unless_allowed() -> None:
    c = _fleet([("t", 0, (0,), 1)])
    with pytest.raises(BadInput, match=r"0 \(a\) -> 101 \(b\)"):
        plan_mapping(c, {0: 101})
    assert plan_mapping(c, {0: 101}, allow_rack_change=True).moves[0].target == (101,)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({}, "empty"),
        ({0: 0}, "onto themselves"),
        ({0: 100, 1: 100}, "same new broker"),
        ({0: 555}, "not registered"),
    ],
)
def test_mapping_rejects_malformed_mappings(mapping: dict[int, int], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        plan_mapping(_fleet([("t", 0, (0,), 1)]), mapping)
