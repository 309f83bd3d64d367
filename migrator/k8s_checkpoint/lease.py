"""The migration lock as a coordination.k8s.io/v1 Lease, and the pause request kept on it.

The Lease names its holder twice: holderIdentity (`user@host pid N <token>`, what `kubectl get lease`
shows) and an annotation with the full LockInfo (start time, command), what a refused process prints.
The holder renews renewTime every third of leaseDurationSeconds from a background thread that lock()
starts and unlock() stops, so a step that runs for hours keeps its lock without the step knowing.

Taking a Lease another process holds needs proof that it is stale - it expired (its holder stopped
renewing: the process died, or its machine sleeps or lost the network) or its holder ran on this host
and its pid is gone - AND the explicit --break-stale-lock flag, as with the local lock file. Expiry is
judged against this host's clock, so keep the operators' clocks in sync (NTP). A process whose Lease
was broken while it slept finds out at its next checkpoint save (LockLost) and stops before writing.

Every write is a compare-and-swap on resourceVersion, so two processes racing for the Lease, or a
renewal racing a pause request, cannot both win; the loser reads again and decides again. A released
Lease is kept with an empty holder (releasing is an update, not a delete).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from migrator.clients.k8s import call, get_or_none
from migrator.engine.checkpoint import CheckpointConflict, utcnow
from migrator.engine.lock import BREAK_STALE_FLAG, LockInfo
from migrator.errors import BadInput, MigratorError

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

ANNOTATION_PREFIX = "kafka-k8s-migrator/"
HOLDER_ANNOTATION = ANNOTATION_PREFIX + "holder"
DEFAULT_LEASE_SECONDS = 60
#: Rounds of read-decide-write before giving up on a Lease that changes under every attempt.
_ROUNDS = 5


class LockLost(CheckpointConflict):
    """This process held the lock and no longer does: another process broke it, or it was released."""


class _Changed(Exception):
    """The Lease changed between our read and our write (409): read again and decide again."""


def micro_time(moment: datetime) -> str:
    """A MicroTime as the API server parses it (RFC 3339 with exactly six fractional digits)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Record:
    """The fields of the Lease this lock reads and writes; resource_version None: not created yet."""

    resource_version: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    holder_identity: str | None = None
    lease_seconds: int | None = None
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    transitions: int = 0

    @classmethod
    def from_api(cls, lease: k8s.V1Lease) -> _Record:
        spec = lease.spec or k8s.V1LeaseSpec()
        return cls(
            resource_version=lease.metadata.resource_version,
            annotations=dict(lease.metadata.annotations or {}),
            holder_identity=spec.holder_identity or None,
            lease_seconds=spec.lease_duration_seconds,
            acquire_time=spec.acquire_time,
            renew_time=spec.renew_time,
            transitions=spec.lease_transitions or 0,
        )

    def holder(self, location: str) -> LockInfo | None:
        if not self.holder_identity:
            return None
        try:
            return LockInfo(**json.loads(self.annotations[HOLDER_ANNOTATION]))
        except (KeyError, ValueError, TypeError) as exc:
            raise BadInput(
                f"The {location} is held by {self.holder_identity!r} but lacks a readable {HOLDER_ANNOTATION} "
                f"annotation ({type(exc).__name__}: {exc}); migrator never writes it that way, so another tool or a "
                "hand edit took it. If no migrator process runs for this migration, clear spec.holderIdentity "
                "(`kubectl edit lease`) and run again."
            ) from None

    def expired(self, now: datetime) -> bool:
        last = self.renew_time or self.acquire_time
        if last is None or self.lease_seconds is None:
            return True  # a holder that never stated a duration cannot claim to be alive
        return now > last + timedelta(seconds=self.lease_seconds)

    def take(self, mine: LockInfo, now: datetime, lease_seconds: int) -> None:
        if self.resource_version is not None:
            self.transitions += 1
        self.holder_identity = f"{mine.user}@{mine.host} pid {mine.pid} {mine.token}"
        self.annotations[HOLDER_ANNOTATION] = json.dumps(mine.to_dict())
        self.lease_seconds = lease_seconds
        self.acquire_time = self.renew_time = now

    def release(self) -> None:
        self.holder_identity = None
        self.annotations.pop(HOLDER_ANNOTATION, None)
        self.acquire_time = self.renew_time = None

    def body(self, name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
        if self.annotations:
            metadata["annotations"] = self.annotations
        if self.resource_version is not None:
            metadata["resourceVersion"] = self.resource_version
        spec: dict[str, Any] = {"leaseTransitions": self.transitions}
        if self.holder_identity:
            spec["holderIdentity"] = self.holder_identity
        if self.lease_seconds is not None:
            spec["leaseDurationSeconds"] = self.lease_seconds
        if self.acquire_time is not None:
            spec["acquireTime"] = micro_time(self.acquire_time)
        if self.renew_time is not None:
            spec["renewTime"] = micro_time(self.renew_time)
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}


class LeaseLock:
    """One migration's lock. `on_break(stale)` runs after a stale lock was broken and this process took it."""

    def __init__(
        self,
        api: k8s.ApiClient,
        namespace: str,
        name: str,
        labels: dict[str, str],
        *,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], datetime] = utcnow,
        on_break: Callable[[LockInfo], None] | None = None,
    ) -> None:
        self._leases = k8s.CoordinationV1Api(api)
        self.namespace = namespace
        self.name = name
        self._labels = labels
        self.lease_seconds = lease_seconds
        self._clock = clock
        self._on_break = on_break
        self.held: LockInfo | None = None
        self._renewer: _Renewer | None = None

    @property
    def location(self) -> str:
        return f"Lease {self.namespace}/{self.name}"

    # ----------------------------------------------------------------------------------- the lock

    def holder(self) -> LockInfo | None:
        record = self._read()
        return record.holder(self.location) if record else None

    def acquire(self, break_stale: bool = False) -> LockInfo:
        mine = LockInfo.for_this_process()
        for _ in range(_ROUNDS):
            record = self._read() or _Record()
            stale = record.holder(self.location)
            if stale is not None:
                self._refuse_unless_breakable(record, stale, break_stale)
            record.take(mine, self._clock(), self.lease_seconds)
            try:
                self._write(record)
            except _Changed:
                continue
            self.held = mine
            self._renewer = _Renewer(self._renew, interval=self.lease_seconds / 3, name=f"renew {self.location}")
            self._renewer.start()
            if stale is not None and self._on_break is not None:
                try:
                    self._on_break(stale)
                except BaseException:
                    self.release()  # the caller sees lock() fail, so it will not unlock
                    raise
            return mine
        raise BadInput(
            f"The {self.location} changed hands several times while this process tried to take it: another "
            "migrator is starting at the same moment. Check `migrator status` and run again."
        )

    def release(self) -> None:
        """Stop renewing and clear the holder if it is still us; never release a lock another process holds."""
        if self.held is None:
            return
        mine, self.held = self.held, None
        if self._renewer is not None:
            self._renewer.stop()
            self._renewer = None

        def release(record: _Record) -> bool:
            if not _mine(record, self.location, mine):
                return False
            record.release()
            return True

        self._update(release)

    def check_held(self) -> None:
        """Raise LockLost unless the Lease still names this process (when it took the lock at all)."""
        if self.held is None:
            return
        record = self._read()
        holder = record.holder(self.location) if record else None
        if holder is not None and holder.token == self.held.token:
            return
        now = f"now held by {holder.describe()}" if holder else "released or deleted by someone else"
        raise LockLost(
            f"This process no longer holds the migration lock: the {self.location} is {now}. That happens when "
            f"this process could not renew it for {self.lease_seconds}s (it slept, or lost the network) and "
            f"another one broke it with {BREAK_STALE_FLAG}. This process stopped before writing the checkpoint; "
            "check `migrator status` and leave the migration to the current holder."
        )

    def _refuse_unless_breakable(self, record: _Record, holder: LockInfo, break_stale: bool) -> None:
        renewed = micro_time(record.renew_time) if record.renew_time else "never"
        expired = record.expired(self._clock())
        if not expired and not holder.is_stale():
            raise BadInput(
                f"Another migrator process drives this migration: the {self.location} is held by "
                f"{holder.describe()}, last renewed at {renewed}. Wait for it to finish, or ask {holder.user} to "
                f"stop it (`migrator pause`). If that process is gone, its lease expires {record.lease_seconds}s "
                f"after its last renewal; then run again with {BREAK_STALE_FLAG}."
            )
        if not break_stale:
            why = (
                f"its lease of {record.lease_seconds}s expired: it was last renewed at {renewed}, so its holder "
                "stopped renewing it (the process died, or its machine sleeps or lost the network)"
                if expired
                else f"pid {holder.pid} no longer runs on this host"
            )
            raise BadInput(
                f"The {self.location} looks stale: it was taken by {holder.describe()}, and {why}. Make sure no "
                f"migrator is running for this migration, then run again with {BREAK_STALE_FLAG} to break the "
                "lock; `migrator resume` then carries on from the checkpoint."
            )

    def _renew(self) -> bool:
        """One renewal; False once the Lease is no longer ours (the thread then stops)."""
        mine = self.held
        if mine is None:
            return False
        ours = False

        def renew(record: _Record) -> bool:
            nonlocal ours
            ours = _mine(record, self.location, mine)
            if ours:
                record.renew_time = self._clock()
            return ours

        self._update(renew)
        if not ours:
            log.warning("%s is no longer held by this process; stopped renewing it", self.location)
        return ours

    # ------------------------------------------------------------------------------ annotations

    def annotation(self, key: str) -> str | None:
        record = self._read()
        return record.annotations.get(key) if record else None

    def set_annotation(self, key: str, value: str | None) -> None:
        """Set (or, with None, remove) an annotation; creates the Lease, unheld, if there is none."""

        def change(record: _Record) -> bool:
            if record.annotations.get(key) == value:
                return False
            if value is None:
                record.annotations.pop(key)
            else:
                record.annotations[key] = value
            return True

        self._update(change, create=value is not None)

    # ------------------------------------------------------------------------------------- I/O

    def _update(self, change: Callable[[_Record], bool], create: bool = False) -> None:
        """Read, let `change` edit the record (False: nothing to write), write; again on a conflict.
        A missing Lease is created when `create`, else left alone."""
        for _ in range(_ROUNDS):
            record = self._read()
            if record is None:
                if not create:
                    return
                record = _Record()
            if not change(record):
                return
            try:
                self._write(record)
                return
            except _Changed:
                continue
        raise MigratorError(
            f"The {self.location} changed under every one of {_ROUNDS} attempts to update it: something else "
            "writes it in a tight loop. Find that writer (`kubectl get lease -o yaml` shows managedFields)."
        )

    def _read(self) -> _Record | None:
        lease = get_or_none(self._leases.read_namespaced_lease, self.name, self.namespace)
        return _Record.from_api(lease) if lease is not None else None

    def _write(self, record: _Record) -> None:
        body = record.body(self.name, self.namespace, self._labels)
        try:
            if record.resource_version is None:
                call(self._leases.create_namespaced_lease, self.namespace, body)
            else:
                call(self._leases.replace_namespaced_lease, self.name, self.namespace, body)
        except ApiException as exc:
            # 409: created or changed by someone else since our read; 404: deleted since our read.
            if exc.status in (404, 409):
                raise _Changed from None
            raise


def _mine(record: _Record, location: str, mine: LockInfo) -> bool:
    holder = record.holder(location)
    return holder is not None and holder.token == mine.token


class _Renewer(threading.Thread):
    """Calls `renew` every `interval` seconds until stopped or until it returns False.

    A failed renewal (API unreachable) is logged and tried again at the next tick: the lease has two
    more ticks before it expires, and a process that lost it learns so at its next save.
    """

    def __init__(self, renew: Callable[[], bool], interval: float, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._renew = renew
        self._interval = interval
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                if not self._renew():
                    return
            except Exception as exc:  # noqa: BLE001 - a background thread must outlive a failed round
                log.warning("renewing the migration lock failed, trying again in %.0fs: %s", self._interval, exc)

    def stop(self) -> None:
        self._stopped.set()
        self.join()
