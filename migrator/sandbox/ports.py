"""Local TCP ports for sandbox processes: the OS picks them, so parallel rigs never collide by design."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_port(exclude: set[int] | frozenset[int] = frozenset()) -> int:
    """A port nothing listens on right now (bind to port 0). `exclude` skips ports already promised to
    a process that has not bound them yet."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port not in exclude:
            return port


def is_listening(port: int, host: str = HOST) -> bool:
    """Whether something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


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
