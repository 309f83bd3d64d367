"""The cruise-control mover's pure parts: its checkpointed memory, the plan it hands the native executor,
and the throttle sweep after an execution."""

from __future__ import annotations

import json

from migrator.cluster.model import Throttle
from migrator.cluster.throttles import FOLLOWER_REPLICAS, LEADER_RATE, LEADER_REPLICAS
from migrator.movers import cruise_control_throttles as throttle_gaps
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


class RecordingAdmin:
    """Records the config changes the sweep asks for (a fake: the real calls are covered on the sandbox)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def alter_broker_config(self, broker_id, set_=None, delete=()):  # noqa: ANN001 - KafkaAdmin's signature
        self.calls.append(("broker", broker_id, dict(set_ or {}), list(delete)))

    def alter_topic_config(self, topic, set_=None, delete=(), append=None, subtract=None):  # noqa: ANN001
        self.calls.append(("topic", topic, list(delete), dict(subtract or {})))


def test_the_sweep_puts_throttles_back_as_they_were_before_the_move():
    baseline = throttle_gaps.baseline_of(
        [
            Throttle("broker", "1", LEADER_RATE, "500", "DYNAMIC_BROKER_CONFIG"),
            Throttle("topic", "t", LEADER_REPLICAS, "0:1", "DYNAMIC_TOPIC_CONFIG"),
        ]
    )
    now = [
        Throttle("broker", "1", LEADER_RATE, "9000", "DYNAMIC_BROKER_CONFIG"),  # changed: restored
        Throttle("broker", "2", LEADER_RATE, "9000", "DYNAMIC_BROKER_CONFIG"),  # new: deleted
        Throttle("broker", "3", LEADER_RATE, "7", "STATIC_BROKER_CONFIG"),  # static: left alone
        Throttle("topic", "t", LEADER_REPLICAS, "0:1,1:2", "DYNAMIC_TOPIC_CONFIG"),  # entry added: subtracted
        Throttle("topic", "u", FOLLOWER_REPLICAS, "0:3", "DYNAMIC_TOPIC_CONFIG"),  # new list: deleted
    ]
    assert throttle_gaps.extra(now, baseline) == [
        f"broker 1 {LEADER_RATE}=9000",
        f"broker 2 {LEADER_RATE}=9000",
        f"topic t {LEADER_REPLICAS} has 1:2",
        f"topic u {FOLLOWER_REPLICAS} has 0:3",
    ]
    admin = RecordingAdmin()
    assert throttle_gaps.sweep(admin, now, baseline) == []  # type: ignore[arg-type]
    assert admin.calls == [
        ("broker", 1, {LEADER_RATE: "500"}, []),
        ("broker", 2, {}, [LEADER_RATE]),
        ("topic", "t", [], {LEADER_REPLICAS: ["1:2"]}),
        ("topic", "u", [FOLLOWER_REPLICAS], {}),
    ]
    assert throttle_gaps.extra(now[2:3], baseline) == []
