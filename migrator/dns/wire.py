"""Asking one DNS server directly (no recursion, no resolver cache in between), with a short retry.

Every check the facade makes goes to a named server: the primary we update, or each authoritative
server we verify, so an answer is what that server holds, not what some cache remembers.
"""

from __future__ import annotations

import ipaddress
import socket

import dns.exception
import dns.flags
import dns.message
import dns.query
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from migrator.dns.config import Address

#: What a lost packet or a server restarting looks like from here.
TRANSIENT = (dns.exception.Timeout, OSError)


def server_ip(address: Address) -> str:
    """dnspython talks to IP addresses; a server given by name is resolved once per call."""
    try:
        return str(ipaddress.ip_address(address.host))
    except ValueError:
        return socket.getaddrinfo(address.host, address.port, proto=socket.IPPROTO_TCP)[0][4][0]


@retry(retry=retry_if_exception_type(TRANSIENT), stop=stop_after_attempt(3), wait=wait_exponential(0.1, max=1.0), reraise=True)
def send(message: dns.message.Message, server: Address, timeout: float, *, tcp: bool = False) -> dns.message.Message:
    """Send `message` to `server` (UDP with TCP fallback on truncation, or TCP), retrying transient
    failures a few times; the caller turns what is left into an error that names the server."""
    where = server_ip(server)
    if tcp:
        return dns.query.tcp(message, where, timeout=timeout, port=server.port)
    response, _ = dns.query.udp_with_fallback(message, where, timeout=timeout, port=server.port)
    return response


def ask(server: Address, name: str, rdtype: str, timeout: float, *, tcp: bool = False) -> dns.message.Message:
    """A non-recursive query for `name`/`rdtype` at `server`."""
    query = dns.message.make_query(name, rdtype)
    query.flags &= ~dns.flags.RD
    return send(query, server, timeout, tcp=tcp)
