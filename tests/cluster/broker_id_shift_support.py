"""Shared setup and readings of the broker-ID shift's cluster tests.

The migration.yaml these tests write describes a real deployment in miniature: the source platform is
the sandbox (`local`), the DNS facade lives in a real BIND, and `cluster.bootstrap_servers` lists the
old and the future brokers' addresses, as an operator would before retiring the old ones.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kazoo.client import KazooClient

from migrator.cluster.throttles import BROKER_THROTTLE_CONFIGS, TOPIC_THROTTLE_CONFIGS
from migrator.config import load_config
from migrator.dns.resolve import resolve_bootstrap
from migrator.errors import TemporaryError
from migrator.sandbox.cluster import SandboxCluster
from migrator.sandbox.dns_server import DnsServer
from migrator.sandbox.ports import broker_host
from migrator.session import Session
from tests.waiting import unique, wait_for  # noqa: F401  (the shift tests import both from here)

OFFSET = 100
PartitionKey = tuple[str, int]


#: Client settings of the workloads that watch the shift. librdkafka's idempotent producer can write a
#: batch twice when a partition's leader changes while several requests are in flight, bumping its epoch
#: to recover (confluentinc/librdkafka#4953, open); every replica move changes a leader once, so with
#: the default of 5 in flight a test would sometimes count the client's duplicate as the migration's.
WORKLOAD_CLIENT = {"max.in.flight.requests.per.connection": 1}






def write_config(
    cluster: SandboxCluster, dns: DnsServer, directory: Path, migration_id: str, **movement: Any
) -> Path:
    """migration.yaml for a shift of `cluster` by OFFSET, the checkpoint beside it."""
    path = cluster.write_migration_config(directory / "migration.yaml", migration_id=migration_id)
    data = yaml.safe_load(path.read_text())
    future = [f"{broker_host(b + OFFSET)}:{cluster.broker_port}" for b in sorted(cluster.brokers)]
    data["cluster"]["bootstrap_servers"] += "," + ",".join(future)
    data["source_platform"] = {"kind": "local", "local": {"sandbox_dir": str(cluster.workdir)}, "register_timeout_seconds": 120}
    data["dns"] = dns.config_section([dns] * len(dns.nameservers), ttl_seconds=1) | {"client_scan": {"confirmed": True}}
    data["broker_id_shift"] = {"id_offset": OFFSET, "movement": movement}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def settle_earlier_phases(config_path: Path) -> None:
    """preflight and dns-facade, as `migrator run` would run them, so the shift may start."""
    session = Session.open(load_config(config_path))
    for name in ("preflight", "dns-facade"):
        record = session.machine.run(session.phase(name), session.context())
        assert record.status.value == "done", (name, record.error)


def fill(
    cluster: SandboxCluster,
    topic: str,
    partitions: int,
    mb: int,
    *,
    compacted: bool = False,
    replication: int = 3,
    config: dict[str, str] | None = None,
) -> None:
    """A topic with about `mb` MB of incompressible records, produced in large batches."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    config = {**(config or {}), **({"cleanup.policy": "compact"} if compacted else {})}
    admin.create_topics([NewTopic(topic, partitions, replication, config=config)], operation_timeout=30)[topic].result()
    wait_for(
        lambda: (t := admin.list_topics(topic, timeout=10).topics.get(topic)) is not None
        and len(t.partitions) == partitions
        and all(p.leader >= 0 for p in t.partitions.values()),
        f"leaders of {topic}",
    )
    producer = Producer(
        {
            "bootstrap.servers": cluster.bootstrap_servers,
            "acks": "all",
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "compression.type": "none",
            "queue.buffering.max.kbytes": 262_144,
        }
    )
    size = 64 * 1024
    noise = os.urandom(4 * 1024 * 1024)
    rng = random.Random(topic)
    for i in range(mb * 1_000_000 // size):
        start = rng.randrange(len(noise) - size)
        # Compacted records need keys; distinct keys keep the cleaner from shrinking the data set.
        producer.produce(topic, key=f"k{i}".encode(), value=noise[start : start + size], partition=i % partitions)
        producer.poll(0)
    assert producer.flush(120) == 0


def end_offsets(cluster: SandboxCluster, bootstrap: str, topics: Iterable[str]) -> dict[PartitionKey, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("offsets")})
    try:
        found = {}
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=20).topics[topic]
            for p in metadata.partitions:
                found[(topic, p)] = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=20)[1]
        return found
    finally:
        consumer.close()


class Znodes:
    """Raw reads of the cluster's znodes (what every broker, live or retired, left in ZooKeeper)."""

    def __init__(self, cluster: SandboxCluster) -> None:
        self.chroot = cluster.chroot
        self.client = KazooClient(hosts=cluster.zookeeper_hosts, timeout=10)
        self.client.start(timeout=10)

    def close(self) -> None:
        self.client.stop()
        self.client.close()

    def __enter__(self) -> Znodes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _json(self, path: str) -> dict[str, Any] | None:
        full = f"{self.chroot}{path}"
        if self.client.exists(full) is None:
            return None
        raw, _ = self.client.get(full)
        return json.loads(raw) if raw else None

    def _children(self, path: str) -> list[str]:
        full = f"{self.chroot}{path}"
        return sorted(self.client.get_children(full)) if self.client.exists(full) else []

    def brokers(self) -> dict[int, str | None]:
        """Registered broker id -> rack."""
        return {int(b): (self._json(f"/brokers/ids/{b}") or {}).get("rack") for b in self._children("/brokers/ids")}

    def controller(self) -> int | None:
        return (self._json("/controller") or {}).get("brokerid")

    def assignment(self) -> dict[PartitionKey, list[int]]:
        found = {}
        for topic in self._children("/brokers/topics"):
            for p, replicas in (self._json(f"/brokers/topics/{topic}") or {}).get("partitions", {}).items():
                found[(topic, int(p))] = replicas
        return found

    def assignment_with_group_offsets(self) -> dict[PartitionKey, list[int]]:
        """The assignment once a consumer group's first lookup has created __consumer_offsets (the shift
        moves it like any topic, so a baseline taken before it exists would miss it)."""

        def created() -> dict[PartitionKey, list[int]] | None:
            found = self.assignment()
            return found if ("__consumer_offsets", 0) in found else None

        return wait_for(created, "the consumer offsets topic")

    def leaders(self) -> dict[PartitionKey, int]:
        return {
            key: (self._json(f"/brokers/topics/{key[0]}/partitions/{key[1]}/state") or {}).get("leader", -1)
            for key in self.assignment()
        }

    def throttles(self) -> dict[str, dict[str, str]]:
        """'broker <id>' / 'topic <name>' -> the throttle configs ZooKeeper holds for it (dynamic configs
        live in /config whether or not the broker runs)."""
        found = {}
        for kind, names in (("brokers", BROKER_THROTTLE_CONFIGS), ("topics", TOPIC_THROTTLE_CONFIGS)):
            for entity in self._children(f"/config/{kind}"):
                configs = (self._json(f"/config/{kind}/{entity}") or {}).get("config", {})
                if held := {k: v for k, v in configs.items() if k in names}:
                    found[f"{kind[:-1]} {entity}"] = held
        return found

    def in_flight(self, topic: str) -> bool:
        """Whether a reassignment of the topic is copying data (ZooKeeper lists its adding replicas)."""
        return bool((self._json(f"/brokers/topics/{topic}") or {}).get("adding_replicas"))


def facade(dns: DnsServer, port: int, name: str) -> list[str]:
    """The addresses BIND answers for a facade name ([] for none)."""
    try:
        return resolve_bootstrap(name, port, dns.address).split(",")
    except TemporaryError:
        return []


def stop_everything(cluster: SandboxCluster) -> None:
    """Brokers the phase started are recorded only in sandbox.json: stop the cluster from there too."""
    SandboxCluster.load(cluster.workdir).down(grace=20)
    cluster.down(grace=10)
