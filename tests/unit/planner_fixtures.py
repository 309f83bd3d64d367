"""Small synthetic clusters and hypothesis strategies shared by the planner tests."""

from __future__ import annotations

from hypothesis import strategies as st

from migrator.movers.plan import PlannerBroker, PlannerCluster, PlannerPartition


def cluster(brokers: dict[int, str | None], partitions: list[tuple[str, int, tuple[int, ...], int]]) -> PlannerCluster:
    return PlannerCluster(
        brokers=tuple(PlannerBroker(b, rack) for b, rack in sorted(brokers.items())),
        partitions=tuple(PlannerPartition(t, p, replicas, size) for t, p, replicas, size in partitions),
    )


@st.composite
def drain_cases(draw: st.DrawFn, *, balanced_racks: bool = False):
    """(cluster, sources, destinations): brokers 0.. are sources, 100.. destinations, 200.. others.

    balanced_racks: racks round-robin over both sides (the shape a planned migration has), every replica
    on a source (a full drain), all partitions the same size. Otherwise racks are arbitrary (some
    missing), replicas may sit anywhere and sizes range from empty to a gigabyte.
    """
    n_racks = draw(st.integers(1, 4))
    racks = [f"r{i}" for i in range(n_racks)]
    n_src = draw(st.integers(1, 6))
    n_dst = draw(st.integers(1, 8)) * (n_racks if balanced_racks else 1)
    n_other = 0 if balanced_racks else draw(st.integers(0, 3))
    sources = list(range(n_src))
    destinations = list(range(100, 100 + n_dst))
    others = list(range(200, 200 + n_other))
    rack = st.sampled_from([*racks, None])
    brokers: dict[int, str | None] = {}
    for side in (sources, destinations, others):
        for n, b in enumerate(side):
            brokers[b] = racks[n % n_racks] if balanced_racks else draw(rack)
    holders = sources if balanced_racks else sources + others + destinations
    rf_max = min(3, len(holders))
    partitions = []
    for n in range(draw(st.integers(1, 40))):
        rf = draw(st.integers(1, rf_max))
        replicas = tuple(draw(st.lists(st.sampled_from(holders), min_size=rf, max_size=rf, unique=True)))
        size = 1000 if balanced_racks else draw(st.sampled_from([0, 1, 10, 1000, 123_456, 10**9]))
        partitions.append((f"t{n % 3}", n, replicas, size))
    return cluster(brokers, partitions), sources, destinations
