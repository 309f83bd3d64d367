"""The operator handback end to end on the Kubernetes rig, from the state the KRaft cutover leaves
(tests/k8s/kraft_cluster_rig.py): Strimzi brokers 1000-1002 and controller 3000 in KRaft mode, every
mixed-cluster override still in the Kafka CR, the forked operator in charge, produce/consume load
running throughout.

The whole phase runs through the engine: the fork rolls the brokers twice as the overrides leave the
CR (first onto REPLICATION-9091, then without the shared listener), the switch to the upstream image restarts nothing (the stand-in derives each node's config from the
CR and the build, so any override left behind would show as a roll), and no trace of the fork is left.
Rolling the phase back brings the overrides and the fork back, in two rolls again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from migrator.clients.kafka import KafkaAdmin
from migrator.sandbox.kube import KubeRig
from phases import operator_handback
from phases.operator_handback import HandbackResources
from tests.k8s.kraft_cluster_rig import BROKER_IDS, kraft_cluster_rig
from tests.k8s.mixed_cluster_rig import MixedRig
from tests.k8s.strimzi_support import FORKED, SHARED, UPSTREAM

pytestmark = [pytest.mark.k8s, pytest.mark.cluster]

CONTROLLER_ID = 3000
HANDED_BACK: dict[str, object] = {}


@pytest.fixture(scope="module")
def rig(kube_rig: KubeRig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MixedRig]:
    with kraft_cluster_rig(kube_rig, tmp_path_factory.mktemp("handback-kraft")) as world:
        yield world


def inter_broker_listeners(rig: MixedRig) -> dict[int, str | None]:
    with KafkaAdmin(rig.config.cluster) as admin:
        configs = admin.broker_configs(BROKER_IDS)
    return {i: c["inter.broker.listener.name"].value for i, c in configs.items()}


def test_the_cutover_state_carries_every_override_under_the_fork(rig: MixedRig) -> None:
    platform = rig.target()
    assert platform.metadata_state() == "KRaft"
    assert set(platform.overrides()) == {"config", "listeners", "zookeeper"}
    assert sorted(platform.incarnations()) == [*BROKER_IDS, CONTROLLER_ID]
    assert rig.operator_image() == (FORKED, "forked")
    assert inter_broker_listeners(rig) == {i: SHARED for i in BROKER_IDS}


def test_the_handback_runs_end_to_end_under_load(rig: MixedRig) -> None:
    resources = HandbackResources(rig.config, platform=rig.target(), settle_seconds=3.0)
    platform = resources.platform
    restarts_before = dict(rig.controller.restarts)
    phase = operator_handback.build(rig.config, resources)
    machine, ctx = rig.machine("handback"), rig.context()

    record = machine.run(phase, ctx)

    assert record.status.value == "done", record.error
    HANDED_BACK.update(machine=machine, ctx=ctx, phase=phase)
    assert platform.overrides() == {}
    assert rig.operator_image() == (UPSTREAM, None)
    # The fork's rolls: brokers twice (inter-broker listener, then the rest), the controller once (it has
    # no inter-broker listener); the image switch restarted nothing.
    rolled = {i: rig.controller.restarts.get(i, 0) - restarts_before.get(i, 0) for i in [*BROKER_IDS, CONTROLLER_ID]}
    assert rolled == {1000: 2, 1001: 2, 1002: 2, CONTROLLER_ID: 1}
    watched = record.step("verify-no-restart").verdict
    assert watched is not None and "none of the 4 nodes restarted since the switch" in watched["reason"]
    assert inter_broker_listeners(rig) == {i: "REPLICATION-9091" for i in BROKER_IDS}
    with KafkaAdmin(rig.config.cluster) as admin:
        left = admin.broker_configs(BROKER_IDS)
    assert all("zookeeper.connect" not in c or c["zookeeper.connect"].value is None for c in left.values())
    assert rig.controller.mode == "upstream" and rig.target().reconciled().done


def test_rolling_the_handback_back_restores_the_fork_and_its_overrides(rig: MixedRig) -> None:
    machine, ctx, phase = HANDED_BACK["machine"], HANDED_BACK["ctx"], HANDED_BACK["phase"]

    record = machine.rollback(phase, ctx)  # type: ignore[attr-defined]

    assert record.status.value == "rolled_back", record.error
    platform = rig.target()
    assert set(platform.overrides()) == {"config", "listeners", "zookeeper"}
    assert rig.operator_image() == (FORKED, "forked")
    assert rig.wait(lambda: platform.reconciled().done, "the fork to report Ready", timeout=300)
    assert rig.wait(lambda: inter_broker_listeners(rig) == {i: SHARED for i in BROKER_IDS}, "the shared listener back")


def test_the_workload_lost_nothing(rig: MixedRig) -> None:
    report = rig.workload.stop()
    assert report.zero_loss, report.progress_line()
