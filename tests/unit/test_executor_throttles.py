"""Throttle bookkeeping of the native mover (pure): what a batch needs, what is ours, what stays foreign."""

from __future__ import annotations

import json

import pytest

from migrator.clients.kafka import ConfigValue
from migrator.cluster.throttles import FOLLOWER_RATE, FOLLOWER_REPLICAS, LEADER_RATE, LEADER_REPLICAS
from migrator.errors import MigratorError
from migrator.movers.throttle_writer import BatchThrottles, ThrottleLedger, ThrottleWriter

DYNAMIC = "DYNAMIC_BROKER_CONFIG"


def test_a_batch_throttles_current_replicas_as_leaders_and_only_new_replicas_as_followers():
    need = BatchThrottles.for_moves(
        [
            ("orders", 0, [0, 1, 2], [3, 1, 2]),
            ("orders", 1, [1, 2, 0], [1, 2, 4]),
            ("audit", 5, [2, 0], [2, 0]),  # no new replica: nothing to throttle
        ]
    )
    assert need.brokers == {0, 1, 2, 3, 4}
    assert need.leader == {"orders": {"0:0", "0:1", "0:2", "1:1", "1:2", "1:0"}}
    assert need.follower == {"orders": {"0:3", "1:4"}}
    assert need.topics == {"orders"}


def _ledger_with_baseline() -> ThrottleLedger:
    ledger = ThrottleLedger()
    ledger.record_baseline(
        {
            0: {},
            1: {LEADER_RATE: ConfigValue("777", DYNAMIC, False)},
            # A value Kafka describes after a delete, and a default: neither is in effect.
            2: {FOLLOWER_RATE: ConfigValue("999", "DEFAULT_CONFIG", True)},
        },
        {
            "orders": {LEADER_REPLICAS: ConfigValue("0:0,7:1", "DYNAMIC_TOPIC_CONFIG", False)},
            "audit": {FOLLOWER_REPLICAS: ConfigValue("*", "DYNAMIC_TOPIC_CONFIG", False)},
        },
    )
    return ledger


def test_foreign_rates_and_list_entries_are_left_out_of_what_we_set():
    ledger = _ledger_with_baseline()
    need = BatchThrottles.for_moves([("orders", 0, [0, 1], [0, 2]), ("audit", 3, [1, 0], [1, 2])])

    writes = ledger.intend(need, rate=5000)

    assert writes.rates == {
        0: {LEADER_RATE: "5000", FOLLOWER_RATE: "5000"},
        1: {FOLLOWER_RATE: "5000"},  # broker 1's leader rate is someone else's: kept, not overridden
        2: {LEADER_RATE: "5000", FOLLOWER_RATE: "5000"},
    }
    assert writes.appends == {
        "orders": {LEADER_REPLICAS: ["0:1"], FOLLOWER_REPLICAS: ["0:2"]},  # 0:0 was already listed
        "audit": {LEADER_REPLICAS: ["3:0", "3:1"]},  # its follower list is '*': every replica already
    }
    assert ledger.rates == writes.rates and ledger.lists == writes.appends
    assert ledger.foreign_rates == {1: {LEADER_RATE: "777"}}
    assert ledger.foreign_lists == {"orders": {LEADER_REPLICAS: ["0:0", "7:1"]}, "audit": {FOLLOWER_REPLICAS: ["*"]}}


def test_a_later_read_never_turns_our_own_values_into_foreign_ones():
    ledger = _ledger_with_baseline()
    ledger.intend(BatchThrottles.for_moves([("orders", 0, [0, 1], [0, 2])]), rate=5000)
    # A broker still describing the rate we set (its config lags ZooKeeper) is not re-baselined.
    ledger.record_baseline({0: {LEADER_RATE: ConfigValue("5000", DYNAMIC, False)}}, {})
    assert 0 not in ledger.foreign_rates


def test_intents_accumulate_and_are_written_again_after_a_crash():
    ledger = _ledger_with_baseline()
    ledger.intend(BatchThrottles.for_moves([("orders", 0, [0, 1], [0, 2])]), rate=5000)
    again = ledger.intend(BatchThrottles.for_moves([("orders", 1, [1, 0], [1, 2])]), rate=5000)
    assert again.appends["orders"][FOLLOWER_REPLICAS] == ["0:2", "1:2"]
    assert ledger.lists["orders"][LEADER_REPLICAS] == ["0:1", "1:0", "1:1"]


def test_intent_without_baseline_is_refused():
    with pytest.raises(MigratorError, match="baseline"):
        ThrottleLedger().intend(BatchThrottles.for_moves([("t", 0, [0], [1])]), rate=1)


@pytest.mark.parametrize(
    ("current", "delete"),
    [
        (None, True),  # already gone
        (ConfigValue("5000", DYNAMIC, False), True),  # ours
        (ConfigValue("5000", "DEFAULT_CONFIG", True), True),  # a stale description of a deleted value
        (ConfigValue("123", "DYNAMIC_DEFAULT_BROKER_CONFIG", False), True),  # our per-broker key is absent
        (ConfigValue("123", DYNAMIC, False), False),  # someone replaced our value: theirs now
    ],
)
def test_our_rate_is_removed_unless_someone_replaced_it(current, delete):
    assert ThrottleLedger.rate_still_ours("5000", current) is delete


def test_the_ledger_survives_a_round_trip_through_json():
    ledger = _ledger_with_baseline()
    ledger.intend(BatchThrottles.for_moves([("orders", 0, [0, 1], [0, 2])]), rate=5000)
    copy = ThrottleLedger.from_json(json.loads(json.dumps(ledger.to_json())))
    assert copy == ledger
    assert copy.describe_ours() == [
        "broker 0 follower.replication.throttled.rate=5000",
        "broker 0 leader.replication.throttled.rate=5000",
        "broker 1 follower.replication.throttled.rate=5000",
        "broker 2 follower.replication.throttled.rate=5000",
        "broker 2 leader.replication.throttled.rate=5000",
        "topic orders follower.replication.throttled.replicas += 0:2",
        "topic orders leader.replication.throttled.replicas += 0:1",
    ]
    copy.forget_rates(0), copy.forget_rates(1), copy.forget_rates(2), copy.forget_lists("orders")
    assert copy.empty


def test_a_rate_confirmed_written_is_not_written_again_but_an_unconfirmed_one_is():
    ledger = _ledger_with_baseline()
    first = BatchThrottles.for_moves([("orders", 0, [0, 1], [0, 2])])
    ledger.intend(first, rate=5000)
    # A crash before the writes were confirmed: the next intent writes the rates again.
    assert set(ledger.intend(first, rate=5000).rates) == {0, 1, 2}
    ledger.confirm_rates([0, 1, 2])
    assert ledger.intend(first, rate=5000).rates == {}
    assert set(ledger.intend(first, rate=7000).rates) == {0, 1, 2}  # a new rate is a new write


class RecordingAdmin:
    """Only what ThrottleWriter calls; remembers each write, describes nothing (no throttle in effect)."""

    def __init__(self) -> None:
        self.writes: list[tuple] = []

    def broker_configs(self, brokers):
        return {b: {} for b in brokers}

    def topic_configs(self, topics):
        return {t: {} for t in topics}

    def alter_broker_config(self, broker, set_=None, delete=()):
        self.writes.append(("broker", broker, dict(set_ or {}), sorted(delete)))

    def alter_topic_config(self, topic, set_=None, delete=(), append=None, subtract=None):
        self.writes.append(("topic", topic, {k: sorted(v) for k, v in (append or subtract or {}).items()}, sorted(delete)))


def test_a_handover_keeps_the_next_batchs_rates_and_removes_the_rest():
    admin = RecordingAdmin()
    writer = ThrottleWriter(admin, ThrottleLedger(), persist=lambda: None)
    writer.apply(BatchThrottles.for_moves([("orders", 0, [0, 3], [0, 2])]), 5000)
    following = BatchThrottles.for_moves([("orders", 1, [1, 0], [1, 2])])
    admin.writes.clear()

    assert writer.release(keep_rates=following.brokers) == []

    # Broker 3 is not in the next batch: its rates go; brokers 0 and 2 keep theirs, not rewritten.
    # The finished batch's list entries go.
    assert admin.writes == [
        ("topic", "orders", {FOLLOWER_REPLICAS: ["0:2"], LEADER_REPLICAS: ["0:0", "0:3"]}, []),
        ("broker", 3, {}, [FOLLOWER_RATE, LEADER_RATE]),
    ]
    assert writer.ledger.lists == {} and sorted(writer.ledger.rates) == [0, 2]
    admin.writes.clear()

    writer.apply(following, 5000)
    assert admin.writes == [
        ("broker", 1, {FOLLOWER_RATE: "5000", LEADER_RATE: "5000"}, []),
        ("topic", "orders", {FOLLOWER_REPLICAS: ["1:2"], LEADER_REPLICAS: ["1:0", "1:1"]}, []),
    ]
    admin.writes.clear()
    assert writer.release() == []
    assert writer.ledger.empty
    assert sorted(w[1] for w in admin.writes if w[0] == "broker") == [0, 1, 2]
