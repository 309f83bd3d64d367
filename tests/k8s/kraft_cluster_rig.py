"""TEST CODE: the world the operator handback starts from, as the KRaft cutover leaves it.

The cutover (phase kraft-cutover) is not built yet, so this world is set up directly in the state it
would leave: the VM brokers retired, the Strimzi brokers 1000-1002 (the join's node pool) running in
KRaft mode beside a controller pool, the Kafka CR still carrying every mixed-cluster override (the keys
of overrides.yaml in spec.kafka.config, the shared listener as the inter-broker listener, spec.zookeeper),
and the forked operator in charge. Concretely:

- a KRaft sandbox (no ZooKeeper) whose nodes the stand-in operator starts from the CRs;
- fresh namespaces on the rig, Strimzi's operator Deployment installed upstream and then switched to the
  fork exactly as the join does it (StrimziTarget.switch_operator), `DeploymentRollouts` playing the
  Deployment controller;
- the join's own rendered Kafka CR and node pool (StrimziTarget.rendered), turned into KRaft mode the way
  Strimzi's migration ends: `strimzi.io/kraft: enabled` and a KafkaNodePool `controllers` with the
  controller role (IDs from 3000);
- a workload producing and consuming through the brokers' client listener (PLAIN-9092) the whole time.

The former ZooKeeper ensemble is gone; zookeeper.connect in the CR still names it (127.0.0.1:1, where
nothing listens), as it names the retired ensemble in a real cluster after the cutover: KRaft brokers
never read it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from migrator.platforms.target.strimzi_api import StrimziPlatform
from migrator.platforms.target.strimzi import StrimziTarget
from migrator.sandbox import configs, jars
from migrator.sandbox.cluster import SandboxCluster
from migrator.sandbox.kube import KubeRig
from tests.k8s.mixed_cluster_rig import DeploymentRollouts, MixedRig, serving, start_workload
from tests.k8s.strimzi_controller import KRAFT_ANNOTATION, StrimziController
from tests.k8s.strimzi_support import FORKED, UPSTREAM, fresh_namespaces, install_operator, migration_config

BROKER_IDS = [1000, 1001, 1002]
CONTROLLER_POOL = "controllers"
CONTROLLER_IDS = "[3000-3099]"
CLIENT_LISTENER = "PLAIN-9092"
#: The retired ensemble: nothing listens there.
RETIRED_ZOOKEEPER = "127.0.0.1:1/kafka"


def post_cutover(kafka: dict[str, Any], node_pool: dict[str, Any]) -> list[dict[str, Any]]:
    """The join's CRs as a finished ZooKeeper-to-KRaft migration leaves them: the Kafka CR in KRaft mode
    (overrides untouched), a controller pool beside the broker pool."""
    kafka = copy.deepcopy(kafka)
    kafka["metadata"]["annotations"][KRAFT_ANNOTATION] = "enabled"
    controllers = copy.deepcopy(node_pool)
    controllers["metadata"]["name"] = CONTROLLER_POOL
    controllers["metadata"]["annotations"] = {"strimzi.io/next-node-ids": CONTROLLER_IDS}
    controllers["spec"]["replicas"] = 1
    controllers["spec"]["roles"] = ["controller"]
    return [kafka, controllers, node_pool]


@contextmanager
def kraft_cluster_rig(kube: KubeRig, workdir: Path) -> Iterator[MixedRig]:
    """The world of the module docstring, torn down in reverse (the stand-in's nodes with the sandbox)."""
    jars.ensure_jars()
    with ExitStack() as stack:
        sandbox = SandboxCluster(workdir / "sandbox", [], metadata="kraft")
        sandbox.broker_defaults = configs.broker_defaults(len(BROKER_IDS))
        stack.callback(sandbox.down)
        sandbox.up()
        api = stack.enter_context(kube.api_client())
        namespace, operator_namespace = fresh_namespaces(api)
        install_operator(api, operator_namespace, UPSTREAM)
        rollouts = stack.enter_context(DeploymentRollouts(api, operator_namespace))
        cluster = {"zookeeper_connect": RETIRED_ZOOKEEPER, "bootstrap_servers": "127.0.0.1:1", "cluster_id": sandbox.cluster_id}
        settings = {"replicas": len(BROKER_IDS), "rack_topology_key": "topology.kubernetes.io/zone"}
        config = migration_config(sandbox, namespace, operator_namespace, cluster=cluster, **settings)
        controller = StrimziController(api, namespace, sandbox, forked_image=FORKED, operator_namespace=operator_namespace)
        stack.callback(controller.stop)
        controller.start()
        assert config.target is not None
        target = StrimziTarget(config, StrimziPlatform(api, config.target, poll_interval=0.5), api)
        target.switch_operator(FORKED, "forked")
        for obj in post_cutover(target.rendered.kafka, target.rendered.node_pool):
            target.platform.apply(obj)
        target.platform.wait_ready(timeout=300)
        bootstrap = controller.bootstrap(CLIENT_LISTENER)
        config = migration_config(
            sandbox, namespace, operator_namespace, cluster={**cluster, "bootstrap_servers": bootstrap}, **settings
        )
        workload = start_workload(stack, bootstrap, "kraft-cluster-load")
        rig = MixedRig(sandbox, api, kube, namespace, operator_namespace, config, controller, workload, workdir)
        with serving(rig, rollouts) as ready:
            yield ready
