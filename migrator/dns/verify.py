"""Propagation: does EVERY authoritative server of the zone answer what we wrote?

A provider saying "in sync" (Route 53's INSYNC, a primary's NOERROR) is not enough: a secondary may
not have transferred the zone yet. So the servers to ask come from the zone's own NS records, and each
is asked directly, without recursion.

NS records carry no port. By default each NS name is resolved and asked on port 53. Where that is not
where it answers (a test rig with several servers on one address, a split-horizon view), the config
maps an NS name to the address to ask (`dns.authoritative_servers`). The map only redirects: every NS
record is still asked, and a mapped name that is not an NS record of the zone is an error, so a typo or
a removed server never shrinks the set of servers checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from migrator.dns import wire
from migrator.dns.config import Address
from migrator.dns.ownership import marker_name
from migrator.dns.records import NameState, RecordSet, Resolver, resolve_host
from migrator.errors import BadInput

Ask = Callable[[Address, str, str, float], dns.message.Message]


@dataclass(frozen=True)
class Nameserver:
    ns: str  # the NS record's target
    address: Address

    def __str__(self) -> str:
        return f"{self.ns} ({self.address})"


def authoritative_servers(
    zone: str, ns_names: Iterable[str], overrides: dict[str, Address], resolve: Resolver = resolve_host
) -> list[Nameserver]:
    ns_names = sorted(set(ns_names))
    if not ns_names:
        raise BadInput(f"The zone {zone} publishes no NS records, so there is no authoritative server to verify against.")
    unknown = sorted(set(overrides) - set(ns_names))
    if unknown:
        raise BadInput(
            f"dns.authoritative_servers maps {', '.join(unknown)}, which the zone {zone} does not list as a "
            f"name server (its NS records: {', '.join(ns_names)}). Use the NS names exactly as the zone "
            "publishes them; nothing was checked."
        )
    servers: list[Nameserver] = []
    for ns in ns_names:
        if ns in overrides:
            servers.append(Nameserver(ns, overrides[ns]))
        else:
            servers += [Nameserver(ns, Address(ip)) for ip in resolve(ns.rstrip("."))]
    return servers


@dataclass(frozen=True)
class Disagreement:
    server: str
    name: str
    expected: str
    answered: str

    def describe(self) -> str:
        return f"{self.server} answers {self.name} with {self.answered}, expected {self.expected}"


def _observed(response: dns.message.Message, name: str, rdtype: str) -> RecordSet | str | None:
    """What the server holds at name/rdtype: the RRset (or the CNAME standing in its place), None for
    nothing, or a text saying why the answer does not count."""
    if not response.flags & dns.flags.AA:
        return "a non-authoritative answer (the server does not serve this zone)"
    if response.rcode() == dns.rcode.NXDOMAIN:
        return None
    if response.rcode() != dns.rcode.NOERROR:
        return f"rcode {dns.rcode.to_text(response.rcode())}"
    owner = dns.name.from_text(name)
    for rrset in response.answer:
        found = dns.rdatatype.to_text(rrset.rdtype)
        if rrset.name == owner and found in (rdtype, "CNAME"):
            return RecordSet(name, found, rrset.ttl, tuple(r.to_text() for r in rrset))
    return None


def _describe(value: RecordSet | str | None) -> str:
    if value is None:
        return "nothing"
    return value if isinstance(value, str) else f"{value.rdtype} {', '.join(value.values)}"


def disagreements(
    expected: Iterable[NameState], servers: Iterable[Nameserver], timeout: float, ask: Ask = wire.ask
) -> list[Disagreement]:
    """Every (server, name) where the server does not answer the expected records, the ownership marker
    beside each name included (a server that lags on the marker would let another writer take the
    name there). A state without records expects the name, and its marker, to be gone."""
    found: list[Disagreement] = []
    expected = list(expected)
    for server in servers:
        for state in expected:
            for name, rdtype, want in _expectations(state):
                try:
                    got = _observed(ask(server.address, name, rdtype, timeout), name, rdtype)
                except wire.TRANSIENT as exc:
                    got = f"no answer ({exc or type(exc).__name__})"
                same = got is None if want is None else isinstance(got, RecordSet) and (got.rdtype, got.values) == (want.rdtype, want.values)
                if not same:
                    found.append(Disagreement(str(server), name, _describe(want), _describe(got)))
    return found


def _expectations(state: NameState) -> list[tuple[str, str, RecordSet | None]]:
    """(name, type, expected RRset or None for absent) for the name's records and its marker."""
    records = [(state.name, rdtype, state.record(rdtype)) for rdtype in [r.rdtype for r in state.records] or ["A"]]
    marker = state.marker.name if state.marker is not None else marker_name(state.name)
    return [*records, (marker, "TXT", state.marker)]


def negative_ttl(zone: str, servers: Iterable[Nameserver], timeout: float, ask: Ask = wire.ask) -> int:
    """How long a resolver may cache "no such name" for this zone (RFC 2308: min of the SOA's TTL and
    its MINIMUM field); a name that did not exist before is cached as missing for that long."""
    for server in servers:
        try:
            response = ask(server.address, zone, "SOA", timeout)
        except wire.TRANSIENT:
            continue
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return min(rrset.ttl, rrset[0].minimum)
    return 0
