"""Produce latency percentiles in constant memory, for runs of any length."""

from __future__ import annotations

import math


class LatencyHistogram:
    """Latencies in log-spaced buckets, each 2 % wider than the one before.

    A percentile is reported as its bucket's upper edge (capped at the exact maximum), so it is never
    below the exact nearest-rank value and at most 2 % above it (or `FLOOR_MS` above, for tiny values).
    A day of latencies between 10 us and 10 min fits in about 900 buckets.
    """

    RATIO = 1.02
    FLOOR_MS = 0.01

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self._count = 0
        self._max: float | None = None

    def record(self, ms: float) -> None:
        ms = max(ms, 0.0)
        bucket = 0 if ms <= self.FLOOR_MS else math.ceil(math.log(ms / self.FLOOR_MS, self.RATIO))
        # Floating-point log can land one bucket off at an exact edge: the smallest covering edge wins.
        while self._upper_edge(bucket) < ms:
            bucket += 1
        while bucket > 0 and self._upper_edge(bucket - 1) >= ms:
            bucket -= 1
        self._buckets[bucket] = self._buckets.get(bucket, 0) + 1
        self._count += 1
        self._max = ms if self._max is None else max(self._max, ms)

    def merge(self, other: LatencyHistogram) -> None:
        """Add `other`'s samples, as if they had been recorded here (e.g. windows of several runs pooled)."""
        for bucket, count in other._buckets.items():
            self._buckets[bucket] = self._buckets.get(bucket, 0) + count
        self._count += other._count
        if other._max is not None:
            self._max = other._max if self._max is None else max(self._max, other._max)

    @property
    def count(self) -> int:
        return self._count

    @property
    def max(self) -> float | None:
        return self._max

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile for 0 < q <= 1; None before the first sample."""
        if not 0 < q <= 1:
            raise ValueError(f"percentile must be in (0, 1], got {q}")
        if self._max is None:
            return None
        rank = math.ceil(q * self._count)
        seen = 0
        for bucket in sorted(self._buckets):
            seen += self._buckets[bucket]
            if seen >= rank:
                return min(self._upper_edge(bucket), self._max)
        raise AssertionError("unreachable: ranks never exceed the sample count")

    def _upper_edge(self, bucket: int) -> float:
        return self.FLOOR_MS * self.RATIO**bucket
