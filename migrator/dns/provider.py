"""The one interface both DNS providers implement, and the factory that picks one from the config."""

from __future__ import annotations

from abc import ABC, abstractmethod

from migrator.dns.records import Change, NameState
from migrator.errors import TemporaryError


class ConcurrentChange(TemporaryError):
    """Someone changed the name between our read and our write; the write was rejected, nothing of
    theirs was overwritten. Retrying re-reads the name and decides again (ownership included)."""


class DnsProvider(ABC):
    zone: str

    @abstractmethod
    def check_zone(self) -> None:
        """Raise BadInput unless the zone exists and we can reach whoever serves it."""

    @abstractmethod
    def read(self, name: str) -> NameState:
        """The managed RRsets at `name`, the types of anything else there, and our marker beside it."""

    @abstractmethod
    def apply(self, change: Change) -> None:
        """Make `change.after` true, atomically, only if `change.before` still holds (else
        ConcurrentChange). Touches only the managed record types and the marker."""

    @abstractmethod
    def nameservers(self) -> list[str]:
        """The NS names of the zone, as the zone itself publishes them."""
