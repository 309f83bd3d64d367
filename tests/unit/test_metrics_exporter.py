"""The exporter's families from a real checkpoint written by the real machine, from engine events,
and from an inventory; and what promtool says about the exposition."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from migrator.cluster.canary import CanaryReport
from migrator.cluster.model import Broker, Inventory, PartitionState, Throttle, Topic
from migrator.config import MigrationConfig
from migrator.engine.checkpoint import Checkpoint, LocalFileStore, PhaseRecord
from migrator.engine.events import EventBus
from migrator.engine.machine import Machine
from migrator.engine.phase import Phase
from migrator.engine.step import StepContext
from migrator.metrics.cluster_sample import sample_inventory
from migrator.metrics.exporter import Exporter
from migrator.metrics.names import METRICS
from phases import mixed_cluster_join
from phases.mixed_cluster_join import kubernetes_node_ids
from tests.fake_clock import FakeClock
from tests.promtool import promtool_problems
from tests.unit.engine_fakes import FakeSystem, KeyStep

CONFIG = MigrationConfig.model_validate(
    {"migration_id": "m", "cluster": {"zookeeper_connect": "127.0.0.1:1", "bootstrap_servers": "127.0.0.1:1"}}
)


def samples(exporter: Exporter) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(exporter.exposition().decode())
        for s in family.samples
    }


def value(found: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def _phases(system: FakeSystem) -> tuple[Phase, Phase]:
    first = Phase("first", [KeyStep(system, "a", {"a": 1}), KeyStep(system, "b", {"b": 1})])
    second = Phase("second", [KeyStep(system, "c", {"c": 1}), KeyStep(system, "final", {"f": 1}, reversible=False)])
    return first, second


def _setup(tmp_path: Path) -> tuple[Machine, EventBus, Exporter, Phase, Phase]:
    system = FakeSystem()
    first, second = _phases(system)
    store = LocalFileStore(tmp_path)
    clock = FakeClock()
    machine = Machine(store, "m", sleep=clock.sleep, monotonic=clock.monotonic)
    events = EventBus()
    layout = {p.name: [(s.name, s.reversible) for s in p.steps] for p in (first, second)}
    exporter = Exporter(CONFIG, store, layout, kubernetes_node_ids, events=events, sample_seconds=None)
    return machine, events, exporter, first, second


def test_phase_and_step_states_follow_the_checkpoint(tmp_path: Path) -> None:
    machine, events, exporter, first, second = _setup(tmp_path)
    found = samples(exporter)
    assert value(found, "kafka_migration_phase_state", phase="first", state="pending") == 1
    assert value(found, "kafka_migration_phase_order", phase="second") == 2
    assert value(found, "kafka_migration_point_of_no_return_passed") == 0

    ctx = StepContext(config=None, state={}, events=events)
    machine.run(first, ctx)
    machine.run(second, StepContext(config=None, state={}, events=events), until="c")
    found = samples(exporter)
    assert value(found, "kafka_migration_phase_state", phase="first", state="done") == 1
    assert value(found, "kafka_migration_phase_state", phase="first", state="running") == 0
    assert value(found, "kafka_migration_phase_state", phase="second", state="paused") == 1
    assert value(found, "kafka_migration_step_state", phase="second", step="c", state="done", reversible="true") == 1
    assert value(found, "kafka_migration_step_state", phase="second", step="final", state="pending", reversible="false") == 1
    assert value(found, "kafka_migration_paused_phases") == 1
    reasons = [dict(labels) for (name, labels) in found if name == "kafka_migration_pause_info"]
    assert len(reasons) == 1 and reasons[0]["phase"] == "second" and "--until" in reasons[0]["reason"]
    assert value(found, "kafka_migration_pauses_total", cause="until") == 1
    assert value(found, "kafka_migration_pauses_total", cause="operator") == 0
    assert value(found, "kafka_migration_point_of_no_return_passed") == 0
    assert ("kafka_migration_phase_finished_timestamp_seconds", frozenset({("phase", "first")})) in found

    machine.run(second, StepContext(config=None, state={}, events=events), confirm=["final"])
    found = samples(exporter)
    assert value(found, "kafka_migration_point_of_no_return_passed") == 1
    assert value(found, "kafka_migration_paused_phases") == 0


def test_move_progress_from_events_and_else_from_the_checkpoint(tmp_path: Path) -> None:
    machine, events, exporter, first, _ = _setup(tmp_path)
    found = samples(exporter)
    assert value(found, "kafka_migration_move_planned_bytes") == 0
    assert value(found, "kafka_migration_move_eta_seconds") != value(found, "kafka_migration_move_eta_seconds")  # NaN

    progress = {
        "partitions_total": 4, "partitions_done": 1, "bytes_total": 1000, "bytes_moved": 250, "bytes_remaining": 750,
        "batch": 2, "batches_total": 3, "rate_bytes_per_second": 50.0, "eta_seconds": 15.0,
        "brokers": {"1001": {"bytes_in_remaining": 750, "bytes_out_remaining": 0}, "1": {"bytes_in_remaining": 0, "bytes_out_remaining": 750}},
    }
    events.emit("progress", "first", "a", direction="forward", **progress)
    found = samples(exporter)
    assert value(found, "kafka_migration_move_moved_bytes") == 250
    assert value(found, "kafka_migration_move_remaining_bytes") == 750
    assert value(found, "kafka_migration_move_eta_seconds") == 15
    assert value(found, "kafka_migration_move_partitions", state="remaining") == 3
    assert value(found, "kafka_migration_move_broker_remaining_bytes", broker="1001", env="vm", direction="in") == 750

    # A `metrics serve` process sees no events: it shows what the mover kept in the checkpoint.
    recorded = {**progress, "bytes_moved": 1000, "bytes_remaining": 0, "eta_seconds": 0.0}
    machine.run(first, StepContext(config=None, state={"move": {"backend": "native", "progress": recorded}}, events=EventBus()))
    fresh = Exporter(CONFIG, LocalFileStore(tmp_path), {}, kubernetes_node_ids, sample_seconds=None)
    assert value(samples(fresh), "kafka_migration_move_moved_bytes") == 1000


def test_canary_events_feed_latency_and_errors(tmp_path: Path) -> None:
    _, events, exporter, _, _ = _setup(tmp_path)
    for latency in (0.004, 0.02, 0.02):
        events.emit("canary.produce", latency_seconds=latency)
    events.emit("canary.produce", error="KafkaError{code=_MSG_TIMED_OUT}")
    events.emit("canary.consume", latency_seconds=9.0)  # not ours to count
    found = samples(exporter)
    assert value(found, "kafka_migration_canary_produce_latency_seconds_count") == 3
    assert value(found, "kafka_migration_canary_produce_latency_seconds_bucket", le="0.005") == 1
    assert value(found, "kafka_migration_canary_produce_errors_total") == 1


def test_a_canary_round_trip_publishes_what_the_metrics_count(tmp_path: Path) -> None:
    _, events, exporter, _, _ = _setup(tmp_path)
    report = CanaryReport(
        "__migrator_canary", 3, produced=2, acks_ms=[3.0, 40.0], produce_errors=1,
        errors=["produce to partition 2: Broker: Not enough in-sync replicas"],
    )
    report.publish(events)
    found = samples(exporter)
    assert value(found, "kafka_migration_canary_produce_latency_seconds_count") == 2
    assert value(found, "kafka_migration_canary_produce_latency_seconds_bucket", le="0.005") == 1
    assert value(found, "kafka_migration_canary_produce_errors_total") == 1


def test_cluster_sample_counts_per_environment_and_throttles() -> None:
    def broker(i: int) -> Broker:
        return Broker(i, None, f"10.0.0.{i % 250}", 9092, [])

    topic = Topic("t", {
        0: PartitionState("t", 0, [1, 1000], [1, 1000], leader=1000),
        1: PartitionState("t", 1, [2, 1001], [2], leader=2),
        2: PartitionState("t", 2, [3, 2], [3], leader=-1),
    })
    inventory = Inventory(
        "c", 1, {i: broker(i) for i in (1, 2, 1000, 1001)}, {"t": topic},
        throttles=[Throttle("broker", "1000", "follower.replication.throttled.rate", "1048576")],
        default_min_insync_replicas=2,
    )
    sample = sample_inventory(inventory, frozenset({1000, 1001}), at=1.0)
    assert sample.per_environment(sample.replicas) == {"vm": 4, "kubernetes": 2}
    assert sample.per_environment(sample.leaders) == {"vm": 1, "kubernetes": 1}
    assert sample.brokers[3] == "vm" and 3 not in sample.live  # named in a replica list, not registered
    assert (sample.under_replicated, sample.offline, sample.under_min_isr) == (1, 1, 1)
    assert sample.throttles[(1000, "follower")] == 1048576 and sample.throttles[(1000, "leader")] == 0


def test_kubernetes_brokers_are_the_ones_the_join_recorded() -> None:
    checkpoint = Checkpoint(migration_id="m")
    assert kubernetes_node_ids(checkpoint) == frozenset() == kubernetes_node_ids(None)
    checkpoint.phases[mixed_cluster_join.PHASE] = PhaseRecord(name=mixed_cluster_join.PHASE, state={"vm_brokers": {"ids": [0]}})
    assert kubernetes_node_ids(checkpoint) == frozenset()  # started, nothing verified yet
    checkpoint.phases[mixed_cluster_join.PHASE].state[mixed_cluster_join.NODE_IDS] = [1000, 1001]
    assert kubernetes_node_ids(checkpoint) == frozenset({1000, 1001})


def test_every_served_name_is_in_the_table_and_promtool_accepts_the_exposition(tmp_path: Path) -> None:
    machine, events, exporter, first, _ = _setup(tmp_path)
    machine.run(first, StepContext(config=None, state={}, events=events))
    events.emit("canary.produce", latency_seconds=0.01)
    exposition = exporter.exposition()
    # prometheus_client adds a `<name>_created` gauge per counter and histogram; the parser drops
    # _total from counter family names.
    families = {f.name for f in text_string_to_metric_families(exposition.decode()) if not f.name.endswith("_created")}
    assert {n.removesuffix("_total") for n in METRICS} >= families
    assert promtool_problems(exposition) == ""
