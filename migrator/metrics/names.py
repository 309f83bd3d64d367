"""Every metric the exporter serves: name, type, labels and help, in one table.

The dashboard generator and the tests read this table, so a panel cannot ask for a metric the
exporter does not have. Units are in the names (Prometheus conventions); counters end in _total.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Metric:
    name: str
    type: Literal["gauge", "counter", "histogram"]
    labels: tuple[str, ...]
    help: str


_METRICS = (
    # from the checkpoint
    Metric("kafka_migration_info", "gauge", ("migration_id",), "Always 1; names the migration this exporter reports on."),
    Metric("kafka_migration_phase_order", "gauge", ("phase",), "Position of the phase in the run order (1 = first)."),
    Metric("kafka_migration_phase_state", "gauge", ("phase", "state"), "1 for the state the phase is in, 0 for the others."),
    Metric("kafka_migration_phase_started_timestamp_seconds", "gauge", ("phase",), "When the phase last started (Unix time)."),
    Metric("kafka_migration_phase_finished_timestamp_seconds", "gauge", ("phase",), "When the phase last finished or was rolled back (Unix time)."),
    Metric("kafka_migration_step_state", "gauge", ("phase", "step", "state", "reversible"), "1 for the state the step is in, 0 for the others; reversible=false marks a point of no return."),
    Metric("kafka_migration_point_of_no_return_passed", "gauge", (), "1 once any irreversible step has been entered: from then on rollback is refused."),
    Metric("kafka_migration_paused_phases", "gauge", (), "Number of phases paused now (on request, after --until, or on a safety gate)."),
    Metric("kafka_migration_pause_info", "gauge", ("phase", "reason"), "1 per paused phase, with the recorded pause reason."),
    # from events
    Metric("kafka_migration_pauses_total", "counter", ("cause",), "Pauses since this process started, by cause (operator, safety_gate, until, other)."),
    Metric("kafka_migration_move_planned_bytes", "gauge", (), "Bytes the current (or last) replica move must copy in all."),
    Metric("kafka_migration_move_moved_bytes", "gauge", (), "Bytes of the current (or last) replica move copied so far."),
    Metric("kafka_migration_move_remaining_bytes", "gauge", (), "Bytes of the current (or last) replica move still to copy."),
    Metric("kafka_migration_move_rate_bytes_per_second", "gauge", (), "Copy rate achieved over the last minute of the replica move."),
    Metric("kafka_migration_move_eta_seconds", "gauge", (), "Seconds until the replica move is done at the achieved rate (NaN while unknown)."),
    Metric("kafka_migration_move_partitions", "gauge", ("state",), "Partitions of the replica move, done and remaining."),
    Metric("kafka_migration_move_batch", "gauge", (), "1-based number of the batch in flight (0: none)."),
    Metric("kafka_migration_move_batches", "gauge", (), "Batches in the replica move's plan."),
    Metric("kafka_migration_move_broker_remaining_bytes", "gauge", ("broker", "env", "direction"), "Bytes a broker still has to receive (in) or give up (out) in the replica move."),
    Metric("kafka_migration_canary_produce_latency_seconds", "histogram", (), "Time from send to acknowledgement of canary messages (canary.produce events)."),
    Metric("kafka_migration_canary_produce_errors_total", "counter", (), "Canary messages that failed (canary.produce events with an error)."),
    # from the cluster
    Metric("kafka_migration_brokers", "gauge", ("env",), "Live brokers per environment (vm, kubernetes)."),
    Metric("kafka_migration_replicas", "gauge", ("env",), "Partition replicas hosted per environment."),
    Metric("kafka_migration_leaders", "gauge", ("env",), "Partition leaders per environment."),
    Metric("kafka_migration_broker_replicas", "gauge", ("broker", "env"), "Partition replicas per broker."),
    Metric("kafka_migration_broker_leaders", "gauge", ("broker", "env"), "Partition leaders per broker."),
    Metric("kafka_migration_under_replicated_partitions", "gauge", (), "Partitions whose ISR is smaller than their replication factor."),
    Metric("kafka_migration_under_min_isr_partitions", "gauge", (), "Partitions whose ISR is below their min.insync.replicas."),
    Metric("kafka_migration_offline_partitions", "gauge", (), "Partitions without a live leader."),
    Metric("kafka_migration_reassignments_in_flight", "gauge", (), "Partition reassignments in flight (KIP-455 and the legacy znode)."),
    Metric("kafka_migration_throttle_rate_bytes_per_second", "gauge", ("broker", "env", "direction"), "Replication throttle rate in force on a broker (0: none)."),
    Metric("kafka_migration_dns_facade_target_info", "gauge", ("name", "target", "env"), "1 per value a facade name answers; env of the broker advertising it, unknown if none."),
    Metric("kafka_migration_cluster_sample_timestamp_seconds", "gauge", (), "When the cluster figures were last read (Unix time)."),
    Metric("kafka_migration_cluster_sample_failures_total", "counter", (), "Failed reads of the cluster since this process started."),
)

METRICS: dict[str, Metric] = {m.name: m for m in _METRICS}
