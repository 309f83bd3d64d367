"""The cruise-control mover's memory, kept as plain JSON in the checkpointed step state.

    {"backend": "cruise-control", "status", "reason",
     "before":  [[topic, partition, [replicas before the move]]],     what reverse restores
     "target":  [[topic, partition, [replicas Cruise Control proposed]]],  checkpointed before executing
     "user_task_id", "submitting_since_ms", "submissions", "reviews": {"dryrun"|"execute": review id},
     "throttle_baseline": [[scope, entity, name, value]], "progress": {...},
     "reverse_plan": MovePlan, "native_reverse": {the native executor's memory of the reverse run}}

Partitions are lists, not "topic-p" keys, because topic names may contain '-'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from migrator.engine.step import JSON
from migrator.movers.batching import assign_batches
from migrator.movers.cruise_control_throttles import Baseline
from migrator.movers.plan import BatchLimits, MovePlan, PartitionMove

PartitionKey = tuple[str, int]
Replicas = tuple[int, ...]
BACKEND = "cruise-control"


def reassignment_plan(
    entries: Iterable[tuple[PartitionKey, Replicas, Replicas, int]], limits: BatchLimits
) -> MovePlan:
    """A drain MovePlan of (partition, current, target, bytes) entries, batched within `limits`."""
    rows = sorted(entries)
    batches = assign_batches([(current, target, nb) for _, current, target, nb in rows], limits)
    moves = sorted(
        (PartitionMove(t, p, current, target, nb, batch) for ((t, p), current, target, nb), batch in zip(rows, batches)),
        key=lambda m: (m.batch, m.topic, m.partition),
    )
    losing = sorted({b for m in moves for b in m.removing})
    gaining = sorted({b for m in moves for b in m.adding})
    return MovePlan("drain", tuple(losing), tuple(gaining), limits, tuple(moves))


@dataclass
class CruiseMemory:
    """Typed view of the mover's JSON state; `save()` writes it back and makes it durable."""

    state: JSON
    persist: Callable[[], None]
    status: str = "new"  # new, running, paused, done, reversed
    reason: str | None = None
    before: dict[PartitionKey, Replicas] = field(default_factory=dict)
    target: dict[PartitionKey, Replicas] = field(default_factory=dict)
    user_task_id: str | None = None
    submitting_since_ms: int | None = None
    submissions: int = 0
    #: Two-step verification: the review id Cruise Control gave each parked request ("dryrun", "execute").
    reviews: dict[str, int] = field(default_factory=dict)
    baseline: Baseline | None = None  # throttles in effect before the first execution
    progress: JSON = field(default_factory=dict)

    @classmethod
    def bind(cls, state: JSON, persist: Callable[[], None]) -> CruiseMemory:
        baseline = state.get("throttle_baseline")
        return cls(
            state=state,
            persist=persist,
            status=state.get("status", "new"),
            reason=state.get("reason"),
            before={(t, int(p)): tuple(r) for t, p, r in state.get("before", [])},
            target={(t, int(p)): tuple(r) for t, p, r in state.get("target", [])},
            user_task_id=state.get("user_task_id"),
            submitting_since_ms=state.get("submitting_since_ms"),
            submissions=int(state.get("submissions", 0)),
            reviews=dict(state.get("reviews") or {}),
            baseline=None if baseline is None else {tuple(x) for x in baseline},  # type: ignore[misc]
            progress=dict(state.get("progress") or {}),
        )

    def save(self) -> None:
        self.state.update(
            {
                "backend": BACKEND,
                "status": self.status,
                "reason": self.reason,
                "before": [[t, p, list(r)] for (t, p), r in sorted(self.before.items())],
                "target": [[t, p, list(r)] for (t, p), r in sorted(self.target.items())],
                "user_task_id": self.user_task_id,
                "submitting_since_ms": self.submitting_since_ms,
                "submissions": self.submissions,
                "reviews": self.reviews,
                "throttle_baseline": None if self.baseline is None else sorted(list(x) for x in self.baseline),
                "progress": self.progress,
            }
        )
        self.persist()

    @property
    def native_reverse(self) -> JSON:
        """The native executor's memory of the reverse run."""
        return self.state.setdefault("native_reverse", {})
