"""What the exporter reads from the cluster: one consistent sample, refreshed in the background.

A scrape never waits on Kafka, ZooKeeper or DNS: a sampler thread reads them every `interval`
seconds and the collector serves the last sample (with its time, and whether the last read failed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from migrator.clients.kafka import KafkaAdmin
from migrator.clients.zk import ZooKeeper
from migrator.cluster.inventory import collect_inventory, reassignments_in_flight, refresh_from_zookeeper
from migrator.cluster.model import Inventory
from migrator.cluster.throttles import FOLLOWER_RATE, LEADER_RATE, throttles_from_configs
from migrator.config import MigrationConfig
from migrator.dns.facade import Facade
from migrator.dns.providers import make_provider
from migrator.metrics.environments import ENVIRONMENTS, VM, environment

log = logging.getLogger(__name__)

#: Throttle config name -> the `direction` label of the throttle metric.
THROTTLE_DIRECTIONS = {LEADER_RATE: "leader", FOLLOWER_RATE: "follower"}
#: Every this many samples the whole inventory is read again (topic configs, replica sizes); the
#: samples between read ZooKeeper, the reassignments in flight and the brokers' configs only.
FULL_READ_EVERY = 6


@dataclass(frozen=True)
class FacadeTarget:
    name: str
    target: str
    env: str  # the environment of the broker that advertises `target`, "unknown" if none does


@dataclass
class ClusterSample:
    at: float
    #: broker id -> environment, for every live broker and every broker a replica list names.
    brokers: dict[int, str]
    live: frozenset[int]
    replicas: dict[int, int]
    leaders: dict[int, int]
    under_replicated: int
    under_min_isr: int
    offline: int
    reassignments: int
    #: (broker id, "leader"|"follower") -> bytes/s of a throttle in force.
    throttles: dict[tuple[int, str], float]
    facade: list[FacadeTarget] = field(default_factory=list)

    def per_environment(self, counts: dict[int, int]) -> dict[str, int]:
        totals = Counter({env: 0 for env in ENVIRONMENTS})
        for broker, count in counts.items():
            totals[self.brokers.get(broker, VM)] += count
        return dict(totals)


def sample_inventory(inventory: Inventory, kubernetes_ids: frozenset[int], at: float) -> ClusterSample:
    replicas = inventory.replica_counts
    leaders = {b: 0 for b in replicas} | inventory.leader_counts
    throttles: dict[tuple[int, str], float] = {
        (b, direction): 0.0 for b in inventory.brokers for direction in THROTTLE_DIRECTIONS.values()
    }
    for throttle in inventory.throttles:
        if throttle.scope == "broker" and throttle.name in THROTTLE_DIRECTIONS:
            throttles[(int(throttle.entity), THROTTLE_DIRECTIONS[throttle.name])] = float(throttle.value)
    return ClusterSample(
        at=at,
        brokers={b: environment(b, kubernetes_ids) for b in sorted(set(replicas) | set(inventory.brokers))},
        live=frozenset(inventory.brokers),
        replicas=replicas,
        leaders=leaders,
        under_replicated=len(inventory.under_replicated),
        under_min_isr=len(inventory.under_min_isr),
        offline=len(inventory.offline),
        reassignments=len(inventory.reassignments),
        throttles=throttles,
    )


def read_facade(
    config: MigrationConfig, facade: Facade, inventory: Inventory, kubernetes_ids: frozenset[int]
) -> list[FacadeTarget]:
    """What each facade name (one per live broker, and the bootstrap name) points at; names that do
    not exist (yet) are left out."""
    assert config.dns is not None
    dns = config.dns
    env_of_host = {b.host: environment(b.id, kubernetes_ids) for b in inventory.brokers.values() if b.host}
    found = []
    for name in [*(dns.broker_name(b) for b in sorted(inventory.brokers)), dns.bootstrap_fqdn]:
        for record in facade.read(name).records:
            found += [FacadeTarget(record.name, value, env_of_host.get(value.rstrip("."), "unknown")) for value in record.values]
    return found


class InventoryReader:
    """Reads the inventory over long-lived clients: in full every FULL_READ_EVERY reads, and in
    between only what changes during a migration and costs the brokers little (like the mover's own
    health checks, it does not ask every broker for its log dirs each time)."""

    def __init__(self, config: MigrationConfig) -> None:
        self.config = config
        self._zk: ZooKeeper | None = None
        self._admin: KafkaAdmin | None = None
        self._known: Inventory | None = None
        self._reads = 0

    def read(self) -> Inventory:
        try:
            return self._read()
        except BaseException:
            self.close()  # a broken session is opened again on the next read
            raise

    def _read(self) -> Inventory:
        if self._zk is None:
            zk = ZooKeeper.from_config(self.config.cluster)
            zk.open()
            self._zk, self._admin = zk, KafkaAdmin(self.config.cluster)
        assert self._admin is not None
        self._reads += 1
        if self._known is None or self._reads % FULL_READ_EVERY == 0:
            self._known = collect_inventory(self._zk, self._admin, self.config.cluster)
            return self._known
        inventory = refresh_from_zookeeper(self._zk, self._known)
        inventory.reassignments = reassignments_in_flight(
            self._admin.list_partition_reassignments(), self._zk.reassign_partitions()
        )
        inventory.throttles = throttles_from_configs(self._admin.broker_configs(sorted(inventory.brokers)), {})
        return inventory

    def close(self) -> None:
        zk, self._zk = self._zk, None
        if zk is not None:
            zk.close()
        admin, self._admin = self._admin, None
        if admin is not None:
            admin.close()


class ClusterSampler:
    """Reads the cluster every `interval` seconds on a daemon thread; `latest` is the last good sample."""

    def __init__(
        self,
        config: MigrationConfig,
        kubernetes_ids: Callable[[], frozenset[int]],
        interval: float = 10.0,
    ) -> None:
        self.config = config
        self.interval = interval
        self._kubernetes_ids = kubernetes_ids
        self._reader = InventoryReader(config)
        self.latest: ClusterSample | None = None
        self.failures = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._facade: Facade | None = None

    def facade(self) -> Facade | None:
        dns = self.config.dns
        if dns is not None and self._facade is None:
            self._facade = Facade(make_provider(dns), self.config.migration_id, dns.ttl_seconds)
        return self._facade

    def sample_once(self) -> ClusterSample | None:
        try:
            inventory = self._reader.read()
            ids = self._kubernetes_ids()
            sample = sample_inventory(inventory, ids, time.time())
            if (facade := self.facade()) is not None:
                sample.facade = read_facade(self.config, facade, inventory, ids)
        except Exception as exc:  # noqa: BLE001 - a scrape must keep working while the cluster is unreachable
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("metrics: reading the cluster failed: %s", self.last_error)
            return None
        self.latest, self.last_error = sample, None
        return sample

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="metrics-cluster-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample_once()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.config.cluster.timeout_seconds * 3)
        if self._thread is None or not self._thread.is_alive():
            self._reader.close()
