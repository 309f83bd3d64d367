"""Progress, rate and ETA arithmetic of the native mover (pure)."""

from __future__ import annotations

import pytest

from migrator.movers.plan import PartitionMove
from migrator.movers.progress import RateMeter, eta_seconds, measure

MOVES = [
    # One replica 0 -> 3 of a 1000-byte partition; two replicas (0, 1 -> 3, 4) of a 600-byte one.
    PartitionMove("t", 0, (0, 1, 2), (3, 1, 2), 1000, 0),
    PartitionMove("t", 1, (0, 1, 2), (3, 4, 2), 1200, 0),
    PartitionMove("u", 0, (2,), (2,), 0, 1),  # nothing to copy
]


def test_done_partitions_count_in_full_and_moving_ones_by_what_their_new_replicas_hold():
    sizes = {("t", 1, 3): 250, ("t", 1, 4): 5000, ("t", 0, 3): 999}  # 5000: grew past its share
    progress = measure(MOVES, done={("t", 0)}, sizes=sizes)

    assert (progress.partitions_total, progress.partitions_done) == (3, 1)
    assert progress.bytes_total == 2200
    assert progress.bytes_moved == 1000 + 250 + 600
    assert progress.bytes_remaining == 350
    per = {b: (p.in_total, p.in_moved, p.out_total, p.out_moved) for b, p in progress.per_broker.items()}
    assert per == {
        3: (1600, 1250, 0, 0),
        4: (600, 600, 0, 0),
        0: (0, 0, 1600, 1250),  # broker 0 hands over what 3 copies
        1: (0, 0, 600, 600),
    }
    assert progress.to_dict()["brokers"]["3"]["bytes_in_remaining"] == 350


def test_no_new_replica_data_yet_means_nothing_moved():
    progress = measure(MOVES, done=set(), sizes={})
    assert progress.bytes_moved == 0 and progress.partitions_done == 0


def test_rate_is_measured_over_the_recent_window():
    meter = RateMeter(window=10)
    assert meter.observe(0.0, 0) is None  # no span yet
    assert meter.observe(5.0, 500) == pytest.approx(100)
    assert meter.observe(10.0, 1000) == pytest.approx(100)
    # After an idle stretch the rate reflects the last ~10 s, not the whole history.
    meter.observe(20.0, 1000)
    assert meter.observe(30.0, 1000) == pytest.approx(0)
    assert meter.observe(32.0, 1400) == pytest.approx(400 / 12)


@pytest.mark.parametrize(
    ("remaining", "rate", "eta"),
    [(1000, 100.0, 10.0), (0, None, 0.0), (-5, 10.0, 0.0), (1000, None, None), (1000, 0.0, None)],
)
def test_eta_comes_from_the_rate_actually_achieved(remaining, rate, eta):
    assert eta_seconds(remaining, rate) == eta
