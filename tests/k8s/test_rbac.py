"""deploy/rbac is enough for migrator and no more. A service account bound only to it (the real API
server enforces RBAC) runs the machine on the Kubernetes checkpoint store, reads Strimzi CRs and their
status, and switches the operator Deployment's image; anything else is refused, and every refusal is
a BadInput naming the verb, the resource and the Role of deploy/rbac that grants it (or saying none
does)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import utils as k8s_utils

from migrator.clients.k8s import call
from migrator.engine.checkpoint import PauseRequest
from migrator.k8s_checkpoint.store import KubernetesStore
from migrator.engine.machine import Machine
from migrator.engine.phase import Phase
from migrator.errors import BadInput
from migrator.sandbox.kube import KubeRig
from tests.unit.engine_fakes import FakeSystem, KeyStep, context_with_events

pytestmark = pytest.mark.k8s

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "rbac"
ACCOUNT = "kafka-k8s-migrator"
STRIMZI = ("kafka.strimzi.io", "v1beta2")
OPERATOR = "strimzi-cluster-operator"


def rbac_documents(migrator_namespace: str, target_namespace: str) -> list[dict[str, Any]]:
    """deploy/rbac with its example namespaces replaced, as its README tells a team to do."""
    namespaces = {"kafka-migrator": migrator_namespace, "kafka": target_namespace}
    documents = []
    for path in sorted(RBAC.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            document["metadata"]["namespace"] = namespaces[document["metadata"]["namespace"]]
            for subject in document.get("subjects", []):
                subject["namespace"] = namespaces[subject["namespace"]]
            documents.append(document)
    return documents


def without_verb(documents: list[dict[str, Any]], role: str, resource: str, verb: str) -> list[dict[str, Any]]:
    """A copy of the documents whose Role `role` no longer grants `verb` on `resource`."""
    edited = copy.deepcopy(documents)
    [target] = [d for d in edited if d["kind"] == "Role" and d["metadata"]["name"] == role]
    [rule] = [r for r in target["rules"] if resource in r["resources"]]
    assert verb in rule["verbs"]
    rule["verbs"].remove(verb)
    return edited


@dataclass
class Granted:
    migrator_namespace: str
    target_namespace: str
    kubeconfig: Path  # acts as the service account

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.migrator_namespace}:{ACCOUNT}"


@pytest.fixture
def admin(kube_rig: KubeRig) -> Iterator[k8s.ApiClient]:
    with kube_rig.api_client() as api:
        yield api


def grant(rig: KubeRig, admin: k8s.ApiClient, edit=lambda documents: documents) -> Granted:
    suffix = uuid.uuid4().hex[:8]
    migrator_namespace, target_namespace = f"migrator-{suffix}", f"kafka-{suffix}"
    core = k8s.CoreV1Api(admin)
    for name in (migrator_namespace, target_namespace):
        core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    for document in edit(rbac_documents(migrator_namespace, target_namespace)):
        k8s_utils.create_from_dict(admin, document)
    kubeconfig = rig.service_account_kubeconfig(migrator_namespace, ACCOUNT)
    return Granted(migrator_namespace, target_namespace, kubeconfig)


def create_strimzi_objects(admin: k8s.ApiClient, namespace: str) -> None:
    """What an admin's Strimzi install and an earlier phase leave: a Kafka CR and the operator Deployment."""
    kafka = {
        "apiVersion": "/".join(STRIMZI),
        "kind": "Kafka",
        "metadata": {"name": "events"},
        "spec": {
            "kafka": {
                "version": "3.9.1",
                "replicas": 3,
                "listeners": [{"name": "plain", "port": 9092, "type": "internal", "tls": False}],
                "storage": {"type": "ephemeral"},
            },
            "zookeeper": {"replicas": 3, "storage": {"type": "ephemeral"}},
        },
    }
    k8s.CustomObjectsApi(admin).create_namespaced_custom_object(*STRIMZI, namespace, "kafkas", kafka)
    for name in (OPERATOR, "billing"):
        labels = {"app": name}
        container = k8s.V1Container(name=name, image="quay.io/strimzi/operator:0.45.2")
        deployment = k8s.V1Deployment(
            metadata=k8s.V1ObjectMeta(name=name),
            spec=k8s.V1DeploymentSpec(
                selector=k8s.V1LabelSelector(match_labels=labels),
                template=k8s.V1PodTemplateSpec(
                    metadata=k8s.V1ObjectMeta(labels=labels), spec=k8s.V1PodSpec(containers=[container])
                ),
            ),
        )
        k8s.AppsV1Api(admin).create_namespaced_deployment(namespace, deployment)


def image_patch(image: str) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": OPERATOR, "image": image}]}}}}


def run_small_phase(store: KubernetesStore) -> None:
    system = FakeSystem()
    phase = Phase("demo", [KeyStep(system, "first", {"a": 1}), KeyStep(system, "second", {"b": 2})])
    ctx, _ = context_with_events()
    record = Machine(store, "rbac", sleep=lambda _: None).run(phase, ctx)
    assert not record.steps_left()


def test_the_account_bound_to_deploy_rbac_does_its_job(kube_rig: KubeRig, admin: k8s.ApiClient) -> None:
    granted = grant(kube_rig, admin)
    create_strimzi_objects(admin, granted.target_namespace)
    with kube_rig.api_client(granted.kubeconfig) as api:
        store = KubernetesStore(api, granted.migrator_namespace, "rbac")
        run_small_phase(store)
        store.request_pause(PauseRequest.now("change freeze"))
        assert store.pause_request().reason == "change freeze"
        store.clear_pause()
        assert [e.to_status for e in store.read_journal()][-1] == "done"

        custom, apps = k8s.CustomObjectsApi(api), k8s.AppsV1Api(api)
        namespace = granted.target_namespace
        kafka = call(custom.get_namespaced_custom_object, *STRIMZI, namespace, "kafkas", "events")
        assert kafka["spec"]["kafka"]["replicas"] == 3
        call(custom.get_namespaced_custom_object_status, *STRIMZI, namespace, "kafkas", "events")
        assert call(custom.list_namespaced_custom_object, *STRIMZI, namespace, "kafkanodepools")["items"] == []
        fork = "registry.example/operator:fork"
        call(apps.patch_namespaced_deployment, OPERATOR, namespace, image_patch(fork))
        switched = call(apps.read_namespaced_deployment, OPERATOR, namespace)
        assert switched.spec.template.spec.containers[0].image == fork

        with pytest.raises(BadInput) as secrets:
            call(k8s.CoreV1Api(api).list_namespaced_secret, namespace)
        assert f"{granted.user} may not list secrets" in str(secrets.value)
        assert "No Role in deploy/rbac grants that" in str(secrets.value)

        with pytest.raises(BadInput) as other:
            call(apps.read_namespaced_deployment, "billing", namespace)
        message = str(other.value)
        assert 'may not get deployments (API group "apps") named "billing"' in message
        assert "grants get on deployments only for strimzi-cluster-operator" in message

        with pytest.raises(BadInput, match="may not patch kafkas/status"):
            call(custom.patch_namespaced_custom_object_status, *STRIMZI, namespace, "kafkas", "events", {"status": {}})


@pytest.mark.parametrize(
    "role, resource, verb, group",
    [
        ("kafka-k8s-migrator-checkpoint", "configmaps", "update", ""),
        ("kafka-k8s-migrator-checkpoint", "leases", "create", "coordination.k8s.io"),
        ("kafka-k8s-migrator-strimzi", "kafkas", "get", "kafka.strimzi.io"),
    ],
)
def test_a_role_missing_one_verb_gives_a_bad_input_naming_it(
    kube_rig: KubeRig, admin: k8s.ApiClient, role: str, resource: str, verb: str, group: str
) -> None:
    granted = grant(kube_rig, admin, edit=lambda documents: without_verb(documents, role, resource, verb))
    create_strimzi_objects(admin, granted.target_namespace)
    with kube_rig.api_client(granted.kubeconfig) as api, pytest.raises(BadInput) as refused:
        if resource == "kafkas":
            custom = k8s.CustomObjectsApi(api)
            call(custom.get_namespaced_custom_object, *STRIMZI, granted.target_namespace, "kafkas", "events")
        else:
            run_small_phase(KubernetesStore(api, granted.migrator_namespace, "rbac"))

    message = str(refused.value)
    namespace = granted.target_namespace if resource == "kafkas" else granted.migrator_namespace
    assert f"{granted.user} may not {verb} {resource} (API group \"{group}\"" in message
    assert f"in namespace {namespace}" in message
    [file] = [p.name for p in RBAC.glob("*.yaml") if f"name: {role}\n" in p.read_text()]
    assert f"The Role {role} in deploy/rbac/{file} grants it" in message
