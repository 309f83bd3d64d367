"""Produce latency percentiles: constant memory, within 2 % of the exact nearest-rank value."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from migrator.sandbox.workload_latency import LatencyHistogram


def _nearest_rank(values: list[float], q: float) -> float:
    return sorted(values)[math.ceil(q * len(values)) - 1]


@given(
    st.lists(st.floats(0.0, 600_000.0, allow_nan=False), min_size=1, max_size=300),
    st.sampled_from([0.01, 0.5, 0.9, 0.99, 1.0]),
)
def test_percentile_is_never_below_and_at_most_two_percent_above_the_exact_value(
    values: list[float], q: float
) -> None:
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    exact = _nearest_rank(values, q)
    reported = histogram.percentile(q)
    assert exact <= reported <= max(exact * LatencyHistogram.RATIO, LatencyHistogram.FLOOR_MS)
    assert histogram.max == max(values)
    assert histogram.count == len(values)


@given(
    st.lists(st.floats(0.0, 600_000.0, allow_nan=False), max_size=100),
    st.lists(st.floats(0.0, 600_000.0, allow_nan=False), max_size=100),
)
def test_merged_histograms_report_what_one_histogram_of_all_samples_reports(a: list[float], b: list[float]) -> None:
    pooled, first, second = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for value in a + b:
        pooled.record(value)
    for histogram, values in ((first, a), (second, b)):
        for value in values:
            histogram.record(value)
    first.merge(second)
    assert first.count == pooled.count and first.max == pooled.max
    assert [first.percentile(q) for q in (0.5, 0.99)] == [pooled.percentile(q) for q in (0.5, 0.99)]


def test_memory_does_not_grow_with_the_number_of_samples() -> None:
    histogram = LatencyHistogram()
    for i in range(200_000):
        histogram.record(1.0 + (i % 5000) / 100)  # 1 ms .. 51 ms
    assert len(histogram._buckets) < 250  # log(51)/log(1.02) ~ 199 buckets
    assert histogram.percentile(1.0) == pytest.approx(50.99)


def test_no_samples_no_percentile() -> None:
    histogram = LatencyHistogram()
    assert histogram.percentile(0.5) is None
    assert histogram.max is None


@pytest.mark.parametrize("q", [0.0, -0.1, 1.5])
def test_percentile_outside_zero_to_one_is_refused(q: float) -> None:
    with pytest.raises(ValueError):
        LatencyHistogram().percentile(q)
