"""The checkpoint store for teams (checkpoint.store: kubernetes): everything in one namespace.

    ConfigMap migrator-<id>                   the checkpoint (key checkpoint.json)
    ConfigMaps migrator-<id>-journal-NNNN     the append-only journal (k8s_journal)
    Lease migrator-<id>                       the lock, renewed while a run holds it, and the pause
                                              request (annotation kafka-k8s-migrator/pause-request)

The version of a saved checkpoint is the ConfigMap's resourceVersion: save() replaces the object with
metadata.resourceVersion set to the version the caller read, which the API server accepts only if
nobody wrote it since (409 Conflict otherwise). The pause request lives on the Lease, not in the
checkpoint's ConfigMap, precisely so that asking a run to pause does not invalidate its next save.

A checkpoint is JSON text in `data` while it fits comfortably in a ConfigMap (1 MiB in all); a larger
one (big reassignment plans in the phase state) is stored gzip-compressed in `binaryData` instead.

Kubernetes is only the storage medium here: this module knows the engine's records, not Kafka.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from migrator.clients.k8s import api_client, call, get_or_none, status_message
from migrator.engine.checkpoint import (
    NEW,
    Checkpoint,
    CheckpointConflict,
    CheckpointStore,
    JournalEntry,
    PauseRequest,
    Versioned,
    utcnow,
)
from migrator.k8s_checkpoint.journal import SEGMENT_BYTES, ConfigMapJournal
from migrator.k8s_checkpoint.lease import ANNOTATION_PREFIX, DEFAULT_LEASE_SECONDS, LeaseLock
from migrator.engine.lock import LockInfo
from migrator.errors import BadInput, MigratorError

PAUSE_ANNOTATION = ANNOTATION_PREFIX + "pause-request"
MIGRATION_LABEL = ANNOTATION_PREFIX + "migration-id"
CHECKPOINT_KEY = "checkpoint.json"
COMPRESSED_KEY = "checkpoint.json.gz"
#: Up to this size the checkpoint is readable text (`kubectl get configmap -o yaml`); above, gzip.
INLINE_BYTES = 768 * 1024
#: What a ConfigMap can hold, less room for its metadata.
MAX_BYTES = 1024 * 1024 - 16 * 1024


def object_name(migration_id: str) -> str:
    return f"migrator-{migration_id}"


class KubernetesStore(CheckpointStore):
    def __init__(
        self,
        api: k8s.ApiClient,
        namespace: str,
        migration_id: str,
        *,
        name: str | None = None,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        journal_segment_bytes: int = SEGMENT_BYTES,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__()
        self._core = k8s.CoreV1Api(api)
        self.namespace = namespace
        self.name = name or object_name(migration_id)
        self._labels = {
            "app.kubernetes.io/managed-by": "kafka-k8s-migrator",
            "app.kubernetes.io/part-of": "kafka-k8s-migrator",
            MIGRATION_LABEL: migration_id,
        }
        self._journal = ConfigMapJournal(
            api, namespace, f"{self.name}-journal", self._labeled("journal"), segment_bytes=journal_segment_bytes
        )
        self._lease = LeaseLock(
            api,
            namespace,
            self.name,
            self._labeled("lock"),
            lease_seconds=lease_seconds,
            clock=clock,
            on_break=self._journal_break,
        )

    @classmethod
    def connect(
        cls,
        migration_id: str,
        namespace: str | None,
        *,
        name: str | None = None,
        kubeconfig: Path | None = None,
        context: str | None = None,
    ) -> KubernetesStore:
        """The store for migration.yaml's checkpoint section (store: kubernetes)."""
        if not namespace:
            raise BadInput(
                "checkpoint.store is kubernetes but checkpoint.namespace is not set. Name the namespace that holds "
                "migrator's checkpoint and lock (the one deploy/rbac/020-Role-kafka-k8s-migrator-checkpoint.yaml is "
                "applied to) in migration.yaml. Nothing was changed."
            )
        return cls(api_client(kubeconfig, context), namespace, migration_id, name=name)

    def _labeled(self, component: str) -> dict[str, str]:
        return {**self._labels, "app.kubernetes.io/component": component}

    @property
    def location(self) -> str:
        return f"ConfigMap {self.namespace}/{self.name}"

    # ------------------------------------------------------------------------------ checkpoint

    def load(self) -> Versioned | None:
        stored = get_or_none(self._core.read_namespaced_config_map, self.name, self.namespace)
        if stored is None:
            return None
        checkpoint = self._decode(stored)
        return Versioned(checkpoint, stored.metadata.resource_version)

    def save(self, checkpoint: Checkpoint, expected_version: str | None) -> str:
        self._lease.check_held()
        revision = checkpoint.revision + 1
        document = checkpoint.model_dump(mode="json")
        document["revision"] = revision
        body = self._body(document, expected_version)
        try:
            if expected_version == NEW:
                stored = call(self._core.create_namespaced_config_map, self.namespace, body)
            else:
                stored = self._replace(body, unconditional=expected_version is None)
        except ApiException as exc:
            raise self._refused(exc, expected_version) from None
        checkpoint.revision = revision
        return stored.metadata.resource_version

    def _replace(self, body: dict[str, Any], unconditional: bool) -> k8s.V1ConfigMap:
        try:
            return call(self._core.replace_namespaced_config_map, self.name, self.namespace, body)
        except ApiException as exc:
            if not (unconditional and exc.status == 404):
                raise
        return call(self._core.create_namespaced_config_map, self.namespace, body)

    def _body(self, document: dict[str, Any], expected_version: str | None) -> dict[str, Any]:
        labels = self._labeled("checkpoint")
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace, "labels": labels}
        if expected_version:
            metadata["resourceVersion"] = expected_version
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
        text = json.dumps(document, indent=2).encode()
        if len(text) <= INLINE_BYTES:
            body["data"] = {CHECKPOINT_KEY: text.decode()}
            return body
        packed = gzip.compress(text)
        if len(packed) > MAX_BYTES:
            raise MigratorError(
                f"The checkpoint of migration {document['migration_id']} is {len(text)} bytes, {len(packed)} even "
                f"compressed: more than the {self.location} can hold (a ConfigMap holds 1 MiB). Nothing was "
                "written. Switch this migration to checkpoint.store: local (copy the ConfigMap's content to "
                "checkpoint.json first), or report which phase state grew this large."
            )
        body["binaryData"] = {COMPRESSED_KEY: base64.b64encode(packed).decode()}
        return body

    def _decode(self, stored: k8s.V1ConfigMap) -> Checkpoint:
        try:
            if CHECKPOINT_KEY in (stored.data or {}):
                text = stored.data[CHECKPOINT_KEY]
            elif COMPRESSED_KEY in (stored.binary_data or {}):
                text = gzip.decompress(base64.b64decode(stored.binary_data[COMPRESSED_KEY])).decode()
            else:
                raise ValueError(f"neither data.{CHECKPOINT_KEY} nor binaryData.{COMPRESSED_KEY} is there")
            return Checkpoint.model_validate_json(text)
        except ValidationError as exc:
            detail = f"{exc.error_count()} problem(s), first: {exc.errors()[0]['msg']}"
        except (ValueError, OSError, binascii.Error) as exc:
            detail = f"{type(exc).__name__}: {exc}"
        raise BadInput(
            f"The checkpoint {self.location} is not valid ({detail}). migrator writes it whole, so it was edited by "
            f"hand; restore it from a backup (the journal ConfigMaps {self._journal.prefix}-NNNN list every "
            "transition) and run again."
        )

    def _refused(self, exc: ApiException, expected_version: str | None) -> MigratorError:
        if exc.status == 409 and expected_version == NEW:
            return CheckpointConflict(
                f"The checkpoint {self.location} already exists, though this process read none: another migrator "
                "process created it at the same moment. Nothing was written. Check `migrator status` and the lock "
                "holder, then run again."
            )
        if exc.status in (404, 409):
            found = "deleted" if exc.status == 404 else "changed"
            return CheckpointConflict(
                f"The checkpoint {self.location} was {found} under this process (it read resourceVersion "
                f"{expected_version}): another writer changed it. Nothing was written. Check `migrator status` and "
                "the lock holder, then run again."
            )
        if exc.status == 422:
            return MigratorError(
                f"The API server refused the checkpoint {self.location} ({status_message(exc)}). Nothing was "
                "written; the last saved checkpoint still holds."
            )
        return MigratorError(f"Saving the checkpoint {self.location} failed: {exc.status} {status_message(exc)}.")

    # --------------------------------------------------------------------------------- journal

    def append_journal(self, entry: JournalEntry) -> None:
        self._journal.append(entry.model_dump_json())

    def read_journal(self) -> list[JournalEntry]:
        entries = []
        for where, line in self._journal.read():
            try:
                entries.append(JournalEntry.model_validate_json(line))
            except ValidationError as exc:
                raise BadInput(
                    f"The journal line at {where} is not valid ({exc.errors()[0]['msg']}); migrator writes each "
                    "line whole, so it was edited by hand. Restore it or remove that key, then run again."
                ) from None
        return entries

    def _journal_break(self, stale: LockInfo) -> None:
        self.append_journal(JournalEntry.now("lock.broken", detail={"stale_lock": stale.to_dict()}))

    # ------------------------------------------------------------------------------------ lock

    def lock(self, break_stale: bool = False) -> LockInfo:
        return self._lease.acquire(break_stale=break_stale)

    def unlock(self) -> None:
        self._lease.release()

    def lock_holder(self) -> LockInfo | None:
        return self._lease.holder()

    # ----------------------------------------------------------------------------------- pause

    def request_pause(self, request: PauseRequest) -> None:
        self._lease.set_annotation(PAUSE_ANNOTATION, request.model_dump_json())

    def pause_request(self) -> PauseRequest | None:
        raw = self._lease.annotation(PAUSE_ANNOTATION)
        if raw is None:
            return None
        try:
            return PauseRequest.model_validate_json(raw)
        except ValidationError:
            raise BadInput(
                f"The pause request on the {self._lease.location} (annotation {PAUSE_ANNOTATION}) is not valid; "
                "`migrator pause` writes it, so it was edited by hand. Remove the annotation or run `migrator "
                "pause` again."
            ) from None

    def clear_pause(self) -> None:
        self._lease.set_annotation(PAUSE_ANNOTATION, None)
