"""TEST CODE: the server.properties Strimzi 0.45 would give broker N of a ZooKeeper-mode Kafka CR (or
node N of a KRaft-mode one, `kraft_node_config`), under the upstream operator or under the fork
described in strimzi-overrides/README.md, as the stand-in operator (strimzi_controller.py) starts it
on a sandbox loopback address.

What Strimzi writes (KafkaBrokerConfigurationBuilder) and what the stand-in does with it:
- broker.id = node ID; broker.rack from spec.kafka.rack (the stand-in's zone for the node).
- zookeeper.connect: upstream always `<cluster>-zookeeper-client:2181` with the ZooKeeper TLS client.
  The fork writes spec.kafka.config's zookeeper.connect (and zookeeper.ssl.client.enable) when the key
  is there (its one switch); without it the fork writes what upstream writes.
- Listeners: CONTROLPLANE-9090, REPLICATION-9091 and `<NAME>-<PORT>` per spec.kafka.listeners;
  inter.broker.listener.name REPLICATION-9091 and control.plane.listener.name CONTROLPLANE-9090. The
  fork writes spec.kafka.config's inter.broker.listener.name instead and then no control plane name.
  Deviations of the stand-in: every listener binds the broker's own loopback address and advertises
  it (no pod DNS names), the inter-broker listener on the sandbox's shared broker port and the others
  on free ports; CONTROLPLANE-9090 and REPLICATION-9091 are PLAINTEXT (no cluster CA here).
- spec.kafka.config minus what Strimzi drops: upstream applies the forbidden-prefix rule
  (FORBIDDEN_PREFIXES below); the fork lets through FORK_LETS_THROUGH, as strimzi-overrides/README.md
  specifies the fork.

This stand-in keeps its own tables of Strimzi's behaviour, written from Strimzi 0.45.2's sources and
checked against the Kafka CRD Strimzi publishes (tests/unit/test_strimzi_stand_in_config.py), and
imports nothing of the migrator: the join and handback tests compare the migrator with this model, not
the migrator's model with itself.
- spec.cruiseControl.config metric.reporter.topic becomes cruise.control.metrics.topic (the reporter
  class itself is not on the sandbox's classpath, so metric.reporters is left out).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

Mode = Literal["fork", "upstream"]
CONTROLPLANE = "CONTROLPLANE-9090"
REPLICATION = "REPLICATION-9091"
#: Strimzi's default when metric.reporter.topic is not set.
DEFAULT_METRICS_TOPIC = "strimzi.cruisecontrol.metrics"
#: A port callback's answer for the listener that takes the sandbox's shared broker port.
SHARED_PORT = "{port}"


# io.strimzi.api.kafka.model.kafka.KafkaClusterSpec.FORBIDDEN_PREFIXES and FORBIDDEN_PREFIX_EXCEPTIONS
# (strimzi-kafka-operator 0.45.2, api module), applied by KafkaConfiguration through
# AbstractConfiguration.filterForbidden: a key that starts with a prefix (lower-cased) is dropped with a
# warning in the operator log, unless it equals an exception. The CRD's spec.kafka.config description
# lists the same two sets.
FORBIDDEN_PREFIXES = (
    "listeners", "advertised.", "broker.", "listener.", "host.name", "port", "inter.broker.listener.name",
    "sasl.", "ssl.", "security.", "password.", "log.dir", "zookeeper.connect", "zookeeper.set.acl",
    "zookeeper.ssl", "zookeeper.clientCnxnSocket", "authorizer.", "super.user", "cruise.control.metrics.topic",
    "cruise.control.metrics.reporter.bootstrap.servers", "node.id", "process.roles", "controller.",
    "metadata.log.dir", "zookeeper.metadata.migration.enable", "client.quota.callback.static.kafka.admin.",
    "client.quota.callback.static.produce", "client.quota.callback.static.fetch",
    "client.quota.callback.static.storage.per.volume.limit.min.available.",
    "client.quota.callback.static.excluded.principal.name.list",
)  # fmt: skip
FORBIDDEN_PREFIX_EXCEPTIONS = frozenset({
    "zookeeper.connection.timeout.ms", "sasl.server.max.receive.size", "ssl.cipher.suites", "ssl.protocol",
    "ssl.enabled.protocols", "ssl.secure.random.implementation", "cruise.control.metrics.topic.num.partitions",
    "cruise.control.metrics.topic.replication.factor", "cruise.control.metrics.topic.retention.ms",
    "cruise.control.metrics.topic.auto.create.retries", "cruise.control.metrics.topic.auto.create.timeout.ms",
    "cruise.control.metrics.topic.min.insync.replicas", "controller.quorum.election.backoff.max.ms",
    "controller.quorum.election.timeout.ms", "controller.quorum.fetch.timeout.ms",
})  # fmt: skip
#: The keys the fork exempts from the forbidden prefixes: its whole change to KafkaClusterSpec, as
#: strimzi-overrides/README.md ("What the fork changes") specifies it.
FORK_LETS_THROUGH = frozenset({"zookeeper.connect", "zookeeper.ssl.client.enable", "inter.broker.listener.name"})


def strimzi_drops(key: str) -> bool:
    """Whether Strimzi 0.45 drops `key` from spec.kafka.config."""
    if key in FORBIDDEN_PREFIX_EXCEPTIONS:
        return False
    return any(key.lower().startswith(prefix.lower()) for prefix in FORBIDDEN_PREFIXES)


def user_config(kafka: Mapping[str, Any], mode: Mode) -> dict[str, str]:
    """spec.kafka.config as the operator passes it on (the rest it drops with a log line)."""
    config = (kafka["spec"]["kafka"].get("config") or {}).items()
    exempt = FORK_LETS_THROUGH if mode == "fork" else frozenset()
    return {key: _text(value) for key, value in config if key in exempt or not strimzi_drops(key)}


def uses_external_zookeeper(kafka: Mapping[str, Any], mode: Mode) -> bool:
    return "zookeeper.connect" in user_config(kafka, mode)


def broker_config(
    kafka: Mapping[str, Any],
    node_id: int,
    mode: Mode,
    rack: str | None,
    port_of: Callable[[str, bool], int | str],
) -> dict[str, str]:
    """The broker's config; `port_of(listener name, is_inter_broker)` places each listener (returning
    SHARED_PORT for the one on the sandbox's broker port). Values may hold `{host}` and `{port}`, which
    the sandbox fills in."""
    cluster = kafka["metadata"]["name"]
    user = user_config(kafka, mode)
    external = "zookeeper.connect" in user
    config: dict[str, str] = {"broker.id": str(node_id)}
    if external:
        config["zookeeper.connect"] = user.pop("zookeeper.connect")
        if "zookeeper.ssl.client.enable" in user:
            config["zookeeper.ssl.client.enable"] = user.pop("zookeeper.ssl.client.enable")
    else:
        config["zookeeper.connect"] = f"{cluster}-zookeeper-client:2181"
        config["zookeeper.ssl.client.enable"] = "true"
        config["zookeeper.clientCnxnSocket"] = "org.apache.zookeeper.ClientCnxnSocketNetty"
    inter_broker = user.pop("inter.broker.listener.name", None) or REPLICATION
    protocols = {CONTROLPLANE: "PLAINTEXT", **_broker_listeners(kafka)}
    endpoints = ",".join(f"{name}://{{host}}:{port_of(name, name == inter_broker)}" for name in protocols)
    config["listeners"] = endpoints
    config["advertised.listeners"] = endpoints
    config["listener.security.protocol.map"] = _protocol_map(protocols)
    config["inter.broker.listener.name"] = inter_broker
    if inter_broker == REPLICATION:
        config["control.plane.listener.name"] = CONTROLPLANE
    config.update(_broker_extras(kafka, rack))
    config.update(user)
    return config


def kraft_node_config(
    kafka: Mapping[str, Any],
    node_id: int,
    roles: Sequence[str],
    mode: Mode,
    rack: str | None,
    port_of: Callable[[str, bool], int | str],
    voters: str,
) -> dict[str, str]:
    """A KRaft node's config (`strimzi.io/kraft: enabled`): `roles` from its pool, `voters` the
    controller.quorum.voters Strimzi 0.45 writes (every controller's CONTROLPLANE-9090). Brokers get
    REPLICATION-9091 and the CR's listeners, controllers CONTROLPLANE-9090 alone; no ZooKeeper and no
    control plane listener name. User config passes the same filter as in ZooKeeper mode: the fork lets
    the override keys through in KRaft mode too, zookeeper.connect included (the builder's ZooKeeper
    part is skipped, the forbidden-prefix exemption is not)."""
    user = user_config(kafka, mode)
    config: dict[str, str] = {
        "node.id": str(node_id),
        "process.roles": ",".join(roles),
        "controller.listener.names": CONTROLPLANE,
        "controller.quorum.voters": voters,
    }
    protocols = {CONTROLPLANE: "PLAINTEXT"} if "controller" in roles else {}
    served = _broker_listeners(kafka) if "broker" in roles else {}
    inter_broker = user.pop("inter.broker.listener.name", None) or REPLICATION
    endpoints = [f"{name}://{{host}}:{port_of(name, name == inter_broker)}" for name in (*protocols, *served)]
    config["listeners"] = ",".join(endpoints)
    config["listener.security.protocol.map"] = _protocol_map({CONTROLPLANE: "PLAINTEXT", **served})
    if served:
        config["advertised.listeners"] = ",".join(e for e in endpoints if not e.startswith(f"{CONTROLPLANE}:"))
        config["inter.broker.listener.name"] = inter_broker
        config.update(_broker_extras(kafka, rack))
    config.update(user)
    return config


def _broker_listeners(kafka: Mapping[str, Any]) -> dict[str, str]:
    """Listener name -> security protocol of what a broker serves: REPLICATION-9091, then the CR's."""
    protocols = {REPLICATION: "PLAINTEXT"}
    for listener in kafka["spec"]["kafka"].get("listeners") or ():
        protocols[f"{str(listener['name']).upper()}-{listener['port']}"] = "SSL" if listener.get("tls") else "PLAINTEXT"
    return protocols


def _protocol_map(protocols: Mapping[str, str]) -> str:
    return ",".join(f"{name}:{protocol}" for name, protocol in protocols.items())


def _broker_extras(kafka: Mapping[str, Any], rack: str | None) -> dict[str, str]:
    """broker.rack, and the Cruise Control metrics topic from spec.cruiseControl.config."""
    extras: dict[str, str] = {}
    if rack is not None and kafka["spec"]["kafka"].get("rack"):
        extras["broker.rack"] = rack
    cruise_control = kafka["spec"].get("cruiseControl")
    if cruise_control is not None:
        topic = (cruise_control.get("config") or {}).get("metric.reporter.topic", DEFAULT_METRICS_TOPIC)
        extras["cruise.control.metrics.topic"] = _text(topic)
    return extras


def tls_listeners(kafka: Mapping[str, Any]) -> list[str]:
    """TLS listeners of the CR, which the stand-in cannot run (no cluster CA, no certificates)."""
    return [
        f"{str(listener['name']).upper()}-{listener['port']}"
        for listener in kafka["spec"]["kafka"].get("listeners") or ()
        if listener.get("tls")
    ]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
