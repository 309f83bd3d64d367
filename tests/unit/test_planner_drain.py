"""Drain plans: invariants as properties, balance and rack preference on shaped clusters, bad input."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from tests.unit.planner_fixtures import cluster, drain_cases

from migrator.errors import BadInput
from migrator.movers.plan import MovePlan, PlannerCluster
from migrator.movers.planner import plan_drain

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _needs_too_many_destinations(c: PlannerCluster, sources: list[int], destinations: list[int]) -> bool:
    return any(
        any(b in sources for b in p.replicas)
        and sum(1 for b in p.replicas if b in sources or b in destinations) > len(destinations)
        for p in c.partitions
    )


def _per_destination(plan: MovePlan, c: PlannerCluster, destinations: list[int]) -> tuple[Counter, Counter]:
    """Replicas and leaders per destination once the plan has run."""
    final = {(p.topic, p.partition): p.replicas for p in c.partitions}
    final.update({(m.topic, m.partition): m.target for m in plan.moves})
    replicas = Counter(dict.fromkeys(destinations, 0))
    leaders = Counter(dict.fromkeys(destinations, 0))
    for target in final.values():
        replicas.update(b for b in target if b in replicas)
        if target[0] in leaders:
            leaders[target[0]] += 1
    return replicas, leaders


@PROPERTY
@given(drain_cases())
def test_drain_moves_every_source_replica_once_in_place(case) -> None:
    c, sources, destinations = case
    if _needs_too_many_destinations(c, sources, destinations):
        with pytest.raises(BadInput):
            plan_drain(c, sources, destinations)
        return
    plan = plan_drain(c, sources, destinations)
    moves = {(m.topic, m.partition): m for m in plan.moves}
    assert len(moves) == len(plan.moves)
    for p in c.partitions:
        touched = any(b in sources for b in p.replicas)
        assert ((p.topic, p.partition) in moves) == touched, "no-op moves are dropped, every other one planned"
        if not touched:
            continue
        m = moves[p.topic, p.partition]
        assert m.current == p.replicas
        assert len(m.target) == len(m.current), "replication factor kept"
        assert len(set(m.target)) == len(m.target), "no broker twice in a replica list"
        assert not set(m.target) & set(sources), "nothing left on a source"
        for old, new in zip(m.current, m.target):
            # Kept replicas stay in their position, so the preferred leader keeps its place in the list.
            assert new == old if old not in sources else new in destinations
        assert m.bytes_to_move == p.size_bytes * sum(1 for b in m.current if b in sources)


@PROPERTY
@given(drain_cases())
def test_drain_keeps_rack_diversity_when_the_destinations_allow_it(case) -> None:
    c, sources, destinations = case
    if _needs_too_many_destinations(c, sources, destinations):
        return
    rack = {b.id: b.rack for b in c.brokers}
    groups = Counter(rack[b] for b in destinations)
    known_racks = [r for r in groups if r is not None]
    plan = plan_drain(c, sources, destinations)
    for m in plan.moves:
        rf = len(m.target)
        kept_racks = [rack.get(b) for b in m.current if b not in sources and rack.get(b) is not None]
        room = all(n >= rf for n in groups.values()) and (len(known_racks) >= rf or None in groups)
        if room and len(set(kept_racks)) == len(kept_racks):
            target_racks = [rack[b] for b in m.target if rack.get(b) is not None]
            assert len(set(target_racks)) == len(target_racks), f"{m} puts two replicas in one rack"


@settings(PROPERTY, derandomize=True)
@given(drain_cases(balanced_racks=True))
def test_drain_spreads_replicas_and_leaders_over_destinations(case) -> None:
    # Equal sizes, so load is counts alone. Greedy placement under rack rules has no tight proven
    # bound: the worst of 3,000 random cases of this shape was 4 replicas and 5 leaders apart (rack
    # preference and forced rack diversity pull against balance in tiny clusters), while real
    # imbalance (a broker skipped, a heap out of order) blows far past 6. Derandomized, so every run
    # checks the same cases; bench/plan_scale.py reports the spread at fleet scale.
    c, sources, destinations = case
    if _needs_too_many_destinations(c, sources, destinations):
        return
    replicas, leaders = _per_destination(plan_drain(c, sources, destinations), c, destinations)
    assert max(replicas.values()) - min(replicas.values()) <= 6, replicas
    assert max(leaders.values()) - min(leaders.values()) <= 6, leaders


def _three_rack_cluster(partitions: int, seed: int = 7):
    """Sources 0-5 and destinations 100-111 over racks a, b, c; RF 3, one replica per rack."""
    rng = random.Random(seed)
    racks = "abc"
    brokers = {b: racks[b % 3] for b in range(6)} | {100 + b: racks[b % 3] for b in range(12)}
    by_rack = {r: [b for b in range(6) if racks[b % 3] == r] for r in racks}
    parts = []
    for n in range(partitions):
        order = rng.sample(racks, 3)
        parts.append((f"t{n % 7}", n, tuple(rng.choice(by_rack[r]) for r in order), rng.randrange(1, 10**9)))
    return cluster(brokers, parts), list(range(6)), [100 + b for b in range(12)]


def test_drain_mostly_keeps_racks_and_balances_when_racks_match() -> None:
    c, sources, destinations = _three_rack_cluster(900)
    rack = {b.id: b.rack for b in c.brokers}
    plan = plan_drain(c, sources, destinations)
    assert plan.summary.partitions == 900
    kept = [rack[old] == rack[new] for m in plan.moves for old, new in zip(m.current, m.target)]
    # Not all: where one rack's sources led more partitions or bytes, some replicas change rack so that
    # the racks stay even.
    assert sum(kept) >= 0.85 * len(kept)
    for m in plan.moves:
        assert len({rack[b] for b in m.target}) == 3
    replicas, leaders = _per_destination(plan, c, destinations)
    assert max(replicas.values()) - min(replicas.values()) <= 3
    assert max(leaders.values()) - min(leaders.values()) <= 3
    in_bytes = plan.summary.bytes_in_per_broker
    assert max(in_bytes.values()) <= 1.01 * min(in_bytes.values())


def test_drain_weighs_bytes_so_a_destination_holding_a_huge_partition_takes_fewer() -> None:
    # 100 already holds a 50 GB partition; 40 partitions of 1 GB leave 0. Counting replicas alone would
    # give each destination 20; weighing bytes too, 101 takes more of them.
    c = cluster(
        {0: None, 100: None, 101: None},
        [("huge", 0, (100,), 50 * 10**9)] + [("t", n, (0,), 10**9) for n in range(40)],
    )
    plan = plan_drain(c, [0], [100, 101])
    taken = Counter(m.target[0] for m in plan.moves)
    assert taken[101] > taken[100] + 5
    assert plan.summary.bytes_in_per_broker[101] > plan.summary.bytes_in_per_broker[100]


def test_drain_counts_load_already_on_destinations() -> None:
    # 100 already holds 4 replicas; the 4 replicas drained from 0 must all go to the empty 101.
    c = cluster(
        {0: None, 100: None, 101: None},
        [("full", n, (100,), 10) for n in range(4)] + [("move", n, (0,), 10) for n in range(4)],
    )
    plan = plan_drain(c, [0], [100, 101])
    assert {m.target for m in plan.moves} == {(101,)}


def test_drain_breaks_a_shared_rack_when_another_rack_is_free() -> None:
    # Replicas 0 and 1 share rack a; the drained one goes to rack b even though a destination in a exists.
    c = cluster({0: "a", 1: "a", 100: "a", 101: "b"}, [("t", 0, (0, 1), 1)])
    plan = plan_drain(c, [0], [100, 101])
    assert plan.moves[0].target == (101, 1)


def test_drain_into_too_few_destinations_is_bad_input() -> None:
    c = cluster({0: "a", 1: "b", 2: "c", 100: "a", 101: "b"}, [("t", 0, (0, 1, 2), 5)])
    with pytest.raises(BadInput, match="cannot be drained into 2 destination"):
        plan_drain(c, [0, 1, 2], [100, 101])


@pytest.mark.parametrize(
    ("sources", "destinations", "message"),
    [
        ([], [100], "at least one source"),
        ([0], [], "at least one source"),
        ([0], [0, 100], "both a drain source and a destination"),
        ([0], [999], "not registered"),
        ([77], [100], "neither registered nor hold any replica"),
    ],
)
def test_drain_rejects_bad_broker_sets(sources: list[int], destinations: list[int], message: str) -> None:
    c = cluster({0: "a", 100: "a"}, [("t", 0, (0,), 1)])
    with pytest.raises(BadInput, match=message):
        plan_drain(c, sources, destinations)


def test_drain_accepts_a_dead_source_that_still_holds_replicas() -> None:
    c = cluster({100: "a"}, [("t", 0, (5,), 1)])
    assert plan_drain(c, [5], [100]).moves[0].target == (100,)
