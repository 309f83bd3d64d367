"""Safety checks judged on an Inventory built by hand (pure)."""

from __future__ import annotations

import pytest

from migrator.cluster.model import Broker, Inventory, PartitionState, Reassignment, Topic
from migrator.cluster.safety import (
    ALL_CHECKS,
    CONTROLLER,
    FOREIGN_REASSIGNMENTS,
    OFFLINE,
    UNDER_MIN_ISR,
    UNDER_REPLICATED,
    evaluate_safety,
)
from migrator.config import MigrationConfig
from migrator.errors import BadInput, SafetyGateError


def config(cluster_id: str | None = "cid", **safety) -> MigrationConfig:
    return MigrationConfig.model_validate(
        {
            "migration_id": "m",
            "cluster": {"zookeeper_connect": "zk:2181/kafka", "bootstrap_servers": "k:9092", "cluster_id": cluster_id},
            "safety": safety,
        }
    )


def inventory(partitions: list[PartitionState], controller: int | None = 0, min_isr: str = "2") -> Inventory:
    return Inventory(
        cluster_id="cid",
        controller_id=controller,
        brokers={i: Broker(i, None, "h", 9000 + i, []) for i in (0, 1, 2)},
        topics={"t": Topic("t", {p.partition: p for p in partitions}, {"min.insync.replicas": min_isr})},
    )


def healthy(p: int) -> PartitionState:
    return PartitionState("t", p, [0, 1, 2], [0, 1, 2], 0)


def lagging(p: int, isr: list[int]) -> PartitionState:
    return PartitionState("t", p, [0, 1, 2], isr, isr[0] if isr else -1)


def results(report) -> dict[str, bool]:
    return {c.name: c.ok for c in report.checks}


def test_a_healthy_cluster_passes_every_check():
    report = evaluate_safety(config(), inventory([healthy(0), healthy(1)]))
    assert report.ok and [c.name for c in report.checks] == list(ALL_CHECKS)
    report.raise_if_failed()


def test_under_replicated_partitions_beyond_the_tolerance_fail():
    inv = inventory([lagging(0, [0, 1]), lagging(1, [0, 1]), healthy(2)])
    assert results(evaluate_safety(config(max_under_replicated_partitions=2), inv))[UNDER_REPLICATED]
    report = evaluate_safety(config(max_under_replicated_partitions=1), inv)
    assert not results(report)[UNDER_REPLICATED]
    assert "2 under-replicated partition(s), tolerance 1" in report.paragraph()
    assert "t-0, t-1" in report.paragraph()


def test_under_min_isr_is_judged_against_its_own_tolerance():
    inv = inventory([lagging(0, [0])], min_isr="2")
    report = evaluate_safety(config(max_under_replicated_partitions=5), inv)
    assert results(report)[UNDER_REPLICATED] and not results(report)[UNDER_MIN_ISR]
    assert evaluate_safety(config(max_under_replicated_partitions=5, max_under_min_isr_partitions=1), inv).ok


def test_offline_partitions_always_fail():
    report = evaluate_safety(config(max_under_replicated_partitions=100), inventory([lagging(0, [])]))
    assert not results(report)[OFFLINE]


def test_missing_controller_fails_unless_not_required():
    assert not results(evaluate_safety(config(), inventory([healthy(0)], controller=None)))[CONTROLLER]
    assert evaluate_safety(config(require_controller=False), inventory([healthy(0)], controller=None)).ok


def test_only_reassignments_we_did_not_start_are_foreign():
    inv = inventory([healthy(0), healthy(1)])
    inv.reassignments = [Reassignment("t", 0, (0, 1, 2)), Reassignment("t", 1, (0, 1, 2))]
    assert evaluate_safety(config(), inv, ours={("t", 0), ("t", 1)}).ok
    report = evaluate_safety(config(), inv, ours={("t", 0)})
    assert [c.name for c in report.failures] == [FOREIGN_REASSIGNMENTS]
    assert "t-1" in report.failures[0].detail and "t-0" not in report.failures[0].detail


def test_all_failures_come_back_in_one_paragraph():
    inv = inventory([lagging(0, [0]), lagging(1, [])], controller=None)
    inv.reassignments = [Reassignment("t", 0, (0, 1, 2))]
    report = evaluate_safety(config(), inv)
    assert {c.name for c in report.failures} == {CONTROLLER, OFFLINE, UNDER_REPLICATED, UNDER_MIN_ISR,
                                                 FOREIGN_REASSIGNMENTS}
    with pytest.raises(SafetyGateError) as raised:
        report.raise_if_failed()
    message = str(raised.value)
    assert "\n" not in message and "5 safety check(s) failed" in message
    assert all(name in message for name in (CONTROLLER, OFFLINE, UNDER_REPLICATED, FOREIGN_REASSIGNMENTS))


def test_long_lists_are_cut_short():
    inv = inventory([lagging(p, [0, 1]) for p in range(25)])
    detail = evaluate_safety(config(), inv).failures[0].detail
    assert "t-9" in detail and "t-10" not in detail and "and 15 more" in detail


def test_a_cluster_id_mismatch_is_bad_input_not_a_gate():
    with pytest.raises(BadInput, match="pins cluster.cluster_id: other"):
        evaluate_safety(config(cluster_id="other"), inventory([healthy(0)]))


def test_an_unpinned_cluster_id_is_bad_input_that_names_the_id_to_pin():
    with pytest.raises(BadInput, match="cluster_id: cid"):
        evaluate_safety(config(cluster_id=None), inventory([healthy(0)]))


def test_a_subset_of_checks_can_be_run():
    inv = inventory([lagging(0, [0, 1])], controller=None)
    report = evaluate_safety(config(cluster_id=None), inv, checks=[OFFLINE, UNDER_REPLICATED])
    assert [c.name for c in report.checks] == [OFFLINE, UNDER_REPLICATED]
    with pytest.raises(ValueError):
        evaluate_safety(config(), inv, checks=["no_such_check"])
