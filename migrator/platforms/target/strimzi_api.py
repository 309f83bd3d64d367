"""The Strimzi target platform: the Kafka CR, its KafkaNodePool and the cluster operator's Deployment,
read and changed through the real Kubernetes API, nothing else (no kubectl, no operator internals).

    platform = StrimziPlatform(api_client(kubeconfig, context), config.target)
    rendered = render_manifests(config)                 # migrator/platforms/target/strimzi_manifests.py

    platform.live_objects(rendered)       # the live object for each of rendered.objects (None: absent),
                                          # ready for rendered.diff_against(...)
    platform.apply(obj)                   # one rendered object (Kafka, KafkaNodePool or the operator
                                          # overlay) -> the live object after the write
    platform.kafka() / .node_pool()       # the live object as a dict, or None (names default to target's)
    platform.kafka_status()               # -> KafkaStatus | None: ready, not_ready, conditions,
                                          #    generation / observed_generation, cluster_id,
                                          #    kafka_metadata_state, node_pools
    platform.node_pool_status()           # -> NodePoolStatus | None: node_ids, replicas, generations
    platform.wait_node_ids(count=None)    # -> tuple of the pool's status.nodeIds once it holds `count`
                                          #    (default target.replicas) and caught up with its generation
    platform.wait_ready()                 # -> KafkaStatus once Ready and observedGeneration caught up
    platform.wait_reconciled()            # -> KafkaStatus once observedGeneration caught up, Ready or not
    platform.annotate(kind, name, {k: v}) # e.g. {"strimzi.io/kraft": "migration"}; None removes a key
    platform.delete(obj)                  # delete exactly the object version read (uid + resourceVersion)
    platform.wait_deleted(obj)
    platform.operator()                   # -> OperatorDeployment | None: image, build, resource_version
    platform.switch_operator_image(image, build="forked" | "upstream" | None) -> OperatorDeployment
    platform.broker_pods()                # -> {node id: BrokerPod(name, uid, created)}: a pod's uid
                                          #    changes when Strimzi restarts (rolls) that broker

Writes and their concurrency rules:
- Kafka and KafkaNodePool go in by server-side apply (PATCH application/apply-patch+yaml) under our own
  field manager. Force is used only where every conflicting field is already ours (set by annotate(),
  which is an Update under the same manager name); a field another manager changed stops the write
  with FieldConflict naming fields and managers, because a person or tool edited what we set.
- The operator Deployment's image is switched with a strategic merge patch of the overlay's fields
  (one container's image, the build annotation): the installer (Helm, kubectl) keeps owning the rest.
- Every write carries the resourceVersion read just before (optimistic concurrency). A 409 because the
  object moved on is retried after a fresh read, `conflict_attempts` times (then ObjectChanged).
- delete() sends preconditions (uid and resourceVersion of the object as read): a newer or re-created
  object of the same name is never deleted by mistake (ObjectChanged instead).
- 403 comes out as BadInput naming verb and resource and the shipped Role that grants it
  (migrator/clients/k8s.py); 401 and an unreachable server are BadInput too. So are a missing Strimzi
  CRD or namespace, a missing operator Deployment or container, and an object the API server rejects.

Waits poll every `poll_interval` seconds with an injectable `sleep` and `clock`, are bounded by a
timeout, and end in TemporaryError carrying the last status seen, for the engine to retry the step.

Status is read as Strimzi 0.45 writes it: success is condition `Ready: True`; failure is
`NotReady: True` with `reason` (an exception name such as InvalidResourceException) and `message`.
A Kafka counts as ready only when Ready is True AND status.observedGeneration == metadata.generation:
a Ready left over from before the last spec change says nothing about the change.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from migrator.clients.k8s import call, get_or_none, status_message
from migrator.errors import BadInput, PermanentError, TemporaryError
from migrator.platforms.target.config import OperatorConfig, TargetConfig
from migrator.platforms.target.strimzi_manifests import BUILD_ANNOTATION, RenderedManifests

Json = dict[str, Any]
T = TypeVar("T")

GROUP = "kafka.strimzi.io"
VERSION = "v1beta2"
PLURALS = {"Kafka": "kafkas", "KafkaNodePool": "kafkanodepools"}
FIELD_MANAGER = "kafka-k8s-migrator"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
#: Labels Strimzi 0.45 puts on every broker pod.
CLUSTER_LABEL = "strimzi.io/cluster"
POOL_LABEL = "strimzi.io/pool-name"
KIND_LABEL = "strimzi.io/kind"

CustomKind = Literal["Kafka", "KafkaNodePool"]


class FieldConflict(PermanentError):
    """Another field manager owns fields we set: someone edited them after we applied them."""


class ObjectChanged(TemporaryError):
    """The object kept changing between our read and our write, or changed since it was read."""


# -- status as data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Condition:
        return cls(
            type=str(data.get("type", "")),
            status=str(data.get("status", "")),
            reason=data.get("reason"),
            message=data.get("message"),
            last_transition_time=data.get("lastTransitionTime"),
        )

    def __str__(self) -> str:
        detail = ": ".join(part for part in (self.reason, self.message) if part)
        return f"{self.type}={self.status}" + (f" ({detail})" if detail else "")


def _conditions(status: Mapping[str, Any]) -> tuple[Condition, ...]:
    return tuple(Condition.from_dict(c) for c in status.get("conditions") or ())


def _condition(conditions: Iterable[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_ and c.status == "True"), None)


@dataclass(frozen=True)
class KafkaStatus:
    """A Kafka CR's generation and what the operator last reported about it."""

    name: str
    generation: int
    observed_generation: int | None
    conditions: tuple[Condition, ...]
    cluster_id: str | None
    kafka_metadata_state: str | None
    kafka_version: str | None
    node_pools: tuple[str, ...]

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> KafkaStatus:
        status = obj.get("status") or {}
        return cls(
            name=obj["metadata"]["name"],
            generation=int(obj["metadata"].get("generation") or 0),
            observed_generation=status.get("observedGeneration"),
            conditions=_conditions(status),
            cluster_id=status.get("clusterId"),
            kafka_metadata_state=status.get("kafkaMetadataState"),
            kafka_version=status.get("kafkaVersion"),
            node_pools=tuple(p["name"] for p in status.get("kafkaNodePools") or () if "name" in p),
        )

    @property
    def caught_up(self) -> bool:
        """The operator has reconciled the current spec (whatever the outcome)."""
        return self.observed_generation == self.generation

    @property
    def ready(self) -> bool:
        return self.caught_up and _condition(self.conditions, "Ready") is not None

    @property
    def not_ready(self) -> Condition | None:
        """Strimzi's failure condition (NotReady: True, with reason and message), if any."""
        return _condition(self.conditions, "NotReady")

    def describe(self) -> str:
        conditions = ", ".join(str(c) for c in self.conditions) or "no conditions"
        return (
            f"Kafka {self.name}: generation {self.generation}, observedGeneration {self.observed_generation}, "
            f"{conditions}"
        )


@dataclass(frozen=True)
class NodePoolStatus:
    """A KafkaNodePool's wanted replicas and the node IDs the operator assigned (status.nodeIds)."""

    name: str
    generation: int
    observed_generation: int | None
    replicas: int
    node_ids: tuple[int, ...]
    conditions: tuple[Condition, ...]
    cluster_id: str | None

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> NodePoolStatus:
        status = obj.get("status") or {}
        return cls(
            name=obj["metadata"]["name"],
            generation=int(obj["metadata"].get("generation") or 0),
            observed_generation=status.get("observedGeneration"),
            replicas=int((obj.get("spec") or {}).get("replicas") or 0),
            node_ids=tuple(int(i) for i in status.get("nodeIds") or ()),
            conditions=_conditions(status),
            cluster_id=status.get("clusterId"),
        )

    @property
    def caught_up(self) -> bool:
        return self.observed_generation == self.generation

    def describe(self) -> str:
        return (
            f"KafkaNodePool {self.name}: replicas {self.replicas}, status.nodeIds {list(self.node_ids)}, "
            f"generation {self.generation}, observedGeneration {self.observed_generation}"
        )


@dataclass(frozen=True)
class OperatorDeployment:
    """The cluster operator's Deployment as far as the image switch is concerned."""

    namespace: str
    name: str
    container: str
    image: str
    #: The kafka-k8s-migrator/operator-build annotation (forked, upstream), None when absent.
    build: str | None
    resource_version: str
    uid: str
    object: Json = field(repr=False, compare=False)


@dataclass(frozen=True)
class BrokerPod:
    """A broker pod of the Kafka cluster. Strimzi restarts a broker by deleting its pod and creating it
    again under the same name, so a changed uid means the broker was restarted."""

    node_id: int
    name: str
    uid: str
    created: str
    pool: str | None


# -- the platform ----------------------------------------------------------------------------------


class StrimziPlatform:
    """The Kafka CR, KafkaNodePool and operator Deployment of one migration's `target:` section."""

    def __init__(
        self,
        api: k8s.ApiClient,
        target: TargetConfig,
        field_manager: str = FIELD_MANAGER,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_interval: float = 2.0,
        conflict_attempts: int = 5,
    ) -> None:
        if target.kind != "strimzi" or target.operator is None:
            raise BadInput(
                f"target.kind is {target.kind}: the Strimzi platform needs target.kind strimzi with an operator "
                "section (at least forked_image). Nothing was changed."
            )
        self.target = target
        self.field_manager = field_manager
        self._custom = k8s.CustomObjectsApi(api)
        self._apps = k8s.AppsV1Api(api)
        self._core = k8s.CoreV1Api(api)
        self._serialize = api.sanitize_for_serialization
        self._sleep = sleep
        self._clock = clock
        self.poll_interval = poll_interval
        self.conflict_attempts = conflict_attempts

    @property
    def namespace(self) -> str:
        return self.target.namespace

    # -- reads ----------------------------------------------------------------------------------

    def get(self, kind: CustomKind, name: str) -> Json | None:
        """The live Kafka or KafkaNodePool `name` in target.namespace (status included), or None."""
        return get_or_none(
            self._custom.get_namespaced_custom_object, GROUP, VERSION, self.namespace, _plural(kind), name
        )

    def kafka(self, name: str | None = None) -> Json | None:
        return self.get("Kafka", name or self.target.cluster_name)

    def node_pool(self, name: str | None = None) -> Json | None:
        return self.get("KafkaNodePool", name or self.target.node_pool)

    def kafka_status(self, name: str | None = None) -> KafkaStatus | None:
        obj = self.kafka(name)
        return None if obj is None else KafkaStatus.from_object(obj)

    def node_pool_status(self, name: str | None = None) -> NodePoolStatus | None:
        obj = self.node_pool(name)
        return None if obj is None else NodePoolStatus.from_object(obj)

    def operator(self) -> OperatorDeployment | None:
        """The operator Deployment named in target.operator, or None when it does not exist."""
        operator = self._operator_config
        deployment = get_or_none(
            self._apps.read_namespaced_deployment, operator.deployment, self.target.operator_namespace
        )
        if deployment is None:
            return None
        obj = self._serialize(deployment)
        containers = obj["spec"]["template"]["spec"].get("containers") or []
        container = next((c for c in containers if c.get("name") == operator.container), None)
        if container is None:
            names = ", ".join(c.get("name", "?") for c in containers) or "none"
            raise BadInput(
                f"The Deployment {self.target.operator_namespace}/{operator.deployment} has no container named "
                f"{operator.container} (it has: {names}). Set target.operator.container to the cluster operator's "
                "container. Nothing was changed."
            )
        metadata = obj["metadata"]
        return OperatorDeployment(
            namespace=metadata["namespace"],
            name=metadata["name"],
            container=operator.container,
            image=container.get("image", ""),
            build=(metadata.get("annotations") or {}).get(BUILD_ANNOTATION),
            resource_version=metadata["resourceVersion"],
            uid=metadata["uid"],
            object=obj,
        )

    def live_objects(self, rendered: RenderedManifests) -> list[Json | None]:
        """What the cluster holds for each of rendered.objects, in the same order (None: absent)."""
        live: list[Json | None] = []
        for obj in rendered.objects:
            if obj["kind"] == "Deployment":
                operator = self.operator()
                live.append(None if operator is None else operator.object)
            else:
                live.append(self.get(obj["kind"], obj["metadata"]["name"]))
        return live

    def broker_pods(self, cluster: str | None = None) -> dict[int, BrokerPod]:
        """The Kafka cluster's broker pods by node ID (Strimzi names them <cluster>-<pool>-<node id>)."""
        selector = f"{CLUSTER_LABEL}={cluster or self.target.cluster_name},{KIND_LABEL}=Kafka"
        pods = call(self._core.list_namespaced_pod, self.namespace, label_selector=selector).items
        result: dict[int, BrokerPod] = {}
        for pod in pods:
            _, _, suffix = pod.metadata.name.rpartition("-")
            if not suffix.isdigit():
                continue
            result[int(suffix)] = BrokerPod(
                node_id=int(suffix),
                name=pod.metadata.name,
                uid=pod.metadata.uid,
                created=pod.metadata.creation_timestamp.isoformat(),
                pool=(pod.metadata.labels or {}).get(POOL_LABEL),
            )
        return result

    # -- writes ---------------------------------------------------------------------------------

    def apply(self, obj: Mapping[str, Any]) -> Json:
        """Write one rendered object (Kafka, KafkaNodePool, or the operator overlay Deployment) and return
        the live object after the write. Idempotent: applying the same object again changes nothing."""
        kind = obj.get("kind")
        if kind == "Deployment":
            image, build = self._overlay_image(obj)
            return self.switch_operator_image(image, build=build).object
        if kind not in PLURALS:
            raise ValueError(f"StrimziPlatform cannot apply a {kind}; it manages Kafka, KafkaNodePool, Deployment")
        return self._server_side_apply(kind, copy.deepcopy(dict(obj)))

    def annotate(self, kind: CustomKind, name: str, annotations: Mapping[str, str | None]) -> Json:
        """Set (or, with None, remove) annotations on a Kafka or KafkaNodePool, e.g. strimzi.io/kraft.
        A merge patch conditional on the resourceVersion just read; returns the live object."""

        def write(live: Json) -> Json:
            version = live["metadata"]["resourceVersion"]
            patch = {"metadata": {"resourceVersion": version, "annotations": dict(annotations)}}
            return call(
                self._custom.patch_namespaced_custom_object,
                GROUP, VERSION, self.namespace, _plural(kind), name, patch,
                field_manager=self.field_manager, _content_type=MERGE_PATCH,
            )  # fmt: skip

        what = f"annotate {kind} {self.namespace}/{name}"
        return self._with_fresh_read(what, lambda: self._require(kind, name), write)

    def switch_operator_image(self, image: str, *, build: str | None = None) -> OperatorDeployment:
        """Set the operator container's image (and the kafka-k8s-migrator/operator-build annotation, or
        remove it when `build` is None) with a strategic merge patch conditional on the resourceVersion
        read just before. No write at all when both already hold."""
        operator = self._operator_config

        def read() -> OperatorDeployment:
            current = self.operator()
            if current is None:
                raise BadInput(
                    f"The cluster operator Deployment {self.target.operator_namespace}/{operator.deployment} does not "
                    f"exist. Install Strimzi {operator.strimzi_version} from its install files first (migrator only "
                    "switches the image of an installed operator), or correct target.operator.namespace/deployment. "
                    "Nothing was changed."
                )
            return current

        def write(current: OperatorDeployment) -> OperatorDeployment:
            if current.image == image and current.build == build:
                return current
            patch = {
                "metadata": {"resourceVersion": current.resource_version, "annotations": {BUILD_ANNOTATION: build}},
                "spec": {"template": {"spec": {"containers": [{"name": operator.container, "image": image}]}}},
            }
            call(
                self._apps.patch_namespaced_deployment,
                operator.deployment, self.target.operator_namespace, patch,
                field_manager=self.field_manager, _content_type=STRATEGIC_MERGE_PATCH,
            )  # fmt: skip
            return read()

        what = f"switch the image of Deployment {self.target.operator_namespace}/{operator.deployment}"
        return self._with_fresh_read(what, read, write)

    def delete(self, obj: Mapping[str, Any]) -> bool:
        """Delete the Kafka or KafkaNodePool `obj` as it was read: only if its uid and resourceVersion
        still match (else ObjectChanged: read it again and decide again). False when already gone."""
        kind, metadata = obj["kind"], obj["metadata"]
        options = k8s.V1DeleteOptions(
            preconditions=k8s.V1Preconditions(uid=metadata["uid"], resource_version=metadata["resourceVersion"]),
            propagation_policy="Background",
        )
        try:
            call(
                self._custom.delete_namespaced_custom_object,
                GROUP, VERSION, metadata["namespace"], _plural(kind), metadata["name"], body=options,
            )  # fmt: skip
        except ApiException as exc:
            if exc.status == 404:
                return False
            if exc.status == 409:
                raise ObjectChanged(
                    f"{kind} {metadata['namespace']}/{metadata['name']} changed after it was read "
                    f"({status_message(exc)}), so it was not deleted. Read it again and check it is still ours.",
                    delay=1.0,
                ) from None
            raise
        return True

    # -- waits ----------------------------------------------------------------------------------

    def wait_node_ids(
        self, count: int | None = None, pool: str | None = None, timeout: float = 600.0
    ) -> tuple[int, ...]:
        """The pool's status.nodeIds once the operator has caught up with the pool's generation and
        assigned exactly `count` IDs (default target.replicas). Check them against the VM brokers'
        IDs: a malformed or exhausted range makes Strimzi fall back to the lowest free IDs from 0."""
        wanted = self.target.replicas if count is None else count

        def done() -> tuple[bool, NodePoolStatus | None]:
            status = self.node_pool_status(pool)
            return status is not None and status.caught_up and len(status.node_ids) == wanted, status

        status = self._poll(done, timeout, f"{wanted} node IDs in KafkaNodePool {pool or self.target.node_pool}")
        assert status is not None
        return status.node_ids

    def wait_ready(self, name: str | None = None, timeout: float = 900.0) -> KafkaStatus:
        """The Kafka's status once Ready is True and status.observedGeneration == metadata.generation."""

        def done() -> tuple[bool, KafkaStatus | None]:
            status = self.kafka_status(name)
            return status is not None and status.ready, status

        status = self._poll(done, timeout, f"Kafka {name or self.target.cluster_name} to be Ready")
        assert status is not None
        return status

    def wait_reconciled(self, name: str | None = None, timeout: float = 900.0) -> KafkaStatus:
        """The Kafka's status once the operator has reconciled its current generation, Ready or not: for
        reading why it is NotReady (e.g. the node-ID collision) right after a change."""

        def done() -> tuple[bool, KafkaStatus | None]:
            status = self.kafka_status(name)
            return status is not None and status.caught_up, status

        status = self._poll(done, timeout, f"the operator to reconcile Kafka {name or self.target.cluster_name}")
        assert status is not None
        return status

    def wait_deleted(self, obj: Mapping[str, Any], timeout: float = 300.0) -> None:
        """Until the object with `obj`'s uid is gone (finalizers done); a new object of the same name
        does not count."""
        kind, metadata = obj["kind"], obj["metadata"]

        def done() -> tuple[bool, str]:
            live = self.get(kind, metadata["name"])
            gone = live is None or live["metadata"]["uid"] != metadata["uid"]
            finalizers = [] if live is None else live["metadata"].get("finalizers") or []
            return gone, f"finalizers {finalizers}" if finalizers else "still there"

        self._poll(done, timeout, f"{kind} {metadata['namespace']}/{metadata['name']} to be deleted")

    # -- internals ------------------------------------------------------------------------------

    @property
    def _operator_config(self) -> OperatorConfig:
        assert self.target.operator is not None  # checked in __init__
        return self.target.operator

    def _require(self, kind: CustomKind, name: str) -> Json:
        live = self.get(kind, name)
        if live is None:
            raise BadInput(f"{kind} {self.namespace}/{name} does not exist. Create it first (mixed-cluster-join).")
        return live

    def _server_side_apply(self, kind: str, obj: Json) -> Json:
        metadata = obj.setdefault("metadata", {})
        name, namespace = metadata["name"], metadata.setdefault("namespace", self.namespace)
        if namespace != self.namespace:
            raise ValueError(f"{kind} {name} is rendered for namespace {namespace}, not target.namespace {self.namespace}")
        what = f"apply {kind} {namespace}/{name}"

        def read() -> Json | None:
            return self.get(kind, name)  # type: ignore[arg-type]  # kind is one of PLURALS here

        def write(live: Json | None) -> Json:
            body = copy.deepcopy(obj)
            if live is not None:
                body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
            try:
                return self._apply_patch(kind, namespace, name, body, force=False)
            except ApiException as exc:
                conflicts = _field_conflicts(exc)
                if not conflicts:
                    raise
                foreign = [c for c in conflicts if f'conflict with "{self.field_manager}"' not in c.get("message", "")]
                if foreign:
                    raise self._field_conflict(kind, namespace, name, foreign) from None
                # Every conflicting field was set by us (annotate() is an Update under our name).
                return self._apply_patch(kind, namespace, name, body, force=True)

        try:
            return self._with_fresh_read(what, read, write)
        except ApiException as exc:
            raise self._refused(kind, namespace, name, exc) from None

    def _apply_patch(self, kind: str, namespace: str, name: str, body: Json, *, force: bool) -> Json:
        # The generated client decodes only a 200 answer; an apply that creates the object gets 201.
        response = call(
            self._custom.patch_namespaced_custom_object,
            GROUP, VERSION, namespace, PLURALS[kind], name, body,
            field_manager=self.field_manager, force=force, _content_type=APPLY_PATCH, _preload_content=False,
        )  # fmt: skip
        return json.loads(response.data)

    def _with_fresh_read(self, what: str, read: Callable[[], Any], write: Callable[[Any], T]) -> T:
        """write(read()), again after a fresh read while the API answers 409 because the object moved
        on between the two (field-manager conflicts are not retried: a read does not resolve them)."""
        last = ""
        for _ in range(self.conflict_attempts):
            current = read()
            try:
                return write(current)
            except ApiException as exc:
                if exc.status != 409 or _field_conflicts(exc):
                    raise
                last = status_message(exc)
        raise ObjectChanged(
            f"Could not {what}: it changed between our read and our write {self.conflict_attempts} times in a row "
            f"(last answer: {last}). Something else keeps writing it (an operator or a script); find out what, "
            "then run again.",
            delay=5.0,
        )

    def _poll(self, done: Callable[[], tuple[bool, T]], timeout: float, what: str) -> T:
        deadline = self._clock() + timeout
        while True:
            finished, last = done()
            if finished:
                return last
            if self._clock() >= deadline:
                seen = last.describe() if hasattr(last, "describe") else (last or "nothing yet")
                raise TemporaryError(
                    f"Timed out after {timeout:.0f} s waiting for {what}. Last seen: {seen}. Check the cluster "
                    "operator's log and the resource's status conditions, then run again to keep waiting.",
                    delay=self.poll_interval,
                )
            self._sleep(self.poll_interval)

    def _overlay_image(self, overlay: Mapping[str, Any]) -> tuple[str, str | None]:
        """The image and build annotation of a rendered operator overlay, after checking that it names
        the Deployment and container of target.operator."""
        operator = self._operator_config
        metadata = overlay.get("metadata") or {}
        if (metadata.get("name"), metadata.get("namespace")) != (operator.deployment, self.target.operator_namespace):
            raise ValueError(
                f"the overlay is for Deployment {metadata.get('namespace')}/{metadata.get('name')}, target.operator "
                f"names {self.target.operator_namespace}/{operator.deployment}"
            )
        containers = overlay["spec"]["template"]["spec"]["containers"]
        image = next(c["image"] for c in containers if c["name"] == operator.container)
        return image, (metadata.get("annotations") or {}).get(BUILD_ANNOTATION)

    def _field_conflict(self, kind: str, namespace: str, name: str, causes: list[Json]) -> FieldConflict:
        fields = "; ".join(f"{c.get('field')} ({c.get('message')})" for c in causes)
        return FieldConflict(
            f"{kind} {namespace}/{name} has fields we set that another field manager changed since: {fields}. "
            "Someone edited the resource by hand or another tool manages it. Nothing was changed. Find out who "
            "and why (`kubectl get -o yaml --show-managed-fields`), undo their edit or make migration.yaml say "
            "the same, then run again."
        )

    def _refused(self, kind: str, namespace: str, name: str, exc: ApiException) -> Exception:
        message = status_message(exc)
        if exc.status == 404:
            return BadInput(
                f"Cannot write {kind} {namespace}/{name}: {message}. Either the namespace {namespace} does not exist "
                f"(create it, or set target.namespace) or Strimzi's CRDs are not installed (apply the CRDs of "
                f"Strimzi {self._operator_config.strimzi_version}). Nothing was changed."
            )
        if exc.status in (400, 422):
            return BadInput(
                f"The API server rejected {kind} {namespace}/{name}: {message}. The rendered resource does not match "
                "the installed Strimzi CRD; check target: in migration.yaml and the installed Strimzi version "
                "(`migrator plan --dry-run` shows what would be applied). Nothing was changed."
            )
        return exc


def _plural(kind: str) -> str:
    try:
        return PLURALS[kind]
    except KeyError:
        raise ValueError(f"not a Strimzi kind this platform manages: {kind}") from None


def _field_conflicts(exc: ApiException) -> list[Json]:
    """The FieldManagerConflict causes of a 409 answer to a server-side apply ([] for other 409s)."""
    if exc.status != 409:
        return []
    try:
        causes = json.loads(exc.body).get("details", {}).get("causes") or []
    except (TypeError, ValueError, AttributeError):
        return []
    return [c for c in causes if c.get("reason") == "FieldManagerConflict"]
