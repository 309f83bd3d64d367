"""The cruise-control mover against the Cruise Control test double, which moves data for real on the sandbox."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from migrator.clients.cruise_control import CruiseControl
from migrator.cluster.inventory import read_inventory
from migrator.cluster.throttles import FOLLOWER_RATE, LEADER_RATE
from migrator.config import MigrationConfig, load_config
from migrator.errors import BadInput, SafetyGateError
from migrator.movers.executor import MovePaused
from migrator.movers.cruise_control import CruiseControlMover
from migrator.movers.cruise_control_config import CruiseControlConfig
from migrator.movers.native import planner_view
from migrator.movers.plan import BatchLimits, MovePlan
from migrator.movers.planner import plan_drain
from migrator.movers.settings import MovementConfig
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster
from migrator.sandbox.workload import Workload
from tests.cluster.native_mover_support import Recorder, assignment, create_topic, in_flight, throttles, unique, wait_for
from tests.cruise_control_double.server import CruiseControlDouble

pytestmark = pytest.mark.cluster

FOUR_BROKERS = [BrokerSpec(0, "a"), BrokerSpec(1, "b"), BrokerSpec(2, "c"), BrokerSpec(3, "c")]
ALL = [0, 1, 2, 3]


def options(double: CruiseControlDouble, **overrides: Any) -> CruiseControlConfig:
    return CruiseControlConfig(url=double.url, poll_interval_seconds=0.3, **overrides)


def drain_plan(
    config: MigrationConfig, sources: list[int], destinations: list[int], topics: list[str] | None
) -> MovePlan:
    return plan_drain(planner_view(read_inventory(config), topics), sources, destinations, BatchLimits(2))


def run_in_background(mover_args: dict[str, Any], plan: MovePlan, state: dict) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            with CruiseControlMover.open(**mover_args) as mover:
                outcome.append(mover.run(plan, state))
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    return worker, outcome


@pytest.fixture
def four(sandbox_factory, tmp_path: Path) -> Iterator[tuple[SandboxCluster, MigrationConfig]]:
    cluster = sandbox_factory(brokers=FOUR_BROKERS)
    yield cluster, load_config(cluster.write_migration_config(tmp_path / "migration.yaml"))


def canary(cluster: SandboxCluster) -> Workload:
    return Workload(cluster.bootstrap_servers, topic=unique("canary"), rate_per_s=50, keys=8)


def test_cruise_control_drains_a_broker_under_load_losing_nothing(four):
    cluster, config = four
    data = unique("orders")
    create_topic(cluster, data, partitions=6, mb=2)
    with (workload := canary(cluster)):
        topics = [data, workload.topic]
        # remove_broker drains every partition of the broker, internal topics included.
        plan, state, recorder = drain_plan(config, [2], [3], None), {}, Recorder()
        settings = MovementConfig(throttle_bytes_per_second=2_000_000, max_moves_per_broker=2)
        # A freshly started Cruise Control has no valid metric windows: the mover waits for them
        # (here until it has said so once).
        with CruiseControlDouble(config, windows_ready_after_seconds=3600) as double:
            recorder.bus.subscribe(lambda e: e.kind == "mover.waiting" and setattr(double, "windows_ready_after_seconds", 0))
            with CruiseControlMover.open(
                config, events=recorder.bus, persist=lambda: None, options=options(double), settings=settings
            ) as mover:
                report = mover.run(plan, state)
                verdict = wait_for(lambda: (v := mover.verify(plan, state)).done and v, "the move to verify")
            assert double.violations == [] and double.rejected == []
            assert double.executions_started == 1
    assert workload.report.zero_loss and workload.report.lost == 0
    after = assignment(config, None)
    assert not any(2 in replicas for replicas in after.values())
    # Cruise Control drains every partition of the broker (internal topics too, whether or not the
    # plan lists them): the plan's moves are among its targets.
    assert report.partitions == len(state["before"]) >= len(plan.moves) > 0
    assert {(m.topic, m.partition) for m in plan.moves} <= {(t, p) for t, p, _ in state["target"]}
    assert "no throttle left over" in verdict.reason
    assert recorder.of("mover.waiting"), "the wait for metric windows was reported"
    assert "valid windows" in recorder.of("mover.waiting")[0]["reason"]
    assert state["user_task_id"] is None and state["status"] == "done" and state["submissions"] == 1
    assert all(2 in r for _, _, r in state["before"])
    final = recorder.of("progress")[-1]
    assert final["bytes_moved"] == final["bytes_total"] == plan.summary.total_bytes > 1_000_000
    assert throttles(config, ALL, topics) == set()

    # Rollback: everything back on the replicas it had, in order (the native executor moves it).
    before = {(t, p): tuple(r) for t, p, r in state["before"]}
    with CruiseControlDouble(config) as double:
        with CruiseControlMover.open(
            config, events=recorder.bus, persist=lambda: None, options=options(double), settings=settings
        ) as mover:
            back = mover.reverse(state)
        assert double.executions_started == 0
    assert back.direction == "reverse" and back.partitions == len(before)
    restored = assignment(config, None)
    assert {k: restored[k] for k in before} == before
    assert state["status"] == "reversed"
    # A broker applies a dynamic config change when ZooKeeper notifies it, so a read straight after the
    # removal may still show the rate; a throttle really left behind never goes.
    wait_for(lambda: throttles(config, ALL, topics) == set(), "the reverse's throttles to be gone", timeout=30)


def test_a_cruise_control_restart_mid_execution_is_reconciled_and_the_move_finishes(four):
    cluster, config = four
    data = unique("big")
    create_topic(cluster, data, partitions=4, mb=3)
    with CruiseControlDouble(config) as double:
        with (workload := canary(cluster)):
            topics = [data, workload.topic]
            plan, state, recorder = drain_plan(config, [2], [3], None), {}, Recorder()
            settings = MovementConfig(throttle_bytes_per_second=500_000, max_moves_per_broker=2)
            args = dict(config=config, events=recorder.bus, persist=lambda: None, options=options(double), settings=settings)
            worker, outcome = run_in_background(args, plan, state)
            # Mid-execution: Kafka is copying a batch Cruise Control submitted.
            wait_for(lambda: state.get("user_task_id") and in_flight(config), "the execution to be copying", timeout=60)
            first_task = state["user_task_id"]
            double.restart()
            worker.join(timeout=300)
            assert not worker.is_alive()
        assert double.violations == []
        assert outcome and not isinstance(outcome[0], BaseException), outcome
        assert double.executions_started == 2, "what was left was resubmitted once"
        with CruiseControl(double.url) as cc:
            assert first_task not in {t.user_task_id for t in cc.user_tasks()}
    restarted = recorder.of("mover.cruise_control_restarted")
    assert any(r["user_task_id"] == first_task for r in restarted)
    # Progress from bytes on the destinations moved on while partitions were still copying.
    moved = [p["bytes_moved"] for p in recorder.of("progress")]
    assert moved == sorted(moved) and len(set(moved)) >= 3 and moved[-1] == plan.summary.total_bytes
    assert workload.report.zero_loss and workload.report.lost == 0
    after = assignment(config, None)
    assert not any(2 in replicas for replicas in after.values())
    # The crashed execution's throttles are gone too: nobody else would remove them.
    assert throttles(config, ALL, topics) == set()
    assert state["status"] == "done" and state["submissions"] == 2


# ------------------------------------------------------------------ on one private cluster for the module
# remove_broker drains EVERY partition of a broker, so these do not run on the session's shared sandbox.


def test_an_execution_someone_else_started_is_named_and_never_stopped(private):
    sandbox, shared = private
    topic = unique("foreign")
    create_topic(sandbox, topic, partitions=2, replication=2, mb=1, assignment=[[0, 1], [1, 0]])
    with CruiseControlDouble(shared) as double, CruiseControl(double.url) as other:
        theirs = other.request(
            "POST",
            "remove_broker",
            other.remove_broker_params([0], destinations=[2], dryrun=False, replication_throttle=100_000, reason="someone else"),
        )
        try:
            assert other.executor_state().busy
            plan = drain_plan(shared, [1], [2], [topic])
            with pytest.raises(BadInput) as refused:
                with CruiseControlMover.open(
                    shared, events=Recorder().bus, persist=lambda: None, options=options(double)
                ) as mover:
                    mover.run(plan, {})
            message = str(refused.value)
            assert theirs.user_task_id in message and "remove_broker" in message and "did not start" in message
            executor = other.executor_state()
            assert executor.busy and executor.triggered_user_task_id == theirs.user_task_id, "it was not stopped"
            assert not any("stop_proposal_execution" in r for r in double.requests)
        finally:
            other.stop_proposal_execution()
            wait_for(lambda: not other.executor_state().busy, "their execution to stop", timeout=120)
        assert double.violations == []


def test_a_cluster_default_throttle_rate_stops_the_move_before_anything_changes(private):
    sandbox, shared = private
    def cluster_default(rate: str | None) -> None:
        # Neither librdkafka nor kafka-python sends the default broker entity (an empty name), so this
        # writes what `kafka-configs.sh --entity-default` makes the controller write in ZooKeeper mode.
        zk = KazooClient(hosts=sandbox.zookeeper_connect)
        zk.start(timeout=15)
        try:
            config = {LEADER_RATE: rate, FOLLOWER_RATE: rate} if rate else {}
            zk.ensure_path("/config/brokers/<default>")
            zk.set("/config/brokers/<default>", json.dumps({"version": 1, "config": config}).encode())
            change = json.dumps({"version": 2, "entity_path": "brokers/<default>"}).encode()
            zk.create("/config/changes/config_change_", change, sequence=True)
        finally:
            zk.stop()
            zk.close()

    topic = unique("preflight")
    create_topic(sandbox, topic, partitions=1, replication=2, assignment=[[0, 1]])
    before = assignment(shared, [topic])
    cluster_default("10000000")
    try:
        with CruiseControlDouble(shared) as double:
            plan = drain_plan(shared, [0], [2], [topic])
            wait_for(
                lambda: any(t.source == "DYNAMIC_DEFAULT_BROKER_CONFIG" for t in throttles(shared, [0, 1, 2], [])),
                "the cluster default to show",
            )
            with pytest.raises(BadInput) as refused:
                with CruiseControlMover.open(shared, events=Recorder().bus, persist=lambda: None, options=options(double)) as mover:
                    mover.run(plan, {})
            assert double.executions_started == 0 and not any("dryrun=false" in r for r in double.requests)
    finally:
        cluster_default(None)
    message = str(refused.value)
    assert f"{LEADER_RATE}=10000000 (cluster-wide dynamic default)" in message and "#2078" in message
    assert assignment(shared, [topic]) == before


def test_without_metric_windows_the_move_waits_a_bounded_time_then_pauses(private):
    sandbox, shared = private
    topic = unique("windows")
    create_topic(sandbox, topic, partitions=1, replication=2, assignment=[[0, 1]])
    with CruiseControlDouble(shared, windows_ready_after_seconds=3600) as double:
        recorder = Recorder()
        plan = drain_plan(shared, [0], [2], [topic])
        state: dict = {}
        with pytest.raises(SafetyGateError, match="too few valid metric windows"):
            with CruiseControlMover.open(
                shared, events=recorder.bus, persist=lambda: None, options=options(double, metric_windows_timeout_seconds=1.5)
            ) as mover:
                mover.run(plan, state)
        assert recorder.of("mover.waiting") and double.executions_started == 0
        assert double.violations == []


def test_a_pause_stops_only_our_execution_and_resume_finishes(private):
    sandbox, shared = private
    topic = unique("pause")
    create_topic(sandbox, topic, partitions=2, replication=2, mb=1, assignment=[[0, 1], [0, 1]])
    plan = drain_plan(shared, [0], [2], [topic])
    # Only our topic moves: broker 0 keeps the shared sandbox's other partitions.
    plan_topics = {m.topic for m in plan.moves}
    assert plan_topics == {topic}
    state: dict = {}
    pause = threading.Event()
    recorder = Recorder()
    settings = MovementConfig(throttle_bytes_per_second=200_000, max_moves_per_broker=1)
    with CruiseControlDouble(shared) as double:
        args = dict(
            config=shared,
            events=recorder.bus,
            persist=lambda: None,
            options=options(double),
            settings=settings,
            pause_requested=lambda: "operator pause" if pause.is_set() else None,
        )
        mover_plan = MovePlan(plan.kind, (0,), (2,), plan.limits, plan.moves)
        worker, outcome = run_in_background(args, mover_plan, state)
        wait_for(lambda: state.get("user_task_id") and in_flight(shared), "the execution to be copying", timeout=60)
        pause.set()
        worker.join(timeout=120)
        assert isinstance(outcome[0], MovePaused), outcome
        with CruiseControl(double.url) as cc:
            assert not cc.executor_state().busy
        assert any("stop_proposal_execution" in r and "stop_external_agent=false" in r for r in double.requests)
        assert state["status"] == "paused" and not in_flight(shared)

        pause.clear()
        faster = MovementConfig(throttle_bytes_per_second=5_000_000, max_moves_per_broker=5)
        with CruiseControlMover.open(**{**args, "settings": faster}) as mover:
            mover.run(mover_plan, state)
            assert wait_for(lambda: mover.verify(mover_plan, state).done, "the resumed move to verify")
        assert double.violations == []
    assert state["status"] == "done" and state["submissions"] == 2
    assert not any(0 in replicas for replicas in assignment(shared, None).values())


def test_an_execution_requested_just_before_a_crash_of_ours_is_adopted_not_refused(private):
    """Killed between the execute request and its answer: the checkpoint holds the intent and its time,
    not the User-Task-ID; the remove_broker Cruise Control runs for our brokers after that time is ours."""
    sandbox, shared = private
    topic = unique("adopt")
    create_topic(sandbox, topic, partitions=2, replication=2, mb=0.5, assignment=[[1, 2], [2, 1]])
    plan = drain_plan(shared, [1], [0], [topic])
    state = {"status": "running", "submitting_since_ms": int(time.time() * 1000) - 1000, "submissions": 1}
    recorder = Recorder()
    with CruiseControlDouble(shared) as double, CruiseControl(double.url) as cc:
        with CruiseControlMover.open(shared, events=recorder.bus, persist=lambda: None, options=options(double)) as mover:
            params = mover._params(plan, dryrun=False)  # noqa: SLF001 - the exact request the mover sends
            params["replication_throttle"] = 300_000
            lost_answer = cc.request("POST", "remove_broker", params)
            mover.run(plan, state)
            assert wait_for(lambda: mover.verify(plan, state).done, "the move to verify")
        assert double.executions_started == 1, "nothing was submitted twice"
        assert double.violations == []
    assert state["submissions"] == 1 and state["status"] == "done"
    assert recorder.of("mover.execution_ended")[0]["user_task_id"] == lost_answer.user_task_id
    assert not any(1 in replicas for replicas in assignment(shared, None).values())


def test_the_phases_health_gate_stops_our_execution(private):
    sandbox, shared = private
    topic = unique("health")
    create_topic(sandbox, topic, partitions=2, replication=2, mb=1, assignment=[[2, 0], [0, 2]])
    plan = drain_plan(shared, [2], [1], [topic])
    state: dict = {}
    unhealthy = threading.Event()
    settings = MovementConfig(throttle_bytes_per_second=200_000, max_moves_per_broker=1, safety_interval_seconds=0.2)
    with CruiseControlDouble(shared) as double:
        args = dict(
            config=shared,
            events=Recorder().bus,
            persist=lambda: None,
            options=options(double),
            settings=settings,
            health_check=lambda: "canary produce p99 over its bound" if unhealthy.is_set() else None,
        )
        worker, outcome = run_in_background(args, plan, state)
        wait_for(lambda: state.get("user_task_id") and in_flight(shared), "the execution to be copying", timeout=60)
        unhealthy.set()
        worker.join(timeout=120)
        assert isinstance(outcome[0], SafetyGateError) and not isinstance(outcome[0], MovePaused), outcome
        assert "canary produce p99" in str(outcome[0])
        with CruiseControl(double.url) as cc:
            assert not cc.executor_state().busy
        assert state["status"] == "paused" and not in_flight(shared)
        assert double.violations == []
