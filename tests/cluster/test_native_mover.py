"""The native mover against real brokers: moves under load, throttles, refusal, pause with cancel."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from kazoo.client import KazooClient

from migrator.clients.kafka import KafkaAdmin
from migrator.cluster.model import Throttle
from migrator.cluster.throttles import FOLLOWER_RATE, FOLLOWER_REPLICAS, LEADER_RATE, LEADER_REPLICAS
from migrator.errors import SafetyGateError
from migrator.movers.executor import MovePaused
from migrator.movers.native import NativeMover
from migrator.movers.plan import BatchLimits, MovePlan, PartitionMove
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster
from migrator.sandbox.workload import Workload
from tests.cluster.native_mover_support import (
    Recorder,
    assignment,
    create_topic,
    in_flight,
    mapping_plan,
    throttles,
    unique,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.cluster

def copying(recorder: Recorder) -> bool:
    """The first batch is really copying: bytes arrived, no partition completed yet."""
    return any(p["bytes_moved"] > 0 and p["partitions_done"] == 0 for p in recorder.of("progress"))


def elect_controller(cluster: SandboxCluster, wanted: Callable[[int], bool]) -> None:
    """Kafka elects a controller again when /controller goes away; repeat until a wanted broker wins."""
    zk = KazooClient(hosts=cluster.zookeeper_connect)
    zk.start(timeout=15)
    try:
        while (data := wait_for(lambda: zk.exists("/controller") and zk.get("/controller")[0], "a controller")) and (
            not wanted(json.loads(data)["brokerid"])
        ):
            zk.delete("/controller")
    finally:
        zk.stop()
        zk.close()


def move_in_background(
    config, plan: MovePlan, state: dict, recorder: Recorder, pause_requested=lambda: None
) -> tuple[threading.Thread, list[BaseException | None]]:
    """Run the move on a thread; its outcome (None, or what it raised) lands in the returned list."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        with NativeMover.open(
            config, events=recorder.bus, persist=lambda: None, pause_requested=pause_requested
        ) as mover:
            try:
                mover.run(plan, state)
                outcome.append(None)
            except BaseException as exc:  # handed to the test thread
                outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    return worker, outcome


FOUR_BROKERS = [BrokerSpec(0, "a"), BrokerSpec(1, "b"), BrokerSpec(2, "c"), BrokerSpec(3, "c")]
ALL = [0, 1, 2, 3]


def test_a_move_under_load_loses_nothing_and_leaves_only_the_throttles_others_set(sandbox_factory, tmp_path: Path):
    cluster = sandbox_factory(brokers=FOUR_BROKERS)
    config = write_config(cluster, tmp_path, throttle_bytes_per_second=1_000_000, poll_interval_seconds=0.5)
    data = unique("orders")
    create_topic(cluster, data, partitions=6, mb=3)
    moving = next(p for (t, p), replicas in assignment(config, [data]).items() if 2 in replicas)
    foreign = {
        Throttle("broker", "1", LEADER_RATE, "987654321", "DYNAMIC_BROKER_CONFIG"),
        # An entry the move itself needs: it must neither be claimed as ours nor removed.
        Throttle("topic", data, LEADER_REPLICAS, f"{moving}:2", "DYNAMIC_TOPIC_CONFIG"),
    }
    with KafkaAdmin(config.cluster) as admin:
        admin.alter_broker_config(1, {LEADER_RATE: "987654321"})
        admin.alter_topic_config(data, {LEADER_REPLICAS: f"{moving}:2"})
    wait_for(lambda: throttles(config, ALL, [data]) == foreign, "the foreign throttles to show")

    workload = Workload(cluster.bootstrap_servers, topic=unique("canary"), rate_per_s=100, keys=8)
    with workload:
        topics = [data, workload.topic]
        plan = mapping_plan(config, topics, {2: 3}, moves_per_broker=2)
        state: dict = {}
        recorder = Recorder()
        persisted: list[int] = []
        with NativeMover.open(config, events=recorder.bus, persist=lambda: persisted.append(1)) as mover:
            report = mover.run(plan, state)
            verdict = wait_for(lambda: (v := mover.verify(plan, state)).done and v, "the move to verify")

    assert workload.report.zero_loss and workload.report.lost == 0
    assert report.partitions == len(plan.moves) > 0
    assert plan.summary.batches > 1 and len(recorder.of("mover.batch_started")) == plan.summary.batches
    assert "no throttle of ours left" in verdict.reason
    after = assignment(config, topics)
    assert all(after[(m.topic, m.partition)] == m.target for m in plan.moves)
    assert not any(2 in replicas for replicas in after.values())
    assert throttles(config, ALL, topics) == foreign
    assert state["throttles"]["rates"] == {} and state["throttles"]["lists"] == {}
    assert sorted(state["throttles"]["foreign_rates"]) == ["1"]
    final = recorder.of("progress")[-1]
    assert final["partitions_done"] == final["partitions_total"] == len(plan.moves)
    assert final["bytes_moved"] == final["bytes_total"] == plan.summary.total_bytes > 2_000_000
    assert final["brokers"]["3"]["bytes_in_remaining"] == final["brokers"]["2"]["bytes_out_remaining"] == 0
    assert persisted  # every intent went through the caller's persist hook


def test_a_reassignment_someone_else_started_makes_the_move_refuse(sandbox, tmp_path: Path):
    config = write_config(sandbox, tmp_path)
    theirs, ours = unique("theirs"), unique("ours")
    create_topic(sandbox, theirs, partitions=1, replication=1, mb=1)
    create_topic(sandbox, ours, partitions=2, replication=1)
    (source,) = assignment(config, [theirs])[(theirs, 0)]
    destination = (source + 1) % 3
    with KafkaAdmin(config.cluster) as admin:
        # 1 kB/s keeps their move in flight for the whole test.
        admin.alter_broker_config(destination, {FOLLOWER_RATE: "1024"})
        admin.alter_topic_config(theirs, {FOLLOWER_REPLICAS: f"0:{destination}"})
        assert admin.alter_partition_reassignments({(theirs, 0): [destination]}) == {(theirs, 0): None}
        try:
            wait_for(lambda: (theirs, 0) in in_flight(config), "their reassignment to show")
            before = throttles(config, [0, 1, 2], [theirs, ours])
            (now,) = assignment(config, [ours])[(ours, 0)]
            move = PartitionMove(ours, 0, (now,), ((now + 1) % 3,), 0, 0)
            plan = MovePlan("drain", (now,), ((now + 1) % 3,), BatchLimits(), (move,))
            state: dict = {}
            with NativeMover.open(config, events=Recorder().bus, persist=lambda: None) as mover:
                with pytest.raises(SafetyGateError) as refused:
                    mover.run(plan, state)

            message = str(refused.value)
            assert refused.value.exit_code == 3
            assert f"{theirs}-0 -> [{destination}]" in message
            assert "kafka-reassign-partitions.sh" in message and "--list" in message and "--cancel" in message
            assert "nothing was changed" in message
            assert state == {}  # not even the throttle baseline was recorded
            assert (theirs, 0) in in_flight(config)
            assert throttles(config, [0, 1, 2], [theirs, ours]) == before
        finally:
            admin.alter_partition_reassignments({(theirs, 0): None})
            admin.alter_broker_config(destination, delete=[FOLLOWER_RATE])
            admin.alter_topic_config(theirs, delete=[FOLLOWER_REPLICAS])
            wait_for(lambda: (theirs, 0) not in in_flight(config), "their reassignment to be cancelled")
            # RF 1 under the sandbox's min.insync.replicas of 2: left behind, they would fail the safety
            # checks of every later test on this shared sandbox.
            topics = AdminClient({"bootstrap.servers": sandbox.bootstrap_servers})
            for future in topics.delete_topics([theirs, ours], operation_timeout=30).values():
                future.result()


def test_pause_with_cancel_reverts_the_batch_in_flight_clears_throttles_and_resume_finishes(
    sandbox_factory, tmp_path: Path
):
    cluster = sandbox_factory(brokers=FOUR_BROKERS)
    config = write_config(
        cluster, tmp_path, throttle_bytes_per_second=500_000, poll_interval_seconds=0.5, on_pause="cancel"
    )
    data = unique("ledger")
    # 3 MB per partition: more than the first unthrottled fetch (1 MB per partition) copies at once.
    create_topic(cluster, data, partitions=4, mb=12)
    plan = mapping_plan(config, [data], {2: 3}, moves_per_broker=2)
    original = assignment(config, [data])
    state: dict = {}
    recorder = Recorder()
    pause = threading.Event()
    hook = lambda: "operator pause for the test" if pause.is_set() else None  # noqa: E731
    worker, outcome = move_in_background(config, plan, state, recorder, pause_requested=hook)
    try:
        # Pause only once the first batch is really copying data.
        wait_for(lambda: copying(recorder), "the first batch to copy data")
        batch = {(m.topic, m.partition) for m in plan.batches()[0]}
        assert batch <= in_flight(config)
        pause.set()
    finally:
        worker.join(120)
    assert isinstance(outcome[0], MovePaused), outcome
    assert "operator pause for the test" in str(outcome[0])
    assert recorder.of("mover.cancel")[0]["partitions"]  # the in-flight moves were cancelled
    assert not (batch & in_flight(config))
    assert assignment(config, [data]) == original  # reverted: nothing of batch 1 completed
    assert state["forward"]["status"] == "paused" and state["forward"]["done_batches"] == []
    assert state["throttles"]["rates"] == {} and state["throttles"]["lists"] == {}
    wait_for(lambda: throttles(config, ALL, [data]) == set(), "our throttles to be gone")

    with NativeMover.open(config, events=recorder.bus, persist=lambda: None) as mover:
        mover.run(plan, state)
        wait_for(lambda: mover.verify(plan, state).done, "the resumed move to verify")
    after = assignment(config, [data])
    assert all(after[(m.topic, m.partition)] == m.target for m in plan.moves)


@pytest.mark.parametrize("controller", [False, True], ids=["a-destination", "the-controller"])
def test_a_broker_of_the_batch_dying_pauses_the_run_and_the_sweep_clears_it_once_back(
    sandbox_factory, tmp_path: Path, controller: bool
):
    """The broker that dies is the destination of every move; as the controller too, every reassignment
    call of the halt (list, cancel) must find the newly elected controller."""
    cluster = sandbox_factory(brokers=FOUR_BROKERS)
    config = write_config(cluster, tmp_path, throttle_bytes_per_second=500_000, poll_interval_seconds=0.5)
    data = unique("invoices")
    create_topic(cluster, data, partitions=4, mb=12)
    elect_controller(cluster, lambda broker: (broker == 3) == controller)
    plan = mapping_plan(config, [data], {2: 3}, moves_per_broker=2)
    original = assignment(config, [data])
    state: dict = {}
    recorder = Recorder()
    worker, outcome = move_in_background(config, plan, state, recorder)
    try:
        wait_for(lambda: copying(recorder), "the first batch to copy data")
        cluster.kill_broker(3)  # the destination of every move
    finally:
        worker.join(180)

    paused = outcome[0]
    assert isinstance(paused, SafetyGateError) and not isinstance(paused, MovePaused), outcome
    assert "broker(s) [3] of the batch in flight went down" in str(paused)
    assert "broker 3 rates (the broker is down)" in str(paused)  # what could not be removed, and why
    assert not in_flight(config)
    assert assignment(config, [data]) == original
    assert state["forward"]["status"] == "paused"
    assert list(state["throttles"]["rates"]) == ["3"] and state["throttles"]["lists"] == {}
    wait_for(lambda: throttles(config, [0, 1, 2], [data]) == set(), "throttles gone from the live brokers")

    cluster.start_broker(3)
    # The dead broker's rate lives on in ZooKeeper and comes back with it: the sweep removes it.
    with NativeMover.open(config, events=recorder.bus, persist=lambda: None) as mover:
        assert mover.sweep(state) == []
    assert state["throttles"]["rates"] == {}
    wait_for(lambda: throttles(config, ALL, [data]) == set(), "no throttle left anywhere")


def test_the_controller_dying_outside_the_batch_does_not_stop_the_move(sandbox_factory, tmp_path: Path):
    """Kafka elects another controller; the in-flight reassignments live on in ZooKeeper, and every
    reassignment, throttle and election call of the run finds the new controller."""
    cluster = sandbox_factory(brokers=FOUR_BROKERS)
    config = write_config(cluster, tmp_path, throttle_bytes_per_second=500_000, poll_interval_seconds=0.5)
    data = unique("payments")
    create_topic(cluster, data, partitions=4, mb=8, assignment=[[0, 2], [2, 0], [0, 2], [2, 0]])
    elect_controller(cluster, lambda broker: broker == 1)  # on no replica of the topic
    plan = mapping_plan(config, [data], {2: 3}, moves_per_broker=2)
    state: dict = {}
    recorder = Recorder()
    worker, outcome = move_in_background(config, plan, state, recorder)
    try:
        wait_for(lambda: copying(recorder), "the first batch to copy data")
        cluster.kill_broker(1)
    finally:
        worker.join(240)

    assert outcome == [None]
    assert plan.summary.batches > 1 and len(recorder.of("mover.batch_done")) == plan.summary.batches
    after = assignment(config, [data])
    assert all(after[(m.topic, m.partition)] == m.target for m in plan.moves)
    assert state["throttles"]["rates"] == {} and state["throttles"]["lists"] == {}
    wait_for(lambda: throttles(config, [0, 2, 3], [data]) == set(), "no throttle left on the live brokers")
