"""Batching: per-broker concurrency and byte caps hold, and the order spreads the busiest brokers' work."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.planner_fixtures import cluster, drain_cases

from migrator.movers.plan import BatchLimits, MovePlan, PartitionMove, PlanSummary, summarize
from migrator.movers.planner import plan_drain, plan_mapping


def _busy(m: PartitionMove) -> set[int]:
    """Brokers a move keeps busy: every broker it adds to or removes from, and the leader serving the copy."""
    return set(m.adding) | set(m.removing) | {m.current[0]}


def _check_batches(plan: MovePlan) -> None:
    limits = plan.limits
    batches = plan.batches()
    assert [b[0].batch for b in batches] == list(range(len(batches))), "batches numbered 0.. with none empty"
    for batch in batches:
        per_broker = Counter(b for m in batch for b in _busy(m))
        assert max(per_broker.values()) <= limits.max_moves_per_broker
        if limits.max_bytes_per_batch is not None and len(batch) > 1:
            assert sum(m.bytes_to_move for m in batch) <= limits.max_bytes_per_batch


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drain_cases(), st.integers(1, 4), st.one_of(st.none(), st.integers(1, 3 * 10**9)))
def test_drain_batches_respect_per_broker_and_byte_caps(case, per_broker, max_bytes) -> None:
    c, sources, destinations = case
    if len(destinations) < 3:  # keep clear of the too-few-destinations error, tested elsewhere
        return
    plan = plan_drain(c, sources, destinations, BatchLimits(per_broker, max_bytes))
    _check_batches(plan)


def test_mapping_batches_when_every_move_touches_every_broker() -> None:
    # RF 3 on 3 brokers: each move keeps all six brokers busy, so 12 moves at 5 per broker need 3 batches
    # at least; but then some leader sends two partitions in every batch but one (1.25x the bound), where
    # four batches of three moves, one per leader, reach the bound.
    c = cluster(
        {0: "a", 1: "b", 2: "c", 100: "a", 101: "b", 102: "c"},
        [("t", n, (n % 3, (n + 1) % 3, (n + 2) % 3), 1000 + n) for n in range(12)],
    )
    plan = plan_mapping(c, {0: 100, 1: 101, 2: 102}, BatchLimits(max_moves_per_broker=5))
    assert [sorted(m.current[0] for m in batch) for batch in plan.batches()] == [[0, 1, 2]] * 4
    assert plan.summary.makespan_bytes == plan.summary.bottleneck_bytes
    _check_batches(plan)


def test_the_least_batch_count_is_kept_when_more_batches_gain_nothing() -> None:
    # Six equal moves, two per broker at one per batch: two batches are already at the bound.
    c = cluster({b: None for b in (0, 1, 2, 100, 101, 102)}, [("t", n, (n % 3,), 1000) for n in range(6)])
    plan = plan_mapping(c, {0: 100, 1: 101, 2: 102}, BatchLimits(max_moves_per_broker=1))
    assert len(plan.batches()) == 2
    assert plan.summary.makespan_bytes == plan.summary.bottleneck_bytes


def test_a_move_larger_than_the_byte_cap_runs_alone() -> None:
    c = cluster({0: None, 1: None, 100: None, 101: None}, [("big", 0, (0,), 500), ("small", 0, (1,), 10)])
    plan = plan_mapping(c, {0: 100, 1: 101}, BatchLimits(max_moves_per_broker=5, max_bytes_per_batch=100))
    assert [[m.topic for m in b] for b in plan.batches()] == [["big"], ["small"]]


def test_busy_brokers_work_is_spread_instead_of_queued() -> None:
    # Broker 0 has 20 small moves (4 batches at 5 per batch); brokers 1-5 have 5 big moves each. Packing
    # each broker's moves into the earliest batches would make one batch of big moves and three of small
    # ones (makespan 30 units); spreading the big moves under broker 0's batches approaches the bound, 20.
    partitions = [("x", n, (0,), 1000) for n in range(20)]
    partitions += [(f"y{b}", n, (b,), 3000) for b in range(1, 6) for n in range(5)]
    brokers = {b: None for b in range(6)} | {100 + b: None for b in range(6)}
    plan = plan_mapping(cluster(brokers, partitions), {b: 100 + b for b in range(6)}, BatchLimits(5))
    s = plan.summary
    assert s.bottleneck_bytes == 20_000
    assert s.makespan_bytes <= 21_000
    _check_batches(plan)


def _chunked_in_partition_order(plan: MovePlan) -> PlanSummary:
    """The baseline: the same moves cut into batches in (topic, partition) order, first batch with room."""
    per_batch: list[Counter] = []
    moves = []
    cap = plan.limits.max_moves_per_broker
    for m in sorted(plan.moves, key=lambda m: (m.topic, m.partition)):
        busy = _busy(m)
        k = next((k for k, c in enumerate(per_batch) if all(c[b] < cap for b in busy)), None)
        if k is None:
            k = len(per_batch)
            per_batch.append(Counter())
        per_batch[k].update(busy)
        moves.append(m._replace(batch=k))
    return summarize(moves)


def test_drain_batches_beat_chunking_in_partition_order() -> None:
    # 24 brokers, every move keeps 7 of them busy: dense enough that no batching reaches the one-batch
    # bound, so the yardstick is the obvious alternative, cutting the move list into chunks.
    rng = random.Random(3)
    brokers = {b: "abc"[b % 3] for b in range(24)}
    partitions = [
        (f"t{n % 50}", n, tuple(rng.sample(range(12), 3)), int(rng.lognormvariate(16, 1.5))) for n in range(3000)
    ]
    plan = plan_drain(cluster(brokers, partitions), range(12), range(12, 24), BatchLimits(5))
    ours, chunked = plan.summary, _chunked_in_partition_order(plan)
    assert ours.makespan_bytes <= 0.5 * chunked.makespan_bytes
    assert ours.makespan_bytes <= 1.8 * ours.bottleneck_bytes
    busiest = max(Counter(b for m in plan.moves for b in _busy(m)).values())
    assert ours.batches <= 1.2 * -(-busiest // 5), "hardly more batches than the busiest broker needs"
    _check_batches(plan)


def test_sparse_drain_batches_stay_near_the_busiest_broker_bound() -> None:
    # 90 brokers, each move busy on about 4 of them; heavy-tailed sizes keep the one-batch bound out of
    # reach (the few brokers leading the largest partitions cannot be the busiest in every batch).
    rng = random.Random(5)
    brokers = {b: "abc"[b % 3] for b in range(90)}
    partitions = [
        (f"t{n % 50}", n, tuple(rng.sample(range(90), 3)), int(rng.lognormvariate(16, 1.5))) for n in range(4000)
    ]
    plan = plan_drain(cluster(brokers, partitions), range(45), range(45, 90), BatchLimits(5))
    ours, chunked = plan.summary, _chunked_in_partition_order(plan)
    assert ours.makespan_bytes <= 1.5 * ours.bottleneck_bytes
    assert ours.makespan_bytes <= 0.5 * chunked.makespan_bytes
    _check_batches(plan)
