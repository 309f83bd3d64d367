"""Client-side view of the facade: turn the bootstrap name into a `bootstrap.servers` list by asking a
given DNS server, the way a client's resolver would, minus any cache (the sandbox workload calls this
before every (re)connect, so it follows a repointed facade at once)."""

from __future__ import annotations

import socket

import dns.name
import dns.rdatatype

from migrator.dns import wire
from migrator.dns.config import Address, absolute_name, in_zone
from migrator.errors import TemporaryError

#: CNAME hops followed inside one answer (a longer chain is a loop or a mistake).
_MAX_HOPS = 8
_FAMILIES = {"A": socket.AF_INET, "AAAA": socket.AF_INET6}


def _system_addresses(host: str, rdtype: str) -> list[str]:
    try:
        return [info[4][0] for info in socket.getaddrinfo(host, None, _FAMILIES[rdtype], proto=socket.IPPROTO_TCP)]
    except socket.gaierror:
        return []


def _addresses(name: str, server: Address, timeout: float) -> list[str]:
    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        start = owner = dns.name.from_text(name)
        answer = {(r.name, r.rdtype): r for r in wire.ask(server, name, rdtype, timeout).answer}
        for _ in range(_MAX_HOPS):
            if (owner, dns.rdatatype.CNAME) not in answer:
                break
            owner = answer[(owner, dns.rdatatype.CNAME)][0].target
        if (owner, dns.rdatatype.from_text(rdtype)) in answer:
            found += [r.to_text() for r in answer[(owner, dns.rdatatype.from_text(rdtype))]]
        elif owner != start:
            # The chain left what this server answers for: the system resolver takes it from there.
            found += _system_addresses(owner.to_text(omit_final_dot=True), rdtype)
    return found


def resolve_bootstrap(name: str, port: int, server: str | Address, timeout: float = 2.0) -> str:
    """'kafka-bootstrap.example.com' -> '10.0.0.1:9092,10.0.0.2:9092' as `server` answers it now."""
    address = server if isinstance(server, Address) else Address.parse(server)
    found = sorted(set(_addresses(absolute_name(name), address, timeout)))
    if not found:
        raise TemporaryError(f"{name} has no address at {address} yet.", delay=1.0)
    return ",".join(f"[{a}]:{port}" if ":" in a else f"{a}:{port}" for a in found)


def resolve_servers(servers: str, zone: str, server: str | Address, timeout: float = 2.0) -> str:
    """A client's `bootstrap.servers` as it connects: each host inside `zone` is looked up at `server`
    (no cache), every other host:port is kept as written."""
    address = server if isinstance(server, Address) else Address.parse(server)
    resolved: list[str] = []
    for entry in (e.strip() for e in servers.split(",") if e.strip()):
        host, _, port = entry.rpartition(":")
        if not in_zone(absolute_name(host), zone):
            resolved.append(entry)
            continue
        found = sorted(set(_addresses(absolute_name(host), address, timeout)))
        if not found:
            raise TemporaryError(f"{host} has no address at {address} yet.", delay=1.0)
        resolved += [f"[{a}]:{port}" if ":" in a else f"{a}:{port}" for a in found]
    return ",".join(dict.fromkeys(resolved))
