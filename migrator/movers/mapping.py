"""Targets for a 1:1 broker mapping (old id -> new id), as in the broker-ID shift.

Every replica on an old broker moves to its mapped broker in the same list position, so leadership
preference and racks are kept and each replica moves exactly once. Partitions with no replica on a
mapped broker are not moves at all and are left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from migrator.errors import BadInput
from migrator.movers.plan import PlannerCluster, PlannerPartition


def mapping_targets(
    cluster: PlannerCluster, mapping: Mapping[int, int], *, allow_rack_change: bool = False
) -> list[tuple[PlannerPartition, tuple[int, ...]]]:
    """(partition, target replicas) for every partition with a replica on a mapped broker, in cluster order."""
    _check_mapping(cluster, mapping, allow_rack_change)
    targets = []
    collisions = []
    for p in cluster.partitions:
        if not any(b in mapping for b in p.replicas):
            continue
        target = tuple(mapping.get(b, b) for b in p.replicas)
        if len(set(target)) != len(target):
            collisions.append((p, target))
        targets.append((p, target))
    if collisions:
        p, target = collisions[0]
        raise BadInput(
            f"The broker mapping would put two replicas of one partition on the same broker in "
            f"{len(collisions)} partition(s), e.g. {p.topic}-{p.partition} {list(p.replicas)} -> {list(target)}: "
            "a new broker already holds a replica of a partition whose old broker maps onto it. Map to "
            "brokers that hold no data yet (freshly provisioned IDs), or move those replicas away first."
        )
    return targets


def _check_mapping(cluster: PlannerCluster, mapping: Mapping[int, int], allow_rack_change: bool) -> None:
    if not mapping:
        raise BadInput("The broker mapping is empty; give at least one old id -> new id pair.")
    to_self = sorted(old for old, new in mapping.items() if old == new)
    if to_self:
        raise BadInput(f"The broker mapping maps broker(s) {to_self} onto themselves; drop those pairs.")
    doubled = sorted(b for b, n in Counter(mapping.values()).items() if n > 1)
    if doubled:
        raise BadInput(
            f"The broker mapping sends several old brokers to the same new broker(s) {doubled}; a 1:1 "
            "shift needs one distinct new broker per old broker."
        )
    rack_of = {b.id: b.rack for b in cluster.brokers}
    unknown = sorted(b for b in mapping.values() if b not in rack_of)
    if unknown:
        raise BadInput(
            f"The broker mapping targets broker(s) {unknown} that are not registered in the cluster; "
            "provision them and wait until they appear under /brokers/ids before planning."
        )
    if allow_rack_change:
        return
    changed = sorted((old, new) for old, new in mapping.items() if rack_of.get(old) != rack_of[new])
    if changed:
        shown = ", ".join(f"{old} ({rack_of.get(old)}) -> {new} ({rack_of[new]})" for old, new in changed[:5])
        raise BadInput(
            f"The broker mapping changes the rack of {len(changed)} broker(s): {shown}. A 1:1 shift must "
            "keep racks or partitions lose rack diversity; give each new broker its old broker's "
            "broker.rack, or pass allow_rack_change if the change is intended."
        )
