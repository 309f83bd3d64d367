"""Local addresses and TCP ports for sandbox processes: the OS picks ports, so parallel rigs never
collide by design.

ZooKeeper (and the other rigs) listen on 127.0.0.1. Each broker gets a loopback address of its own,
derived from its id, and all brokers of a sandbox share one port, like a fleet of VMs with one host
each: DNS records carry addresses, not ports, so only then can a facade name lead a client to one
broker. Linux routes all of 127.0.0.0/8 to the loopback interface, so binding these needs no setup.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable

HOST = "127.0.0.1"
#: Broker ids the address scheme below covers (Strimzi's ranges such as 1000-1999 included).
MAX_BROKER_ID = 256 * 250 - 1
_SHARED_PORT_ATTEMPTS = 100
_TCP_LISTEN = "0A"  # the `st` column of /proc/net/tcp


def broker_host(broker_id: int) -> str:
    """The loopback address of a sandbox broker: 127.1.(id // 250).(id % 250 + 1), so 0 -> 127.1.0.1,
    249 -> 127.1.0.250, 1500 -> 127.1.6.1. Never 127.0.0.1 (ZooKeeper's), never ending in .0 or .255."""
    if not 0 <= broker_id <= MAX_BROKER_ID:
        raise ValueError(f"sandbox broker ids run from 0 to {MAX_BROKER_ID}, got {broker_id}")
    return f"127.1.{broker_id // 250}.{broker_id % 250 + 1}"


def free_port(exclude: set[int] | frozenset[int] = frozenset(), host: str = HOST) -> int:
    """A port nothing listens on at `host` right now (bind to port 0). `exclude` skips ports already
    promised to a process that has not bound them yet."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in exclude:
            return port


def free_shared_port(hosts: Iterable[str]) -> int:
    """A port that a server could bind on every one of `hosts` now."""
    first, *others = hosts
    for _ in range(_SHARED_PORT_ATTEMPTS):
        port = free_port(host=first)
        if all(is_free(port, host) for host in others):
            return port
    raise OSError(f"found no port free on all of {first}, {', '.join(others)} in {_SHARED_PORT_ATTEMPTS} tries")


def listening_ports(pid: int) -> set[int]:
    """The TCP ports on which process `pid` itself listens (Linux /proc). Unlike a test connection, this
    cannot be fooled by another program holding the port on 0.0.0.0 while the process fails to bind it."""
    sockets = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # gone, or not ours
        return set()
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            sockets.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)  # header
            for line in lines:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == _TCP_LISTEN and inode in sockets:
                    ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could bind host:port now (with SO_REUSEADDR, as Kafka and ZooKeeper do, so
    connections of a stopped process lingering in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
