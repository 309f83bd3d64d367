"""The `strimzi` target platform as the join and handback phases use it: StrimziPlatform (the Kafka CR,
node pool and operator Deployment through the real Kubernetes API) plus what the phases need on top.

- review: the rendered objects of strimzi-overrides/ and a diff against the live ones;
- the operator switch, refused towards any image but the fork while the Kafka CR still carries
  zookeeper.connect: the upstream build would deploy its placeholder ensemble and roll every broker
  onto it, a new and empty cluster;
- a switch is settled once the Deployment has rolled out (what `kubectl rollout status` waits for);
- the overrides in a live Kafka CR, removed and restored by read-modify-write on the resourceVersion
  read (an update, so a concurrent change fails with 409 and is retried after a fresh read);
- broker incarnations: Strimzi restarts a broker by deleting its pod and creating it again under the
  same name, so a pod's uid changes exactly when its broker was restarted.

Credentials come from target.kubeconfig and target.context, else as for kubectl ($KUBECONFIG or
~/.kube/config, or the pod's service account); deploy/rbac holds the Roles they need.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from migrator.clients.k8s import api_client, call, status_message
from migrator.config import MigrationConfig
from migrator.errors import BadInput, PermanentError
from migrator.engine.step import Verdict
from migrator.platforms.model import PLATFORM_POLL
from migrator.platforms.target.strimzi_api import (
    FIELD_MANAGER,
    GROUP,
    PLURALS,
    VERSION,
    ObjectChanged,
    KafkaStatus,
    StrimziPlatform,
)
from migrator.platforms.target.config import TargetConfig
from migrator.platforms.target.strimzi_manifests import (
    BUILD_ANNOTATION,
    MIGRATION_LABEL,
    RenderedManifests,
    load_override_specs,
    render_manifests,
)
from migrator.platforms.target.base import JSON, Build, OperatorState, Review, TargetPlatform

#: Strimzi's full reconciliation interval (the operator Deployment's env), and its default.
RECONCILIATION_ENV = "STRIMZI_FULL_RECONCILIATION_INTERVAL_MS"
DEFAULT_RECONCILIATION_MS = 120_000
KINDS = ("Kafka", "KafkaNodePool")
_UPDATE_ATTEMPTS = 5


# ------------------------------------------------------------------------------------- pure helpers


def override_keys() -> list[str]:
    """The spec.kafka.config keys the mixed cluster adds (overrides.yaml, set_in kafka_config)."""
    return [spec.key for spec in load_override_specs() if spec.set_in == "kafka_config"]


def overrides_in(kafka: Mapping[str, Any], target: TargetConfig) -> JSON:
    """The mixed-cluster overrides a Kafka CR still carries: {"config": {key: value}, "listeners":
    [the shared listener], "zookeeper": spec.zookeeper}, each part only when present."""
    spec = kafka.get("spec") or {}
    config = (spec.get("kafka") or {}).get("config") or {}
    found: JSON = {}
    keys = {k: config[k] for k in override_keys() if k in config}
    if keys:
        found["config"] = keys
    shared = [l for l in (spec.get("kafka") or {}).get("listeners") or () if l.get("name") == target.shared_listener.name]
    if shared:
        found["listeners"] = shared
    if "zookeeper" in spec:
        found["zookeeper"] = spec["zookeeper"]
    return found


def without_overrides(kafka: Mapping[str, Any], found: Mapping[str, Any]) -> JSON:
    """A copy of the CR without the parts in `found`."""
    obj = copy.deepcopy(dict(kafka))
    spec = obj.setdefault("spec", {})
    kafka_spec = spec.setdefault("kafka", {})
    config = kafka_spec.get("config") or {}
    for key in found.get("config", {}):
        config.pop(key, None)
    names = {l["name"] for l in found.get("listeners", [])}
    if names:
        kafka_spec["listeners"] = [l for l in kafka_spec.get("listeners") or () if l.get("name") not in names]
    if "zookeeper" in found:
        spec.pop("zookeeper", None)
    return obj


def with_overrides(kafka: Mapping[str, Any], found: Mapping[str, Any]) -> JSON:
    """A copy of the CR with the parts in `found` back in place (a listener present by name is kept)."""
    obj = copy.deepcopy(dict(kafka))
    spec = obj.setdefault("spec", {})
    kafka_spec = spec.setdefault("kafka", {})
    if found.get("config"):
        kafka_spec["config"] = {**(kafka_spec.get("config") or {}), **found["config"]}
    listeners = list(kafka_spec.get("listeners") or ())
    present = {l.get("name") for l in listeners}
    listeners += [copy.deepcopy(l) for l in found.get("listeners", []) if l["name"] not in present]
    if found.get("listeners"):
        kafka_spec["listeners"] = listeners
    if "zookeeper" in found:
        spec["zookeeper"] = copy.deepcopy(found["zookeeper"])
    return obj


def rollout(deployment: Mapping[str, Any]) -> Verdict:
    """Whether a Deployment has rolled out its current spec, by the rules of `kubectl rollout status`."""
    metadata, status = deployment.get("metadata") or {}, deployment.get("status") or {}
    name = f"Deployment {metadata.get('namespace')}/{metadata.get('name')}"
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    generation, observed = metadata.get("generation"), status.get("observedGeneration")
    if observed is None or (generation is not None and observed < generation):
        return Verdict.pending(f"{name}: the Deployment controller has not seen generation {generation} yet", PLATFORM_POLL)
    updated, total = status.get("updatedReplicas") or 0, status.get("replicas") or 0
    available = status.get("availableReplicas") or 0
    if updated < wanted:
        return Verdict.pending(f"{name}: {updated} of {wanted} pods run the new image", PLATFORM_POLL)
    if total > updated:
        return Verdict.pending(f"{name}: {total - updated} pod(s) of the old image still terminating", PLATFORM_POLL)
    if available < updated:
        return Verdict.pending(f"{name}: {available} of {updated} new pods available", PLATFORM_POLL)
    return Verdict.ok(f"{name} rolled out ({updated} pod(s))")


def reconciliation_interval(deployment: Mapping[str, Any], container: str) -> float:
    """Seconds between the operator's full reconciliations (its env, Strimzi's default otherwise)."""
    for c in deployment["spec"]["template"]["spec"].get("containers") or ():
        if c.get("name") == container:
            for env in c.get("env") or ():
                if env.get("name") == RECONCILIATION_ENV and str(env.get("value", "")).isdigit():
                    return int(env["value"]) / 1000
    return DEFAULT_RECONCILIATION_MS / 1000


# ---------------------------------------------------------------------------------------- platform


class StrimziTarget(TargetPlatform):
    kind = "strimzi"

    def __init__(
        self,
        config: MigrationConfig,
        platform: StrimziPlatform,
        api: k8s.ApiClient,
        rendered: RenderedManifests | None = None,
    ) -> None:
        super().__init__(config)
        self.platform = platform
        self._custom = k8s.CustomObjectsApi(api)
        self._rendered = rendered

    @classmethod
    def from_config(cls, config: MigrationConfig) -> StrimziTarget:
        assert config.target is not None
        api = api_client(config.target.kubeconfig, config.target.context)
        return cls(config, StrimziPlatform(api, config.target), api)

    @cached_property
    def rendered(self) -> RenderedManifests:
        return self._rendered or render_manifests(self.config)

    @property
    def _names(self) -> dict[str, str]:
        return {"Kafka": self.target.cluster_name, "KafkaNodePool": self.target.node_pool}

    # -- review ----------------------------------------------------------------------------------

    def review(self) -> Review:
        live = self.platform.live_objects(self.rendered)
        namespace = self.target.namespace
        what = (
            f"Kafka {namespace}/{self.target.cluster_name} and KafkaNodePool {namespace}/{self.target.node_pool}"
        )
        return Review(what, self.rendered.yaml, self.rendered.diff_against(live))

    # -- operator --------------------------------------------------------------------------------

    def operator(self) -> OperatorState | None:
        current = self.platform.operator()
        if current is None:
            operator = self.target.operator
            assert operator is not None
            raise BadInput(
                f"The cluster operator Deployment {self.target.operator_namespace}/{operator.deployment} does not exist. "
                f"Install Strimzi {operator.strimzi_version} first (migrator only switches the image of the installed "
                "operator), or correct target.operator.namespace/deployment. Nothing was changed."
            )
        return OperatorState(current.image, current.build)

    def switch_operator(self, image: str, build: Build | None) -> None:
        operator = self.target.operator
        assert operator is not None
        if image != operator.forked_image:
            kafka = self.platform.kafka()
            carried = overrides_in(kafka, self.target).get("config", {}) if kafka else {}
            if "zookeeper.connect" in carried:
                raise PermanentError(
                    f"Refusing to switch the cluster operator to {image}: Kafka {self.target.namespace}/"
                    f"{self.target.cluster_name} still carries zookeeper.connect in spec.kafka.config. Any build but the "
                    "fork would deploy its own (empty) ZooKeeper from spec.zookeeper and roll every broker onto it: "
                    "a new, empty cluster. Remove the overrides first (phase operator-handback), or delete the CR "
                    "(rollback of mixed-cluster-join). Nothing was changed."
                )
        self.platform.switch_operator_image(image, build=build)

    def operator_settled(self, image: str) -> Verdict:
        current = self.platform.operator()
        if current is None:
            return Verdict.failed("the cluster operator Deployment is gone")
        if current.image != image:
            return Verdict.failed(f"the operator runs {current.image}, not {image}")
        return rollout(current.object)

    def reconciliation_interval(self) -> float:
        current = self.platform.operator()
        operator = self.target.operator
        assert operator is not None
        return reconciliation_interval(current.object, operator.container) if current else DEFAULT_RECONCILIATION_MS / 1000

    # -- brokers ---------------------------------------------------------------------------------

    def existing(self) -> JSON:
        """uid of the Kafka CR and node pool if they exist (None: create makes them). An object of that
        name that this migration did not create is not touched: BadInput."""
        found: JSON = {}
        for kind, name in self._names.items():
            live = self.platform.get(kind, name)  # type: ignore[arg-type]
            if live is not None and (live["metadata"].get("labels") or {}).get(MIGRATION_LABEL) != self.config.migration_id:
                raise BadInput(
                    f"{kind} {self.target.namespace}/{name} already exists and was not created by migration "
                    f"{self.config.migration_id} (no label {MIGRATION_LABEL}: {self.config.migration_id}). migrator does "
                    "not take over resources it did not create: pick another target.cluster_name / node_pool, or "
                    "delete it if it is a leftover. Nothing was changed."
                )
            found[kind] = None if live is None else live["metadata"]["uid"]
        return found

    def create(self, racks: Sequence[str]) -> None:
        # The CR first: a pool without its Kafka is not reconciled, a Kafka without pools is NotReady.
        self.platform.apply(self.rendered.kafka)
        self.platform.apply(self.rendered.node_pool)

    def node_ids(self) -> list[int] | None:
        status = self.platform.node_pool_status()
        if status is None or not status.caught_up or not status.node_ids:
            return None
        return list(status.node_ids)

    def remove(self, before: JSON) -> None:
        """Delete the node pool, then the Kafka CR, if this run created them (with the uid and
        resourceVersion just read as preconditions)."""
        for kind in reversed(KINDS):
            if before.get(kind) is not None:
                continue  # it existed before the join: not ours to delete
            live = self.platform.get(kind, self._names[kind])  # type: ignore[arg-type]
            if live is not None and (live["metadata"].get("labels") or {}).get(MIGRATION_LABEL) == self.config.migration_id:
                self.platform.delete(live)

    def removed(self, before: JSON) -> Verdict:
        left = [
            f"{kind} {self._names[kind]}"
            for kind in KINDS
            if before.get(kind) is None and self.platform.get(kind, self._names[kind]) is not None  # type: ignore[arg-type]
        ]
        pods = sorted(self.platform.broker_pods())
        if left or pods:
            detail = ", ".join(left + [f"broker pod(s) {', '.join(map(str, pods))}"] * bool(pods))
            return Verdict.pending(f"still present: {detail}", PLATFORM_POLL)
        return Verdict.ok("the Kafka CR, its node pool and their broker pods are gone")

    # -- handback --------------------------------------------------------------------------------

    def _kafka(self) -> JSON:
        kafka = self.platform.kafka()
        if kafka is None:
            raise BadInput(
                f"Kafka {self.target.namespace}/{self.target.cluster_name} does not exist, so there is nothing to hand "
                "back. Verdict target.namespace and target.cluster_name. Nothing was changed."
            )
        return kafka

    def overrides(self) -> JSON:
        return overrides_in(self._kafka(), self.target)

    def remove_overrides(self, found: JSON) -> None:
        """Take the parts named in `found` (as `overrides()` returns them) out of the live CR."""
        self._update_kafka(lambda live: without_overrides(live, found), "remove the overrides")

    def restore_overrides(self, found: JSON) -> None:
        self._update_kafka(lambda live: with_overrides(live, found), "restore the overrides")

    def _update_kafka(self, change: Any, what: str) -> None:
        """PUT the changed CR with the resourceVersion read: a concurrent write fails it with 409, and
        it is read and changed again, a bounded number of times."""
        name = self.target.cluster_name
        last = ""
        for _ in range(_UPDATE_ATTEMPTS):
            live = self._kafka()
            body = change(live)
            if body == live:
                return
            body.pop("status", None)
            try:
                call(
                    self._custom.replace_namespaced_custom_object,
                    GROUP, VERSION, self.target.namespace, PLURALS["Kafka"], name, body,
                    field_manager=FIELD_MANAGER,
                )  # fmt: skip
                return
            except ApiException as exc:
                if exc.status != 409:
                    raise
                last = status_message(exc)
        raise ObjectChanged(
            f"Could not {what} on Kafka {self.target.namespace}/{name}: it changed between our read and our write "
            f"{_UPDATE_ATTEMPTS} times in a row ({last}). Something else keeps writing it; find out what, then run again."
        )

    def reconciled(self) -> Verdict:
        status = self.platform.kafka_status()
        if status is None:
            return Verdict.failed(f"Kafka {self.target.cluster_name} does not exist")
        if not status.caught_up:
            return Verdict.pending(f"the operator has not reconciled yet: {status.describe()}", PLATFORM_POLL)
        if status.ready:
            return Verdict.ok(f"Kafka {status.name} Ready at generation {status.generation}")
        if status.not_ready is not None:
            return Verdict.failed(f"the operator reports {status.not_ready}")
        return Verdict.pending(status.describe(), PLATFORM_POLL)

    def metadata_state(self) -> str | None:
        """status.kafkaMetadataState (ZooKeeper, KRaftMigration, ..., KRaft); BadInput without the CR."""
        return KafkaStatus.from_object(self._kafka()).kafka_metadata_state

    def incarnations(self) -> dict[int, str]:
        """node ID -> its pod, for every node of the cluster (controllers too: a switch that restarts
        them is just as wrong)."""
        return {i: f"pod {pod.name} uid {pod.uid}" for i, pod in sorted(self.platform.broker_pods().items())}

    def leftovers(self) -> list[str]:
        current = self.platform.operator()
        if current is not None and current.build is not None:
            return [f"annotation {BUILD_ANNOTATION}: {current.build} on Deployment {current.namespace}/{current.name}"]
        return []

    def remove_leftovers(self) -> None:
        current = self.platform.operator()
        if current is not None and current.build is not None:
            self.platform.switch_operator_image(current.image, build=None)
