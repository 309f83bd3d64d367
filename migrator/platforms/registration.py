"""What ZooKeeper says about brokers a platform starts or stops: /brokers/ids/<id> under the cluster's chroot.

A ZooKeeper-mode broker registers only after it has read /cluster/id from the chroot it was given, so a
registration under our chroot (whose /cluster/id we compare with the configured one) proves that the
broker joined this cluster. One that registered under another chroot created or joined ANOTHER
cluster: we look for that too, so it is reported as such instead of as "not registered yet".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kazoo.client import KazooClient

from migrator.clients.zk import ZooKeeper, split_connect
from migrator.clients.zk import log as zk_log  # kazoo's chatter stays quiet, as in the client
from migrator.errors import BadInput, PermanentError
from migrator.platforms.model import Registration


@dataclass(frozen=True)
class RegistrationSnapshot:
    registered: dict[int, Registration]
    #: broker id -> the chroot ('/' for the root) it registered under instead of ours.
    misplaced: dict[int, str] = field(default_factory=dict)


class Registrations:
    def __init__(self, zookeeper_connect: str, cluster_id: str | None, timeout: float = 10.0) -> None:
        self.zookeeper_connect = zookeeper_connect
        self.hosts, self.chroot = split_connect(zookeeper_connect)
        self.cluster_id = cluster_id
        self.timeout = timeout

    def read(self, broker_ids: Iterable[int]) -> RegistrationSnapshot:
        ids = sorted(set(broker_ids))
        with ZooKeeper(self.zookeeper_connect, self.timeout) as zk:
            found_id = zk.cluster_id()
            if self.cluster_id is not None and found_id != self.cluster_id:
                raise BadInput(
                    f"ZooKeeper at {self.zookeeper_connect} holds the cluster {found_id}, not cluster.cluster_id "
                    f"{self.cluster_id}. Brokers provisioned there would join the wrong cluster; fix "
                    "cluster.zookeeper_connect or cluster.cluster_id in migration.yaml. Nothing was changed."
                )
            znodes = zk.get_json_many([f"/brokers/ids/{i}" for i in ids])
        registered = {
            i: _registration(i, data) for i in ids if (data := znodes[f"/brokers/ids/{i}"]) is not None
        }
        missing = [i for i in ids if i not in registered]
        return RegistrationSnapshot(registered, self._misplaced(missing) if missing else {})

    def _misplaced(self, broker_ids: list[int]) -> dict[int, str]:
        """Registrations of these ids at the ensemble's root or one level below it, outside our chroot.
        A raw kazoo session: the ZooKeeper client reads ONE cluster, under its chroot."""
        client = KazooClient(hosts=self.hosts, timeout=self.timeout, logger=zk_log)
        try:
            client.start(timeout=self.timeout)
            roots = [""] + [f"/{child}" for child in client.get_children("/") if child != "zookeeper"]
            found: dict[int, str] = {}
            for other in roots:
                if other == self.chroot:
                    continue
                for broker_id in broker_ids:
                    if broker_id not in found and client.exists(f"{other}/brokers/ids/{broker_id}") is not None:
                        found[broker_id] = other or "/"
            return found
        finally:
            client.stop()
            client.close()


def _registration(broker_id: int, data: dict[str, Any]) -> Registration:
    return Registration(
        broker_id=broker_id,
        rack=data.get("rack"),
        host=data.get("host"),
        endpoints=tuple(data.get("endpoints") or ()),
    )


def advertised_host(registration: Registration) -> str:
    """The host a broker tells clients to connect to (its PLAINTEXT host, else its first endpoint's)."""
    if registration.host:
        return registration.host
    for endpoint in registration.endpoints:
        host = endpoint.split("://", 1)[-1].rpartition(":")[0].strip("[]")
        if host:
            return host
    raise PermanentError(
        f"Broker {registration.broker_id} registered no advertised host, so no facade name can lead to it. "
        "Check its advertised.listeners (source_platform.server_properties) and restart it."
    )
