"""Accounting for the workload: which messages were acknowledged, consumed, lost, duplicated.

Memory stays bounded on long runs: per key we keep the sequence numbers seen as a set of ranges, so a
key that is produced and consumed in order costs one range however long the run, and only real gaps
(lost or not yet consumed messages) cost more. Per partition we keep two offsets.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from enum import Enum

from migrator.sandbox.workload_latency import LatencyHistogram
from migrator.sandbox.workload_report import WorkloadReport


class SeqSet:
    """A set of non-negative integers stored as sorted, disjoint, non-adjacent ranges [start, end)."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._count = 0

    def add(self, n: int) -> bool:
        """Add `n`; True when it was not already present."""
        if n < 0:
            raise ValueError(f"sequence numbers are non-negative, got {n}")
        i = bisect_right(self._starts, n) - 1
        if i >= 0 and n < self._ends[i]:
            return False
        joins_left = i >= 0 and self._ends[i] == n
        joins_right = i + 1 < len(self._starts) and self._starts[i + 1] == n + 1
        if joins_left and joins_right:
            self._ends[i] = self._ends[i + 1]
            del self._starts[i + 1], self._ends[i + 1]
        elif joins_left:
            self._ends[i] = n + 1
        elif joins_right:
            self._starts[i + 1] = n
        else:
            self._starts.insert(i + 1, n)
            self._ends.insert(i + 1, n + 1)
        self._count += 1
        return True

    def __contains__(self, n: object) -> bool:
        if not isinstance(n, int):
            return False
        i = bisect_right(self._starts, n) - 1
        return i >= 0 and n < self._ends[i]

    def __len__(self) -> int:
        return self._count

    @property
    def max(self) -> int | None:
        return self._ends[-1] - 1 if self._ends else None

    def ranges(self) -> Iterator[tuple[int, int]]:
        return zip(self._starts, self._ends)

    def count_not_in(self, other: SeqSet) -> int:
        """How many members of this set are missing from `other` (|self - other|)."""
        return self._count - self._overlap(other)

    def _overlap(self, other: SeqSet) -> int:
        mine, theirs = list(self.ranges()), list(other.ranges())
        i = j = shared = 0
        while i < len(mine) and j < len(theirs):
            (a0, a1), (b0, b1) = mine[i], theirs[j]
            shared += max(0, min(a1, b1) - max(a0, b0))
            if a1 <= b1:
                i += 1
            else:
                j += 1
        return shared


class Consumption(Enum):
    """What one consumed record turned out to be."""

    FIRST = "first"  # first delivery, in order
    FIRST_OUT_OF_ORDER = "first_out_of_order"  # first delivery, but a higher seq of its key came earlier
    DUPLICATE = "duplicate"  # the log holds this (key, seq) a second time, at a new offset
    REDELIVERY = "redelivery"  # the consumer re-read an offset it had already processed (a rebalance)


class WorkloadChecker:
    """Thread-safe ledger fed by the producer's delivery callbacks and by the consumer.

    Duplicates are judged against the log, not against the consumer: re-reading an offset already
    processed (what any at-least-once consumer does after a rebalance) is a redelivery, while the same
    (key, seq) at a new offset means the log holds the message twice, which an idempotent producer
    must never cause. That keeps the duplicate count honest whatever the consumer commits.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._produced = 0
        self._failed = 0
        self._foreign = 0
        self._duplicated = 0
        self._out_of_order = 0
        self._redelivered = 0
        self._acked: dict[str, SeqSet] = {}
        self._consumed: dict[str, SeqSet] = {}
        self._highest_acked_offset: dict[int, int] = {}
        self._highest_consumed_offset: dict[int, int] = {}
        self._positions: dict[int, int] = {}
        self._latency = LatencyHistogram()

    def record_sent(self) -> None:
        with self._lock:
            self._produced += 1

    def record_ack(self, key: str, seq: int, partition: int, offset: int | None, latency_ms: float) -> None:
        with self._lock:
            self._acked.setdefault(key, SeqSet()).add(seq)
            # An idempotent retry of a batch the broker already holds (e.g. across a leader change) can be
            # acknowledged without an offset: the record is in the log, only its position is unknown.
            if offset is not None and offset > self._highest_acked_offset.get(partition, -1):
                self._highest_acked_offset[partition] = offset
            self._latency.record(latency_ms)

    def record_failed(self) -> None:
        with self._lock:
            self._failed += 1

    def record_foreign(self) -> None:
        """A record that is not from this run (another run's data, or not ours at all)."""
        with self._lock:
            self._foreign += 1

    def record_consumed(self, key: str, seq: int, partition: int, offset: int) -> Consumption:
        with self._lock:
            seen = self._consumed.setdefault(key, SeqSet())
            previous_max = seen.max
            reread = offset <= self._highest_consumed_offset.get(partition, -1)
            if offset > self._highest_consumed_offset.get(partition, -1):
                self._highest_consumed_offset[partition] = offset
            if not seen.add(seq):
                if reread:
                    self._redelivered += 1
                    return Consumption.REDELIVERY
                self._duplicated += 1
                return Consumption.DUPLICATE
            if previous_max is not None and seq < previous_max:
                self._out_of_order += 1
                return Consumption.FIRST_OUT_OF_ORDER
            return Consumption.FIRST

    def record_positions(self, positions: Mapping[int, int]) -> None:
        """The consumer's next offset per assigned partition (negative: no position yet)."""
        with self._lock:
            self._positions = dict(positions)

    def caught_up(self) -> bool:
        """True once the consumer has moved past every acknowledged offset on every partition.

        From then on waiting longer cannot turn up an acknowledged message: what is missing is lost.
        """
        with self._lock:
            acked = self._highest_acked_offset.items()
            return all(self._positions.get(p, -1) > offset for p, offset in acked)

    def report(self, *, final: bool, duration_s: float) -> WorkloadReport:
        with self._lock:
            acknowledged = sum(len(s) for s in self._acked.values())
            unconsumed = sum(s.count_not_in(self._consumed.get(k, SeqSet())) for k, s in self._acked.items())
            return WorkloadReport(
                produced=self._produced,
                acknowledged=acknowledged,
                failed=self._failed,
                unresolved=self._produced - acknowledged - self._failed,
                consumed=sum(len(s) for s in self._consumed.values()),
                unconsumed=unconsumed,
                lost=unconsumed if final else None,
                duplicated=self._duplicated,
                out_of_order=self._out_of_order,
                redelivered=self._redelivered,
                foreign=self._foreign,
                produce_p50_ms=_ms(self._latency.percentile(0.50)),
                produce_p99_ms=_ms(self._latency.percentile(0.99)),
                produce_max_ms=_ms(self._latency.max),
                duration_s=round(duration_s, 3),
            )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
