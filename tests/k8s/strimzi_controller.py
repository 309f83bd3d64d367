"""TEST CODE: a stand-in for the Strimzi 0.45 cluster operator, for tests on the Kubernetes rig.

Strimzi cannot run here (no container runtime, no kubelet), so this thread plays its part on the real
API server and starts REAL Kafka brokers as sandbox processes, joined to the EXISTING sandbox (the VM
side). The orchestrator never imports this: it sees only what Strimzi would show through the API
(KafkaNodePool status.nodeIds, Kafka status conditions / observedGeneration / clusterId, broker Pods)
and the brokers themselves (ZooKeeper registrations, Admin API).

    controller = StrimziController(api, "kafka", sandbox, forked_image=FORKED, operator_namespace="strimzi")
    with controller:                     # a thread reconciling every `interval` seconds
        ...                              # apply CRs through StrimziPlatform, wait on their status
    controller.reconcile()               # or one pass at a time, without the thread
    controller.brokers                   # node ID -> RunningBroker (kafka, pool, config, pod uid)
    controller.restarts                  # node ID -> how often a running broker was rolled
    controller.errors                    # exceptions of the thread's passes (a test asserts it is empty)

What it models, per pass (list + poll; Strimzi reacts to watches, the effect is the same):
- The operator runs only while its Deployment exists in the operator namespace, and it is the fork
  when that Deployment's container image is `forked_image`, upstream otherwise (read every pass, so
  the overlay's image switch takes effect on the next pass, as a new operator pod would).
- Node pools: a Kafka CR needs `strimzi.io/node-pools: enabled` and at least one KafkaNodePool
  labelled `strimzi.io/cluster: <name>`; roles must be [broker] in ZooKeeper mode, and with
  `strimzi.io/kraft: enabled` (KRaft mode) some pool must have the controller role and some the broker
  role. Node IDs follow
  Strimzi's NodeIdAssignor (strimzi_node_ids.py): the `strimzi.io/next-node-ids` range, and when it is
  malformed or exhausted the lowest free IDs from 0 - Strimzi knows only its own pools' IDs, not the
  VM brokers'. IDs stay once in status.nodeIds. Pool statuses are written before any broker starts,
  as Strimzi's KafkaReconciler does (updateNodePoolStatuses precedes podSet).
- Brokers: one sandbox broker per node ID with the config strimzi_broker_config.py derives from the
  CR and the operator build, and a Pod object `<cluster>-<pool>-<id>` (plus the `<cluster>-kafka`
  service account, as Strimzi creates them). Starting the broker stands for the pod running. In KRaft
  mode each node is a KRaft process of its pool's roles, controllers started first, the quorum being
  every controller's CONTROLPLANE-9090 (static voters, as Strimzi 0.45 writes them); the sandbox must
  then be a KRaft sandbox (`SandboxCluster(metadata="kraft")`), whose cluster id formats their disks.
- Restarts: a running broker whose derived config changes is rolled (stop, new config, start; a new
  Pod uid, `restarts` counted), one at a time. Unchanged config: left alone, Pod and process untouched.
- Scale-down, or a deleted pool while the cluster keeps another: the broker is stopped (controlled
  shutdown) and its Pod deleted, but like Strimzi's scale-down check it refuses while the broker still
  holds partition replicas (NotReady, the pool keeps its node IDs). With no pool left the
  reconciliation fails early (InvalidResourceException) and, as in Strimzi, scales nothing down.
  A deleted Kafka CR stops all its brokers (Kubernetes garbage collection of the pods).
- Status: Kafka gets `Ready: True` or Strimzi's failure shape `NotReady: True` with reason and
  message, observedGeneration, kafkaNodePools, kafkaVersion, kafkaMetadataState (ZooKeeper or KRaft)
  and, once brokers run, clusterId (read from the ZooKeeper chroot the brokers joined; in KRaft mode
  the one their disks were formatted with). Written only when it changes, conditional on the
  resourceVersion read.

What it refuses to fake (each becomes NotReady with the reason named, and no broker is started,
stopped or rolled for it):
- NodeExistsException: a node ID that a broker this controller did not start holds in ZooKeeper. A
  real broker would start, fail to register (/brokers/ids/<id> exists) and crash-loop.
- StandInRefused: a broker whose zookeeper.connect is not the sandbox's ensemble and chroot. That is
  every broker under the upstream build (it points at `<cluster>-zookeeper-client:2181`, an ensemble
  Strimzi would deploy itself from spec.zookeeper: a NEW, empty Kafka cluster), and under the fork
  when spec.kafka.config has no zookeeper.connect. For a broker already running this means: upstream
  Strimzi would ROLL it onto that other ensemble; the stand-in does not, and says which keys differ.
  Also: an ID that belongs to a stopped sandbox broker of the VM side, and TLS listeners.
- StandInUnsupported: the steps of a ZooKeeper-to-KRaft migration (`strimzi.io/kraft` migration or
  rollback), and removing KRaft nodes.

Consequence for handback (operator-handback phase): switching fork -> upstream reconciles to Ready
WITHOUT restarting any broker exactly when each broker's derived config is the same under both builds.
In ZooKeeper mode it never is - upstream always writes its own zookeeper.connect - so on this stand-in
the switch shows NotReady (StandInRefused, listing zookeeper.connect and the other keys that would
change) and no broker restarts; which is also what would make the real upstream operator roll every
broker onto an empty ensemble. In KRaft mode it is, once the overrides are gone from the CR.

A controller restarted against the same sandbox does not know the brokers its predecessor started;
use one controller per sandbox for a test. The brokers it starts are left to the sandbox's teardown.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from kazoo.client import KazooClient
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from migrator.sandbox.cluster import BrokerSpec, SandboxCluster, SandboxError
from migrator.sandbox.ports import broker_host, free_port
from tests.k8s.strimzi_broker_config import (
    CONTROLPLANE,
    SHARED_PORT,
    Mode,
    broker_config,
    kraft_node_config,
    tls_listeners,
    uses_external_zookeeper,
)
from tests.k8s.strimzi_node_ids import PoolAssignment, assign_node_ids

log = logging.getLogger(__name__)

GROUP, VERSION = "kafka.strimzi.io", "v1beta2"
NODE_POOLS_ANNOTATION = "strimzi.io/node-pools"
KRAFT_ANNOTATION = "strimzi.io/kraft"
STRIMZI_VERSION = "0.45.2"
KAFKA_IMAGE = "quay.io/strimzi/kafka:0.45.2-kafka-{version}"
STAND_IN_ANNOTATION = "kafka-k8s-migrator.test/stand-in"
Json = dict[str, Any]


@dataclass
class RunningBroker:
    node_id: int
    kafka: str
    pool: str
    config: dict[str, str]
    pod_uid: str | None = None


@dataclass
class _Outcome:
    """What one Kafka CR's pass found wrong, as Strimzi's NotReady condition."""

    problems: list[tuple[str, str]] = field(default_factory=list)  # (reason, message)

    def add(self, reason: str, message: str) -> None:
        self.problems.append((reason, message))


class StrimziController:
    def __init__(
        self,
        api: k8s.ApiClient,
        namespace: str,
        sandbox: SandboxCluster,
        *,
        forked_image: str,
        operator_namespace: str,
        operator_deployment: str = "strimzi-cluster-operator",
        operator_container: str = "strimzi-cluster-operator",
        zones: tuple[str, ...] = ("a", "b", "c"),
        interval: float = 0.5,
    ) -> None:
        self.namespace = namespace
        self.sandbox = sandbox
        self.forked_image = forked_image
        self.operator_namespace = operator_namespace
        self.operator_deployment = operator_deployment
        self.operator_container = operator_container
        self.zones = zones
        self.interval = interval
        self._custom = k8s.CustomObjectsApi(api)
        self._apps = k8s.AppsV1Api(api)
        self._core = k8s.CoreV1Api(api)
        self.brokers: dict[int, RunningBroker] = {}
        self.restarts: dict[int, int] = {}
        self.errors: list[str] = []
        self.passes = 0
        self.mode: Mode | None = None
        self._started_ever: set[int] = set()
        # node ID -> (config, message) of a start that failed: not retried until the config changes.
        # Strimzi's pod would crash-loop instead; here each retry would cost a broker start-up timeout.
        self._failed: dict[int, tuple[dict[str, str], str]] = {}
        self._ports: dict[tuple[int, str], int | str] = {}
        self._zk: KazooClient | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass_done = threading.Condition()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> StrimziController:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="strimzi-stand-in", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 300.0) -> None:
        """Stop the thread after its current pass (a broker start in progress finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"the Strimzi stand-in did not stop within {timeout:.0f} s")
            self._thread = None
        if self._zk is not None:
            self._zk.stop()
            self._zk.close()
            self._zk = None

    def __enter__(self) -> StrimziController:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_passes(self, count: int = 2, timeout: float = 300.0) -> None:
        """Until the thread has completed `count` more passes: then it has seen every change made
        before this call (a pass that was already running may have missed it, the next one has not)."""
        with self._pass_done:
            target = self.passes + count
            if not self._pass_done.wait_for(lambda: self.passes >= target or self._stop.is_set(), timeout):
                raise TimeoutError(f"the Strimzi stand-in did not complete {count} passes within {timeout:.0f} s")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except Exception:  # keep reconciling, as an operator does; the test reads `errors`
                self.errors.append(traceback.format_exc())
                log.exception("Strimzi stand-in pass failed")
            with self._pass_done:
                self.passes += 1
                self._pass_done.notify_all()
            self._stop.wait(self.interval)

    # -- one pass -------------------------------------------------------------------------------

    def reconcile(self) -> None:
        """One reconciliation of every Kafka CR in the namespace (nothing while no operator runs)."""
        image = self._operator_image()
        if image is None:
            self.mode = None
            return
        self.mode = "fork" if image == self.forked_image else "upstream"
        kafkas = self._list("kafkas")
        pools = self._list("kafkanodepools")
        for kafka in kafkas:
            name = kafka["metadata"]["name"]
            mine = [p for p in pools if (p["metadata"].get("labels") or {}).get("strimzi.io/cluster") == name]
            self._reconcile_kafka(kafka, mine, self.mode)
        names = {k["metadata"]["name"] for k in kafkas}
        for node_id in [i for i, b in self.brokers.items() if b.kafka not in names]:
            self._stop_broker(node_id)

    def _reconcile_kafka(self, kafka: Json, pools: list[Json], mode: Mode) -> None:
        name = kafka["metadata"]["name"]
        outcome = _Outcome()
        annotations = kafka["metadata"].get("annotations") or {}
        if annotations.get(NODE_POOLS_ANNOTATION) != "enabled":
            outcome.add(
                "StandInUnsupported",
                f"Kafka {name} lacks the annotation {NODE_POOLS_ANNOTATION}: enabled; this stand-in runs node pools "
                "only.",
            )
        elif annotations.get(KRAFT_ANNOTATION, "disabled") not in ("disabled", "enabled"):
            outcome.add(
                "StandInUnsupported",
                f"{KRAFT_ANNOTATION}: {annotations[KRAFT_ANNOTATION]} asks for a ZooKeeper-to-KRaft migration step; "
                "this stand-in models ZooKeeper mode and KRaft mode, not the migration between them.",
            )
        elif not pools:
            outcome.add("InvalidResourceException", f"No KafkaNodePools found for Kafka cluster {name}")
        elif not _kraft(kafka) and any(_roles(p) != ["broker"] for p in pools):
            outcome.add(
                "InvalidResourceException",
                "The Kafka cluster is in ZooKeeper mode: its KafkaNodePools can only have the broker role.",
            )
        elif _kraft(kafka) and not all(any(role in _roles(p) for p in pools) for role in ("broker", "controller")):
            outcome.add(
                "InvalidResourceException",
                "The Kafka cluster in KRaft mode needs at least one KafkaNodePool with the controller role and at "
                "least one with the broker role.",
            )
        else:
            self._reconcile_brokers(kafka, pools, mode, outcome)
        self._write_kafka_status(kafka, pools, outcome)

    def _reconcile_brokers(self, kafka: Json, pools: list[Json], mode: Mode, outcome: _Outcome) -> None:
        name = kafka["metadata"]["name"]
        try:
            assignments = assign_node_ids(pools)
        except ValueError as error:
            outcome.add("InvalidConfigurationException", str(error))
            return
        for warning in (w for a in assignments.values() for w in a.warnings):
            log.warning("Kafka %s: %s", name, warning)
        pool_names = {p["metadata"]["name"] for p in pools}
        gone = [i for i, b in self.brokers.items() if b.kafka == name and b.pool not in pool_names]
        removed = sorted({*gone, *(i for a in assignments.values() for i in a.removed if i in self.brokers)})
        if removed and _kraft(kafka):
            outcome.add("StandInUnsupported", f"Removing KRaft nodes {removed}: this stand-in does not scale KRaft down.")
            return
        blocked = self._replicas_on(removed)
        if blocked:
            outcome.add(
                "InvalidResourceException",
                f"Cannot scale-down Kafka brokers {sorted(blocked)} because they have assigned partition-replicas.",
            )
        for node_id in removed:
            if node_id not in blocked:
                self._stop_broker(node_id)
        controllers = [i for p in pools if "controller" in _roles(p) for i in assignments[p["metadata"]["name"]].desired]
        voters = ",".join(f"{i}@{broker_host(i)}:{self._port(i, CONTROLPLANE, False)}" for i in controllers)
        # Controllers first: a KRaft broker starts only once it reaches a quorum.
        for pool in sorted(pools, key=lambda p: "controller" not in _roles(p)):
            assignment = assignments[pool["metadata"]["name"]]
            if set(assignment.removed) & blocked:  # Strimzi reverts the scale-down: the pool keeps its nodes
                assignment = PoolAssignment(assignment.pool, assignment.current, assignment.current, (), ())
            self._write_pool_status(kafka, pool, assignment)
            for index, node_id in enumerate(assignment.desired):
                self._reconcile_broker(kafka, pool, node_id, self.zones[index % len(self.zones)], mode, outcome, voters)

    def _port(self, node_id: int, listener: str, inter_broker: bool) -> int | str:
        """Placed once per node and listener and kept, as a pod keeps its ports: the node's first
        inter-broker listener takes the sandbox's shared port, every other listener a free port of its own."""
        key = (node_id, listener)
        if key not in self._ports:
            shared_taken = SHARED_PORT in (port for (i, _), port in self._ports.items() if i == node_id)
            if inter_broker and not shared_taken:
                self._ports[key] = SHARED_PORT
            else:
                taken = {port for port in self._ports.values() if isinstance(port, int)}
                self._ports[key] = free_port(exclude=taken, host=broker_host(node_id))
        return self._ports[key]

    def bootstrap(self, listener: str) -> str:
        """host:port of `listener` on every running broker (how a test's clients reach the cluster)."""
        ports = [(i, self._ports.get((i, listener))) for i in sorted(self.brokers)]
        return ",".join(
            f"{broker_host(i)}:{self.sandbox.broker_port if port == SHARED_PORT else port}" for i, port in ports if port
        )

    def _reconcile_broker(
        self, kafka: Json, pool: Json, node_id: int, zone: str, mode: Mode, outcome: _Outcome, voters: str
    ) -> None:
        name, pool_name = kafka["metadata"]["name"], pool["metadata"]["name"]

        def port_of(listener: str, inter_broker: bool) -> int | str:
            return self._port(node_id, listener, inter_broker)

        if _kraft(kafka):
            config = kraft_node_config(kafka, node_id, _roles(pool), mode, zone, port_of, voters)
        else:
            config = broker_config(kafka, node_id, mode, zone, port_of)
        running = self.brokers.get(node_id)
        if running is not None and running.config == config:
            return
        refusal = self._refusal(kafka, node_id, config, mode, running)
        if refusal is not None:
            outcome.add(*refusal)
            return
        failed = self._failed.get(node_id)
        if failed is not None and failed[0] == config:
            outcome.add("StandInBrokerFailed", failed[1])
            return
        try:
            if running is not None:
                self._stop_broker(node_id)
                self.restarts[node_id] = self.restarts.get(node_id, 0) + 1
            self._start_broker(node_id, BrokerSpec(node_id, config.get("broker.rack"), config))
        except SandboxError as error:
            message = f"Broker {node_id} (pod {_pod_name(name, pool_name, node_id)}) did not start: {error}"
            self._failed[node_id] = (config, message)
            outcome.add("StandInBrokerFailed", message)
            return
        self._failed.pop(node_id, None)
        pod_uid = self._create_pod(kafka, pool, node_id)
        self.brokers[node_id] = RunningBroker(node_id, name, pool_name, config, pod_uid)

    def _refusal(
        self, kafka: Json, node_id: int, config: Mapping[str, str], mode: Mode, running: RunningBroker | None
    ) -> tuple[str, str] | None:
        name = kafka["metadata"]["name"]
        connect = config.get("zookeeper.connect")
        if not _kraft(kafka) and connect != self.sandbox.zookeeper_connect:
            if not uses_external_zookeeper(kafka, mode):
                where = (
                    f"{connect}, the ensemble Strimzi deploys itself from spec.zookeeper (a NEW, empty Kafka cluster)"
                )
            else:
                where = f"{connect}, not the sandbox's ensemble {self.sandbox.zookeeper_connect}"
            if running is None:
                message = f"The {mode} operator would start broker {node_id} against {where}; not started."
                return "StandInRefused", message
            changed = sorted(k for k in set(running.config) | set(config) if running.config.get(k) != config.get(k))
            return (
                "StandInRefused",
                f"The {mode} operator would roll broker {node_id} onto {where}, changing {', '.join(changed)}; "
                "not rolled.",
            )
        tls = tls_listeners(kafka)
        if tls:
            return "StandInRefused", f"TLS listeners {tls} need the cluster CA, which this stand-in does not have."
        if running is None and not _kraft(kafka):
            registered = self._zk_client().exists(f"{self.sandbox.chroot}/brokers/ids/{node_id}") is not None
            if registered:
                return (
                    "NodeExistsException",
                    f"Broker {node_id} of Kafka {name} cannot register: /brokers/ids/{node_id} is held by another "
                    f"broker (KeeperErrorCode = NodeExists); its pod would crash-loop.",
                )
            if node_id in self.sandbox.brokers and node_id not in self._started_ever:
                return (
                    "StandInRefused",
                    f"Node ID {node_id} belongs to a stopped broker of the sandbox (the VM side); the stand-in cannot "
                    "start a second broker with its ID and an empty disk.",
                )
        return None

    # -- brokers --------------------------------------------------------------------------------

    def _start_broker(self, node_id: int, spec: BrokerSpec) -> None:
        if node_id in self.sandbox.brokers:  # ours before (a restart, or a node ID given back): same disk
            self.sandbox.brokers[node_id].spec = spec
            self.sandbox.start_broker(node_id)
        else:
            self.sandbox.add_broker(spec)
        self._started_ever.add(node_id)

    def _stop_broker(self, node_id: int) -> None:
        broker = self.brokers.pop(node_id)
        self.sandbox.stop_broker(node_id)
        self._delete_pod(broker)

    def _replicas_on(self, node_ids: list[int]) -> set[int]:
        """Which of `node_ids` hold a partition replica (the assignment in ZooKeeper)."""
        if not node_ids:
            return set()
        zk, root = self._zk_client(), f"{self.sandbox.chroot}/brokers/topics"
        held: set[int] = set()
        for topic in zk.get_children(root):
            data, _ = zk.get(f"{root}/{topic}")
            for replicas in json.loads(data).get("partitions", {}).values():
                held.update(r for r in replicas if r in node_ids)
        return held

    def _zk_client(self) -> KazooClient:
        if self._zk is None:
            client = KazooClient(hosts=self.sandbox.zookeeper_hosts, timeout=10.0)
            client.start(timeout=15)
            self._zk = client
        return self._zk

    def _cluster_id(self) -> str | None:
        data, _ = self._zk_client().get(f"{self.sandbox.chroot}/cluster/id")
        return json.loads(data).get("id")

    # -- Kubernetes objects ---------------------------------------------------------------------

    def _operator_image(self) -> str | None:
        try:
            deployment = self._apps.read_namespaced_deployment(self.operator_deployment, self.operator_namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        containers = deployment.spec.template.spec.containers
        return next((c.image for c in containers if c.name == self.operator_container), None)

    def _list(self, plural: str) -> list[Json]:
        return self._custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural)["items"]

    def _create_pod(self, kafka: Json, pool_object: Json, node_id: int) -> str:
        name, pool, roles = kafka["metadata"]["name"], pool_object["metadata"]["name"], _roles(pool_object)
        account = f"{name}-kafka"
        try:
            self._core.create_namespaced_service_account(
                self.namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name=account))
            )
        except ApiException as error:
            if error.status != 409:
                raise
        version = kafka["spec"]["kafka"].get("version", "3.9.1")
        pod = k8s.V1Pod(
            metadata=k8s.V1ObjectMeta(
                name=_pod_name(name, pool, node_id),
                labels={
                    "strimzi.io/cluster": name,
                    "strimzi.io/kind": "Kafka",
                    "strimzi.io/name": f"{name}-kafka",
                    "strimzi.io/pool-name": pool,
                    "strimzi.io/broker-role": str("broker" in roles).lower(),
                    "strimzi.io/controller-role": str("controller" in roles).lower(),
                },
                annotations={STAND_IN_ANNOTATION: f"sandbox broker {node_id} (tests/k8s/strimzi_controller.py)"},
            ),
            spec=k8s.V1PodSpec(
                service_account_name=account,
                automount_service_account_token=False,
                containers=[k8s.V1Container(name="kafka", image=KAFKA_IMAGE.format(version=version))],
            ),
        )
        try:
            return self._core.create_namespaced_pod(self.namespace, pod).metadata.uid
        except ApiException as error:
            if error.status != 409:
                raise
        # A pod of that name outlived its broker (its deletion failed): replace it, as a restart would.
        self._core.delete_namespaced_pod(pod.metadata.name, self.namespace, grace_period_seconds=0)
        return self._core.create_namespaced_pod(self.namespace, pod).metadata.uid

    def _delete_pod(self, broker: RunningBroker) -> None:
        if broker.pod_uid is None:
            return
        try:
            self._core.delete_namespaced_pod(
                _pod_name(broker.kafka, broker.pool, broker.node_id),
                self.namespace,
                body=k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(uid=broker.pod_uid), grace_period_seconds=0),
            )
        except ApiException as error:
            if error.status not in (404, 409):  # gone, or already replaced by someone else
                raise

    def _write_pool_status(self, kafka: Json, pool: Json, assignment: PoolAssignment) -> None:
        name, cluster = pool["metadata"]["name"], kafka["metadata"]["name"]
        status = {
            **(pool.get("status") or {}),
            "observedGeneration": pool["metadata"]["generation"],
            "nodeIds": list(assignment.desired),
            "replicas": len(assignment.desired),
            "roles": _roles(pool),
            "labelSelector": (
                f"strimzi.io/cluster={cluster},strimzi.io/name={cluster}-kafka,strimzi.io/kind=Kafka,"
                f"strimzi.io/pool-name={name}"
            ),
        }
        self._write_status("kafkanodepools", pool, status)

    def _write_kafka_status(self, kafka: Json, pools: list[Json], outcome: _Outcome) -> None:
        previous = kafka.get("status") or {}
        status: Json = {
            "observedGeneration": kafka["metadata"]["generation"],
            "kafkaNodePools": [{"name": name} for name in sorted(p["metadata"]["name"] for p in pools)],
            "kafkaVersion": kafka["spec"]["kafka"].get("version"),
            "kafkaMetadataState": "KRaft" if _kraft(kafka) else "ZooKeeper",
        }
        if outcome.problems:
            reason = outcome.problems[0][0]
            message = " ".join(message for _, message in outcome.problems)
            condition = {"type": "NotReady", "status": "True", "reason": reason, "message": message}
            for key in ("clusterId", "operatorLastSuccessfulVersion"):
                if key in previous:
                    status[key] = previous[key]
        else:
            condition = {"type": "Ready", "status": "True"}
            status["operatorLastSuccessfulVersion"] = STRIMZI_VERSION
            name = kafka["metadata"]["name"]
            if any(b.kafka == name for b in self.brokers.values()):
                status["clusterId"] = self.sandbox.cluster_id if _kraft(kafka) else self._cluster_id()
        old = next((c for c in previous.get("conditions") or () if _same_condition(c, condition)), None)
        condition["lastTransitionTime"] = old["lastTransitionTime"] if old and "lastTransitionTime" in old else _now()
        status["conditions"] = [condition]
        self._write_status("kafkas", kafka, status)

    def _write_status(self, plural: str, obj: Json, status: Json) -> None:
        """Replace the status subresource if it changed, conditional on the resourceVersion read (a
        conflict means the object changed meanwhile: the next pass reconciles it again)."""
        if obj.get("status") == status:
            return
        body = copy.deepcopy(obj)
        body["status"] = status
        try:
            self._custom.replace_namespaced_custom_object_status(
                GROUP, VERSION, self.namespace, plural, obj["metadata"]["name"], body
            )
        except ApiException as error:
            if error.status not in (404, 409):
                raise


def _kraft(kafka: Mapping[str, Any]) -> bool:
    return (kafka["metadata"].get("annotations") or {}).get(KRAFT_ANNOTATION) == "enabled"


def _roles(pool: Mapping[str, Any]) -> list[str]:
    return sorted(pool["spec"].get("roles") or [])


def _pod_name(cluster: str, pool: str, node_id: int) -> str:
    return f"{cluster}-{pool}-{node_id}"


def _same_condition(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return all(old.get(key) == new.get(key) for key in ("type", "status", "reason"))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
