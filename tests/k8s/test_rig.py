"""The Kubernetes rig is a real API: it answers, serves Strimzi's CRDs with their schemas and status
subresource, enforces RBAC for service accounts, and leaves no process behind."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from migrator.sandbox.kube import KubeRig
from migrator.sandbox.kube_binaries import kubernetes_version
from tests.k8s.conftest import rig_binaries

pytestmark = pytest.mark.k8s

KAFKA_GROUP, KAFKA_VERSION = "kafka.strimzi.io", "v1beta2"
STRIMZI_CRDS = [
    "kafkas.kafka.strimzi.io",
    "kafkanodepools.kafka.strimzi.io",
    "kafkatopics.kafka.strimzi.io",
    "kafkausers.kafka.strimzi.io",
    "kafkarebalances.kafka.strimzi.io",
    "strimzipodsets.core.strimzi.io",
]


def fresh_namespace(rig: KubeRig) -> str:
    name = f"t-{uuid.uuid4().hex[:10]}"
    with rig.api_client() as api:
        k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return name


def kafkas_in(namespace: str) -> tuple[str, str, str, str]:
    """CustomObjectsApi's (group, version, namespace, plural) for Kafka CRs."""
    return KAFKA_GROUP, KAFKA_VERSION, namespace, "kafkas"


def kafka_cr(name: str) -> dict:
    return {
        "apiVersion": f"{KAFKA_GROUP}/{KAFKA_VERSION}",
        "kind": "Kafka",
        "metadata": {"name": name},
        "spec": {
            "kafka": {
                "version": "3.9.0",
                "replicas": 3,
                "listeners": [{"name": "plain", "port": 9092, "type": "internal", "tls": False}],
                "storage": {"type": "ephemeral"},
            },
            "zookeeper": {"replicas": 3, "storage": {"type": "ephemeral"}},
        },
    }


def test_apiserver_answers_with_the_built_version(kube_rig: KubeRig) -> None:
    with kube_rig.api_client() as api:
        assert k8s.VersionApi(api).get_code().git_version == kubernetes_version()
        names = {ns.metadata.name for ns in k8s.CoreV1Api(api).list_namespace().items}
    assert {"default", "kube-system", kube_rig.operator_namespace} <= names


def test_strimzi_crds_are_established_and_rbac_applied(kube_rig: KubeRig) -> None:
    with kube_rig.api_client() as api:
        extensions = k8s.ApiextensionsV1Api(api)
        for name in STRIMZI_CRDS:
            conditions = extensions.read_custom_resource_definition(name).status.conditions
            assert any(c.type == "Established" and c.status == "True" for c in conditions), name
        rbac = k8s.RbacAuthorizationV1Api(api)
        assert rbac.read_cluster_role("strimzi-cluster-operator-namespaced").rules
        binding = rbac.read_namespaced_role_binding("strimzi-cluster-operator", kube_rig.operator_namespace)
        assert [s.namespace for s in binding.subjects] == [kube_rig.operator_namespace]
        with pytest.raises(ApiException) as missing:
            k8s.AppsV1Api(api).read_namespaced_deployment(
                "strimzi-cluster-operator", kube_rig.operator_namespace
            )
        assert missing.value.status == 404


def test_kafka_cr_is_validated_and_its_status_is_a_subresource(kube_rig: KubeRig) -> None:
    namespace = fresh_namespace(kube_rig)
    with kube_rig.api_client() as api:
        custom = k8s.CustomObjectsApi(api)
        args = kafkas_in(namespace)

        invalid = kafka_cr("broken")
        del invalid["spec"]["kafka"]["listeners"]
        with pytest.raises(ApiException) as rejected:
            custom.create_namespaced_custom_object(*args, invalid)
        assert rejected.value.status == 422

        created = custom.create_namespaced_custom_object(*args, kafka_cr("fleet"))
        assert "status" not in created

        status = {
            "status": {
                "kafkaMetadataState": "KRaftMigration",
                "conditions": [{"type": "Ready", "status": "True"}],
            }
        }
        custom.patch_namespaced_custom_object_status(*args, "fleet", status)
        # A status written through the main resource is dropped: the subresource owns it.
        custom.patch_namespaced_custom_object(*args, "fleet", {"status": {"kafkaMetadataState": "KRaft"}})

        stored = custom.get_namespaced_custom_object(*args, "fleet")
    assert stored["status"]["kafkaMetadataState"] == "KRaftMigration"
    assert stored["status"]["conditions"] == [{"type": "Ready", "status": "True"}]


def test_rbac_is_enforced_for_service_accounts(kube_rig: KubeRig) -> None:
    namespace = fresh_namespace(kube_rig)
    kubeconfig = kube_rig.service_account_kubeconfig(namespace, "no-rights")

    with kube_rig.api_client(kubeconfig) as api:
        with pytest.raises(ApiException) as denied:
            k8s.CustomObjectsApi(api).list_namespaced_custom_object(*kafkas_in(namespace))
    assert denied.value.status == 403

    with kube_rig.api_client() as admin:
        rbac = k8s.RbacAuthorizationV1Api(admin)
        rbac.create_namespaced_role(
            namespace,
            k8s.V1Role(
                metadata=k8s.V1ObjectMeta(name="read-kafkas"),
                rules=[k8s.V1PolicyRule(api_groups=[KAFKA_GROUP], resources=["kafkas"], verbs=["list"])],
            ),
        )
        rbac.create_namespaced_role_binding(
            namespace,
            k8s.V1RoleBinding(
                metadata=k8s.V1ObjectMeta(name="read-kafkas"),
                role_ref=k8s.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name="read-kafkas"
                ),
                subjects=[k8s.RbacV1Subject(kind="ServiceAccount", name="no-rights", namespace=namespace)],
            ),
        )
    # The same token, now bound to a least-privilege Role: listing is allowed, nothing else is.
    with kube_rig.api_client(kubeconfig) as api:
        listed = k8s.CustomObjectsApi(api).list_namespaced_custom_object(*kafkas_in(namespace))
        assert listed["items"] == []
        with pytest.raises(ApiException) as still_denied:
            k8s.CoreV1Api(api).list_namespaced_secret(namespace)
    assert still_denied.value.status == 403


def test_down_stops_every_rig_process(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    rig = KubeRig(tmp_path / "rig", binaries=rig_binaries(request.config))
    try:
        rig.up()
        pids = rig.process_ids
        assert len(pids) == 2  # etcd and kube-apiserver
    finally:
        rig.down()
    for pid in pids:
        assert not _alive(pid), pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
