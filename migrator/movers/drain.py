"""Targets for draining a set of source brokers into a set of destination brokers.

Each replica on a source is replaced in place (same list position, so the preferred leader keeps its
position) by a destination chosen greedily, partitions largest first. Rules, strongest first:
  1. never two replicas of a partition on one broker;
  2. never two in one rack, unless no destination outside the partition's racks is left;
  3. keep the rack of the replaced replica, unless that rack's brokers are on average loaded more than
     SAME_RACK_SLACK above the least-loaded rack still allowed: keeping racks must not undo the balance;
  4. within the chosen rack, the least-loaded broker.
Load counts what the destinations already hold. It is measured against each destination's fair share
(what it would hold if everything were even): replicas / fair replicas + bytes / fair bytes, plus
leaders / fair leaders for a leader position. Weighing counts and bytes together matters because
partition sizes are heavy-tailed: balancing counts alone leaves a destination that drew a few huge
partitions with several times the disk of another, balancing bytes alone piles up small partitions.

Speed matters (600,000 replicas in seconds): per rack one lazy-deletion heap per kind of position,
plain floats and tuples, and nothing allocated per replica but two small heap entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from heapq import heapify, heappop, heappush

from migrator.errors import BadInput
from migrator.movers.plan import PlannerCluster, PlannerPartition

# In fair shares of one broker: 1.0 would be a whole broker's worth of replicas.
SAME_RACK_SLACK = 0.01

Targets = list[tuple[PlannerPartition, tuple[int, ...]]]


def drain_targets(cluster: PlannerCluster, sources: Iterable[int], destinations: Iterable[int]) -> Targets:
    """(partition, target replicas) for every partition with a replica on a source, in cluster order."""
    src = frozenset(sources)
    dst_ids = sorted(set(destinations))
    rack_of = {b.id: b.rack for b in cluster.brokers}
    _check_broker_sets(cluster, src, dst_ids, rack_of)

    n = len(dst_ids)
    index = {b: i for i, b in enumerate(dst_ids)}
    state = _Load(n)
    moving: list[PlannerPartition] = []
    too_few: list[PlannerPartition] = []
    for p in cluster.partitions:
        on_src = on_dst = 0
        for pos, b in enumerate(p.replicas):
            i = index.get(b)
            if i is not None:
                on_dst += 1
                state.add(i, p.size_bytes, pos == 0)
            elif b in src:
                on_src += 1
        if on_src:
            moving.append(p)
            state.expect(on_src, p.size_bytes * on_src, p.replicas[0] in src)
            if on_src + on_dst > n:
                too_few.append(p)
    if too_few:
        p = too_few[0]
        raise BadInput(
            f"{len(too_few)} partition(s) cannot be drained into {n} destination broker(s) without two "
            f"replicas on one broker, e.g. {p.topic}-{p.partition} with replicas {list(p.replicas)}: a "
            "partition needs as many distinct destinations as it has replicas on the sources plus on the "
            "destinations. Add destination brokers or drain fewer brokers at a time."
        )
    return _place(moving, src, dst_ids, rack_of, state)


def _check_broker_sets(
    cluster: PlannerCluster, src: frozenset[int], dst_ids: list[int], rack_of: dict[int, str | None]
) -> None:
    if not src or not dst_ids:
        raise BadInput(
            "A drain needs at least one source and one destination broker; name the brokers to empty "
            "and the brokers to fill."
        )
    both = sorted(src.intersection(dst_ids))
    if both:
        raise BadInput(f"Broker(s) {both} are both a drain source and a destination; a broker is one or the other.")
    unknown = [b for b in dst_ids if b not in rack_of]
    if unknown:
        raise BadInput(
            f"Destination broker(s) {unknown} are not registered in the cluster; provision them and wait "
            "until they appear under /brokers/ids before planning."
        )
    # A source may be a dead broker that still holds replicas, but a name matching nothing is a typo.
    unregistered = {b for b in src if b not in rack_of}
    if unregistered:
        unregistered -= {b for p in cluster.partitions for b in p.replicas}
    if unregistered:
        raise BadInput(
            f"Source broker(s) {sorted(unregistered)} are neither registered nor hold any replica; check the ids "
            "you asked to drain."
        )


class _Load:
    """Replicas, leaders and bytes per destination (by index), and the totals that set fair shares."""

    def __init__(self, n: int) -> None:
        self.replicas = [0] * n
        self.leaders = [0] * n
        self.nbytes = [0] * n
        self.total = [0, 0, 0]  # replicas, leaders, bytes once the drain is done

    def add(self, i: int, size: int, leader: bool) -> None:
        """A replica destination i already holds."""
        self.expect(1, size, leader)
        self.place(i, size, leader)

    def expect(self, replicas: int, nbytes: int, leader: bool) -> None:
        """Replicas still to place somewhere."""
        self.total[0] += replicas
        self.total[1] += leader
        self.total[2] += nbytes

    def place(self, i: int, size: int, leader: bool) -> None:
        """An expected replica placed on destination i."""
        self.replicas[i] += 1
        self.nbytes[i] += size
        self.leaders[i] += leader

    def loads(self) -> Callable[[int], tuple[float, float]]:
        """Destination i's load for a follower and for a leader position, in fair shares."""
        n = len(self.replicas)
        per_replica, per_leader, per_byte = (n / t if t else 0.0 for t in self.total)
        replicas, leaders, nbytes = self.replicas, self.leaders, self.nbytes

        def load(i: int) -> tuple[float, float]:
            follower = replicas[i] * per_replica + nbytes[i] * per_byte
            return follower, follower + leaders[i] * per_leader

        return load


def _place(
    moving: list[PlannerPartition],
    src: frozenset[int],
    dst_ids: list[int],
    rack_of: dict[int, str | None],
    state: _Load,
) -> Targets:
    n = len(dst_ids)
    index = {b: i for i, b in enumerate(dst_ids)}
    dst_rack = [rack_of[b] for b in dst_ids]
    racks = sorted(set(dst_rack), key=lambda r: (r is not None, r or ""))
    group_of = {r: g for g, r in enumerate(racks)}
    groups = range(len(racks))
    dst_group = [group_of[r] for r in dst_rack]
    group_size = [dst_group.count(g) for g in groups]
    load_of = state.loads()
    # Per rack, for each kind of position (0 follower, 1 leader): a heap of (load, index) whose stale
    # entries (no longer the broker's current load) are dropped when they surface, and the sum of its
    # brokers' loads, which makes the rack's average.
    current = tuple(list(kind) for kind in zip(*(load_of(i) for i in range(n))))
    heaps: tuple[list[list[tuple[float, int]]], ...] = ([[] for _ in racks], [[] for _ in racks])
    sums = ([0.0] * len(racks), [0.0] * len(racks))
    for kind in (0, 1):
        for i in range(n):
            heaps[kind][dst_group[i]].append((current[kind][i], i))
            sums[kind][dst_group[i]] += current[kind][i]
        for heap in heaps[kind]:
            heapify(heap)

    def least_loaded(heap: list[tuple[float, int]], loads: list[float], taken: set[int]) -> int:
        skipped = []
        while True:
            load, i = heap[0]
            if load != loads[i]:
                heappop(heap)
            elif i in taken:
                skipped.append(heappop(heap))
            else:
                break
        for entry in skipped:
            heappush(heap, entry)
        return i

    targets: Targets = [(p, p.replicas) for p in moving]
    # Largest first; the sort is stable, so equal sizes keep the input's (topic, partition) order.
    for j in sorted(range(len(moving)), key=[p.size_bytes for p in moving].__getitem__, reverse=True):
        p = moving[j]
        target = list(p.replicas)
        taken = {index[b] for b in target if b in index}
        taken_in = [0] * len(racks)
        for i in taken:
            taken_in[dst_group[i]] += 1
        used_racks = {rack_of.get(b) for b in target if b not in src}
        used_racks.discard(None)
        for pos, b in enumerate(target):
            if b not in src:
                continue
            kind = 1 if pos == 0 else 0
            rack_sums = sums[kind]
            want = group_of.get(rack_of.get(b), -1)
            # The least-loaded rack on average among those the partition does not use yet (any rack with
            # a free broker when none is left), unless the replaced replica's rack is within the slack.
            g = spare = want_load = -1
            least = spare_least = 0.0
            for r in groups:
                if taken_in[r] == group_size[r]:
                    continue
                average = rack_sums[r] / group_size[r]
                if racks[r] in used_racks:
                    if spare < 0 or average < spare_least:
                        spare, spare_least = r, average
                    continue
                if g < 0 or average < least:
                    g, least = r, average
                if r == want:
                    want_load = average
            if g < 0:
                g = spare
            elif want_load >= 0 and want_load <= least + SAME_RACK_SLACK:
                g = want
            i = least_loaded(heaps[kind][g], current[kind], taken)
            state.place(i, p.size_bytes, pos == 0)
            for k, load in enumerate(load_of(i)):
                sums[k][g] += load - current[k][i]
                current[k][i] = load
                heappush(heaps[k][g], (load, i))
            target[pos] = dst_ids[i]
            taken.add(i)
            taken_in[g] += 1
            if racks[g] is not None:
                used_racks.add(racks[g])
        targets[j] = (p, tuple(target))
    return targets
