"""The cluster as one consistent picture: brokers, topics, partitions, reassignments and throttles.

Pure data with derived views (under-replicated, offline, under-min-ISR, load per broker). Definitions
follow the brokers' own metrics (kafka.server.ReplicaManager / Partition), so what the migrator gates
on is what the team's dashboards already show. `to_dict()`/`from_dict()` round-trip through JSON, so a
phase can keep an inventory in its checkpointed state.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

JSON = dict[str, Any]
PartitionKey = tuple[str, int]

NO_LEADER = -1
MIN_INSYNC_REPLICAS = "min.insync.replicas"


@dataclass
class Broker:
    """A live broker, as registered in /brokers/ids/<id>."""

    id: int
    rack: str | None
    host: str | None
    port: int | None
    endpoints: list[str]  # "LISTENER://host:port"
    #: Schema version of the registration znode (5 on Kafka 3.x), not the Kafka release.
    registration_version: int | None = None
    features: JSON = field(default_factory=dict)
    jmx_port: int | None = None

    @classmethod
    def from_znode(cls, broker_id: int, data: JSON) -> "Broker":
        jmx = data.get("jmx_port")
        port = data.get("port")
        return cls(
            id=broker_id,
            rack=data.get("rack"),
            host=data.get("host"),
            # Without a PLAINTEXT listener the znode carries host null and port -1.
            port=port if port is not None and port >= 0 else None,
            endpoints=list(data.get("endpoints", [])),
            registration_version=data.get("version"),
            features=dict(data.get("features") or {}),
            jmx_port=jmx if jmx is not None and jmx >= 0 else None,
        )

    @property
    def address(self) -> str:
        """host:port of the PLAINTEXT listener, else of the first advertised endpoint."""
        if self.host and self.port is not None:
            return f"{self.host}:{self.port}"
        if self.endpoints:
            return self.endpoints[0].split("://", 1)[-1]
        return ""


@dataclass
class PartitionState:
    topic: str
    partition: int
    replicas: list[int]
    isr: list[int]
    leader: int = NO_LEADER
    adding: list[int] = field(default_factory=list)
    removing: list[int] = field(default_factory=list)
    #: Bytes on disk per replica (broker id -> bytes); a replica on a broker that is down is absent.
    size_bytes: dict[int, int] = field(default_factory=dict)

    @property
    def key(self) -> PartitionKey:
        return (self.topic, self.partition)

    @property
    def replication_factor(self) -> int:
        """The partition's own replication factor. During a reassignment `replicas` also holds the
        replicas being added; like the brokers, we compare the ISR against the original set only, so a
        move in progress is not counted as under-replicated."""
        return len(self.replicas) - len(self.adding)

    def is_offline(self, live_brokers: set[int]) -> bool:
        return self.leader == NO_LEADER or self.leader not in live_brokers

    def is_under_replicated(self, live_brokers: set[int]) -> bool:
        # The UnderReplicatedPartitions metric is reported by leaders, so offline partitions (which
        # have none) are reported as offline, not here.
        return not self.is_offline(live_brokers) and len(self.isr) < self.replication_factor

    def is_under_min_isr(self, live_brokers: set[int], min_insync_replicas: int) -> bool:
        return not self.is_offline(live_brokers) and len(self.isr) < min_insync_replicas


@dataclass
class Topic:
    name: str
    partitions: dict[int, PartitionState]
    #: The effective values of the few configs the migrator reasons about (see inventory.TOPIC_CONFIGS).
    configs: dict[str, str] = field(default_factory=dict)
    topic_id: str | None = None

    @property
    def replication_factor(self) -> int:
        return max((p.replication_factor for p in self.partitions.values()), default=0)

    def min_insync_replicas(self, default: int) -> int:
        value = self.configs.get(MIN_INSYNC_REPLICAS)
        return int(value) if value else default


@dataclass(frozen=True)
class Reassignment:
    """A partition move in flight (KIP-455 list_partition_reassignments, or the legacy znode)."""

    topic: str
    partition: int
    replicas: tuple[int, ...]
    adding: tuple[int, ...] = ()
    removing: tuple[int, ...] = ()
    source: Literal["api", "znode"] = "api"

    @property
    def key(self) -> PartitionKey:
        return (self.topic, self.partition)


@dataclass(frozen=True)
class Throttle:
    """A replication throttle config in effect: a rate on a broker or a replica list on a topic."""

    scope: Literal["broker", "topic"]
    entity: str  # broker id or topic name
    name: str
    value: str
    #: Where the broker says it comes from, e.g. DYNAMIC_BROKER_CONFIG, or DYNAMIC_DEFAULT_BROKER_CONFIG
    #: for a cluster-wide default (which shows on every broker).
    source: str = ""


@dataclass
class Inventory:
    cluster_id: str
    controller_id: int | None
    brokers: dict[int, Broker]
    topics: dict[str, Topic]
    reassignments: list[Reassignment] = field(default_factory=list)
    throttles: list[Throttle] = field(default_factory=list)
    #: The brokers' min.insync.replicas, for topics whose own effective value is unknown.
    default_min_insync_replicas: int = 1
    #: The /migration znode of a ZooKeeper -> KRaft migration, if one has started.
    zk_migration: JSON | None = None

    # -- views -----------------------------------------------------------------------------------

    @property
    def live_broker_ids(self) -> set[int]:
        return set(self.brokers)

    def partitions(self) -> list[PartitionState]:
        return [p for topic in self.topics.values() for p in topic.partitions.values()]

    def partition(self, topic: str, partition: int) -> PartitionState:
        return self.topics[topic].partitions[partition]

    @property
    def partition_count(self) -> int:
        return sum(len(t.partitions) for t in self.topics.values())

    @property
    def offline(self) -> list[PartitionState]:
        live = self.live_broker_ids
        return [p for p in self.partitions() if p.is_offline(live)]

    @property
    def under_replicated(self) -> list[PartitionState]:
        live = self.live_broker_ids
        return [p for p in self.partitions() if p.is_under_replicated(live)]

    @property
    def under_min_isr(self) -> list[PartitionState]:
        live = self.live_broker_ids
        return [
            p
            for topic in self.topics.values()
            for p in topic.partitions.values()
            if p.is_under_min_isr(live, topic.min_insync_replicas(self.default_min_insync_replicas))
        ]

    @property
    def replica_counts(self) -> dict[int, int]:
        """Replicas per broker, including live brokers with none and dead ones still in replica lists."""
        counts = Counter({b: 0 for b in self.brokers})
        counts.update(r for p in self.partitions() for r in p.replicas)
        return dict(sorted(counts.items()))

    @property
    def leader_counts(self) -> dict[int, int]:
        counts = Counter({b: 0 for b in self.brokers})
        counts.update(p.leader for p in self.partitions() if p.leader != NO_LEADER)
        return dict(sorted(counts.items()))

    @property
    def bytes_per_broker(self) -> dict[int, int]:
        counts = Counter({b: 0 for b in self.brokers})
        for p in self.partitions():
            counts.update(p.size_bytes)
        return dict(sorted(counts.items()))

    @property
    def dead_replica_brokers(self) -> set[int]:
        """Broker ids that appear in a replica list but are not registered."""
        return {r for p in self.partitions() for r in p.replicas} - self.live_broker_ids

    def summary(self) -> JSON:
        return {
            "cluster_id": self.cluster_id,
            "controller_id": self.controller_id,
            "brokers": len(self.brokers),
            "topics": len(self.topics),
            "partitions": self.partition_count,
            "under_replicated": len(self.under_replicated),
            "offline": len(self.offline),
            "under_min_isr": len(self.under_min_isr),
            "reassignments": len(self.reassignments),
            "throttles": len(self.throttles),
        }

    # -- serialisation ---------------------------------------------------------------------------

    def to_dict(self) -> JSON:
        """Plain JSON (lists, string keys). The derived views are included for readers; `from_dict`
        ignores them and derives them again."""
        replicas, leaders, sizes = self.replica_counts, self.leader_counts, self.bytes_per_broker
        return {
            "cluster_id": self.cluster_id,
            "controller_id": self.controller_id,
            "default_min_insync_replicas": self.default_min_insync_replicas,
            "zk_migration": self.zk_migration,
            "brokers": [
                asdict(b) | {"replicas": replicas[b.id], "leaders": leaders[b.id], "bytes": sizes[b.id]}
                for b in self.brokers.values()
            ],
            "topics": [
                {
                    "name": t.name,
                    "topic_id": t.topic_id,
                    "configs": t.configs,
                    "partitions": [
                        asdict(p) | {"size_bytes": {str(b): n for b, n in p.size_bytes.items()}}
                        for p in t.partitions.values()
                    ],
                }
                for t in self.topics.values()
            ],
            "reassignments": [asdict(r) for r in self.reassignments],
            "throttles": [asdict(t) for t in self.throttles],
            "summary": self.summary()
            | {
                "under_replicated_partitions": [f"{p.topic}-{p.partition}" for p in self.under_replicated],
                "offline_partitions": [f"{p.topic}-{p.partition}" for p in self.offline],
                "under_min_isr_partitions": [f"{p.topic}-{p.partition}" for p in self.under_min_isr],
            },
        }

    @classmethod
    def from_dict(cls, data: JSON) -> "Inventory":
        broker_fields = Broker.__dataclass_fields__
        return cls(
            cluster_id=data["cluster_id"],
            controller_id=data["controller_id"],
            default_min_insync_replicas=data.get("default_min_insync_replicas", 1),
            zk_migration=data.get("zk_migration"),
            brokers={
                b["id"]: Broker(**{k: v for k, v in b.items() if k in broker_fields}) for b in data["brokers"]
            },
            topics={
                t["name"]: Topic(
                    name=t["name"],
                    topic_id=t.get("topic_id"),
                    configs=dict(t.get("configs", {})),
                    partitions={
                        p["partition"]: PartitionState(
                            **(p | {"size_bytes": {int(b): n for b, n in p.get("size_bytes", {}).items()}})
                        )
                        for p in t["partitions"]
                    },
                )
                for t in data["topics"]
            },
            reassignments=[
                Reassignment(**(r | {k: tuple(r[k]) for k in ("replicas", "adding", "removing")}))
                for r in data.get("reassignments", [])
            ],
            throttles=[Throttle(**t) for t in data.get("throttles", [])],
        )
