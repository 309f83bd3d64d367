"""The orchestrator is SIGKILLed in the middle of a batch: resume reconciles and finishes; rollback reverses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from migrator.engine.checkpoint import PhaseStatus
from migrator.sandbox.cluster import BrokerSpec
from migrator.sandbox.workload import Workload
from tests.cluster.native_mover_support import (
    Recorder,
    assignment,
    context,
    create_topic,
    in_flight,
    machine,
    mapping_plan,
    move_phase,
    mover_state,
    throttles,
    unique,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
ALL = [0, 1, 2, 3]


def test_a_run_killed_mid_batch_resumes_from_the_cluster_and_rolls_back_to_the_original(
    sandbox_factory, tmp_path: Path
):
    cluster = sandbox_factory(brokers=[BrokerSpec(0, "a"), BrokerSpec(1, "b"), BrokerSpec(2, "c"), BrokerSpec(3, "c")])
    config = write_config(cluster, tmp_path, throttle_bytes_per_second=500_000, poll_interval_seconds=0.5)
    data = unique("payments")
    # 3 MB per partition: more than the first unthrottled fetch copies, so a batch takes seconds.
    create_topic(cluster, data, partitions=4, mb=12)

    with Workload(cluster.bootstrap_servers, topic=unique("canary"), rate_per_s=100, keys=8) as workload:
        topics = [data, workload.topic]
        original = assignment(config, topics)
        plan = mapping_plan(config, topics, {2: 3}, moves_per_broker=2)
        plan_file = tmp_path / "plan.json"
        plan_file.write_text(plan.to_json())
        log = (tmp_path / "child.log").open("w")
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.cluster.native_mover_support", str(tmp_path / "migration.yaml"), str(plan_file)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:

            def mid_batch() -> bool:
                forward = mover_state(config).get("forward") or {}
                submitted = {(t, p) for t, p, _ in forward.get("submitted", [])}
                return forward.get("batch") is not None and bool(submitted & in_flight(config))

            wait_for(mid_batch, "the child to be in the middle of a batch", timeout=120)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(30)
            log.close()
        # The kill left moves in flight and our throttles set: the mess a resume must clean up.
        assert in_flight(config)
        assert throttles(config, ALL, topics)

        recorder = Recorder()
        record = machine(config).run(move_phase(), context(config, plan, recorder.bus))

        assert record.status is PhaseStatus.DONE, (tmp_path / "child.log").read_text()[-3000:]
        reconciled = recorder.of("mover.reconciled")[0]
        assert reconciled["resumed"] and reconciled["stages"].get("moving", 0) >= 1
        after = assignment(config, topics)
        assert all(after[(m.topic, m.partition)] == m.target for m in plan.moves)
        wait_for(lambda: throttles(config, ALL, topics) == set(), "no throttle left after the resumed run")

        record = machine(config).rollback(move_phase(), context(config, plan, recorder.bus))

        assert record.status is PhaseStatus.ROLLED_BACK
        assert recorder.of("mover.reverse_planned")[0]["partitions"] == len(plan.moves)
        assert assignment(config, topics) == original  # the same replicas, in the same order
        assert not in_flight(config)
        wait_for(lambda: throttles(config, ALL, topics) == set(), "no throttle left after the rollback")

    assert workload.report.zero_loss and workload.report.lost == 0
