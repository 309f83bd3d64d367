"""The sandbox's configuration files: zoo.cfg, server.properties and the shared log4j.properties.

server.properties serves ZooKeeper-mode brokers and KRaft nodes (controllers, brokers) alike: a node is a
KRaft node when its config sets `process.roles`.

Values are sized for a laptop or CI runner with two cores running several clusters at once: small
heaps, buffers, segments and internal-topic partition counts. Everything else stays at Kafka's
defaults so the sandbox behaves like the fleets we migrate. In particular
`auto.leader.rebalance.enable` keeps its default (true): production clusters run with it, so the
migrator must cope with the controller moving leaders back on its own; its 300 s check interval is
longer than any test, so it does not make tests flaky.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from migrator.sandbox.ports import HOST

# ZooKeeper's tick bounds the session timeouts it grants (2..20 ticks): 0.5 s allows the broker's 6 s.
ZK_TICK_MS = 500
# Short enough that a SIGKILLed broker's ephemeral registration expires quickly (restart tests wait
# for it), long enough that a GC pause or a busy CI core does not expire a live broker's session.
ZK_SESSION_TIMEOUT_MS = 6000
# A node's listeners unless its BrokerSpec.config sets its own; `{host}` and `{port}` stand for its address
# and the sandbox's shared port, there and in the config's values.
DEFAULT_LISTENERS = "PLAINTEXT://{host}:{port}"

LOG4J_PROPERTIES = """\
# Shared by every sandbox JVM; each process's console (this appender) is redirected to its own file.
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
"""


def render_properties(values: Mapping[str, object]) -> str:
    return "".join(f"{key}={_value(value)}\n" for key, value in values.items())


def zookeeper_config(*, data_dir: Path, port: int) -> dict[str, object]:
    return {
        "dataDir": data_dir,
        "clientPort": port,
        "clientPortAddress": HOST,
        "tickTime": ZK_TICK_MS,
        # The embedded Jetty admin server would take port 8080, shared by every rig on the machine.
        "admin.enableServer": False,
        # kazoo's server_version() needs `envi`.
        "4lw.commands.whitelist": "ruok,srvr,stat,envi",
        # All sandbox clients come from 127.0.0.1; the default cap of 60 per address is too low.
        "maxClientCnxns": 0,
        # Unknown zoo.cfg keys become zookeeper.* system properties: a 1 MiB (not 64 MiB) transaction
        # log preallocation, and no fsync per write (a sandbox's data is disposable).
        "preAllocSize": 1024,
        "forceSync": "no",
    }


def broker_defaults(broker_count: int) -> dict[str, object]:
    """Cluster-wide broker settings for a cluster created with `broker_count` brokers. A cluster created
    empty (its nodes added later) gets the settings of one broker, which any size satisfies. Kafka 3.9
    accepts all of them in KRaft mode as well; there the ZooKeeper ones are ignored."""
    replicas = min(3, max(1, broker_count))
    return {
        "num.partitions": 3,
        "default.replication.factor": replicas,
        "min.insync.replicas": 2 if broker_count >= 3 else 1,
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": 10,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min(2, replicas),
        "transaction.state.log.num.partitions": 10,
        "group.initial.rebalance.delay.ms": 0,
        "controlled.shutdown.enable": True,
        # A whole sandbox stopping at once makes controlled-shutdown requests fail over to a new
        # controller; retry after 1 s instead of Kafka's 5 s.
        "controlled.shutdown.retry.backoff.ms": 1000,
        "zookeeper.session.timeout.ms": ZK_SESSION_TIMEOUT_MS,
        "log.segment.bytes": 8 * 1024 * 1024,
        "log.index.size.max.bytes": 1024 * 1024,
        # The cleaner allocates this on the heap at start-up (default 128 MiB of our 384 MiB).
        "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
        "num.network.threads": 2,
        "num.io.threads": 2,
        "num.recovery.threads.per.data.dir": 1,
        "background.threads": 4,
    }


def broker_config(
    *,
    broker_id: int,
    rack: str | None,
    host: str,
    port: int,
    zookeeper_connect: str | None,
    data_dir: Path,
    defaults: Mapping[str, object],
    overrides: Mapping[str, object],
) -> dict[str, object]:
    """server.properties for one broker listening on host:port. `overrides` (BrokerSpec.config) win over
    everything; in their values `{host}` and `{port}` stand for the broker's address and the port.
    A KRaft node (`process.roles` in `overrides`) is given `node.id` and no `zookeeper.connect`, unless
    `overrides` sets them (a controller taking part in a ZooKeeper migration needs the latter)."""
    kraft = bool(process_roles(overrides))
    config: dict[str, object] = {
        "node.id" if kraft else "broker.id": broker_id,
        # advertised.listeners defaults to listeners, so clients are sent to host:port too, also when
        # an override replaces `listeners` with a list of its own.
        "listeners": substitute(DEFAULT_LISTENERS, host, port),
    }
    if not kraft and zookeeper_connect is not None:
        config["zookeeper.connect"] = zookeeper_connect
    config["log.dirs"] = data_dir
    if rack is not None:
        config["broker.rack"] = rack
    config.update(defaults)
    config.update({key: substitute(value, host, port) for key, value in overrides.items()})
    return config


def substitute(value: object, host: str, port: int) -> str:
    """A config value with a node's `{host}` and the shared `{port}` filled in."""
    return _value(value).replace("{host}", host).replace("{port}", str(port))


def process_roles(config: Mapping[str, object]) -> frozenset[str]:
    """A node's KRaft roles (`process.roles`: broker, controller); empty for a ZooKeeper-mode broker."""
    return frozenset(role.strip() for role in _value(config.get("process.roles", "")).split(",") if role.strip())


def listeners(config: Mapping[str, object]) -> list[tuple[str, str, int]]:
    """(name, host, port) of each listener in a server.properties' `listeners`."""
    parsed = []
    for listener in _value(config.get("listeners", "")).split(","):
        if "://" not in listener:
            continue
        name, address = listener.strip().split("://", 1)
        host, port = address.rsplit(":", 1)
        parsed.append((name, host, int(port)))
    return parsed


def client_listener(config: Mapping[str, object]) -> tuple[str, int] | None:
    """host:port of a PLAINTEXT listener of server.properties that is not a KRaft controller listener,
    for a client without credentials; None if there is none."""
    protocols = dict(
        entry.strip().split(":", 1)
        for entry in _value(config.get("listener.security.protocol.map", "")).split(",")
        if ":" in entry
    )
    controller_names = {name.strip() for name in _value(config.get("controller.listener.names", "")).split(",")}
    for name, host, port in listeners(config):
        # Without a map entry Kafka uses the listener name as the protocol (PLAINTEXT://, SSL://, ...).
        if protocols.get(name, name) == "PLAINTEXT" and name not in controller_names:
            return host, port
    return None


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
