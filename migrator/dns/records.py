"""What a facade name holds, as plain comparable data shared by both providers and the verifier.

A facade name points at its targets with the only record types a Kafka client follows:
- one host name            -> CNAME (the broker's own name keeps resolving as it always did);
- IP addresses             -> A / AAAA with every address (clients with the default
                              `client.dns.lookup=use_all_dns_ips` try each one);
- several host names       -> A / AAAA of their addresses, resolved now: a CNAME holds one target.
DNS carries no ports: a facade name keeps the port the client already uses.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from migrator.dns.config import absolute_name
from migrator.errors import BadInput

#: Record types a facade name may hold; we create, change and delete only these (plus our marker).
MANAGED_TYPES = ("A", "AAAA", "CNAME")

Resolver = Callable[[str], list[str]]


def _canonical_value(rdtype: str, value: str) -> str:
    if rdtype in ("A", "AAAA"):
        return str(ipaddress.ip_address(value))
    if rdtype in ("CNAME", "NS"):
        return absolute_name(value)
    return value


@dataclass(frozen=True)
class RecordSet:
    """One RRset: name, type, TTL and values, in canonical form so two reads compare equal."""

    name: str
    rdtype: str
    ttl: int
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", absolute_name(self.name))
        object.__setattr__(self, "rdtype", self.rdtype.upper())
        object.__setattr__(self, "values", tuple(sorted({_canonical_value(self.rdtype, v) for v in self.values})))

    def describe(self) -> str:
        return f"{self.rdtype} {', '.join(self.values)} (ttl {self.ttl})"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "rdtype": self.rdtype, "ttl": self.ttl, "values": list(self.values)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordSet:
        return cls(data["name"], data["rdtype"], int(data["ttl"]), tuple(data["values"]))


@dataclass(frozen=True)
class NameState:
    """Everything a provider reports at one facade name: the managed RRsets, the types of any other
    records there (never ours to touch), and the ownership marker beside the name."""

    name: str
    records: tuple[RecordSet, ...] = ()
    other_types: tuple[str, ...] = ()
    marker: RecordSet | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", absolute_name(self.name))
        object.__setattr__(self, "records", tuple(sorted(self.records, key=lambda r: r.rdtype)))
        object.__setattr__(self, "other_types", tuple(sorted(set(self.other_types))))

    def record(self, rdtype: str) -> RecordSet | None:
        return next((r for r in self.records if r.rdtype == rdtype), None)

    @property
    def is_empty(self) -> bool:
        return not self.records and not self.other_types and self.marker is None

    def describe(self) -> str:
        parts = [r.describe() for r in self.records] + [f"{t} (not managed)" for t in self.other_types]
        return "; ".join(parts) or "nothing"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "records": [r.to_json() for r in self.records],
            "other_types": list(self.other_types),
            "marker": self.marker.to_json() if self.marker else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NameState:
        return cls(
            name=data["name"],
            records=tuple(RecordSet.from_json(r) for r in data.get("records", [])),
            other_types=tuple(data.get("other_types", [])),
            marker=RecordSet.from_json(data["marker"]) if data.get("marker") else None,
        )


@dataclass(frozen=True)
class Change:
    """Move one name from `before` (as read) to `after`; providers apply it only if `before` still holds."""

    before: NameState
    after: NameState

    @property
    def name(self) -> str:
        return self.before.name

    @property
    def verb(self) -> str:
        if self.after.is_empty:
            return "delete"
        return "update" if self.before.records else "create"


def resolve_host(host: str) -> list[str]:
    """Every address the system resolver gives for `host` (IPv4 and IPv6)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise BadInput(
            f"The host name {host} does not resolve on this machine ({exc.strerror}), so its addresses "
            "cannot be used. Check the name (a broker's advertised host, or a name server of the zone) "
            "and this machine's resolver; nothing was changed."
        ) from None
    return sorted({info[4][0] for info in infos})


def _ip_version(value: str) -> int | None:
    try:
        return ipaddress.ip_address(value).version
    except ValueError:
        return None


def target_records(name: str, targets: Iterable[str], ttl: int, resolve: Resolver = resolve_host) -> tuple[RecordSet, ...]:
    """The RRsets that make `name` lead to `targets` (host names or IP addresses); see the module doc."""
    name = absolute_name(name)
    targets = sorted({t.strip().rstrip(".").lower() for t in targets if t.strip()})
    if not targets:
        raise BadInput(f"The facade name {name} was asked to point at no target at all; nothing was changed.")
    if any(absolute_name(t) == name for t in targets):
        raise BadInput(
            f"The facade name {name} would point at itself: a broker already advertises it. Point the "
            "facade at the brokers' own host names or addresses; nothing was changed."
        )
    hostnames = [t for t in targets if _ip_version(t) is None]
    if len(targets) == 1 and hostnames:
        return (RecordSet(name, "CNAME", ttl, (targets[0],)),)
    addresses = [t for t in targets if t not in hostnames] + [a for h in hostnames for a in resolve(h)]
    by_type = {"A": [a for a in addresses if _ip_version(a) == 4], "AAAA": [a for a in addresses if _ip_version(a) == 6]}
    return tuple(RecordSet(name, rdtype, ttl, tuple(values)) for rdtype, values in by_type.items() if values)
