"""The cruise-control mover's pure parts: its checkpointed memory and the plan it hands the native executor."""

from __future__ import annotations

import json

from migrator.movers.cruise_control import _query
from migrator.movers.cruise_control_memory import CruiseMemory, reassignment_plan
from migrator.movers.plan import BatchLimits


def test_the_memory_survives_a_json_round_trip():
    saved: list[str] = []
    state: dict = {}
    memory = CruiseMemory.bind(state, lambda: saved.append(json.dumps(state)))
    memory.status, memory.user_task_id, memory.submitting_since_ms = "running", "u-1", 1234
    memory.before[("a-topic-with-dashes", 3)] = (1, 2, 3)
    memory.target[("a-topic-with-dashes", 3)] = (4, 2, 3)
    memory.reviews["execute"] = 7
    memory.baseline = {("broker", "1", "leader.replication.throttled.rate", "100")}
    memory.save()
    again = CruiseMemory.bind(json.loads(saved[-1]), lambda: None)
    assert again.status == "running" and again.user_task_id == "u-1" and again.submitting_since_ms == 1234
    assert again.before == {("a-topic-with-dashes", 3): (1, 2, 3)}
    assert again.target == {("a-topic-with-dashes", 3): (4, 2, 3)}
    assert again.reviews == {"execute": 7} and again.baseline == memory.baseline
    assert json.loads(saved[-1])["backend"] == "cruise-control"


def test_a_fresh_memory_has_no_baseline_yet():
    assert CruiseMemory.bind({}, lambda: None).baseline is None


def test_the_reverse_plan_batches_every_entry_within_the_limits():
    entries = [(("t", p), (3, 1), (2, 1), 100) for p in range(5)]
    plan = reassignment_plan(entries, BatchLimits(max_moves_per_broker=2))
    assert sorted((m.topic, m.partition) for m in plan.moves) == [("t", p) for p in range(5)]
    assert plan.sources == (3,) and plan.destinations == (2,) and plan.summary.batches == 3
    assert all(len(batch) <= 2 for batch in plan.batches())


def test_a_user_tasks_request_url_is_read_back_decoded():
    url = "POST /kafkacruisecontrol/remove_broker?brokerid=1%2C2&dryrun=false&reason=kafka-k8s-migrator+x%3A+drain"
    assert _query(url) == {"brokerid": "1,2", "dryrun": "false", "reason": "kafka-k8s-migrator x: drain"}
