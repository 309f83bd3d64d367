"""What a workload run proves: counts of produced, acknowledged, consumed, lost and duplicated messages."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class WorkloadReport:
    """Counters of one workload run, live (a snapshot) or final (after the drain).

    Message counts are of distinct (key, seq) pairs unless said otherwise.
    """

    produced: int  # accepted by librdkafka for sending
    acknowledged: int  # delivery callback reported success (acks=all)
    failed: int  # delivery callback reported an error
    unresolved: int  # produced, but neither acknowledged nor failed (still in flight)
    consumed: int  # distinct messages of this run the consumer read
    unconsumed: int  # acknowledged, not (yet) consumed: consumer lag while running
    lost: int | None  # acknowledged, never consumed by the end of the drain; None until then
    duplicated: int  # records whose (key, seq) the log already held at an earlier offset
    out_of_order: int  # first deliveries with a seq below one already seen for the key
    redelivered: int  # offsets the consumer read again (rebalance): not duplicates in the log
    foreign: int  # records on the topic from another run or another writer, ignored
    produce_p50_ms: float | None  # send -> delivery callback, successful deliveries only
    produce_p99_ms: float | None
    produce_max_ms: float | None
    duration_s: float  # from start() to this report, the drain included

    @property
    def final(self) -> bool:
        return self.lost is not None

    @property
    def zero_loss(self) -> bool:
        """The migration kept every promise: nothing lost, duplicated or reordered."""
        return self.final and self.lost == 0 and self.duplicated == 0 and self.out_of_order == 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def progress_line(self) -> str:
        loss = f"lost={self.lost}" if self.final else f"unconsumed={self.unconsumed}"
        p99 = "-" if self.produce_p99_ms is None else f"{self.produce_p99_ms:.1f}ms"
        return (
            f"produced={self.produced} acked={self.acknowledged} failed={self.failed} "
            f"consumed={self.consumed} {loss} duplicated={self.duplicated} "
            f"out_of_order={self.out_of_order} p99={p99} t={self.duration_s:.0f}s"
        )
