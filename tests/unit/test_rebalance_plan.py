"""Phase 4's pure parts: which broker is on which side, the drain plan and its estimate at the
throttle, where the facade names lead, the health gate's wait, and the runbook naming the steps."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from operator import attrgetter
from pathlib import Path

import pytest
from pydantic import ValidationError

from migrator.cluster.environments import Environments, kubernetes_ids, split_brokers
from migrator.cluster.health_gate import HealthGate
from migrator.config import MigrationConfig
from migrator.dns.config import DnsConfig
from migrator.engine.events import EventBus
from migrator.engine.step import StepContext
from migrator.errors import BadInput, OperatorPause, SafetyGateError
from migrator.movers.cruise_control import CruiseControlMover
from migrator.movers.executor import MovePaused, MoveStalled
from migrator.movers.factory import open_mover
from migrator.movers.native import NativeMover
from migrator.movers.plan import BatchLimits, PlannerBroker, PlannerCluster, PlannerPartition
from phases import PHASES
from phases.cruise_control_rebalance import MoveReplicasToKubernetes, RebalanceResources, build
from phases.cruise_control_rebalance.plan import (
    batch_estimates,
    broker_groups,
    drain_plans,
    facade_targets,
    final_group,
    plan_estimate,
)
from tests.fake_clock import FakeClock

MB = 1_000_000
ENVS = Environments(vm=(0, 1, 2), kubernetes=(1000, 1001, 1002))
RUNBOOK = Path(__file__).resolve().parents[2] / "runbooks" / "04-cruise-control-rebalance.md"


def config(**sections: object) -> MigrationConfig:
    return MigrationConfig.model_validate(
        {
            "migration_id": "m",
            "cluster": {"zookeeper_connect": "zk:2181/kafka", "bootstrap_servers": "kafka:9092", "cluster_id": "c"},
            "target": {
                "kind": "local",
                "cluster_name": "events",
                "replicas": 3,
                "node_ids": "[1000-1999]",
                "listeners": [{"name": "plain", "port": 9092}],
                "shared_listener": {"name": "shared", "port": 9094},
            },
            **sections,
        }
    )


def cluster() -> PlannerCluster:
    brokers = tuple(PlannerBroker(b, rack) for b, rack in zip((0, 1, 2, 1000, 1001, 1002), "abcabc"))
    partitions = tuple(PlannerPartition("t", p, tuple((p + i) % 3 for i in range(3)), 2 * MB) for p in range(6))
    return PlannerCluster(brokers, partitions)


def test_a_broker_is_kubernetes_when_the_join_recorded_its_id_else_vm() -> None:
    ids = kubernetes_ids(range(1000, 2000), joined=[1000, 1001])
    assert split_brokers(registered=[0, 1, 1000, 1001], replica_holders=[2, 1000], kubernetes=ids) == Environments(
        vm=(0, 1, 2), kubernetes=(1000, 1001)
    )  # broker 2 is down but still holds replicas: a VM broker
    assert kubernetes_ids(range(1000, 1003)) == {1000, 1001, 1002}  # no record yet: the whole range
    assert ENVS.of(1001) == "kubernetes" and ENVS.of(2) == "vm" and ENVS.of(7) is None
    assert Environments.from_json(ENVS.to_json()) == ENVS


def test_the_drain_moves_every_vm_replica_and_the_estimate_follows_the_throttle() -> None:
    [plan] = drain_plans(cluster(), ENVS, BatchLimits(max_moves_per_broker=2))
    assert all(set(m.target) <= set(ENVS.kubernetes) for m in plan.moves) and len(plan.moves) == 6
    rows = batch_estimates(plan, 1 * MB)
    assert len(rows) == plan.summary.batches == 3
    # Two partitions of 2 MB per batch: every Kubernetes broker receives 4 MB, but each partition's
    # leader (a VM broker) sends its 2 MB to three new replicas, 6 MB at 1 MB/s.
    assert [r["estimated_seconds"] for r in rows] == [6.0, 6.0, 6.0]
    assert all(r["bytes_in_per_broker"] == {"1000": 4 * MB, "1001": 4 * MB, "1002": 4 * MB} for r in rows)
    total = plan_estimate([plan], 2 * MB)
    assert total["estimated_seconds"] == 9.0 and total["bytes"] == 36 * MB and total["batches"] == 3
    assert total["bytes_out_per_broker"] == {"0": 12 * MB, "1": 12 * MB, "2": 12 * MB}


def test_groups_of_vm_brokers_drain_one_after_the_other_and_each_replica_moves_once() -> None:
    assert broker_groups((2, 0, 1), 2) == [(0, 1), (2,)] and broker_groups((0, 1, 2), None) == [(0, 1, 2)]
    first, second = drain_plans(cluster(), ENVS, BatchLimits(max_moves_per_broker=2), per_group=2)
    assert first.sources == (0, 1) and second.sources == (2,)
    # Every partition has a replica on each VM broker: both groups move it, the second from where the first left it.
    by_partition = attrgetter("topic", "partition")
    for a, b in zip(sorted(first.moves, key=by_partition), sorted(second.moves, key=by_partition), strict=True):
        assert set(a.target) & set(ENVS.vm) == {2} and b.current == a.target
        assert set(b.target) <= set(ENVS.kubernetes) and len(set(b.target)) == 3
    assert set(final_group([first, second]).values()) == {1}
    total = plan_estimate([first, second], MB)
    assert total["groups"] == 2 and total["partition_moves"] == 12
    assert total["bytes_out_per_broker"] == {"0": 12 * MB, "1": 12 * MB, "2": 12 * MB}  # each replica once


def test_facade_names_lead_to_kubernetes_brokers_and_vm_names_are_kept_alive() -> None:
    dns = DnsConfig.model_validate({"provider": "rfc2136", "zone": "kafka.example.com", "rfc2136": {"primary": "127.0.0.1:53", "tsig": {"name": "k", "secret": {"env": "TSIG"}}}})
    hosts = {b: f"10.0.0.{i}" for i, b in enumerate((*ENVS.vm, *ENVS.kubernetes))}
    targets = facade_targets(dns, Environments((0, 1, 2, 3), (1000, 1001)), hosts | {3: "10.0.0.9"})
    assert targets[dns.broker_name(1000)] == ["10.0.0.3"] and targets[dns.broker_name(1001)] == ["10.0.0.4"]
    assert [targets[dns.broker_name(vm)] for vm in (0, 1, 2, 3)] == [["10.0.0.3"], ["10.0.0.4"], ["10.0.0.3"], ["10.0.0.4"]]
    assert targets[dns.bootstrap_fqdn] == ["10.0.0.3", "10.0.0.4"]


class ScriptedGate(HealthGate):
    def __init__(self, answers: list[str | None], clock: FakeClock) -> None:
        super().__init__(config(), clock=clock.monotonic, sleep=clock.sleep)
        self.answers = answers

    def problem(self) -> str | None:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_the_gate_resumes_only_after_the_cluster_stayed_healthy_long_enough() -> None:
    clock = FakeClock()
    seen: list[tuple[str | None, float]] = []
    gate = ScriptedGate(["broker 1001 offline", None, "URP 2", None], clock)
    gate.await_healthy(hold=3, timeout=60, interval=1, on_poll=lambda p, h: seen.append((p, h)))
    # Healthy at t=1, broken again at t=2: the count starts over at t=3 and holds 3 s at t=6.
    assert clock.now == 6 and seen[-1] == (None, 2.0) and ("URP 2", 0.0) in seen


def test_the_gate_gives_up_after_the_longest_pause_and_stops_for_an_operators_pause() -> None:
    clock = FakeClock()
    with pytest.raises(SafetyGateError, match="did not stay healthy for 5 s within 10 s .*last problem: URP 2"):
        ScriptedGate(["URP 2"], clock).await_healthy(hold=5, timeout=10, interval=1)
    with pytest.raises(OperatorPause, match="stays paused: night"):
        ScriptedGate(["URP 2"], clock).await_healthy(hold=5, timeout=10, interval=1, stop_requested=lambda: "night")


def test_the_phase_sits_between_the_join_and_the_handback_and_its_runbook_names_its_steps() -> None:
    order = list(PHASES)
    assert order.index("cruise-control-rebalance") == order.index("mixed-cluster-join") + 1
    assert order.index("operator-handback") > order.index("cruise-control-rebalance")
    phase = build(config())
    names = [s.name for s in phase.steps]
    assert names == ["mover-ready", "move-replicas", "move-leadership", "repoint-facade", "retire-vm-brokers", "stop-vm-hosts"]
    assert not phase.irreversible_steps
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", RUNBOOK.read_text(), re.M))
    assert documented == set(names)


def test_an_unknown_mover_is_refused_by_the_config() -> None:
    with pytest.raises(Exception, match="mover"):
        config(cruise_control_rebalance={"mover": "kafka-kit"})


def test_the_cruise_control_mover_needs_the_cruise_control_section() -> None:
    with pytest.raises(ValidationError, match="cruise_control: section"):
        config(cruise_control_rebalance={"mover": "cruise-control"})
    chosen = config(cruise_control_rebalance={"mover": "cruise-control"}, cruise_control={"url": "http://cc:9090"})
    assert chosen.cruise_control_rebalance.mover == "cruise-control"


def test_the_factory_opens_the_cruise_control_mover_for_its_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[tuple[MigrationConfig, dict]] = []

    @contextmanager
    def fake_open(cfg: MigrationConfig, **options: object) -> Iterator[str]:
        opened.append((cfg, options))
        yield "cc-mover"

    monkeypatch.setattr(CruiseControlMover, "open", fake_open)
    chosen = config(cruise_control_rebalance={"mover": "cruise-control"}, cruise_control={"url": "http://cc:9090"})
    with open_mover("cruise-control", chosen, events=EventBus(), persist=lambda: None) as mover:
        assert mover == "cc-mover"
    assert opened and opened[0][0] is chosen and set(opened[0][1]) == {"events", "persist"}
    with pytest.raises(BadInput, match="kafka-kit"):
        with open_mover("kafka-kit", chosen, events=EventBus(), persist=lambda: None):
            pass


class FlakyMover:
    """A mover whose runs end as scripted: an exception to raise, or None for done."""

    def __init__(self, outcomes: list[BaseException | None]) -> None:
        self.outcomes = outcomes
        self.runs = 0

    def run(self, plan: object, memory: dict) -> None:
        self.runs += 1
        if (outcome := self.outcomes.pop(0)) is not None:
            memory.setdefault("forward", {})["reason"] = str(outcome)
            raise outcome


def rebalance_step(
    monkeypatch: pytest.MonkeyPatch, mover: FlakyMover, gate: HealthGate
) -> tuple[MoveReplicasToKubernetes, dict]:
    @contextmanager
    def open_stub(config: MigrationConfig, **options: object):
        yield mover

    monkeypatch.setattr(NativeMover, "open", open_stub)
    resources = RebalanceResources(config(), joined=lambda: [1000, 1001, 1002])
    monkeypatch.setattr(resources, "gate", lambda ctx: gate)
    [plan] = drain_plans(cluster(), ENVS, BatchLimits())
    return MoveReplicasToKubernetes(resources), {"move_plans": [plan.to_dict()], "environments": ENVS.to_json()}


def test_a_pause_on_the_gate_waits_for_health_then_the_move_carries_on_and_both_are_journalled(monkeypatch) -> None:
    clock = FakeClock()
    mover = FlakyMover([SafetyGateError("broker(s) [1001] of the batch in flight went down"), None])
    step, state = rebalance_step(monkeypatch, mover, ScriptedGate(["broker(s) 1001 offline", None], clock))
    journal: list[tuple] = []
    ctx = StepContext(config(), state, EventBus(), journal=lambda event, step=None, **d: journal.append((event, step, d)))
    step.apply(ctx)
    assert mover.runs == 2
    assert [(e, s) for e, s, _ in journal] == [("health_gate.paused", "move-replicas"), ("health_gate.resumed", "move-replicas")]
    assert "1001" in journal[0][2]["reason"] and journal[1][2]["reason"].startswith("healthy for 60 s after")


def test_a_stall_or_an_operators_pause_is_not_waited_out(monkeypatch) -> None:
    for stop in (MoveStalled("no byte was copied"), MovePaused("pause requested")):
        mover = FlakyMover([stop])
        step, state = rebalance_step(monkeypatch, mover, ScriptedGate([None], FakeClock()))
        with pytest.raises(type(stop)):
            step.apply(StepContext(config(), state, EventBus()))
        assert mover.runs == 1


@pytest.mark.parametrize("first", ["migrator.clients.kafka", "migrator.movers.factory", "phases.cruise_control_rebalance"])
def test_the_config_section_imports_in_any_order(first: str) -> None:
    """migrator.config imports the phase's section at its bottom: the section must not pull in modules
    that import migrator.config, whichever of them a process imports first."""
    result = subprocess.run([sys.executable, "-c", f"import {first}"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
