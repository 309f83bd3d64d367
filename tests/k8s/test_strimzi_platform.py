"""StrimziPlatform against the real API server: server-side apply under our field manager (idempotent,
no force over someone else's edit), optimistic concurrency on every write (a racing writer makes us
re-read, a persistent one makes us give up), deletes bound to the version read, the operator image
switch, and BadInput for a missing install, namespace, container or permission - also when running
as the service account that deploy/rbac grants."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client as k8s

from migrator.errors import BadInput
from migrator.platforms.target.strimzi_api import ObjectChanged, FieldConflict, StrimziPlatform
from migrator.platforms.target.strimzi_manifests import BUILD_ANNOTATION, RenderedManifests, render_manifests
from migrator.sandbox.kube import KubeRig
from migrator.sandbox.ports import HOST
from tests.k8s.strimzi_support import FORKED, UPSTREAM, fresh_namespaces, install_operator, migration_config
from tests.k8s.test_rbac import grant, without_verb

pytestmark = pytest.mark.k8s

GROUP, VERSION = "kafka.strimzi.io", "v1beta2"


class FakeVm:
    """What migration_config reads from a sandbox; these tests start no broker."""

    zookeeper_connect = f"{HOST}:2181/kafka"
    bootstrap_servers = f"{HOST}:9092"
    cluster_id = "vm-cluster-id"


@pytest.fixture
def admin(kube_rig: KubeRig) -> Iterator[k8s.ApiClient]:
    with kube_rig.api_client() as api:
        yield api


def setup(
    api: k8s.ApiClient, namespace: str, operator_namespace: str, **target: Any
) -> tuple[StrimziPlatform, RenderedManifests]:
    config = migration_config(FakeVm(), namespace, operator_namespace, **target)  # type: ignore[arg-type]
    assert config.target is not None
    return StrimziPlatform(api, config.target, poll_interval=0.2), render_manifests(config)


@pytest.fixture
def installed(admin: k8s.ApiClient) -> tuple[StrimziPlatform, RenderedManifests]:
    namespace, operator_namespace = fresh_namespaces(admin)
    install_operator(admin, operator_namespace, UPSTREAM)
    return setup(admin, namespace, operator_namespace)


def human_patch(admin: k8s.ApiClient, plural: str, namespace: str, name: str, patch: dict[str, Any]) -> None:
    k8s.CustomObjectsApi(admin).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, name, patch,
        field_manager="human", _content_type="application/merge-patch+json",
    )


def test_apply_creates_what_is_rendered_and_a_second_apply_changes_nothing(
    installed: tuple[StrimziPlatform, RenderedManifests],
) -> None:
    platform, rendered = installed
    assert "live: Kafka" in rendered.diff_against(platform.live_objects(rendered))
    untouched = platform.operator()
    assert untouched is not None and (untouched.image, untouched.build) == (UPSTREAM, None)

    for obj in rendered.objects:
        platform.apply(obj)
    assert rendered.diff_against(platform.live_objects(rendered)) == ""
    versions = resource_versions(platform, rendered)
    for obj in rendered.objects:
        platform.apply(obj)
    assert resource_versions(platform, rendered) == versions

    operator = platform.operator()
    assert operator is not None and (operator.image, operator.build) == (FORKED, "forked")
    # Only the overlay's fields changed: the install's environment and labels are still there.
    container = operator.object["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == untouched.object["spec"]["template"]["spec"]["containers"][0]["env"]
    assert platform.kafka_status().observed_generation is None  # nothing reconciles without an operator

    platform.apply(rendered.operator_upstream)
    assert platform.operator().build == "upstream"  # type: ignore[union-attr]
    back = platform.switch_operator_image(UPSTREAM, build=None)
    assert (back.image, back.build) == (UPSTREAM, None)
    assert platform.switch_operator_image(UPSTREAM, build=None).resource_version == back.resource_version


def test_a_field_someone_else_changed_stops_the_apply_but_our_own_annotation_does_not(
    admin: k8s.ApiClient, installed: tuple[StrimziPlatform, RenderedManifests]
) -> None:
    platform, rendered = installed
    platform.apply(rendered.kafka)
    platform.apply(rendered.node_pool)

    platform.annotate("Kafka", "events", {"strimzi.io/kraft": "migration", "example/extra": "x"})
    assert platform.kafka()["metadata"]["annotations"]["strimzi.io/kraft"] == "migration"  # type: ignore[index]
    platform.apply(rendered.kafka)  # the annotation is ours (annotate), so apply may take it back
    annotations = platform.kafka()["metadata"]["annotations"]  # type: ignore[index]
    assert annotations["strimzi.io/kraft"] == "disabled" and annotations["example/extra"] == "x"
    platform.annotate("Kafka", "events", {"example/extra": None})
    assert "example/extra" not in platform.kafka()["metadata"]["annotations"]  # type: ignore[index]

    human_patch(admin, "kafkanodepools", platform.namespace, "brokers", {"spec": {"replicas": 5}})
    with pytest.raises(FieldConflict) as refused:
        platform.apply(rendered.node_pool)
    assert ".spec.replicas" in str(refused.value) and '"human"' in str(refused.value)
    assert platform.node_pool_status().replicas == 5  # type: ignore[union-attr]


def resource_versions(platform: StrimziPlatform, rendered: RenderedManifests) -> list[str]:
    return [obj["metadata"]["resourceVersion"] for obj in platform.live_objects(rendered) if obj is not None]


def racing(platform: StrimziPlatform, method: str, interfere: Callable[[], None], times: int) -> list[int]:
    """Make `platform.<method>` (a read) let another writer change the object right after it read it,
    the first `times` reads; returns the list of reads made."""
    original = getattr(platform, method)
    reads: list[int] = []

    def read(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        reads.append(1)
        if len(reads) <= times:
            interfere()
        return result

    setattr(platform, method, read)
    return reads


def test_a_write_racing_another_writer_is_retried_after_a_fresh_read_and_given_up_when_it_persists(
    admin: k8s.ApiClient, installed: tuple[StrimziPlatform, RenderedManifests]
) -> None:
    platform, rendered = installed
    platform.apply(rendered.kafka)
    counter = iter(range(1000))

    def label_kafka() -> None:
        label = {"metadata": {"labels": {"touched": str(next(counter))}}}
        human_patch(admin, "kafkas", platform.namespace, "events", label)

    changed = copy.deepcopy(rendered.kafka)
    changed["spec"]["kafka"]["config"]["log.retention.hours"] = 100
    reads = racing(platform, "get", label_kafka, times=2)
    platform.apply(changed)
    assert len(reads) == 3
    assert platform.kafka()["spec"]["kafka"]["config"]["log.retention.hours"] == 100  # type: ignore[index]

    platform.conflict_attempts = 3
    racing(platform, "get", label_kafka, times=100)
    with pytest.raises(ObjectChanged, match="3 times in a row"):
        platform.annotate("Kafka", "events", {"strimzi.io/kraft": "migration"})
    assert platform.kafka()["metadata"]["annotations"]["strimzi.io/kraft"] == "disabled"  # type: ignore[index]

    apps = k8s.AppsV1Api(admin)
    operator_namespace = platform.target.operator_namespace

    def label_operator() -> None:
        apps.patch_namespaced_deployment(
            "strimzi-cluster-operator", operator_namespace, {"metadata": {"labels": {"touched": str(next(counter))}}}
        )

    reads = racing(platform, "operator", label_operator, times=1)
    assert platform.switch_operator_image(FORKED, build="forked").image == FORKED
    assert len(reads) == 3  # read, stale write, re-read, write, read back


def test_delete_removes_only_the_version_that_was_read(
    admin: k8s.ApiClient, installed: tuple[StrimziPlatform, RenderedManifests]
) -> None:
    platform, rendered = installed
    platform.apply(rendered.node_pool)
    read = platform.node_pool()
    human_patch(admin, "kafkanodepools", platform.namespace, "brokers", {"metadata": {"labels": {"touched": "yes"}}})
    with pytest.raises(ObjectChanged, match="changed after it was read"):
        platform.delete(read)  # type: ignore[arg-type]
    assert platform.node_pool() is not None

    fresh = platform.node_pool()
    assert platform.delete(fresh)  # type: ignore[arg-type]
    platform.wait_deleted(fresh)  # type: ignore[arg-type]
    assert platform.delete(fresh) is False  # type: ignore[arg-type]

    platform.apply(rendered.node_pool)  # the same name again, a new object
    with pytest.raises(ObjectChanged):
        platform.delete(fresh)  # type: ignore[arg-type]
    assert platform.node_pool()["metadata"]["uid"] != fresh["metadata"]["uid"]  # type: ignore[index]


def test_what_a_user_must_fix_is_bad_input(admin: k8s.ApiClient) -> None:
    namespace, operator_namespace = fresh_namespaces(admin)
    platform, rendered = setup(admin, namespace, operator_namespace)
    with pytest.raises(BadInput, match="Install Strimzi 0.45.2 from its install files first"):
        platform.apply(rendered.operator_forked)

    install_operator(admin, operator_namespace)
    operator = {"forked_image": FORKED, "namespace": operator_namespace, "container": "operator"}
    platform, rendered = setup(admin, namespace, operator_namespace, operator=operator)
    with pytest.raises(BadInput, match="has no container named operator"):
        platform.switch_operator_image(FORKED)

    platform, rendered = setup(admin, "absent-namespace", operator_namespace)
    with pytest.raises(BadInput, match="namespace absent-namespace does not exist"):
        platform.apply(rendered.kafka)

    platform, rendered = setup(admin, namespace, operator_namespace)
    invalid = copy.deepcopy(rendered.node_pool)
    invalid["spec"]["roles"] = ["janitor"]
    with pytest.raises(BadInput, match="rejected KafkaNodePool"):
        platform.apply(invalid)
    assert platform.node_pool() is None


def test_the_service_account_of_deploy_rbac_can_drive_it_and_a_missing_verb_is_named(
    kube_rig: KubeRig, admin: k8s.ApiClient
) -> None:
    granted = grant(kube_rig, admin)
    install_operator(admin, granted.target_namespace)  # the operator Role of deploy/rbac is in the target namespace
    with kube_rig.api_client(granted.kubeconfig) as api:
        platform, rendered = setup(api, granted.target_namespace, granted.target_namespace)
        for obj in rendered.objects:
            platform.apply(obj)
        assert rendered.diff_against(platform.live_objects(rendered)) == ""
        platform.annotate("KafkaNodePool", "brokers", {"example/note": "x"})
        assert platform.node_pool_status().node_ids == ()  # type: ignore[union-attr]
        assert platform.broker_pods() == {}
        assert platform.delete(platform.node_pool())  # type: ignore[arg-type]

    denied = grant(
        kube_rig, admin, edit=lambda docs: without_verb(docs, "kafka-k8s-migrator-operator", "deployments", "patch")
    )
    install_operator(admin, denied.target_namespace)
    with kube_rig.api_client(denied.kubeconfig) as api:
        platform, rendered = setup(api, denied.target_namespace, denied.target_namespace)
        with pytest.raises(BadInput, match='may not patch deployments \\(API group "apps"\\)'):
            platform.switch_operator_image(FORKED, build="forked")
    unchanged = k8s.AppsV1Api(admin).read_namespaced_deployment("strimzi-cluster-operator", denied.target_namespace)
    assert BUILD_ANNOTATION not in (unchanged.metadata.annotations or {})
