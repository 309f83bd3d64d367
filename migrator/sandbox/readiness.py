"""Readiness probes the sandbox polls while its processes start."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from kazoo.client import KazooClient

from migrator.sandbox import configs
from migrator.sandbox.nodes import BrokerProcess
from migrator.sandbox.ports import HOST, listening_ports

# A metadata request to a broker that is listening answers within this, fenced or not.
_METADATA_TIMEOUT = 5.0


def zookeeper_serving(port: int) -> bool:
    """ZooKeeper's `srvr` four-letter word: it accepts connections before it serves sessions, and a
    session attempted in between stalls for a whole connect timeout."""
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            sock.sendall(b"srvr")
            return sock.recv(64).startswith(b"Zookeeper version")
    except OSError:
        return False


def broker_ready(
    broker: BrokerProcess,
    config: Mapping[str, object],
    zk: Callable[[], KazooClient],
    chroot: str,
    admins: dict[tuple[str, int], AdminClient],
) -> bool:
    """Whether `broker` (with `config`, its server.properties) serves clients. A ZooKeeper-mode broker
    registers early in its start-up and opens its listeners last; a KRaft broker opens them before its
    controllers unfence it; SIGTERM before that halts a broker without a controlled shutdown. The
    listeners must be the node's own: a program holding the port would accept a test connection just
    the same. `admins` caches a client per address across polls."""
    if broker.pid is None:
        return False
    ports = {port for _, _, port in configs.listeners(config) if port != 0}
    if not ports <= listening_ports(broker.pid):
        return False
    if not broker.kraft and zk().exists(f"{chroot}/brokers/ids/{broker.id}") is None:
        return False
    if broker.kraft and "broker" not in broker.roles:
        return True
    listener = configs.client_listener(config)
    if listener is None:  # only TLS/SASL listeners, which this client cannot use: listening must do
        return True
    host, port = listener
    address = (host if host not in ("", "0.0.0.0") else broker.host, port)
    if address not in admins:
        # log_level 0: refused connections are what this polls through, not news.
        admins[address] = AdminClient({"bootstrap.servers": f"{address[0]}:{address[1]}", "log_level": 0})
    try:
        metadata = admins[address].list_topics(timeout=_METADATA_TIMEOUT)
    except KafkaException:
        return False
    # A KRaft broker lists the unfenced brokers only. A ZooKeeper-mode broker lists brokers and
    # names the controller once the controller has sent it metadata; until then a client that
    # bootstraps through it (librdkafka) waits for a controller it does not look up again.
    return broker.id in metadata.brokers and (broker.kraft or metadata.controller_id >= 0)
