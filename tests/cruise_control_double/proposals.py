"""The double's proposals: a simple deterministic drain, the DOUBLE's algorithm, not Cruise Control's.

Cruise Control optimises a goal list over a load model built from metric windows; the double has
neither, so `remove_broker` and `demote_broker` get plain, reproducible answers that satisfy what
those endpoints promise (no replica left on a removed broker, only `destination_broker_ids` gain
replicas when given; a demoted broker leads nothing it can hand over):

- remove: every replica on a removed broker is replaced, in place (so a partition's preferred leader
  stays first), by the allowed broker that holds the fewest replicas so far (lowest id on a tie) and
  is not already a replica of the partition. Partitions are taken in (topic, partition) order.
- demote: a partition whose preferred leader is demoted gets that broker moved to the end of its
  replica list, as Cruise Control's demotion does; nothing moves between brokers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping

Assignment = Mapping[tuple[str, int], tuple[int, ...]]


class ProposalError(Exception):
    """The request cannot be satisfied (e.g. not enough destination brokers)."""


def drain(
    assignment: Assignment, removed: Collection[int], live: Collection[int], destinations: Collection[int] = ()
) -> dict[tuple[str, int], tuple[int, ...]]:
    """New replicas of every partition that has one on a `removed` broker."""
    allowed = sorted(set(destinations) if destinations else set(live) - set(removed))
    load = Counter({b: 0 for b in allowed})
    for replicas in assignment.values():
        load.update(b for b in replicas if b in load)
    moved: dict[tuple[str, int], tuple[int, ...]] = {}
    for key in sorted(assignment):
        replicas = list(assignment[key])
        if not set(replicas) & set(removed):
            continue
        for i, broker in enumerate(replicas):
            if broker not in removed:
                continue
            candidates = [b for b in allowed if b not in replicas]
            if not candidates:
                raise ProposalError(
                    f"partition {key[0]}-{key[1]} (replicas {list(assignment[key])}) has no broker left to move to"
                )
            chosen = min(candidates, key=lambda b: (load[b], b))
            load[chosen] += 1
            replicas[i] = chosen
        moved[key] = tuple(replicas)
    return moved


def demote(assignment: Assignment, demoted: Collection[int]) -> dict[tuple[str, int], tuple[int, ...]]:
    """New replica order of every partition whose preferred leader is demoted."""
    moved = {}
    for key in sorted(assignment):
        replicas = assignment[key]
        if replicas and replicas[0] in demoted and any(b not in demoted for b in replicas):
            keep = [b for b in replicas if b not in demoted]
            moved[key] = tuple(keep + [b for b in replicas if b in demoted])
    return moved
