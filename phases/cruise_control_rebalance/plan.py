"""Pure planning of phase 4: the drain plan, what each batch costs at the configured throttle, and where
the facade names lead afterwards. No I/O: the steps read the cluster and hand the data in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrator.cluster.environments import Environments
from migrator.dns.config import DnsConfig
from migrator.movers.plan import BatchLimits, MovePlan, PlannerCluster, summarize
from migrator.movers.planner import plan_drain

JSON = dict[str, Any]


def drain_plan(view: PlannerCluster, envs: Environments, limits: BatchLimits) -> MovePlan:
    """Every replica on a VM broker moves to a Kubernetes broker (racks kept where they can be, the
    destinations balanced), in batches of at most `limits` per broker."""
    return plan_drain(view, envs.vm, envs.kubernetes, limits)


def batch_estimates(plan: MovePlan, throttle_bytes_per_second: int) -> list[JSON]:
    """Per batch: partitions, bytes, bytes into and out of each broker, and the estimated seconds: the
    throttle caps every broker's replication in and out, so a batch lasts as long as its busiest broker
    needs (waiting for in-sync and the elections are not counted)."""
    rows = []
    for moves in plan.batches():
        summary = summarize(moves)
        rows.append(
            {
                "partitions": summary.partitions,
                "bytes": summary.total_bytes,
                "bytes_in_per_broker": _keyed(summary.bytes_in_per_broker),
                "bytes_out_per_broker": _keyed(summary.bytes_out_per_broker),
                "estimated_seconds": round(summary.makespan_bytes / throttle_bytes_per_second, 1),
            }
        )
    return rows


def plan_estimate(plan: MovePlan, throttle_bytes_per_second: int) -> JSON:
    summary = plan.summary
    return {
        "batches": summary.batches,
        "partitions": summary.partitions,
        "bytes": summary.total_bytes,
        "bytes_in_per_broker": _keyed(summary.bytes_in_per_broker),
        "bytes_out_per_broker": _keyed(summary.bytes_out_per_broker),
        "throttle_bytes_per_second": throttle_bytes_per_second,
        "estimated_seconds": round(summary.makespan_bytes / throttle_bytes_per_second, 1),
    }


def facade_targets(dns: DnsConfig, envs: Environments, hosts: Mapping[int, str]) -> dict[str, list[str]]:
    """Each Kubernetes broker's own name leads to it; each VM broker's name leads to one Kubernetes broker
    (in ID order, round robin), so a client that lists VM names still bootstraps; the bootstrap name
    leads to every Kubernetes broker."""
    k8s = list(envs.kubernetes)
    targets = {dns.broker_name(b): [hosts[b]] for b in k8s}
    for i, vm in enumerate(envs.vm):
        targets[dns.broker_name(vm)] = [hosts[k8s[i % len(k8s)]]]
    targets[dns.bootstrap_fqdn] = sorted({hosts[b] for b in k8s})
    return targets


def _keyed(per_broker: Mapping[int, int]) -> dict[str, int]:
    return {str(b): n for b, n in sorted(per_broker.items())}
