"""TEST CODE: the world the mixed-cluster join and the operator handback run in on the Kubernetes rig.

- a VM sandbox: brokers 0, 1, 2 (racks a, b, c) prepared with the shared listener SHARED-9094;
- fresh namespaces on the rig, Strimzi's operator Deployment installed from its own install file with
  the upstream image (as the cluster admin installs it), the stand-in Strimzi operator
  (strimzi_controller.py) reconciling the namespace;
- `DeploymentRollouts`, which plays the one part of kube-controller-manager the phases look at: the rig
  runs no controller-manager, so nothing would ever report a Deployment's new image as rolled out. It
  writes what the Deployment controller writes once the new pods are available (observedGeneration,
  replicas, updatedReplicas, availableReplicas);
- a workload producing and consuming on the VM brokers the whole time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from migrator.config import MigrationConfig
from migrator.engine.checkpoint import LocalFileStore
from migrator.engine.events import EventBus
from migrator.engine.machine import Machine
from migrator.engine.step import StepContext
from migrator.platforms.target.strimzi_api import StrimziPlatform
from migrator.platforms.target.strimzi_manifests import RenderedManifests
from migrator.platforms.target.strimzi import StrimziTarget
from migrator.sandbox import jars
from migrator.sandbox.cluster import SandboxCluster
from migrator.sandbox.kube import KubeRig
from migrator.sandbox.workload import Workload
from phases.mixed_cluster_join import JoinResources
from tests.k8s.strimzi_controller import StrimziController
from tests.k8s.strimzi_support import (
    FORKED,
    UPSTREAM,
    fresh_namespaces,
    install_operator,
    migration_config,
    prepared_vm_brokers,
)

__all__ = ["FORKED", "NEW_IDS", "UPSTREAM", "MixedRig", "mixed_cluster_rig", "serving", "start_workload"]

NEW_IDS = [1000, 1001]


class DeploymentRollouts:
    """Marks every Deployment of a namespace rolled out once its spec changed (see the module docstring)."""

    def __init__(self, api: k8s.ApiClient, namespace: str, interval: float = 0.3) -> None:
        self._apps = k8s.AppsV1Api(api)
        self.namespace = namespace
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deployment-rollouts", daemon=True)
        self.errors: list[str] = []

    def __enter__(self) -> DeploymentRollouts:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for deployment in self._apps.list_namespaced_deployment(self.namespace).items:
                    self._roll_out(deployment)
            except ApiException as error:
                if error.status != 409:  # a conflict: the next pass sees the newer object
                    self.errors.append(str(error))
            self._stop.wait(self.interval)

    def _roll_out(self, deployment: k8s.V1Deployment) -> None:
        generation = deployment.metadata.generation
        if deployment.status and deployment.status.observed_generation == generation:
            return
        replicas = deployment.spec.replicas or 1
        deployment.status = k8s.V1DeploymentStatus(
            observed_generation=generation,
            replicas=replicas,
            updated_replicas=replicas,
            ready_replicas=replicas,
            available_replicas=replicas,
        )
        self._apps.replace_namespaced_deployment_status(deployment.metadata.name, self.namespace, deployment)


@dataclass
class MixedRig:
    sandbox: SandboxCluster
    api: k8s.ApiClient
    kube: KubeRig
    namespace: str
    operator_namespace: str
    config: MigrationConfig
    controller: StrimziController
    workload: Workload
    workdir: Path

    def target(self, rendered: RenderedManifests | None = None) -> StrimziTarget:
        assert self.config.target is not None
        platform = StrimziPlatform(self.api, self.config.target, poll_interval=0.5)
        return StrimziTarget(self.config, platform, self.api, rendered)

    def join_resources(self, rendered: RenderedManifests | None = None) -> JoinResources:
        return JoinResources(self.config, platform=self.target(rendered), remove_timeout=180.0)

    def machine(self, name: str) -> Machine:
        return Machine(LocalFileStore(self.workdir / name), self.config.migration_id)

    def context(self) -> StepContext:
        return StepContext(config=self.config, state={}, events=EventBus())

    def operator_image(self) -> tuple[str, str | None]:
        operator = self.target().platform.operator()
        assert operator is not None
        return operator.image, operator.build

    def wait(self, condition: Any, what: str, timeout: float = 120.0) -> Any:
        deadline = time.monotonic() + timeout
        while not (result := condition()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.3)
        return result


@contextmanager
def mixed_cluster_rig(kube: KubeRig, workdir: Path, **target: Any) -> Iterator[MixedRig]:
    """The world of the module docstring, torn down in reverse (the stand-in's brokers with the sandbox)."""
    jars.ensure_jars()
    with ExitStack() as stack:
        sandbox = SandboxCluster(workdir / "sandbox", prepared_vm_brokers(0, 1, 2))
        stack.callback(sandbox.down)
        sandbox.up()
        api = stack.enter_context(kube.api_client())
        namespace, operator_namespace = fresh_namespaces(api)
        install_operator(api, operator_namespace, UPSTREAM)
        rollouts = stack.enter_context(DeploymentRollouts(api, operator_namespace))
        settings = {"replicas": len(NEW_IDS), "rack_topology_key": "topology.kubernetes.io/zone", **target}
        config = migration_config(sandbox, namespace, operator_namespace, **settings)
        controller = StrimziController(api, namespace, sandbox, forked_image=FORKED, operator_namespace=operator_namespace)
        stack.callback(controller.stop)
        controller.start()
        workload = start_workload(stack, sandbox.bootstrap_servers, "mixed-cluster-load")
        rig = MixedRig(sandbox, api, kube, namespace, operator_namespace, config, controller, workload, workdir)
        with serving(rig, rollouts) as ready:
            yield ready


def start_workload(stack: ExitStack, bootstrap: str, topic: str) -> Workload:
    """Produce/consume load for as long as `stack` lives (unless a test stops it first to read its report)."""
    workload = Workload(bootstrap, topic=topic, rate_per_s=100, keys=8)
    workload.start()
    stack.callback(lambda: workload.report or workload.stop())
    return workload


@contextmanager
def serving(rig: MixedRig, rollouts: DeploymentRollouts) -> Iterator[MixedRig]:
    """The rig once its workload reads; afterwards, neither the stand-in nor the rollouts may have failed."""
    # Once the consumer reads, its group's offsets topic has leaders: the safety checks hold.
    rig.wait(lambda: rig.workload.snapshot().consumed > 0, "the workload's consumer to read")
    yield rig
    assert rig.controller.errors == [], rig.controller.errors
    assert rollouts.errors == [], rollouts.errors
