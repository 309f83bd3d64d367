"""Where each partition of a plan really is: the judgement a run (or a resume after a kill) starts from.

The cluster is the truth, the checkpoint only says what we asked for. A partition is done when no
reassignment of it is in flight, its replicas are exactly the target (in order: the first is the
preferred leader) and every target replica is in sync. A reassignment in flight is ours only if it
goes where we sent it (or back where it came from, when we cancelled it); anything else was started
by someone else, and we do not fight over a partition.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import Enum

from migrator.clients.kafka import ReassignmentState


class Stage(str, Enum):
    DONE = "done"  # at target, all in sync, nothing in flight
    SETTLING = "settling"  # at target, nothing in flight, a target replica not (yet) in the ISR
    MOVING = "moving"  # our reassignment to the target is in flight
    REDIRECT = "redirect"  # our reassignment elsewhere is in flight (a cancel reverting): resubmit
    PENDING = "pending"  # nothing in flight, not at target: to submit
    FOREIGN = "foreign"  # someone else's reassignment is in flight
    GONE = "gone"  # the partition no longer exists (topic deleted): nothing left to move


@dataclass(frozen=True)
class Observed:
    """A partition as ZooKeeper holds it: the full replica list (during a move, target + removing) and ISR."""

    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int


def listed_target(state: ReassignmentState) -> tuple[int, ...]:
    """The target of an in-flight reassignment: Kafka lists the target first, then the replicas it removes."""
    return tuple(b for b in state.replicas if b not in state.removing)


def classify(
    target: Sequence[int],
    observed: Observed | None,
    in_flight: ReassignmentState | None,
    ours: Collection[tuple[int, ...]],
) -> Stage:
    """The stage of one partition. `ours` holds the targets we ever asked for (or cancelled back to)."""
    if observed is None:
        return Stage.GONE
    if in_flight is not None:
        going_to = listed_target(in_flight)
        if going_to not in ours:
            return Stage.FOREIGN
        return Stage.MOVING if going_to == tuple(target) else Stage.REDIRECT
    if observed.replicas != tuple(target):
        return Stage.PENDING
    return Stage.DONE if set(target) <= set(observed.isr) else Stage.SETTLING
