"""The planner's data: what it reads (a light view of the cluster) and what it writes (a move plan).

A plan is plain data a human can review and diff before anything moves, like kafka-kit topicmappr's
maps: per partition the current and target replica lists, the bytes to copy and the batch it runs in.
Replica lists keep Kafka's order: the first replica is the preferred leader.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from migrator.errors import BadInput

PlanKind = Literal["mapping", "drain"]


class PlannerBroker(NamedTuple):
    id: int
    rack: str | None = None


class PlannerPartition(NamedTuple):
    topic: str
    partition: int
    replicas: tuple[int, ...]
    # What one new replica copies: the largest replica's log size (describe_log_dirs).
    size_bytes: int = 0


@dataclass(frozen=True)
class PlannerCluster:
    brokers: tuple[PlannerBroker, ...]
    partitions: tuple[PlannerPartition, ...]


class PartitionMove(NamedTuple):
    """One partition's reassignment. A NamedTuple because plans hold hundreds of thousands of them."""

    topic: str
    partition: int
    current: tuple[int, ...]
    target: tuple[int, ...]
    bytes_to_move: int
    batch: int

    @property
    def adding(self) -> tuple[int, ...]:
        return tuple(b for b in self.target if b not in self.current)

    @property
    def removing(self) -> tuple[int, ...]:
        return tuple(b for b in self.current if b not in self.target)


def move_work(current: Sequence[int], target: Sequence[int], bytes_to_move: int) -> list[tuple[int, int]]:
    """(broker, bytes it transfers) for every broker a move keeps busy: the batching and the summary's
    makespan estimate both count load this way.

    Every new replica copies the partition from the leader, so each added broker receives the
    partition's bytes and the leader sends them once per added replica. Like Cruise Control, a move
    takes a slot on the brokers it adds to and on the leader; it takes one on the brokers it removes
    from too (with no bytes), so a drained broker never has more moves in flight than the cap. The
    current preferred leader stands in for the leader: the planner knows it without asking the cluster.
    """
    added = [b for b in target if b not in current]
    per_replica = bytes_to_move // len(added) if added else 0
    leader = current[0]
    work = [(leader, per_replica * len(added))]
    work += [(b, 0) for b in current if b != leader and b not in target]
    work += [(b, per_replica) for b in added]
    return work


@dataclass(frozen=True)
class BatchLimits:
    """How much the executor may run at once (Cruise Control's concurrent_partition_movements_per_broker)."""

    max_moves_per_broker: int = 5
    max_bytes_per_batch: int | None = None

    def __post_init__(self) -> None:
        if self.max_moves_per_broker < 1 or (self.max_bytes_per_batch is not None and self.max_bytes_per_batch < 1):
            raise BadInput(
                f"Batch limits must be positive (max_moves_per_broker={self.max_moves_per_broker}, "
                f"max_bytes_per_batch={self.max_bytes_per_batch}); set them to at least 1, or leave "
                "max_bytes_per_batch unset for no byte cap."
            )


@dataclass(frozen=True)
class PlanSummary:
    partitions: int
    replicas: int
    total_bytes: int
    batches: int
    bytes_out_per_broker: dict[int, int]
    bytes_in_per_broker: dict[int, int]
    # Bytes the busiest broker must transfer: at one throttle rate, no schedule beats this.
    bottleneck_bytes: int
    # Sum over batches of the busiest broker's bytes in that batch: what the batches actually cost.
    makespan_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "partitions": self.partitions,
            "replicas": self.replicas,
            "total_bytes": self.total_bytes,
            "batches": self.batches,
            "bytes_out_per_broker": {str(b): n for b, n in sorted(self.bytes_out_per_broker.items())},
            "bytes_in_per_broker": {str(b): n for b, n in sorted(self.bytes_in_per_broker.items())},
            "bottleneck_bytes": self.bottleneck_bytes,
            "makespan_bytes": self.makespan_bytes,
        }


def summarize(moves: Sequence[PartitionMove]) -> PlanSummary:
    bytes_out: dict[int, int] = {}
    bytes_in: dict[int, int] = {}
    per_batch: dict[int, dict[int, int]] = {}
    replicas = 0
    for m in moves:
        current, target = m.current, m.target
        added = [b for b in target if b not in current]
        replicas += len(added)
        per_replica = m.bytes_to_move // len(added) if added else 0
        for b in added:
            bytes_in[b] = bytes_in.get(b, 0) + per_replica
        for b in current:
            if b not in target:
                bytes_out[b] = bytes_out.get(b, 0) + per_replica
        loads = per_batch.get(m.batch)
        if loads is None:
            loads = per_batch[m.batch] = {}
        for b, w in move_work(current, target, m.bytes_to_move):
            loads[b] = loads.get(b, 0) + w
    totals: dict[int, int] = {}
    for loads in per_batch.values():
        for b, w in loads.items():
            totals[b] = totals.get(b, 0) + w
    return PlanSummary(
        partitions=len(moves),
        replicas=replicas,
        total_bytes=sum(m.bytes_to_move for m in moves),
        batches=len(per_batch),
        bytes_out_per_broker=bytes_out,
        bytes_in_per_broker=bytes_in,
        bottleneck_bytes=max(totals.values(), default=0),
        makespan_bytes=sum(max(loads.values(), default=0) for loads in per_batch.values()),
    )


@dataclass(frozen=True)
class MovePlan:
    """A reviewed, stored, replayable reassignment; moves are sorted by (batch, topic, partition)."""

    kind: PlanKind
    sources: tuple[int, ...]
    destinations: tuple[int, ...]
    limits: BatchLimits
    moves: tuple[PartitionMove, ...]
    # Only for kind == "mapping": (old broker, new broker) pairs.
    mapping: tuple[tuple[int, int], ...] = ()
    summary: PlanSummary = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "summary", summarize(self.moves))

    def batches(self) -> list[list[PartitionMove]]:
        """The moves grouped by batch, in the order the executor runs them."""
        grouped: dict[int, list[PartitionMove]] = {}
        for m in self.moves:
            grouped.setdefault(m.batch, []).append(m)
        return [grouped[b] for b in sorted(grouped)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "sources": list(self.sources),
            "destinations": list(self.destinations),
            "mapping": [list(pair) for pair in self.mapping],
            "limits": {
                "max_moves_per_broker": self.limits.max_moves_per_broker,
                "max_bytes_per_batch": self.limits.max_bytes_per_batch,
            },
            "summary": self.summary.to_dict(),
            "moves": [
                {
                    "topic": m.topic,
                    "partition": m.partition,
                    "current": list(m.current),
                    "target": list(m.target),
                    "bytes": m.bytes_to_move,
                    "batch": m.batch,
                }
                for m in self.moves
            ],
        }

    def to_json(self) -> str:
        """JSON with one move per line, so `diff` of two plans shows exactly the partitions that differ."""
        head = self.to_dict()
        moves = head.pop("moves")
        lines = ",\n    ".join(json.dumps(m, separators=(", ", ": ")) for m in moves)
        body = json.dumps(head, indent=2)
        moves_block = f'"moves": [\n    {lines}\n  ]' if moves else '"moves": []'
        return f"{body[:-2]},\n  {moves_block}\n}}\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MovePlan:
        """Read a plan back (from a checkpoint or a reviewed file); the summary is recomputed from the moves."""
        try:
            limits = data["limits"]
            max_bytes = limits["max_bytes_per_batch"]
            moves = tuple(
                PartitionMove(
                    topic=str(m["topic"]),
                    partition=int(m["partition"]),
                    current=tuple(int(b) for b in m["current"]),
                    target=tuple(int(b) for b in m["target"]),
                    bytes_to_move=int(m["bytes"]),
                    batch=int(m["batch"]),
                )
                for m in data["moves"]
            )
            kind = data["kind"]
            plan = cls(
                kind=kind,
                sources=tuple(int(b) for b in data["sources"]),
                destinations=tuple(int(b) for b in data["destinations"]),
                limits=BatchLimits(
                    max_moves_per_broker=int(limits["max_moves_per_broker"]),
                    max_bytes_per_batch=None if max_bytes is None else int(max_bytes),
                ),
                moves=moves,
                mapping=tuple((int(old), int(new)) for old, new in data.get("mapping", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(
                f"The move plan is malformed ({type(exc).__name__}: {exc}); it must be a plan written by "
                "`MovePlan.to_json` (keys kind, sources, destinations, limits, moves); regenerate it "
                "rather than repairing it by hand."
            ) from exc
        if kind not in ("mapping", "drain"):
            raise BadInput(
                f"The move plan has kind {kind!r}; only 'mapping' and 'drain' plans exist. Regenerate the plan."
            )
        broken = [
            m for m in moves if not m.current or not m.target or len(set(m.target)) != len(m.target) or m.batch < 0
        ]
        if broken:
            m = broken[0]
            raise BadInput(
                f"The move plan has {len(broken)} invalid move(s), e.g. {m.topic}-{m.partition} current "
                f"{list(m.current)} target {list(m.target)} batch {m.batch}: current and target must list "
                "distinct brokers and a batch must be >= 0. Regenerate the plan rather than editing it by hand."
            )
        return plan
