"""Shared set-up for tests of the Strimzi platform and its stand-in operator on the Kubernetes rig:
fresh namespaces, Strimzi's operator Deployment as an admin installs it, a migration.yaml `target:`
for a sandbox, and VM brokers prepared with the shared inter-broker listener."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from kubernetes import client as k8s
from kubernetes import utils as k8s_utils

from migrator.config import MigrationConfig
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster
from tests.unit.strimzi_crds import load_install_file

FORKED = "registry.example.com/strimzi/operator:0.45.2-mixed-zk"
UPSTREAM = "quay.io/strimzi/operator:0.45.2"
SHARED = "SHARED-9094"
#: A VM broker after the two rolling restarts of strimzi-overrides/README.md ("Preparing the VM
#: brokers"): its one listener renamed to the shared name, and used as the inter-broker listener.
PREPARED_VM_BROKER = {
    "listeners": f"{SHARED}://{{host}}:{{port}}",
    "listener.security.protocol.map": f"{SHARED}:PLAINTEXT",
    "inter.broker.listener.name": SHARED,
}


def prepared_vm_brokers(*ids: int) -> list[BrokerSpec]:
    racks = "abc"
    return [BrokerSpec(i, racks[i % 3], PREPARED_VM_BROKER) for i in ids]


def fresh_namespaces(api: k8s.ApiClient) -> tuple[str, str]:
    """A target namespace and an operator namespace of this test's own (the rig is shared)."""
    suffix = uuid.uuid4().hex[:8]
    names = (f"kafka-{suffix}", f"strimzi-{suffix}")
    core = k8s.CoreV1Api(api)
    for name in names:
        core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return names


def install_operator(api: k8s.ApiClient, namespace: str, image: str = UPSTREAM) -> None:
    """Strimzi 0.45.2's own operator Deployment (its install file), as a cluster admin creates it."""
    deployment = copy.deepcopy(load_install_file("060-Deployment-strimzi-cluster-operator.yaml"))
    deployment["metadata"]["namespace"] = namespace
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    container["image"] = image
    k8s_utils.create_from_dict(api, deployment, namespace=namespace)


def migration_config(
    sandbox: SandboxCluster,
    namespace: str,
    operator_namespace: str,
    *,
    cluster: dict[str, Any] | None = None,
    **target: Any,
) -> MigrationConfig:
    """`target:` for the sandbox, the `cluster:` section read from it unless given."""
    section: dict[str, Any] = {
        "namespace": namespace,
        "cluster_name": "events",
        "replicas": 3,
        "node_ids": "[1000-1999]",
        "shared_listener": {"name": "shared", "port": 9094},
        "operator": {"forked_image": FORKED, "namespace": operator_namespace},
    }
    section.update(target)
    return MigrationConfig.model_validate(
        {
            "migration_id": "stand-in",
            "cluster": cluster
            or {
                "zookeeper_connect": sandbox.zookeeper_connect,
                "bootstrap_servers": sandbox.bootstrap_servers,
                "cluster_id": sandbox.cluster_id,
            },
            "target": section,
        }
    )

