"""Thin reader of a ZooKeeper-mode Kafka cluster's znodes (kazoo).

Returns decoded znode JSON; the cluster model gives it meaning. The chroot is applied here rather than
by kazoo so that, when it is wrong, the client can still look at the ensemble's root and say where the
Kafka clusters actually live.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, NoNodeError, OperationTimeoutError
from kazoo.handlers.threading import KazooTimeoutError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from migrator.clients.connection import ClusterConfig
from migrator.errors import BadInput

JSON = dict[str, Any]

log = logging.getLogger(__name__)
# kazoo warns on every refused reconnect; the failure that matters reaches the user as BadInput, so its
# chatter shows only where the application configured logging.
log.addHandler(logging.NullHandler())

#: Async reads kept in flight at once: enough to read a few thousand partitions in a second without
#: flooding a small ensemble.
_BATCH = 500

_transient = retry(
    retry=retry_if_exception_type((ConnectionLoss, OperationTimeoutError)),
    stop=stop_after_attempt(4),
    wait=wait_exponential(multiplier=0.2, max=2.0),
    reraise=True,
)


def split_connect(connect: str) -> tuple[str, str]:
    """'h1:2181,h2:2181/kafka' -> ('h1:2181,h2:2181', '/kafka'); no chroot -> ''."""
    hosts, slash, chroot = connect.partition("/")
    return hosts, (slash + chroot if chroot else "")


class ZooKeeper:
    """A session on the ensemble that holds the cluster's metadata; it only reads, except to move the
    controller (`request_controller_election`). Use as a context manager."""

    def __init__(self, connect: str, timeout: float = 10.0) -> None:
        self.connect = connect
        self.hosts, self.chroot = split_connect(connect)
        self.timeout = timeout
        self._client = KazooClient(hosts=self.hosts, timeout=timeout, logger=log)

    @classmethod
    def from_config(cls, cluster: ClusterConfig) -> "ZooKeeper":
        return cls(cluster.zookeeper_connect, cluster.timeout_seconds)

    def __enter__(self) -> "ZooKeeper":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            self._client.start(timeout=self.timeout)
        except KazooTimeoutError:
            self.close()
            raise BadInput(
                f"ZooKeeper at {self.hosts} did not answer within {self.timeout:g} s: check "
                "cluster.zookeeper_connect and that the ensemble is up and reachable from this machine."
            ) from None
        try:
            self._check_chroot()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        # stop() ends kazoo's reconnect loop; without it an unreachable ensemble keeps a thread retrying.
        self._client.stop()
        self._client.close()

    def _check_chroot(self) -> None:
        if self.exists("/brokers") and self.exists("/cluster/id"):
            return
        found = self._kafka_roots()
        where = (
            "Kafka clusters on this ensemble: " + ", ".join(f"{self.hosts}{root}" for root in found)
            if found
            else "no other Kafka cluster was found at the root of the ensemble or one level below it"
        )
        raise BadInput(
            f"ZooKeeper at {self.hosts} has no Kafka cluster under the chroot '{self.chroot or '/'}' "
            f"(no /brokers or /cluster/id there), so the chroot in cluster.zookeeper_connect is probably "
            f"wrong; a broker pointed at it would silently create a NEW cluster. {where}. Fix "
            "cluster.zookeeper_connect (keep the chroot the brokers' zookeeper.connect uses) and run again."
        )

    def _kafka_roots(self) -> list[str]:
        candidates = [""] + [f"/{child}" for child in self._client.get_children("/")]
        return [
            root or "/" for root in candidates if self._client.exists(f"{root}/cluster/id") is not None
        ]

    def _path(self, path: str) -> str:
        return f"{self.chroot}{path}"

    # -- generic reads ---------------------------------------------------------------------------

    @_transient
    def exists(self, path: str) -> bool:
        return self._client.exists(self._path(path)) is not None

    @_transient
    def get_json(self, path: str) -> JSON | None:
        """The znode's JSON, or None when it does not exist."""
        try:
            data, _ = self._client.get(self._path(path))
        except NoNodeError:
            return None
        return json.loads(data) if data else None

    @_transient
    def get_json_many(self, paths: Sequence[str]) -> dict[str, JSON | None]:
        """Read many znodes concurrently (kazoo async); a missing znode maps to None."""
        result: dict[str, JSON | None] = {}
        for start in range(0, len(paths), _BATCH):
            chunk = paths[start : start + _BATCH]
            pending = [(path, self._client.get_async(self._path(path))) for path in chunk]
            for path, future in pending:
                try:
                    data, _ = future.get(timeout=self.timeout)
                except NoNodeError:
                    result[path] = None
                else:
                    result[path] = json.loads(data) if data else None
        return result

    @_transient
    def children(self, path: str) -> list[str]:
        try:
            return self._client.get_children(self._path(path))
        except NoNodeError:
            return []

    # -- Kafka znodes ----------------------------------------------------------------------------

    def cluster_id(self) -> str:
        data = self.get_json("/cluster/id")
        if not data or "id" not in data:
            raise BadInput(
                f"ZooKeeper at {self.connect} has no /cluster/id: no broker of this cluster has started "
                "yet, or the chroot is wrong. Check cluster.zookeeper_connect."
            )
        return str(data["id"])

    def controller(self) -> JSON | None:
        """/controller: {"brokerid": N, "kraftControllerEpoch": E, ...}, or None during an election."""
        return self.get_json("/controller")

    def broker_ids(self) -> list[int]:
        return sorted(int(child) for child in self.children("/brokers/ids"))

    def brokers(self) -> dict[int, JSON]:
        """Registered (live) brokers: id -> /brokers/ids/<id> JSON (endpoints, rack, host, port, ...)."""
        ids = self.broker_ids()
        found = self.get_json_many([f"/brokers/ids/{i}" for i in ids])
        # A broker can deregister between the listing and the read; it is simply not live any more.
        return {i: data for i in ids if (data := found[f"/brokers/ids/{i}"]) is not None}

    def topic_names(self) -> list[str]:
        return sorted(self.children("/brokers/topics"))

    def topics(self, names: Iterable[str] | None = None) -> dict[str, JSON]:
        """/brokers/topics/<t> JSON: partitions (assignment), adding_replicas, removing_replicas, topic_id."""
        names = self.topic_names() if names is None else list(names)
        found = self.get_json_many([f"/brokers/topics/{t}" for t in names])
        return {t: data for t in names if (data := found[f"/brokers/topics/{t}"]) is not None}

    def partition_states(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], JSON | None]:
        """(topic, partition) -> state JSON (leader, isr, leader_epoch, ...); None if not yet written."""
        keys = list(partitions)
        found = self.get_json_many([f"/brokers/topics/{t}/partitions/{p}/state" for t, p in keys])
        return {(t, p): found[f"/brokers/topics/{t}/partitions/{p}/state"] for t, p in keys}

    def reassign_partitions(self) -> JSON | None:
        """The legacy /admin/reassign_partitions request, present only while one is pending."""
        return self.get_json("/admin/reassign_partitions")

    def migration(self) -> JSON | None:
        """/migration, written by KRaft controllers during a ZooKeeper -> KRaft migration."""
        return self.get_json("/migration")

    # -- the one write ---------------------------------------------------------------------------

    @_transient
    def request_controller_election(self) -> None:
        """Delete /controller, the standard way to move the controller in ZooKeeper mode: the controller
        watches its own znode and resigns, and every live broker races to create it again."""
        try:
            self._client.delete(self._path("/controller"))
        except NoNodeError:
            pass  # an election is already under way
