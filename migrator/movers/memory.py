"""The native mover's memory, kept as plain JSON in the checkpointed step state.

    {"backend": "native", "forward": {run}, "reverse": {run} | null, "throttles": {ledger}, "progress": {...}}
    run = {"status", "reason", "batch", "done_batches", "plan" (reverse only),
           "before":    [[topic, partition, [replicas before our first submission], bytes per new replica]],
           "submitted": [[topic, partition, [target we asked for]]]}

`forward.before` is the assignment a rollback restores. Partitions are lists, not "topic-p" keys,
because topic names may contain '-' and JSON object keys must be strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from migrator.engine.step import JSON
from migrator.movers.throttle_writer import ThrottleLedger

PartitionKey = tuple[str, int]
Replicas = tuple[int, ...]
RunStatus = Literal["new", "running", "paused", "done", "reversed"]
BACKEND = "native"


@dataclass
class RunMemory:
    """One direction of movement: the forward plan, or the reverse plan a rollback built."""

    status: RunStatus = "new"
    reason: str | None = None
    batch: int | None = None  # index of the batch in flight
    done_batches: set[int] = field(default_factory=set)
    before: dict[PartitionKey, tuple[Replicas, int]] = field(default_factory=dict)
    submitted: dict[PartitionKey, Replicas] = field(default_factory=dict)
    plan: JSON | None = None

    def to_json(self) -> JSON:
        return {
            "status": self.status,
            "reason": self.reason,
            "batch": self.batch,
            "done_batches": sorted(self.done_batches),
            "before": [[t, p, list(r), share] for (t, p), (r, share) in sorted(self.before.items())],
            "submitted": [[t, p, list(r)] for (t, p), r in sorted(self.submitted.items())],
            "plan": self.plan,
        }

    @classmethod
    def from_json(cls, data: JSON | None) -> RunMemory:
        data = data or {}
        return cls(
            status=data.get("status", "new"),
            reason=data.get("reason"),
            batch=data.get("batch"),
            done_batches=set(data.get("done_batches", [])),
            before={(t, int(p)): (tuple(r), int(share)) for t, p, r, share in data.get("before", [])},
            submitted={(t, int(p)): tuple(r) for t, p, r in data.get("submitted", [])},
            plan=data.get("plan"),
        )


@dataclass
class MoverMemory:
    """Typed view of the JSON state; `save()` writes it back into that dict and makes it durable."""

    state: JSON
    persist: Callable[[], None]
    forward: RunMemory
    reverse: RunMemory | None
    throttles: ThrottleLedger
    progress: JSON

    @classmethod
    def bind(cls, state: JSON, persist: Callable[[], None]) -> MoverMemory:
        return cls(
            state=state,
            persist=persist,
            forward=RunMemory.from_json(state.get("forward")),
            reverse=RunMemory.from_json(state["reverse"]) if state.get("reverse") else None,
            throttles=ThrottleLedger.from_json(state.get("throttles")),
            progress=dict(state.get("progress") or {}),
        )

    def save(self) -> None:
        # Which mover moved what: a phase may switch movers between runs, and a rollback must know.
        self.state["backend"] = BACKEND
        self.state["forward"] = self.forward.to_json()
        self.state["reverse"] = self.reverse.to_json() if self.reverse is not None else None
        self.state["throttles"] = self.throttles.to_json()
        self.state["progress"] = self.progress
        self.persist()

    @property
    def original(self) -> dict[PartitionKey, tuple[Replicas, int]]:
        """The assignment before the forward run touched each partition: what a rollback restores."""
        return self.forward.before

    def ours(self, key: PartitionKey) -> set[Replicas]:
        """Targets an in-flight reassignment of `key` may have and still be ours: what any run asked
        for, and the replicas a partition had before (where a cancel sends it back)."""
        found = set()
        for run in (self.forward, self.reverse):
            if run is None:
                continue
            if key in run.submitted:
                found.add(run.submitted[key])
            if key in run.before:
                found.add(run.before[key][0])
        return found
