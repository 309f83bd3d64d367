"""The collector behind a scrape: the checkpoint as it is now, the move's last progress, the last
cluster sample, each turned into `kafka_migration_*` families (see names.py)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from migrator.engine.checkpoint import UNDOABLE, Checkpoint, CheckpointStore, PhaseStatus, StepStatus
from migrator.metrics.cluster_sample import ClusterSampler
from migrator.metrics.environments import ENVIRONMENTS, VM, KubernetesIds, environment
from migrator.metrics.from_events import EventMetrics
from migrator.metrics.names import METRICS

#: phase -> its steps in order, each with whether it is reversible (what the phases define).
Layout = Mapping[str, Sequence[tuple[str, bool]]]

_Family = GaugeMetricFamily | CounterMetricFamily


def family(name: str) -> _Family:
    metric = METRICS[name]
    kind = CounterMetricFamily if metric.type == "counter" else GaugeMetricFamily
    return kind(name, metric.help, labels=list(metric.labels))


class MigrationCollector(Collector):
    def __init__(
        self,
        migration_id: str,
        store: CheckpointStore,
        layout: Layout,
        kubernetes_ids: KubernetesIds,
        events: EventMetrics,
        sampler: ClusterSampler | None,
    ) -> None:
        self.migration_id = migration_id
        self.store = store
        self.layout = layout
        self.kubernetes_ids = kubernetes_ids
        self.events = events
        self.sampler = sampler

    def collect(self) -> Iterator[_Family]:
        loaded = self.store.load()
        checkpoint = loaded.checkpoint if loaded else None
        info = family("kafka_migration_info")
        info.add_metric([self.migration_id], 1)
        yield info
        yield from self._checkpoint(checkpoint)
        progress = self.events.progress or recorded_progress(checkpoint)
        sample = self.sampler.latest if self.sampler is not None else None
        yield from self._progress(progress, self.kubernetes_ids(checkpoint), sample.live if sample else frozenset())
        if self.sampler is not None:
            yield from self._cluster(self.sampler)

    # ------------------------------------------------------------------------- checkpoint

    def _checkpoint(self, checkpoint: Checkpoint | None) -> Iterator[_Family]:
        recorded = checkpoint.phases if checkpoint else {}
        names = [*self.layout, *(n for n in recorded if n not in self.layout)]
        order, phases, steps = (family(n) for n in (
            "kafka_migration_phase_order", "kafka_migration_phase_state", "kafka_migration_step_state"
        ))
        started, finished = family("kafka_migration_phase_started_timestamp_seconds"), family(
            "kafka_migration_phase_finished_timestamp_seconds"
        )
        paused_count, passed, paused = 0, False, family("kafka_migration_pause_info")
        for position, name in enumerate(names, start=1):
            record = recorded.get(name)
            status = record.status if record else PhaseStatus.PENDING
            order.add_metric([name], position)
            for state in PhaseStatus:
                phases.add_metric([name, state.value], float(state is status))
            if record is not None and record.started_at:
                started.add_metric([name], record.started_at.timestamp())
            if record is not None and record.finished_at:
                finished.add_metric([name], record.finished_at.timestamp())
            if record is not None and status is PhaseStatus.PAUSED:
                paused_count += 1
                paused.add_metric([name, record.pause_reason or ""], 1)
            known = {s.name: s.status for s in record.steps} if record else {}
            layout = list(self.layout.get(name, ())) or [(s, True) for s in known]
            for step, reversible in layout:
                current = known.get(step, StepStatus.PENDING)
                passed |= not reversible and current in UNDOABLE
                for state in StepStatus:
                    steps.add_metric([name, step, state.value, str(reversible).lower()], float(state is current))
        yield from (order, phases, started, finished, steps, paused)
        yield _single("kafka_migration_point_of_no_return_passed", float(passed))
        yield _single("kafka_migration_paused_phases", float(paused_count))

    # ----------------------------------------------------------------------------- events

    def _progress(
        self, progress: Mapping[str, Any], kubernetes_ids: frozenset[int], live: frozenset[int]
    ) -> Iterator[_Family]:
        """The move's figures; a live broker the move does not touch has nothing left to move (0)."""
        eta = progress.get("eta_seconds")
        yield _single("kafka_migration_move_planned_bytes", float(progress.get("bytes_total", 0)))
        yield _single("kafka_migration_move_moved_bytes", float(progress.get("bytes_moved", 0)))
        yield _single("kafka_migration_move_remaining_bytes", float(progress.get("bytes_remaining", 0)))
        yield _single("kafka_migration_move_rate_bytes_per_second", float(progress.get("rate_bytes_per_second") or 0))
        yield _single("kafka_migration_move_eta_seconds", math.nan if eta is None else float(eta))
        yield _single("kafka_migration_move_batch", float(progress.get("batch") or 0))
        yield _single("kafka_migration_move_batches", float(progress.get("batches_total", 0)))
        partitions = family("kafka_migration_move_partitions")
        done, total = progress.get("partitions_done", 0), progress.get("partitions_total", 0)
        partitions.add_metric(["done"], float(done))
        partitions.add_metric(["remaining"], float(total - done))
        yield partitions
        brokers = family("kafka_migration_move_broker_remaining_bytes")
        per_broker = {int(b): figures for b, figures in (progress.get("brokers") or {}).items()}
        for broker in sorted(set(per_broker) | live):
            figures, env = per_broker.get(broker, {}), environment(broker, kubernetes_ids)
            brokers.add_metric([str(broker), env, "in"], float(figures.get("bytes_in_remaining", 0)))
            brokers.add_metric([str(broker), env, "out"], float(figures.get("bytes_out_remaining", 0)))
        yield brokers

    # ---------------------------------------------------------------------------- cluster

    def _cluster(self, sampler: ClusterSampler) -> Iterator[_Family]:
        failures = family("kafka_migration_cluster_sample_failures_total")
        failures.add_metric([], sampler.failures)
        yield failures
        sample = sampler.latest
        if sample is None:
            return
        yield _single("kafka_migration_cluster_sample_timestamp_seconds", sample.at)
        live = family("kafka_migration_brokers")
        live_per_env = sample.per_environment({b: 1 for b in sample.live})
        for env in ENVIRONMENTS:
            live.add_metric([env], live_per_env[env])
        yield live
        for what, counts in (("replicas", sample.replicas), ("leaders", sample.leaders)):
            per_env, per_broker = family(f"kafka_migration_{what}"), family(f"kafka_migration_broker_{what}")
            for env, count in sample.per_environment(counts).items():
                per_env.add_metric([env], count)
            for broker, count in sorted(counts.items()):
                per_broker.add_metric([str(broker), sample.brokers.get(broker, VM)], count)
            yield per_env
            yield per_broker
        yield _single("kafka_migration_under_replicated_partitions", sample.under_replicated)
        yield _single("kafka_migration_under_min_isr_partitions", sample.under_min_isr)
        yield _single("kafka_migration_offline_partitions", sample.offline)
        yield _single("kafka_migration_reassignments_in_flight", sample.reassignments)
        throttles = family("kafka_migration_throttle_rate_bytes_per_second")
        for (broker, direction), rate in sorted(sample.throttles.items()):
            throttles.add_metric([str(broker), sample.brokers.get(broker, VM), direction], rate)
        yield throttles
        facade = family("kafka_migration_dns_facade_target_info")
        for target in sample.facade:
            facade.add_metric([target.name, target.target, target.env], 1)
        yield facade


def recorded_progress(checkpoint: Checkpoint | None) -> dict[str, Any]:
    """The last progress a mover kept in its checkpointed memory (a dict with `backend` and `progress`,
    see migrator.movers.memory), for an exporter that did not see the move's events."""
    if checkpoint is None:
        return {}
    latest: tuple[float, dict[str, Any]] = (-math.inf, {})
    for record in checkpoint.phases.values():
        at = record.updated_at.timestamp() if record.updated_at else 0.0
        for value in record.state.values():
            if isinstance(value, dict) and "backend" in value and value.get("progress") and at > latest[0]:
                latest = (at, dict(value["progress"]))
    return latest[1]


def _single(name: str, value: float) -> _Family:
    metric = family(name)
    metric.add_metric([], value)
    return metric
