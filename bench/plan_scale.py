"""Planning at fleet scale on synthetic metadata: time and peak memory of a full drain plan.

Usage: python bench/plan_scale.py                          (the whole benchmark)
       python bench/plan_scale.py --one KIND PARTITIONS    (one measurement, in this process)

500 brokers on 3 racks; every partition RF 3 across the racks, sizes log-normal (median ~65 MB, a
heavy tail) with a tenth empty. "drain" empties brokers 0-249 into 250-499; "mapping" shifts all 500
to ids 1000 higher (the broker-ID shift). Each (kind, size) runs in a fresh subprocess, so its peak
RSS (ru_maxrss) is its own; that peak includes the interpreter and the synthetic input, as a real run
would. The clock covers planning only: targets, batches, the MovePlan and its summary.

Seconds are the process's CPU time (one thread, so one core): the machine is shared and its wall
clock also counts time spent waiting for a core. Wall time is printed beside it. The last line is
  BENCH plan_scale partitions=200000 seconds=S peak_mb=M growth_200k_over_20k=R
for the drain at 200,000 partitions; R is its time over the 20,000-partition drain (linear ~10).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from migrator.movers.plan import BatchLimits, MovePlan, PlannerBroker, PlannerCluster, PlannerPartition  # noqa: E402
from migrator.movers.planner import plan_drain, plan_mapping  # noqa: E402

BROKERS = 500
RACKS = 3
RF = 3
PARTITIONS_PER_TOPIC = 20
SEED = 20240601
LIMITS = BatchLimits(max_moves_per_broker=5, max_bytes_per_batch=None)
SIZES = (20_000, 200_000)


def synthetic_cluster(partitions: int, brokers: int, seed: int = SEED) -> PlannerCluster:
    rng = random.Random(seed)
    racks = [f"az{r}" for r in range(RACKS)]
    by_rack = [[b for b in range(brokers) if b % RACKS == r] for r in range(RACKS)]
    parts = []
    for n in range(partitions):
        replicas = tuple(rng.choice(by_rack[r]) for r in rng.sample(range(RACKS), RF))
        size = 0 if rng.random() < 0.1 else int(rng.lognormvariate(18, 2))
        topic = f"topic-{n // PARTITIONS_PER_TOPIC:05d}"
        parts.append(PlannerPartition(topic, n % PARTITIONS_PER_TOPIC, replicas, size))
    return PlannerCluster(
        brokers=tuple(PlannerBroker(b, racks[b % RACKS]) for b in range(brokers)),
        partitions=tuple(parts),
    )


def balance(cluster: PlannerCluster, plan: MovePlan) -> dict[str, float]:
    """Spread over the destinations once the plan has run, and how many replicas kept their rack."""
    rack = {b.id: b.rack for b in cluster.brokers}
    final = {(p.topic, p.partition): p.replicas for p in cluster.partitions}
    final.update({(m.topic, m.partition): m.target for m in plan.moves})
    size = {(p.topic, p.partition): p.size_bytes for p in cluster.partitions}
    replicas, leaders, nbytes = Counter(), Counter(), Counter()
    for key, target in final.items():
        for pos, b in enumerate(target):
            if b in plan.destinations:
                replicas[b] += 1
                nbytes[b] += size[key]
                leaders[b] += pos == 0
    kept = [rack[a] == rack[b] for m in plan.moves for a, b in zip(m.current, m.target) if a != b]
    return {
        "replicas_min": min(replicas.values()),
        "replicas_max": max(replicas.values()),
        "leaders_min": min(leaders.values()),
        "leaders_max": max(leaders.values()),
        "bytes_max_over_min": max(nbytes.values()) / max(1, min(nbytes.values())),
        "rack_kept": sum(kept) / len(kept),
    }


def measure(kind: str, partitions: int) -> dict[str, float]:
    cluster = synthetic_cluster(partitions, BROKERS)
    if kind == "mapping":
        fresh = tuple(PlannerBroker(1000 + b.id, b.rack) for b in cluster.brokers)
        cluster = PlannerCluster(brokers=cluster.brokers + fresh, partitions=cluster.partitions)
    wall, cpu = time.perf_counter(), time.process_time()
    if kind == "drain":
        plan = plan_drain(cluster, range(BROKERS // 2), range(BROKERS // 2, BROKERS), LIMITS)
    else:
        plan = plan_mapping(cluster, {b: 1000 + b for b in range(BROKERS)}, LIMITS)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = plan.summary
    result = {
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "peak_mb": peak_mb,
        "moves": s.partitions,
        "replicas": s.replicas,
        "batches": s.batches,
        "makespan_over_bottleneck": s.makespan_bytes / s.bottleneck_bytes if s.bottleneck_bytes else 1.0,
    }
    if kind == "drain":
        result |= balance(cluster, plan)
    return result


def run_fresh(kind: str, partitions: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--one", kind, str(partitions)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", nargs=2, metavar=("KIND", "PARTITIONS"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]))))
        return
    drain = {}
    for kind in ("mapping", "drain"):
        for partitions in SIZES:
            r = run_fresh(kind, partitions)
            line = (
                f"{kind:7s} partitions={partitions} moves={r['moves']} replicas={r['replicas']} "
                f"batches={r['batches']} cpu_seconds={r['cpu_seconds']:.2f} wall_seconds={r['wall_seconds']:.2f} "
                f"peak_mb={r['peak_mb']:.0f} makespan_over_bottleneck={r['makespan_over_bottleneck']:.3f}"
            )
            if kind == "drain":
                drain[partitions] = r
                line += (
                    f" replicas_per_dest={r['replicas_min']}..{r['replicas_max']}"
                    f" leaders_per_dest={r['leaders_min']}..{r['leaders_max']}"
                    f" bytes_max_over_min={r['bytes_max_over_min']:.3f} rack_kept={r['rack_kept']:.3f}"
                )
            print(line, flush=True)
    big, small = drain[SIZES[1]], drain[SIZES[0]]
    print(
        f"BENCH plan_scale partitions={SIZES[1]} seconds={big['cpu_seconds']:.2f} peak_mb={big['peak_mb']:.0f} "
        f"growth_200k_over_20k={big['cpu_seconds'] / small['cpu_seconds']:.1f}"
    )


if __name__ == "__main__":
    main()
