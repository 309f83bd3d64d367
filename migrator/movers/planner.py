"""The replica-move planner: pure data in (a light view of the cluster), a reviewable MovePlan out.

    plan_mapping(cluster, {0: 100, 1: 101}, limits)   # broker-ID shift: each replica moves once
    plan_drain(cluster, sources, destinations, limits) # VM -> Kubernetes: rack-aware and balanced

Both give the same input the same plan, byte for byte, whatever order the partitions come in.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import attrgetter
from typing import Protocol

from migrator.movers.batching import assign_batches
from migrator.movers.drain import drain_targets
from migrator.movers.mapping import mapping_targets
from migrator.movers.plan import (
    BatchLimits,
    MovePlan,
    PartitionMove,
    PlanKind,
    PlannerBroker,
    PlannerCluster,
    PlannerPartition,
)


class BrokerLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def rack(self) -> str | None: ...


class PartitionLike(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def replicas(self) -> Sequence[int]: ...
    @property
    def size_bytes(self) -> int | Mapping[int, int]: ...


def planner_cluster(brokers: Iterable[BrokerLike], partitions: Iterable[PartitionLike]) -> PlannerCluster:
    """The planner's view of an inventory, e.g. `planner_cluster(inv.brokers.values(), inv.partitions())`.

    A size given per replica (broker -> bytes on disk) counts as its largest replica: a new replica
    copies the leader's log, and the largest replica is the safe guess for it.
    """
    return PlannerCluster(
        brokers=tuple(PlannerBroker(b.id, b.rack) for b in brokers),
        partitions=tuple(
            PlannerPartition(p.topic, p.partition, tuple(p.replicas), _largest(p.size_bytes)) for p in partitions
        ),
    )


def _largest(size: int | Mapping[int, int]) -> int:
    return max(size.values(), default=0) if isinstance(size, Mapping) else size


def plan_mapping(
    cluster: PlannerCluster,
    mapping: Mapping[int, int],
    limits: BatchLimits = BatchLimits(),
    *,
    allow_rack_change: bool = False,
) -> MovePlan:
    with _gc_paused():
        targets = mapping_targets(_canonical(cluster), mapping, allow_rack_change=allow_rack_change)
        return _plan(
            "mapping",
            targets,
            limits,
            sources=sorted(mapping),
            destinations=sorted(mapping.values()),
            mapping=tuple(sorted(mapping.items())),
        )


def plan_drain(
    cluster: PlannerCluster,
    sources: Iterable[int],
    destinations: Iterable[int],
    limits: BatchLimits = BatchLimits(),
) -> MovePlan:
    sources, destinations = sorted(set(sources)), sorted(set(destinations))
    with _gc_paused():
        targets = drain_targets(_canonical(cluster), sources, destinations)
        return _plan("drain", targets, limits, sources=sources, destinations=destinations)


def _canonical(cluster: PlannerCluster) -> PlannerCluster:
    """Partitions in (topic, partition) order, so the plan does not depend on the order they came in."""
    partitions = tuple(sorted(cluster.partitions, key=attrgetter("topic", "partition")))
    return PlannerCluster(brokers=cluster.brokers, partitions=partitions)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Planning allocates millions of small tuples and no reference cycles; left on, the cyclic garbage
    collector rescans them all on every full pass and makes planning grow faster than linearly."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _plan(
    kind: PlanKind,
    targets: list[tuple[PlannerPartition, tuple[int, ...]]],  # in (topic, partition) order
    limits: BatchLimits,
    *,
    sources: list[int],
    destinations: list[int],
    mapping: tuple[tuple[int, int], ...] = (),
) -> MovePlan:
    reassignments = [
        (p.replicas, target, p.size_bytes * len([b for b in target if b not in p.replicas])) for p, target in targets
    ]
    batches = assign_batches(reassignments, limits)
    moves = [
        PartitionMove(p.topic, p.partition, current, target, nb, batch)
        for (p, _), (current, target, nb), batch in zip(targets, reassignments, batches)
    ]
    moves.sort(key=attrgetter("batch"))  # stable: (topic, partition) order within a batch
    return MovePlan(
        kind=kind,
        sources=tuple(sources),
        destinations=tuple(destinations),
        limits=limits,
        moves=tuple(moves),
        mapping=mapping,
    )
