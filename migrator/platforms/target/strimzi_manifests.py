"""The Kubernetes side of the mixed cluster as plain data: the Kafka CR, its KafkaNodePool and the
operator Deployment overlay, rendered from strimzi-overrides/ and the `target:` section.

    rendered = render_manifests(config)       # config: MigrationConfig with a strimzi target
    rendered.objects                          # [Kafka, KafkaNodePool, operator overlay (forked)]
    rendered.yaml                             # what `--dry-run` prints
    rendered.diff_against(live_objects)       # unified diff against what the cluster holds
    rendered.overrides                        # each override with its value, why, and how to verify it

Rendering is deterministic (same config, same bytes), so a plan can be reviewed and diffed.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from migrator.cluster.overrides_verifier import ExpectedConfig, Match
from migrator.config import MigrationConfig
from migrator.config_base import ConfigModel
from migrator.errors import BadInput
from migrator.platforms.target.config import TargetConfig
from migrator.assets import asset_dir

MANAGED_BY = {"app.kubernetes.io/managed-by": "kafka-k8s-migrator"}
MIGRATION_LABEL = "kafka-k8s-migrator/migration-id"
BUILD_ANNOTATION = "kafka-k8s-migrator/operator-build"
# Set by the API server, not by us: left out before comparing with what we render.
_SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")
_SERVER_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision")
_PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")

Json = dict[str, Any]


class OverrideSpec(ConfigModel):
    """One entry of strimzi-overrides/overrides.yaml (the file documents the fields)."""

    class Fork(ConfigModel):
        forbidden_prefix: str | None
        builder: str

    key: str
    value: str | None
    match: Match
    when: Literal["always", "ids_above_default_reserved", "cruise_control"]
    side: Literal["target", "both"]
    set_in: Literal["kafka_config", "listeners", "cruise_control_config", "fork"]
    fork: Fork | None
    why: str
    verify: str
    handback: str


class _OverridesFile(ConfigModel):
    overrides: list[OverrideSpec]


@dataclass(frozen=True)
class RenderedOverride:
    """An override with its value filled in for this migration."""

    spec: OverrideSpec
    value: str | None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def expectation(self) -> ExpectedConfig:
        return ExpectedConfig(self.spec.key, self.value, self.spec.match)

    def to_dict(self) -> Json:
        spec = self.spec.model_dump()
        return {**spec, "value": self.value}


@dataclass(frozen=True)
class RenderedManifests:
    kafka: Json
    node_pool: Json
    #: Partial Deployments: only the operator container's image (and a marker annotation).
    operator_forked: Json
    operator_upstream: Json
    overrides: tuple[RenderedOverride, ...]

    @property
    def objects(self) -> list[Json]:
        """What the mixed-cluster join applies, in order: the operator first, so no upstream build
        ever reconciles a CR that points at the VM ensemble."""
        return [self.operator_forked, self.kafka, self.node_pool]

    @property
    def yaml(self) -> str:
        return _dump_all(self.objects, sort_keys=False)

    def expectations(self, brokers: Literal["strimzi", "vm"] = "strimzi") -> list[ExpectedConfig]:
        """What the verifier checks on the Strimzi brokers (every override), or on the VM brokers (the
        overrides both sides must share)."""
        return [o.expectation for o in self.overrides if brokers == "strimzi" or o.spec.side == "both"]

    def diff_against(self, live_objects: Iterable[Mapping[str, Any] | None]) -> str:
        """A unified diff from what the cluster holds to what we would apply; "" when they agree.

        `live_objects` are API objects as JSON-style dicts (the dynamic client's `to_dict()`, or
        `ApiClient().sanitize_for_serialization(obj)` for typed ones); an object we render but the
        cluster lacks shows as wholly added. Server-set metadata and status are ignored, and for the
        partial operator overlay only the fields the overlay sets are compared."""
        live = {object_identity(obj): obj for obj in live_objects if obj}
        partial = object_identity(self.operator_forked)
        chunks = []
        for rendered in self.objects:
            identity = object_identity(rendered)
            current = live.get(identity)
            if current is not None:
                current = _without_server_fields(current)
                if identity == partial:
                    current = _project(current, rendered)
            _, kind, namespace, name = identity
            label = f"{kind} {namespace}/{name}"
            chunks.extend(
                difflib.unified_diff(
                    _dump_all([current], sort_keys=True).splitlines(keepends=True) if current is not None else [],
                    _dump_all([rendered], sort_keys=True).splitlines(keepends=True),
                    fromfile=f"live: {label}" if current is not None else f"live: {label} (absent)",
                    tofile=f"rendered: {label}",
                )
            )
        return "".join(chunks)


def object_identity(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(API group, kind, namespace, name): the version is left out, the server may answer in another."""
    metadata = obj.get("metadata") or {}
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return group, str(obj.get("kind", "")), str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def render_overrides(config: MigrationConfig) -> tuple[RenderedOverride, ...]:
    """The overrides that apply to this migration's target, values filled in (kind local too: the
    local platform starts sandbox brokers with the same effective settings)."""
    target = _target(config)
    context = {
        "zookeeper_connect": config.cluster.zookeeper_connect,
        "shared_listener": target.shared_listener.kafka_name,
        "shared_listener_protocol": target.shared_listener.security_protocol,
        "reserved_broker_max_id": target.reserved_broker_max_id,
        "cruise_control_metrics_topic": target.cruise_control.metrics_topic,
    }
    applies = {
        "always": True,
        "ids_above_default_reserved": target.reserved_broker_max_id is not None,
        "cruise_control": target.cruise_control.enabled,
    }
    return tuple(
        RenderedOverride(spec, None if spec.value is None else spec.value.format(**context))
        for spec in load_override_specs()
        if applies[spec.when]
    )


def render_manifests(config: MigrationConfig) -> RenderedManifests:
    target = _target(config)
    if target.kind != "strimzi" or target.operator is None:
        raise BadInput(
            f"target.kind is {target.kind}: there are no Kubernetes manifests to render. Set target.kind "
            "to strimzi (with an operator section) to render the Kafka CR and node pool."
        )
    overrides = render_overrides(config)
    labels = {**MANAGED_BY, MIGRATION_LABEL: config.migration_id}
    context: Json = {
        "cluster_name": target.cluster_name,
        "namespace": target.namespace,
        "labels": labels,
        "node_pool_labels": {"strimzi.io/cluster": target.cluster_name, **labels},
        "kafka_version": target.kafka_version,
        "listeners": [listener.to_crd() for listener in (*target.listeners, target.shared_listener)],
        "kafka_config": _kafka_config(target, overrides),
        "rack": {"topologyKey": target.rack_topology_key} if target.rack_topology_key else None,
        "cruise_control": _cruise_control(overrides),
        "node_pool": target.node_pool,
        "node_ids": target.node_ids,
        "replicas": target.replicas,
        "storage": target.storage.to_crd(),
    }
    operator = target.operator
    overlay = _template("operator-overlay/operator-image.yaml")
    deployment = {"deployment": operator.deployment, "namespace": target.operator_namespace, "container": operator.container}
    return RenderedManifests(
        kafka=_fill(_template("templates/kafka.yaml"), context),
        node_pool=_fill(_template("templates/kafka-node-pool.yaml"), context),
        operator_forked=_fill(overlay, {**deployment, "build": "forked", "image": operator.forked_image}),
        operator_upstream=_fill(overlay, {**deployment, "build": "upstream", "image": operator.upstream_image}),
        overrides=overrides,
    )


def apply_overlay(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> Json:
    """`base` with `overlay` merged in the way a strategic merge patch merges a Deployment: mappings
    recursively, lists of named items by name; anything else is replaced. For installing the operator
    from Strimzi's install files with the forked image, and for reviewing what the overlay changes."""
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = apply_overlay(current, value)
        elif isinstance(value, list) and isinstance(current, list) and _named(value) and _named(current):
            by_name = {item["name"]: i for i, item in enumerate(current)}
            result = copy.deepcopy(current)
            for item in value:
                if item["name"] in by_name:
                    result[by_name[item["name"]]] = apply_overlay(result[by_name[item["name"]]], item)
                else:
                    result.append(copy.deepcopy(item))
            merged[key] = result
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@cache
def load_override_specs(path: Path | None = None) -> tuple[OverrideSpec, ...]:
    """strimzi-overrides/overrides.yaml, validated; a malformed file is a bug in the tool, not bad input."""
    path = path or asset_dir("strimzi-overrides") / "overrides.yaml"
    try:
        return tuple(_OverridesFile.model_validate(yaml.safe_load(path.read_text())).overrides)
    except ValidationError as exc:
        raise RuntimeError(f"{path} does not match its documented fields: {exc}") from exc


def _target(config: MigrationConfig) -> TargetConfig:
    if config.target is None:
        raise BadInput(
            "migration.yaml has no target section, so there is nothing to render for the Kubernetes side. "
            "Add `target:` (kind, namespace, cluster_name, replicas, node_ids, shared_listener, operator)."
        )
    return config.target


def _kafka_config(target: TargetConfig, overrides: tuple[RenderedOverride, ...]) -> Json:
    config: Json = {o.key: o.value for o in overrides if o.spec.set_in == "kafka_config"}
    if target.inter_broker_protocol_version:
        config["inter.broker.protocol.version"] = target.inter_broker_protocol_version
    for key in sorted(target.extra_config):
        if key in config:
            raise BadInput(
                f"target.extra_config sets {key}, which the mixed cluster's overrides set themselves. Remove it "
                "from extra_config (strimzi-overrides/README.md explains the value used)."
            )
        config[key] = target.extra_config[key]
    return config


def _cruise_control(overrides: tuple[RenderedOverride, ...]) -> Json | None:
    topic = next((o.value for o in overrides if o.spec.set_in == "cruise_control_config"), None)
    return None if topic is None else {"config": {"metric.reporter.topic": topic}}


def _template(relative: str) -> Json:
    return yaml.safe_load((asset_dir("strimzi-overrides") / relative).read_text())


def _fill(node: Any, context: Mapping[str, Any]) -> Any:
    """Placeholders in a parsed template: `${name}` alone takes the value as it is (any type), and a
    mapping key whose value renders to None is dropped; `${name}` inside a longer string is text."""
    if isinstance(node, dict):
        filled = {key: _fill(value, context) for key, value in node.items()}
        return {key: value for key, value in filled.items() if value is not None}
    if isinstance(node, list):
        return [_fill(item, context) for item in node]
    if isinstance(node, str):
        whole = _PLACEHOLDER.fullmatch(node)
        if whole:
            return copy.deepcopy(context[whole[1]])
        return _PLACEHOLDER.sub(lambda m: str(context[m[1]]), node)
    return node


def _named(items: list[Any]) -> bool:
    return all(isinstance(item, Mapping) and "name" in item for item in items)


def _without_server_fields(obj: Mapping[str, Any]) -> Json:
    cleaned = copy.deepcopy(dict(obj))
    cleaned.pop("status", None)
    metadata = cleaned.get("metadata") or {}
    for key in _SERVER_METADATA:
        metadata.pop(key, None)
    annotations = metadata.get("annotations") or {}
    for key in _SERVER_ANNOTATIONS:
        annotations.pop(key, None)
    if "annotations" in metadata and not annotations:
        metadata.pop("annotations")
    return cleaned


def _project(live: Any, shape: Any) -> Any:
    """The part of `live` at the paths `shape` has; lists of named items are matched by name."""
    if isinstance(shape, Mapping) and isinstance(live, Mapping):
        return {key: _project(live[key], value) for key, value in shape.items() if key in live}
    if isinstance(shape, list) and isinstance(live, list) and _named(shape) and _named(live):
        by_name = {item["name"]: item for item in live}
        return [_project(by_name[item["name"]], item) for item in shape if item["name"] in by_name]
    return live


def _dump_all(objects: Iterable[Any], *, sort_keys: bool) -> str:
    return yaml.safe_dump_all(list(objects), sort_keys=sort_keys, default_flow_style=False, width=120)
