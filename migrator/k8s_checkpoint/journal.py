"""An append-only journal in ConfigMaps: segments `<prefix>-0001`, `-0002`..., one key per line.

A ConfigMap holds at most 1 MiB, so a segment takes lines until the next one would bring it past
`segment_bytes` (512 KiB by default: room for the object's metadata and for one unusually long line);
then the next segment starts. Every segment is kept for the life of the migration: the journal is the
audit trail, so nothing is dropped, and at a few hundred bytes a line a segment holds well over a
thousand transitions. Deleting them is the cluster admin's cleanup after the migration (the README of
deploy/rbac shows the label selector).

Kubernetes Events were the other candidate and were rejected: the API server deletes them after its
--event-ttl (one hour by default), which an audit trail cannot afford.

Appends are compare-and-swap updates on resourceVersion, so two writers (a process breaking a stale
lock, and the old holder's last line) never lose a line; the loser reads the segment again. Keys are
the line's number in its segment, zero-padded, so a segment reads back in order. Segments are found
by name (get), never listed: the orchestrator's Role needs no `list`.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from migrator.clients.k8s import call, get_or_none
from migrator.errors import MigratorError

SEGMENT_BYTES = 512 * 1024
_ROUNDS = 10


class ConfigMapJournal:
    def __init__(
        self,
        api: k8s.ApiClient,
        namespace: str,
        prefix: str,
        labels: dict[str, str],
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self._core = k8s.CoreV1Api(api)
        self.namespace = namespace
        self.prefix = prefix
        self._labels = labels
        self.segment_bytes = segment_bytes
        #: The last segment this process read or wrote, so that an append usually costs one request.
        self._tail: tuple[int, k8s.V1ConfigMap] | None = None

    def segment_name(self, number: int) -> str:
        return f"{self.prefix}-{number:04d}"

    def append(self, line: str) -> None:
        for _ in range(_ROUNDS):
            number, segment = self._tail or self._find_tail()
            lines = dict(segment.data or {}) if segment is not None else {}
            try:
                if segment is None or (lines and _size(lines) + len(line.encode()) > self.segment_bytes):
                    number, lines, version = number + 1, {}, None
                else:
                    version = segment.metadata.resource_version
                lines[f"{len(lines) + 1:06d}"] = line
                self._tail = (number, self._write(number, lines, version))
                return
            except ApiException as exc:
                if exc.status not in (404, 409):
                    raise
                self._tail = None  # another writer got there first: read the tail again
        raise MigratorError(
            f"The journal ConfigMap {self.namespace}/{self.segment_name(number)} changed under every one of "
            f"{_ROUNDS} attempts to append to it: several processes write this migration's journal at once. "
            "Check `migrator status` for the lock holder."
        )

    def read(self) -> list[tuple[str, str]]:
        """Every line in order, each with where it is stored (for messages about a bad line)."""
        lines = []
        number = 1
        while (segment := self._get(number)) is not None:
            name = self.segment_name(number)
            lines.extend(
                (f"ConfigMap {self.namespace}/{name} key {key}", value)
                for key, value in sorted((segment.data or {}).items())
            )
            number += 1
        return lines

    def _find_tail(self) -> tuple[int, k8s.V1ConfigMap | None]:
        number, segment = 0, None
        while (following := self._get(number + 1)) is not None:
            number, segment = number + 1, following
        return number, segment

    def _get(self, number: int) -> k8s.V1ConfigMap | None:
        return get_or_none(self._core.read_namespaced_config_map, self.segment_name(number), self.namespace)

    def _write(self, number: int, lines: dict[str, str], version: str | None) -> k8s.V1ConfigMap:
        name = self.segment_name(number)
        metadata: dict[str, Any] = {"name": name, "namespace": self.namespace, "labels": self._labels}
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": lines}
        if version is None:
            return call(self._core.create_namespaced_config_map, self.namespace, body)
        metadata["resourceVersion"] = version
        return call(self._core.replace_namespaced_config_map, name, self.namespace, body)


def _size(lines: dict[str, str]) -> int:
    return sum(len(key) + len(value.encode()) for key, value in lines.items())
