"""Pure planning of phase 4: the drain plans (one per group of VM brokers), what each batch costs at the
configured throttle, and where the facade names lead afterwards. No I/O: the steps read the cluster and
hand the data in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from migrator.cluster.environments import Environments
from migrator.config import MigrationConfig
from migrator.dns.config import DnsConfig
from migrator.movers.plan import BatchLimits, MovePlan, PlannerCluster, PlannerPartition, summarize
from migrator.movers.planner import plan_drain
from migrator.movers.rebalance_config import RebalanceConfig
from migrator.movers.settings import MovementConfig, resolve_movement

JSON = dict[str, Any]


def rebalance_settings(config: MigrationConfig) -> RebalanceConfig:
    """The section as configured, or its defaults."""
    return config.cruise_control_rebalance or RebalanceConfig()


def movement_settings(config: MigrationConfig) -> MovementConfig:
    """This phase's movement settings: its own, else the migration's, else the defaults."""
    return resolve_movement(rebalance_settings(config).movement, config.movement)


def broker_groups(vm: Sequence[int], per_group: int | None) -> list[tuple[int, ...]]:
    """The VM brokers in ID order, `per_group` at a time (all at once when None)."""
    ids = sorted(vm)
    size = per_group or max(1, len(ids))
    return [tuple(ids[i : i + size]) for i in range(0, len(ids), size)]


def drain_plans(
    view: PlannerCluster, envs: Environments, limits: BatchLimits, per_group: int | None = None
) -> list[MovePlan]:
    """One plan per group of VM brokers, each planned on the assignment the groups before it leave: every
    replica on a group's brokers is replaced in place by a Kubernetes broker (racks kept where they can
    be, the destinations balanced), in batches of at most `limits` per broker. Each replica moves once."""
    plans = []
    for group in broker_groups(envs.vm, per_group):
        plan = plan_drain(view, group, envs.kubernetes, limits)
        plans.append(plan)
        view = _after(view, plan)
    return plans


def final_group(plans: Sequence[MovePlan]) -> dict[tuple[str, int], int]:
    """partition -> the index of the last plan that moves it (where its final target comes from)."""
    return {(m.topic, m.partition): g for g, plan in enumerate(plans) for m in plan.moves}


def _after(view: PlannerCluster, plan: MovePlan) -> PlannerCluster:
    targets = {(m.topic, m.partition): m.target for m in plan.moves}
    partitions = tuple(
        PlannerPartition(p.topic, p.partition, targets.get((p.topic, p.partition), p.replicas), p.size_bytes)
        for p in view.partitions
    )
    return PlannerCluster(view.brokers, partitions)


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


def plan_estimate(plans: Sequence[MovePlan], throttle_bytes_per_second: int) -> JSON:
    """The totals of the groups' plans, run one after the other."""
    bytes_in: dict[int, int] = {}
    bytes_out: dict[int, int] = {}
    for plan in plans:
        for totals, per_broker in ((bytes_in, plan.summary.bytes_in_per_broker), (bytes_out, plan.summary.bytes_out_per_broker)):
            for b, n in per_broker.items():
                totals[b] = totals.get(b, 0) + n
    return {
        "groups": len(plans),
        "batches": sum(p.summary.batches for p in plans),
        "partition_moves": sum(p.summary.partitions for p in plans),
        "bytes": sum(p.summary.total_bytes for p in plans),
        "bytes_in_per_broker": _keyed(bytes_in),
        "bytes_out_per_broker": _keyed(bytes_out),
        "throttle_bytes_per_second": throttle_bytes_per_second,
        "estimated_seconds": round(sum(p.summary.makespan_bytes for p in plans) / throttle_bytes_per_second, 1),
    }


def facade_targets(dns: DnsConfig, envs: Environments, hosts: Mapping[int, str]) -> dict[str, list[str]]:
    """Each Kubernetes broker's own name leads to it; each VM broker's name leads to one Kubernetes broker
    (in ID order, round robin), so a client that lists VM names still bootstraps; the bootstrap name
    leads to every Kubernetes broker."""
    k8s = list(envs.kubernetes)
    if not k8s:
        return {}  # a dry run before the join: no Kubernetes broker to lead a name to yet
    targets = {dns.broker_name(b): [hosts[b]] for b in k8s}
    for i, vm in enumerate(envs.vm):
        targets[dns.broker_name(vm)] = [hosts[k8s[i % len(k8s)]]]
    targets[dns.bootstrap_fqdn] = sorted({hosts[b] for b in k8s})
    return targets


def _keyed(per_broker: Mapping[int, int]) -> dict[str, int]:
    return {str(b): n for b, n in sorted(per_broker.items())}
