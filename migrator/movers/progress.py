"""How far a move is: partitions done, bytes copied and left per broker, the rate, and the ETA.

Bytes come from the plan (what each new replica must copy) and from what the new replicas actually
hold (describe_log_dirs), capped at the plan's figure: a replica of a partition that keeps receiving
writes grows past it, and that growth is the workload's, not the move's. The ETA divides the bytes
left by the rate actually achieved over a recent window, never by the configured throttle: a
throttle is a ceiling, and a foreign one or a slow disk keeps the real rate below it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from migrator.engine.step import JSON
from migrator.movers.plan import PartitionMove

PartitionKey = tuple[str, int]
#: (topic, partition, broker) -> bytes that replica holds.
ReplicaSizes = Mapping[tuple[str, int, int], int]


@dataclass
class BrokerProgress:
    """Bytes a broker must receive (new replicas) and give up (replicas it loses), and how much is done."""

    in_total: int = 0
    in_moved: int = 0
    out_total: int = 0
    out_moved: int = 0

    def to_dict(self) -> JSON:
        return {
            "bytes_in_total": self.in_total,
            "bytes_in_moved": self.in_moved,
            "bytes_in_remaining": self.in_total - self.in_moved,
            "bytes_out_total": self.out_total,
            "bytes_out_moved": self.out_moved,
            "bytes_out_remaining": self.out_total - self.out_moved,
        }


@dataclass
class Progress:
    partitions_total: int
    partitions_done: int
    bytes_total: int
    bytes_moved: int
    per_broker: dict[int, BrokerProgress] = field(default_factory=dict)
    batch: int | None = None  # 1-based number of the batch in flight
    batches_total: int = 0
    rate_bytes_per_second: float | None = None
    eta_seconds: float | None = None

    @property
    def bytes_remaining(self) -> int:
        return self.bytes_total - self.bytes_moved

    def to_dict(self) -> JSON:
        return {
            "partitions_total": self.partitions_total,
            "partitions_done": self.partitions_done,
            "bytes_total": self.bytes_total,
            "bytes_moved": self.bytes_moved,
            "bytes_remaining": self.bytes_remaining,
            "batch": self.batch,
            "batches_total": self.batches_total,
            "rate_bytes_per_second": self.rate_bytes_per_second,
            "eta_seconds": self.eta_seconds,
            "brokers": {str(b): p.to_dict() for b, p in sorted(self.per_broker.items())},
        }


def measure(moves: Iterable[PartitionMove], done: Collection[PartitionKey], sizes: ReplicaSizes) -> Progress:
    """Progress of `moves`: a partition in `done` counts in full, any other by what its new replicas
    hold (`sizes`), each capped at its share of the partition's bytes."""
    progress = Progress(0, 0, 0, 0)
    for move in moves:
        key = (move.topic, move.partition)
        adding, removing = move.adding, move.removing
        finished = key in done
        progress.partitions_total += 1
        progress.partitions_done += finished
        progress.bytes_total += move.bytes_to_move
        if not adding:
            continue
        share = move.bytes_to_move // len(adding)
        # Pairs each new replica with the one it replaces, in plan order: what the new one has
        # copied is what the old one no longer uniquely holds.
        for i, broker in enumerate(adding):
            copied = share if finished else min(share, max(0, sizes.get((move.topic, move.partition, broker), 0)))
            progress.bytes_moved += copied
            incoming = progress.per_broker.setdefault(broker, BrokerProgress())
            incoming.in_total += share
            incoming.in_moved += copied
            if i < len(removing):
                outgoing = progress.per_broker.setdefault(removing[i], BrokerProgress())
                outgoing.out_total += share
                outgoing.out_moved += copied
    return progress


class RateMeter:
    """Bytes per second over the last `window` seconds of observations."""

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def observe(self, at: float, bytes_moved: int) -> float | None:
        """Record the total moved at time `at`; returns the rate, or None before there is a span."""
        self._samples.append((at, bytes_moved))
        while len(self._samples) > 2 and at - self._samples[1][0] >= self.window:
            self._samples.popleft()
        first_at, first_bytes = self._samples[0]
        if at <= first_at:
            return None
        return max(0.0, (bytes_moved - first_bytes) / (at - first_at))


def eta_seconds(bytes_remaining: int, rate: float | None) -> float | None:
    if bytes_remaining <= 0:
        return 0.0
    if not rate:
        return None
    return bytes_remaining / rate
