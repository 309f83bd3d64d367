"""The pure parts of the operator handback: which overrides a Kafka CR carries and how they come out
and back, when a Deployment counts as rolled out, how long the phase watches after the switch, and the
verdicts of verify-no-restart (on a fake platform: the step's logic, not Strimzi's)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from migrator.config import MigrationConfig
from migrator.engine.events import EventBus
from migrator.engine.step import StepContext, Verdict
from migrator.platforms.target.strimzi_manifests import render_manifests
from migrator.platforms.target.strimzi import (
    overrides_in,
    reconciliation_interval,
    rollout,
    with_overrides,
    without_overrides,
)
from phases import operator_handback
from phases.operator_handback import BEFORE_SWITCH, SWITCHED_AT, HandbackResources, VerifyNoRestart
from tests.unit.strimzi_crds import load_install_file

FORKED = "registry.example.com/strimzi/operator:0.45.2-mixed-zk"


def config(**target: Any) -> MigrationConfig:
    section: dict[str, Any] = {
        "cluster_name": "events",
        "replicas": 3,
        "shared_listener": {"name": "shared", "port": 9094},
        "listeners": [{"name": "plain", "port": 9092}],
        "extra_config": {"log.retention.hours": 72},
        "operator": {"forked_image": FORKED},
    }
    section.update(target)
    return MigrationConfig.model_validate(
        {
            "migration_id": "m1",
            "cluster": {"zookeeper_connect": "zk1:2181/kafka", "bootstrap_servers": "vm-0:9092", "cluster_id": "c1"},
            "target": section,
        }
    )


def test_the_overrides_of_a_rendered_cr_come_out_and_back_exactly() -> None:
    migration = config()
    assert migration.target is not None
    kafka = render_manifests(migration).kafka
    found = overrides_in(kafka, migration.target)
    assert set(found["config"]) == {"zookeeper.connect", "zookeeper.ssl.client.enable", "inter.broker.listener.name", "reserved.broker.max.id"}
    assert [l["name"] for l in found["listeners"]] == ["shared"]
    assert found["zookeeper"] == {"replicas": 1, "storage": {"type": "ephemeral"}}

    plain = without_overrides(kafka, found)
    assert overrides_in(plain, migration.target) == {}
    assert plain["spec"]["kafka"]["config"] == {"log.retention.hours": 72}  # the team's own settings stay
    assert [l["name"] for l in plain["spec"]["kafka"]["listeners"]] == ["plain"]
    assert with_overrides(plain, found)["spec"]["kafka"]["config"] == kafka["spec"]["kafka"]["config"]
    assert with_overrides(plain, found)["spec"] == kafka["spec"]
    assert with_overrides(kafka, found) == kafka  # restoring twice changes nothing


def test_a_deployment_is_rolled_out_by_the_rules_of_kubectl_rollout_status() -> None:
    deployment = {"metadata": {"name": "op", "namespace": "s", "generation": 3}, "spec": {"replicas": 1}}
    assert "has not seen generation 3" in rollout(deployment).reason
    deployment["status"] = {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1}
    assert "old image still terminating" in rollout(deployment).reason
    deployment["status"] = {"observedGeneration": 3, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 0}
    assert "0 of 1 new pods available" in rollout(deployment).reason
    deployment["status"] = {"observedGeneration": 3, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}
    assert rollout(deployment).done


def test_the_watch_after_the_switch_follows_the_operators_reconciliation_interval() -> None:
    deployment = copy.deepcopy(load_install_file("060-Deployment-strimzi-cluster-operator.yaml"))
    assert reconciliation_interval(deployment, "strimzi-cluster-operator") == 120.0
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    for env in container["env"]:
        if env["name"] == "STRIMZI_FULL_RECONCILIATION_INTERVAL_MS":
            env["value"] = "30000"
    assert reconciliation_interval(deployment, "strimzi-cluster-operator") == 30.0
    assert reconciliation_interval(deployment, "another-container") == 120.0


def test_handback_is_skipped_with_a_reason_for_the_local_target() -> None:
    ctx = StepContext(config(), {}, EventBus())
    reason = operator_handback.build(config(kind="local")).skip_when(ctx)
    assert reason is not None and "without a cluster operator" in reason
    assert operator_handback.build(config()).skip_when(ctx) is None


@dataclass
class FakeNodes:
    """Pods and status as verify-no-restart reads them from the platform."""

    pods: dict[int, str]
    check: Verdict = field(default_factory=lambda: Verdict.ok("Kafka events Ready at generation 4"))

    def incarnations(self) -> dict[int, str]:
        return dict(self.pods)

    def reconciled(self) -> Verdict:
        return self.check

    def reconciliation_interval(self) -> float:
        return 60.0


def verify(nodes: FakeNodes, now: float, switched_at: float = 1000.0) -> Any:
    clock = lambda: now  # noqa: E731
    resources = HandbackResources(config(), platform=nodes, clock=clock)  # type: ignore[arg-type]
    state = {BEFORE_SWITCH: {"incarnations": {"1000": "pod a", "1001": "pod b"}}, SWITCHED_AT: switched_at}
    return VerifyNoRestart(resources).verify(StepContext(config(), state, EventBus()))


def test_verify_no_restart_watches_two_intervals_then_passes() -> None:
    nodes = FakeNodes({1000: "pod a", 1001: "pod b"})
    waiting = verify(nodes, now=1100.0)
    assert not waiting.done and waiting.retry_after is not None and "watching 20 s more" in waiting.reason
    assert verify(nodes, now=1120.0).done


def test_a_restarted_node_fails_the_handback_by_name() -> None:
    verdict = verify(FakeNodes({1000: "pod a", 1001: "pod b2"}), now=1500.0)
    assert not verdict.done and verdict.retry_after is None
    assert "node 1001: pod b -> pod b2" in verdict.reason and "override was left behind" in verdict.reason
    gone = verify(FakeNodes({1000: "pod a"}), now=1500.0)
    assert "node 1001: pod b -> no pod" in gone.reason


def test_the_operators_not_ready_verdict_fails_the_handback() -> None:
    nodes = FakeNodes({1000: "pod a", 1001: "pod b"}, Verdict.failed("NotReady=True (X: y)"))
    verdict = verify(nodes, now=1500.0)
    assert not verdict.done and verdict.retry_after is None and "NotReady" in verdict.reason
