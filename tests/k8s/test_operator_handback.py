"""The operator handback on the Kubernetes rig, after a real join, under produce/consume load.

The stand-in operator models ZooKeeper mode only (tests/k8s/strimzi_controller.py), and in ZooKeeper
mode no clean handback exists: without zookeeper.connect, any build writes its own ensemble into the
brokers' config. So the phase must refuse here, before changing anything, and it does. Each step is
then applied, verified and rolled back one by one on the live CR (the gate deliberately bypassed, as a
test of the steps' mechanics): the verifies report what the operator reports (the stand-in refusing to
roll the brokers onto an empty ensemble, as the real upstream build WOULD roll them), no broker is
restarted by any of it, and every rollback brings the CR and the operator back. Finally a real broker
restart is caught by verify-no-restart.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from migrator.errors import PermanentError, SafetyGateError
from migrator.platforms.strimzi import GROUP, VERSION
from migrator.sandbox.kube import KubeRig
from phases import mixed_cluster_join, operator_handback
from phases.operator_handback import (
    BEFORE_SWITCH,
    SWITCHED_AT,
    HandbackResources,
    RemoveForkLeftovers,
    RemoveOverrides,
    SwitchOperatorToUpstream,
    VerifyNoRestart,
)
from tests.k8s.mixed_cluster_rig import FORKED, UPSTREAM, MixedRig, mixed_cluster_rig

pytestmark = [pytest.mark.k8s, pytest.mark.cluster]


@pytest.fixture(scope="module")
def rig(kube_rig: KubeRig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MixedRig]:
    """A VM cluster joined by brokers 1000 and 1001 through the join phase."""
    with mixed_cluster_rig(kube_rig, tmp_path_factory.mktemp("handback")) as world:
        phase = mixed_cluster_join.build(world.config, world.join_resources())
        record = world.machine("join").run(phase, world.context())
        assert record.status.value == "done", record.error
        yield world


def handback(rig: MixedRig) -> HandbackResources:
    return HandbackResources(rig.config, platform=rig.target(), settle_seconds=3.0)


def settled(step: object, rig: MixedRig, ctx: object) -> object:
    """The step's verdict once it is no longer pending (the stand-in reconciles every half second)."""
    return rig.wait(lambda: (v := step.verify(ctx)).retry_after is None and v, f"{step.name} to settle")  # type: ignore[attr-defined]


def test_the_phase_refuses_before_the_kraft_cutover_and_changes_nothing(rig: MixedRig) -> None:
    resources = handback(rig)
    kafka_before = resources.platform.platform.kafka()

    with pytest.raises(SafetyGateError) as refused:
        rig.machine("handback").run(operator_handback.build(rig.config, resources), rig.context())

    message = str(refused.value)
    assert "kafkaMetadataState ZooKeeper, not KRaft" in message and "empty ensemble" in message
    assert "broker(s) 0, 1, 2 are not in node pool brokers (1000, 1001)" in message
    kafka_after = resources.platform.platform.kafka()
    assert kafka_after is not None and kafka_before is not None
    assert kafka_after["spec"] == kafka_before["spec"]
    assert rig.operator_image() == (FORKED, "forked")


def test_the_upstream_image_is_refused_while_the_cr_carries_zookeeper_connect(rig: MixedRig) -> None:
    resources = handback(rig)
    ctx = rig.context()
    step = SwitchOperatorToUpstream(resources)
    step.snapshot(ctx)

    with pytest.raises(PermanentError, match="still carries zookeeper.connect"):
        step.apply(ctx)

    assert rig.operator_image() == (FORKED, "forked")


def test_each_step_applies_verifies_and_rolls_back_on_the_live_cr(rig: MixedRig) -> None:
    resources = handback(rig)
    platform = resources.platform
    ctx = rig.context()
    original = platform.overrides()
    pods = platform.incarnations()
    assert set(original) == {"config", "listeners", "zookeeper"} and sorted(pods) == [1000, 1001]

    remove = RemoveOverrides(resources)
    removed = remove.snapshot(ctx)
    remove.apply(ctx)
    assert platform.overrides() == {}
    verdict = settled(remove, rig, ctx)
    # The fork without zookeeper.connect writes upstream's ensemble: the stand-in refuses to roll onto it.
    assert not verdict.done and "StandInRefused" in verdict.reason and "zookeeper-client:2181" in verdict.reason  # type: ignore[attr-defined]

    switch = SwitchOperatorToUpstream(resources)
    switched = switch.snapshot(ctx)
    switch.apply(ctx)
    assert settled(switch, rig, ctx).done  # type: ignore[attr-defined]
    assert rig.operator_image() == (UPSTREAM, "upstream") and SWITCHED_AT in ctx.state
    assert ctx.state[BEFORE_SWITCH]["incarnations"] == {str(i): p for i, p in pods.items()}

    # The switch changes no CR, so the status stays as the fork last wrote it until the upstream
    # operator's first pass; Strimzi's status says nothing of which build wrote it.
    rig.controller.wait_passes()
    watch = VerifyNoRestart(resources)
    verdict = settled(watch, rig, ctx)
    assert not verdict.done and "upstream operator would roll broker" in verdict.reason  # type: ignore[attr-defined]

    leftovers = RemoveForkLeftovers(resources)
    marked = leftovers.snapshot(ctx)
    leftovers.apply(ctx)
    assert leftovers.verify(ctx).done and rig.operator_image() == (UPSTREAM, None)

    # Back, newest first.
    leftovers.rollback(ctx, marked)
    assert rig.operator_image() == (UPSTREAM, "upstream")
    switch.rollback(ctx, switched)
    assert rig.operator_image() == (FORKED, "forked")
    remove.rollback(ctx, removed)
    assert platform.overrides() == original
    assert rig.wait(lambda: platform.reconciled().done, "the fork to report Ready again")
    assert platform.incarnations() == pods  # nothing restarted any broker


def test_verify_no_restart_catches_a_restarted_broker(rig: MixedRig) -> None:
    resources = handback(rig)
    platform = resources.platform
    ctx = rig.context()
    ctx.state[BEFORE_SWITCH] = {"incarnations": {str(i): p for i, p in platform.incarnations().items()}}
    ctx.state[SWITCHED_AT] = resources.clock()
    watch = VerifyNoRestart(resources)
    assert settled(watch, rig, ctx).done  # type: ignore[attr-defined]

    # A config change the fork passes on: the operator rolls every broker (a new pod each).
    change = {"spec": {"kafka": {"config": {"log.cleaner.threads": 2}}}}
    k8s.CustomObjectsApi(rig.api).patch_namespaced_custom_object(
        GROUP, VERSION, rig.namespace, "kafkas", "events", change, _content_type="application/merge-patch+json"
    )
    rig.wait(lambda: rig.controller.restarts.get(1000), "the operator to roll broker 1000")

    verdict = watch.verify(ctx)
    assert not verdict.done and verdict.retry_after is None
    assert "restarted node(s) (node 1000: pod events-brokers-1000 uid" in verdict.reason


def test_the_workload_lost_nothing(rig: MixedRig) -> None:
    report = rig.workload.stop()
    assert report.zero_loss, report.progress_line()
