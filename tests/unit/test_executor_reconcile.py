"""How the native mover judges where a partition is, what it remembers, and how it plans a reverse (pure)."""

from __future__ import annotations

import json

import pytest

from migrator.clients.kafka import ReassignmentState
from migrator.movers.executor import Snapshot, reverse_moves
from migrator.movers.memory import MoverMemory, RunMemory
from migrator.movers.reconcile import Observed, Stage, classify, listed_target
from migrator.movers.settings import MovementConfig

TARGET = (3, 1, 2)
ORIGINAL = (0, 1, 2)
# Kafka lists an in-flight move as target + the replicas it removes.
TO_TARGET = ReassignmentState(replicas=(3, 1, 2, 0), adding=(3,), removing=(0,))
BACK_TO_ORIGINAL = ReassignmentState(replicas=(0, 1, 2, 3), adding=(), removing=(3,))
ELSEWHERE = ReassignmentState(replicas=(4, 1, 2, 0), adding=(4,), removing=(0,))


def test_the_listed_target_drops_the_replicas_being_removed():
    assert listed_target(TO_TARGET) == TARGET
    assert listed_target(BACK_TO_ORIGINAL) == ORIGINAL


@pytest.mark.parametrize(
    ("observed", "in_flight", "stage"),
    [
        (Observed(TARGET, (3, 1, 2), 3), None, Stage.DONE),
        (Observed(TARGET, (1, 2), 1), None, Stage.SETTLING),
        (Observed((1, 3, 2), (1, 2, 3), 1), None, Stage.PENDING),  # same set, wrong preferred leader
        (Observed(ORIGINAL, ORIGINAL, 0), None, Stage.PENDING),
        (Observed((3, 1, 2, 0), ORIGINAL, 0), TO_TARGET, Stage.MOVING),
        (Observed((0, 1, 2, 3), ORIGINAL, 0), BACK_TO_ORIGINAL, Stage.REDIRECT),
        (Observed((4, 1, 2, 0), ORIGINAL, 0), ELSEWHERE, Stage.FOREIGN),
        (None, None, Stage.GONE),
    ],
)
def test_a_partition_is_judged_by_the_cluster_and_our_own_targets(observed, in_flight, stage):
    assert classify(TARGET, observed, in_flight, ours={TARGET, ORIGINAL}) is stage


def test_a_move_we_never_asked_for_is_foreign_even_to_our_target():
    observed = Observed((3, 1, 2, 0), ORIGINAL, 0)
    assert classify(TARGET, observed, TO_TARGET, ours=set()) is Stage.FOREIGN


def test_memory_round_trips_through_json_and_knows_its_own_targets():
    state: dict = {}
    saves = []
    memory = MoverMemory.bind(state, lambda: saves.append(json.dumps(state)))
    memory.forward.before[("orders-eu", 4)] = (ORIGINAL, 1000)
    memory.forward.submitted[("orders-eu", 4)] = TARGET
    memory.forward.done_batches.add(2)
    memory.reverse = RunMemory(status="running", plan={"kind": "drain"})
    memory.reverse.submitted[("orders-eu", 5)] = (9,)
    memory.save()

    again = MoverMemory.bind(json.loads(saves[-1]), lambda: None)
    assert again.forward == memory.forward and again.reverse == memory.reverse
    assert again.original == {("orders-eu", 4): (ORIGINAL, 1000)}
    assert again.ours(("orders-eu", 4)) == {TARGET, ORIGINAL}
    assert again.ours(("orders-eu", 5)) == {(9,)}
    assert again.ours(("other", 0)) == set()


def test_the_reverse_plan_moves_back_only_what_moved_and_waits_for_reverts():
    original = {
        ("t", 0): (ORIGINAL, 1000),
        ("t", 1): (ORIGINAL, 500),
        ("t", 2): (ORIGINAL, 700),
        ("gone", 0): ((1,), 9),
    }
    snapshot = Snapshot(
        partitions={
            ("t", 0): Observed(TARGET, TARGET, 3),  # moved: goes back
            ("t", 1): Observed(ORIGINAL, ORIGINAL, 0),  # never moved (or already back): left alone
            ("t", 2): Observed((0, 1, 2, 3), ORIGINAL, 0),  # a cancel still reverting: waited for
            ("gone", 0): None,
        },
        in_flight={("t", 2): BACK_TO_ORIGINAL},
        live={0, 1, 2, 3},
    )
    moves = reverse_moves(original, snapshot, MovementConfig(max_moves_per_broker=1))

    assert [(m.topic, m.partition, m.current, m.target, m.bytes_to_move) for m in sorted(moves)] == [
        ("t", 0, TARGET, ORIGINAL, 1000),
        ("t", 2, (0, 1, 2, 3), ORIGINAL, 0),
    ]
    # One move per broker at a time: both touch brokers 0-3, so they run in separate batches.
    assert sorted(m.batch for m in moves) == [0, 1]
