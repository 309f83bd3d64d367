"""The `target:` section of migration.yaml: where the new brokers run and how the Strimzi side of the
mixed cluster is set up.

    target:
      kind: strimzi                    # strimzi | local
      namespace: kafka
      cluster_name: events             # the Kafka CR
      node_pool: brokers               # the KafkaNodePool
      replicas: 3
      node_ids: "[1000-1999]"          # strimzi.io/next-node-ids; must not hold a VM broker's id
      storage: {type: persistent-claim, size: 500Gi, storage_class: gp3}
      kafka_version: 3.9.1
      listeners:                       # client listeners (Strimzi renders them as usual)
        - {name: plain, port: 9092, type: internal}
      shared_listener:                 # the inter-broker listener both sides share BY NAME (SHARED-9094)
        {name: shared, port: 9094, type: internal, advertised_host_template: "kafka-{nodeId}.repl.example.com"}
      cruise_control: {enabled: true, metrics_topic: __CruiseControlMetrics}
      operator:
        strimzi_version: 0.45.2
        forked_image: registry.example.com/strimzi/operator:0.45.2-mixed-zk

Facts behind the checks are in strimzi-overrides/README.md; the ones that are Strimzi's own rules
(forbidden config prefixes, the node-ID range syntax, supported Kafka versions) are copied from Strimzi
0.45.2 so a config that Strimzi would silently reshape is refused here instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from migrator.config_base import ConfigModel

# KafkaClusterSpec.FORBIDDEN_PREFIXES / FORBIDDEN_PREFIX_EXCEPTIONS in Strimzi 0.45.2 (api module). Keys
# matching a prefix (lower-cased startsWith), unless listed as an exception (exact match), are dropped
# from spec.kafka.config with a log line only.
STRIMZI_FORBIDDEN_PREFIXES: tuple[str, ...] = (
    "listeners", "advertised.", "broker.", "listener.", "host.name", "port", "inter.broker.listener.name",
    "sasl.", "ssl.", "security.", "password.", "log.dir", "zookeeper.connect", "zookeeper.set.acl",
    "zookeeper.ssl", "zookeeper.clientCnxnSocket", "authorizer.", "super.user", "cruise.control.metrics.topic",
    "cruise.control.metrics.reporter.bootstrap.servers", "node.id", "process.roles", "controller.",
    "metadata.log.dir", "zookeeper.metadata.migration.enable", "client.quota.callback.static.kafka.admin.",
    "client.quota.callback.static.produce", "client.quota.callback.static.fetch",
    "client.quota.callback.static.storage.per.volume.limit.min.available.",
    "client.quota.callback.static.excluded.principal.name.list",
)  # fmt: skip
STRIMZI_FORBIDDEN_PREFIX_EXCEPTIONS: frozenset[str] = frozenset({
    "zookeeper.connection.timeout.ms", "sasl.server.max.receive.size", "ssl.cipher.suites", "ssl.protocol",
    "ssl.enabled.protocols", "ssl.secure.random.implementation", "cruise.control.metrics.topic.num.partitions",
    "cruise.control.metrics.topic.replication.factor", "cruise.control.metrics.topic.retention.ms",
    "cruise.control.metrics.topic.auto.create.retries", "cruise.control.metrics.topic.auto.create.timeout.ms",
    "cruise.control.metrics.topic.min.insync.replicas", "controller.quorum.election.backoff.max.ms",
    "controller.quorum.election.timeout.ms", "controller.quorum.fetch.timeout.ms",
})  # fmt: skip


def strimzi_drops(key: str) -> bool:
    """Whether upstream Strimzi 0.45 silently ignores `key` in spec.kafka.config (the fork's reason to be)."""
    if key in STRIMZI_FORBIDDEN_PREFIX_EXCEPTIONS:
        return False
    lowered = key.lower()
    return any(lowered.startswith(prefix.lower()) for prefix in STRIMZI_FORBIDDEN_PREFIXES)


# Kafka versions each 0.45 patch release supports (Strimzi CHANGELOG). 3.9.2 is left out on purpose: no
# later operator line that a handback can upgrade to lists it (0.46 has 3.9.0 only, 0.47 3.9.0 and 3.9.1).
_KAFKA_BY_STRIMZI = {
    "0.45.1": ("3.9.0", "3.9.1"),
    "0.45.2": ("3.9.0", "3.9.1"),
}
SUPPORTED_STRIMZI_VERSIONS = tuple(_KAFKA_BY_STRIMZI)
# Kafka refuses a broker.id above reserved.broker.max.id while broker.id.generation.enable is on (its
# default, and `broker.` keys cannot be set through Strimzi).
KAFKA_DEFAULT_RESERVED_BROKER_MAX_ID = 1000
# Strimzi's own listeners (CONTROLPLANE-9090, REPLICATION-9091) and the metrics and JMX ports.
_RESERVED_PORTS = {9090, 9091, 9404, 9999}

# strimzi.io/next-node-ids syntax, as NodeIdRange in Strimzi 0.45 parses it: "[0, 5-9, 20-10]".
_SINGLE_OR_RANGE = r"([0-9]+|[0-9]+\s*-\s*[0-9]+)"
_NODE_ID_RANGE = re.compile(r"^\s*\[(\s*" + _SINGLE_OR_RANGE + r"\s*,)*\s*" + _SINGLE_OR_RANGE + r"\s*]\s*$")
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_IMAGE_TAG = re.compile(r":(?P<tag>[\w][\w.\-]{0,127})$")


def parse_node_id_range(text: str) -> tuple[int, ...]:
    """The IDs of a strimzi.io/next-node-ids value in the order Strimzi hands them out (a descending
    range counts down). Raises ValueError for what Strimzi would reject and silently replace by
    'lowest free ID from 0'."""
    if not _NODE_ID_RANGE.match(text):
        raise ValueError(
            f"{text!r} is not a Strimzi node-ID range such as \"[1000-1999]\" or \"[1000, 1100-1199]\"; "
            "Strimzi would ignore it and number the new brokers from 0, onto the VM brokers' IDs"
        )
    ids: list[int] = []
    for item in text.strip().strip("[]").split(","):
        start, _, end = (part.strip() for part in item.partition("-"))
        first, last = int(start), int(end or start)
        step = 1 if last >= first else -1
        ids.extend(range(first, last + step, step))
    return tuple(dict.fromkeys(ids))  # Strimzi skips an ID it already handed out


class ListenerConfig(ConfigModel):
    """A listener of the Kafka CR (spec.kafka.listeners). Strimzi names it `<NAME>-<PORT>` in the
    broker config, e.g. name `shared`, port 9094 -> `SHARED-9094`."""

    name: str = Field(pattern=r"^[a-z0-9]{1,11}$")
    port: int = Field(ge=9092, le=65535)
    type: Literal["internal", "cluster-ip", "nodeport", "loadbalancer"] = "internal"
    tls: bool = False
    advertised_host_template: str | None = Field(
        default=None, description="Per-broker advertised host; Strimzi fills in {nodeId} and {nodePodName}."
    )

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if value in _RESERVED_PORTS:
            raise ValueError(f"port {value} is taken by Strimzi itself (9090, 9091, 9404 and 9999 are)")
        return value

    @property
    def kafka_name(self) -> str:
        return f"{self.name.upper()}-{self.port}"

    @property
    def security_protocol(self) -> str:
        return "SSL" if self.tls else "PLAINTEXT"

    def to_crd(self) -> dict[str, object]:
        listener: dict[str, object] = {"name": self.name, "port": self.port, "type": self.type, "tls": self.tls}
        if self.advertised_host_template:
            listener["configuration"] = {"advertisedHostTemplate": self.advertised_host_template}
        return listener


class StorageConfig(ConfigModel):
    type: Literal["persistent-claim", "ephemeral"] = "persistent-claim"
    size: str | None = Field(default=None, pattern=r"^([0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
    storage_class: str | None = None
    delete_claim: bool = False

    @model_validator(mode="after")
    def _size(self) -> StorageConfig:
        if self.type == "persistent-claim" and not self.size:
            raise ValueError("persistent-claim storage needs a size, e.g. size: 500Gi")
        return self

    def to_crd(self) -> dict[str, object]:
        storage: dict[str, object] = {"type": self.type}
        if self.type == "persistent-claim":
            storage["size"] = self.size
            if self.storage_class:
                storage["class"] = self.storage_class
            storage["deleteClaim"] = self.delete_claim
        elif self.size:
            storage["sizeLimit"] = self.size
        return storage


class CruiseControlConfig(ConfigModel):
    enabled: bool = False
    #: The topic the metrics reporters on BOTH sides write to; set through spec.cruiseControl.config
    #: (metric.reporter.topic), which needs no fork.
    metrics_topic: str = Field(default="__CruiseControlMetrics", pattern=r"^[a-zA-Z0-9._\-]{1,249}$")


class OperatorConfig(ConfigModel):
    """The cluster operator Deployment and the two images it switches between."""

    namespace: str | None = Field(default=None, description="Defaults to target.namespace.")
    deployment: str = "strimzi-cluster-operator"
    container: str = "strimzi-cluster-operator"
    strimzi_version: str = "0.45.2"
    upstream_image: str | None = Field(default=None, description="Defaults to quay.io/strimzi/operator:<version>.")
    forked_image: str = Field(description="The operator build that lets the overrides through (see README).")

    @field_validator("strimzi_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value not in _KAFKA_BY_STRIMZI:
            raise ValueError(
                f"Strimzi {value} is not supported: use one of {', '.join(SUPPORTED_STRIMZI_VERSIONS)} "
                "(0.45 is the last line with ZooKeeper clusters; 0.45.1 fixed a metadata loss when a KRaft "
                "migration is restarted after a rollback)"
            )
        return value

    @model_validator(mode="after")
    def _images(self) -> OperatorConfig:
        if self.upstream_image is None:
            self.upstream_image = f"quay.io/strimzi/operator:{self.strimzi_version}"
        tag = _IMAGE_TAG.search(self.upstream_image)
        if "@" not in self.upstream_image and (tag is None or tag["tag"] != self.strimzi_version):
            raise ValueError(
                f"upstream_image {self.upstream_image} is not tagged {self.strimzi_version}: handback must "
                "switch to the upstream build of the SAME version, or the switch itself reconciles differently"
            )
        if self.forked_image == self.upstream_image:
            raise ValueError("forked_image and upstream_image are the same image; name the forked build")
        return self


class TargetConfig(ConfigModel):
    kind: Literal["strimzi", "local"] = "strimzi"
    namespace: str = Field(default="kafka", pattern=_DNS_LABEL, max_length=63)
    cluster_name: str = Field(pattern=_DNS_LABEL, max_length=63)
    node_pool: str = Field(default="brokers", pattern=_DNS_LABEL, max_length=63)
    replicas: int = Field(ge=1)
    node_ids: str = Field(default="[1000-1999]", description="strimzi.io/next-node-ids of the node pool.")
    storage: StorageConfig = Field(default_factory=lambda: StorageConfig(size="100Gi"))
    kafka_version: str = "3.9.1"
    inter_broker_protocol_version: str | None = Field(
        default=None, pattern=r"^\d+\.\d+(-IV\d+)?$", description="Set it to the VM brokers' value."
    )
    listeners: list[ListenerConfig] = Field(
        default_factory=lambda: [ListenerConfig(name="plain", port=9092)], min_length=1
    )
    shared_listener: ListenerConfig
    rack_topology_key: str | None = Field(default=None, description="e.g. topology.kubernetes.io/zone")
    extra_config: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="More spec.kafka.config entries (match the VM brokers' settings)."
    )
    cruise_control: CruiseControlConfig = Field(default_factory=CruiseControlConfig)
    operator: OperatorConfig | None = None
    # Where the Strimzi side is reached (kind strimzi), as in checkpoint: (deploy/rbac/README.md).
    kubeconfig: Path | None = Field(default=None, description="Default: $KUBECONFIG, ~/.kube/config, or in-pod.")
    context: str | None = None

    @field_validator("node_ids")
    @classmethod
    def _node_ids(cls, value: str) -> str:
        parse_node_id_range(value)
        return value

    @field_validator("shared_listener")
    @classmethod
    def _shared(cls, value: ListenerConfig) -> ListenerConfig:
        if value.tls:
            raise ValueError(
                "a TLS shared listener is not supported yet: the Strimzi brokers would also need a truststore "
                "for the VM brokers' certificates (listener.name.<shared>.ssl.truststore.*), which these "
                "overrides do not carry; see strimzi-overrides/README.md"
            )
        return value

    @field_validator("extra_config")
    @classmethod
    def _extra(cls, value: dict[str, str | int | float | bool]) -> dict[str, str | int | float | bool]:
        dropped = sorted(key for key in value if strimzi_drops(key))
        if dropped:
            raise ValueError(
                f"Strimzi would silently ignore {', '.join(dropped)} (forbidden prefixes); the overrides the "
                "mixed cluster needs are rendered from strimzi-overrides/overrides.yaml, not from extra_config"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TargetConfig:
        version = self.operator.strimzi_version if self.operator else SUPPORTED_STRIMZI_VERSIONS[-1]
        if self.kafka_version not in _KAFKA_BY_STRIMZI[version]:
            raise ValueError(
                f"kafka_version {self.kafka_version} is not supported here with Strimzi {version}: use one of "
                f"{', '.join(_KAFKA_BY_STRIMZI[version])} (3.9 is the last ZooKeeper line, and these are the "
                "versions the operator can still run after handback and upgrade)"
            )
        if self.kind == "strimzi" and self.operator is None:
            raise ValueError("kind strimzi needs an operator section naming at least forked_image")
        listeners = [*self.listeners, self.shared_listener]
        for attribute in ("name", "port"):
            values = [getattr(listener, attribute) for listener in listeners]
            if len(set(values)) != len(values):
                raise ValueError(f"listener {attribute}s must be unique across listeners and shared_listener")
        ids = self.node_id_candidates
        if len(ids) < self.replicas:
            raise ValueError(
                f"node_ids {self.node_ids} holds {len(ids)} IDs for {self.replicas} replicas; Strimzi would "
                "number the rest from 0, onto the VM brokers' IDs"
            )
        longest_pod = f"{self.cluster_name}-{self.node_pool}-{max(ids)}"
        if len(longest_pod) > 63:
            raise ValueError(f"pod names such as {longest_pod} exceed 63 characters; shorten cluster_name or node_pool")
        return self

    @property
    def node_id_candidates(self) -> tuple[int, ...]:
        """Every ID the node pool may be given, in Strimzi's order."""
        return parse_node_id_range(self.node_ids)

    @property
    def reserved_broker_max_id(self) -> int | None:
        """The reserved.broker.max.id the new brokers need, or None when Kafka's default already allows
        every ID of the range."""
        highest = max(self.node_id_candidates)
        return highest if highest > KAFKA_DEFAULT_RESERVED_BROKER_MAX_ID else None

    @property
    def operator_namespace(self) -> str:
        return (self.operator.namespace if self.operator else None) or self.namespace
