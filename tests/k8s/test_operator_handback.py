"""The operator handback on the Kubernetes rig right after a real join (ZooKeeper mode, VM brokers
still in the cluster), under produce/consume load.

In ZooKeeper mode no clean handback exists: without zookeeper.connect, any build writes its own
ensemble into the brokers' config. So the phase must refuse here, before changing anything, and it
does; the upstream image is refused too. A real broker restart is caught by verify-no-restart. The
phase itself runs end to end, and back, from the state the KRaft cutover leaves:
test_operator_handback_kraft.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from migrator.errors import PermanentError, SafetyGateError
from migrator.platforms.target.strimzi_api import GROUP, VERSION
from migrator.sandbox.kube import KubeRig
from phases import mixed_cluster_join, operator_handback
from phases.operator_handback import (
    BEFORE_SWITCH,
    SWITCHED_AT,
    HandbackResources,
    SwitchOperatorToUpstream,
    VerifyNoRestart,
)
from tests.k8s.mixed_cluster_rig import FORKED, MixedRig, mixed_cluster_rig

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
