"""Thin Kafka Admin API adapter over two libraries, each for what only it does well.

confluent-kafka (librdkafka) for metadata, configs and leader election; kafka-python for the KIP-455
partition reassignment calls and DescribeLogDirs, which confluent-kafka does not have. Results come back
as plain data keyed by (topic, partition[, broker]); the cluster model gives them meaning.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import kafka.errors as kp_errors
from confluent_kafka import ElectionType, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    ResourceType,
)
from kafka import TopicPartition as KpTopicPartition
from kafka.admin import KafkaAdminClient
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from migrator.clients.connection import ClusterConfig
from migrator.errors import BadInput

log = logging.getLogger(__name__)
# librdkafka logs every refused connection (routed here); the failure that matters reaches the user as
# BadInput, so its chatter shows only where the application configured logging.
log.addHandler(logging.NullHandler())

PartitionKey = tuple[str, int]

_AUTH_CODES = {
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError._AUTHENTICATION,
}

#: What a request to a broker that is down, restarting or unreachable raises, from either client library.
KAFKA_IO_ERRORS = (KafkaException, kp_errors.KafkaError, TimeoutError, OSError)


def _is_retriable(exc: BaseException) -> bool:
    if isinstance(exc, KafkaException) and isinstance(exc.args[0], KafkaError):
        return exc.args[0].retriable()
    return isinstance(exc, kp_errors.KafkaError) and bool(getattr(exc, "retriable", False))


_transient = retry(
    retry=retry_if_exception(_is_retriable),
    stop=stop_after_attempt(5),
    wait=wait_exponential(multiplier=0.5, max=5.0),
    reraise=True,
)


class _Redacted(str):
    """A secret kafka-python can use as a str but that prints as *** (it logs its whole config at DEBUG)."""

    def __repr__(self) -> str:
        return "'***'"


@dataclass(frozen=True)
class ConfigValue:
    """One effective config entry as the broker reports it."""

    value: str | None
    source: str  # e.g. DYNAMIC_BROKER_CONFIG, DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG
    is_default: bool


@dataclass(frozen=True)
class ReassignmentState:
    """An in-flight KIP-455 reassignment as the controller reports it."""

    replicas: tuple[int, ...]
    adding: tuple[int, ...]
    removing: tuple[int, ...]


class KafkaAdmin:
    """Admin connection to the cluster named by the config. Use as a context manager."""

    def __init__(self, cluster: ClusterConfig) -> None:
        self._cluster = cluster
        self._confluent: AdminClient | None = None
        self._kafka_python: KafkaAdminClient | None = None
        # Callers may read concurrently (the inventory does); each library must be set up only once.
        self._setup = threading.RLock()

    def __enter__(self) -> "KafkaAdmin":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._kafka_python is not None:
            self._kafka_python.close()
            self._kafka_python = None
        # librdkafka's handle is released when garbage-collected; dropping the reference is its close().
        self._confluent = None

    @property
    def _timeout(self) -> float:
        return self._cluster.timeout_seconds

    def _unreachable(self, detail: str) -> BadInput:
        return BadInput(
            f"No Kafka broker at {self._cluster.bootstrap_servers} answered within {self._timeout:g} s "
            f"({detail}): check cluster.bootstrap_servers, the security settings (security_protocol "
            f"{self._cluster.security_protocol}) and that the brokers are up and reachable from this machine."
        )

    # -- connections (lazy: a caller that needs only one library never pays for the other) --------

    @property
    def confluent(self) -> AdminClient:
        with self._setup:
            if self._confluent is None:
                self._confluent = self._connect_confluent()
            return self._confluent

    @property
    def kafka_python(self) -> KafkaAdminClient:
        with self._setup:
            if self._kafka_python is None:
                self.confluent  # proves the brokers answer, with librdkafka's clearer error if they do not
                self._kafka_python = self._connect_kafka_python()
            return self._kafka_python

    def _connect_confluent(self) -> AdminClient:
        c = self._cluster
        conf: dict[str, object] = {
            "bootstrap.servers": c.bootstrap_servers,
            "security.protocol": c.security_protocol,
            "socket.timeout.ms": int(c.timeout_seconds * 1000),
            "logger": log,
        }
        if c.sasl_mechanism:
            conf["sasl.mechanism"] = c.sasl_mechanism
            conf["sasl.username"] = c.sasl_username or ""
            conf["sasl.password"] = c.sasl_password.read() if c.sasl_password else ""
        if c.ssl_ca_location:
            conf["ssl.ca.location"] = str(c.ssl_ca_location)
        admin = AdminClient(conf)
        with self._errors():
            try:
                admin.list_topics(timeout=c.timeout_seconds)
            except KafkaException as exc:
                if exc.args[0].code() in _AUTH_CODES:
                    raise
                raise self._unreachable(exc.args[0].str()) from None
        return admin

    def _connect_kafka_python(self) -> KafkaAdminClient:
        c = self._cluster
        conf: dict[str, object] = {
            "bootstrap_servers": c.bootstrap_servers.split(","),
            "security_protocol": c.security_protocol,
            "request_timeout_ms": int(c.timeout_seconds * 1000),
            "bootstrap_timeout_ms": int(c.timeout_seconds * 1000),
            "client_id": "kafka-k8s-migrator",
        }
        if c.sasl_mechanism:
            conf["sasl_mechanism"] = c.sasl_mechanism
            conf["sasl_plain_username"] = c.sasl_username
            conf["sasl_plain_password"] = _Redacted(c.sasl_password.read()) if c.sasl_password else None
        if c.ssl_ca_location:
            conf["ssl_cafile"] = str(c.ssl_ca_location)
        # KafkaAdminClient starts its IO thread before bootstrapping and does not stop it when the
        # bootstrap fails; building it in two steps lets us stop that thread instead of leaking it.
        client = KafkaAdminClient.__new__(KafkaAdminClient)
        try:
            with self._errors():
                client.__init__(**conf)  # type: ignore[misc]
        except BaseException as exc:
            if (net := getattr(client, "_net", None)) is not None:
                net.stop()
            if isinstance(exc, kp_errors.KafkaTimeoutError):
                raise self._unreachable(str(exc)) from None
            raise
        return client

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Missing permissions and bad credentials are bad input: say so in one paragraph."""
        try:
            yield
        except KafkaException as exc:
            error = exc.args[0]
            if isinstance(error, KafkaError) and error.code() in _AUTH_CODES:
                raise self._denied(error.str()) from None
            raise
        except (kp_errors.AuthorizationError, kp_errors.SaslAuthenticationFailedError) as exc:
            raise self._denied(type(exc).__name__) from None

    def _denied(self, detail: str) -> BadInput:
        who = f"user {self._cluster.sasl_username}" if self._cluster.sasl_username else "this client"
        return BadInput(
            f"The cluster at {self._cluster.bootstrap_servers} refused {who} ({detail}). The migrator needs "
            "Describe/DescribeConfigs/AlterConfigs/Alter on the cluster and topics: check the credentials "
            "in migration.yaml and the ACLs, then run again."
        )

    # -- metadata --------------------------------------------------------------------------------

    @_transient
    def cluster_id(self) -> str:
        with self._errors():
            return self.confluent.list_topics(timeout=self._timeout).cluster_id

    @_transient
    def list_topics(self) -> list[str]:
        with self._errors():
            return sorted(self.confluent.list_topics(timeout=self._timeout).topics)

    # -- configs ---------------------------------------------------------------------------------

    @_transient
    def topic_configs(self, topics: Collection[str]) -> dict[str, dict[str, ConfigValue]]:
        """Effective configs of the topics (one request); a topic deleted meanwhile is left out."""
        resources = [ConfigResource(ResourceType.TOPIC, t) for t in topics]
        if not resources:
            return {}
        with self._errors(), self._confluent_to_controller() as client:
            futures = client.describe_configs(resources, request_timeout=self._timeout)
            result = {}
            for resource, future in futures.items():
                try:
                    result[resource.name] = _config_values(future.result())
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                        raise
            return result

    @_transient
    def broker_configs(self, broker_ids: Collection[int]) -> dict[int, dict[str, ConfigValue]]:
        """Effective configs of each broker (cluster-wide dynamic defaults show with source
        DYNAMIC_DEFAULT_BROKER_CONFIG). librdkafka allows one broker per call, so the calls go out
        together and are awaited together."""
        with self._errors():
            futures = {}
            for broker_id in broker_ids:
                resource = ConfigResource(ResourceType.BROKER, str(broker_id))
                call = self.confluent.describe_configs([resource], request_timeout=self._timeout)
                futures[broker_id] = call[resource]
            return {broker_id: _config_values(f.result()) for broker_id, f in futures.items()}

    @_transient
    def alter_topic_config(
        self,
        topic: str,
        set_: Mapping[str, str] | None = None,
        delete: Collection[str] = (),
        append: Mapping[str, Collection[str]] | None = None,
        subtract: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        """`append`/`subtract` change list configs element-wise on the broker (APPEND skips elements
        already present), so entries someone else put in the same list are never rewritten."""
        self._alter(ResourceType.TOPIC, topic, set_ or {}, delete, append or {}, subtract or {})

    @_transient
    def alter_broker_config(
        self, broker_id: int, set_: Mapping[str, str] | None = None, delete: Collection[str] = ()
    ) -> None:
        self._alter(ResourceType.BROKER, str(broker_id), set_ or {}, delete)

    def _alter(
        self,
        kind: ResourceType,
        name: str,
        set_: Mapping[str, str],
        delete: Collection[str],
        append: Mapping[str, Collection[str]] | None = None,
        subtract: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        """incremental_alter_configs: SET, DELETE, APPEND and SUBTRACT are idempotent, so a retry after a
        lost answer is safe."""
        entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in set_.items()]
        entries += [ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE) for k in delete]
        for op, lists in ((AlterConfigOpType.APPEND, append), (AlterConfigOpType.SUBTRACT, subtract)):
            entries += [ConfigEntry(k, ",".join(v), incremental_operation=op) for k, v in (lists or {}).items() if v]
        if not entries:
            return
        resource = ConfigResource(kind, name, incremental_configs=entries)
        with self._errors(), self._confluent_to_controller() as client:
            client.incremental_alter_configs([resource], request_timeout=self._timeout)[resource].result()

    # -- leadership and replica placement --------------------------------------------------------

    @_transient
    def elect_preferred_leaders(self, partitions: Collection[PartitionKey]) -> dict[PartitionKey, str | None]:
        """Preferred leader election; per partition None (elected or already preferred) or the error."""
        tps = [TopicPartition(t, p) for t, p in partitions]
        if not tps:
            return {}
        with self._errors(), self._confluent_to_controller() as client:
            # No timeout kwargs: confluent-kafka 2.16.1's elect_leaders raises SystemError on any keyword
            # argument. Its default timeouts derive from socket.timeout.ms, which we set from the config.
            future = client.elect_leaders(ElectionType.PREFERRED, tps)
            result = {}
            for tp, error in future.result().items():
                # ELECTION_NOT_NEEDED means the preferred replica already leads: the goal holds.
                ok = error is None or error.code() == KafkaError.ELECTION_NOT_NEEDED
                result[(tp.topic, tp.partition)] = None if ok else error.str()
            return result

    @contextmanager
    def _confluent_to_controller(self) -> Iterator[AdminClient]:
        """librdkafka sends topic config requests and elections to the controller its metadata names
        and waits for that broker to come up instead of asking who the controller is now: once the
        controller died, each such call ends in "Timed out waiting for controller". A timed-out call
        drops the client, so the retry bootstraps anew and finds the new controller."""
        client = self.confluent
        try:
            yield client
        except KafkaException as exc:
            if isinstance(exc.args[0], KafkaError) and exc.args[0].code() == KafkaError._TIMED_OUT:
                with self._setup:
                    if self._confluent is client:
                        self._confluent = None
            raise

    @contextmanager
    def _controller(self) -> Iterator[KafkaAdminClient]:
        """kafka-python (3.0.12) remembers which broker is the controller and asks again only when that
        broker answers NOT_CONTROLLER; once it is dead, every request would go to it for good. A failed
        call drops the client, so the retry connects anew and looks the controller up."""
        client = self.kafka_python
        try:
            yield client
        except kp_errors.KafkaError:
            with self._setup:
                if self._kafka_python is client:
                    self._kafka_python = None
                    client.close()
            raise

    @_transient
    def list_partition_reassignments(self) -> dict[PartitionKey, ReassignmentState]:
        with self._errors(), self._controller() as client:
            listed = client.list_partition_reassignments(timeout_ms=int(self._timeout * 1000))
        return {
            (tp.topic, tp.partition): ReassignmentState(
                tuple(r["replicas"]), tuple(r["adding_replicas"]), tuple(r["removing_replicas"])
            )
            for tp, r in listed.items()
        }

    @_transient
    def alter_partition_reassignments(
        self, targets: Mapping[PartitionKey, list[int] | None]
    ) -> dict[PartitionKey, str | None]:
        """KIP-455: a replica list starts (or redirects) a move; None cancels it and reverts. Returns,
        per partition, None when accepted or the error name."""
        request = {KpTopicPartition(t, p): replicas for (t, p), replicas in targets.items()}
        if not request:
            return {}
        with self._errors(), self._controller() as client:
            answered = client.alter_partition_reassignments(request, timeout_ms=int(self._timeout * 1000))
        return {
            (tp.topic, tp.partition): (None if error is None or error is kp_errors.NoError else error.__name__)
            for tp, error in answered.items()
        }

    @_transient
    def replica_sizes(self, broker_ids: Collection[int]) -> dict[tuple[str, int, int], int]:
        """(topic, partition, broker) -> bytes on disk, from DescribeLogDirs on each given (live) broker.
        Replicas being moved between log dirs of one broker (future replicas) are not counted twice."""
        with self._errors():
            answers = self.kafka_python.describe_log_dirs(brokers=list(broker_ids))
        sizes: dict[tuple[str, int, int], int] = {}
        for answer in answers:
            broker = answer["broker"]
            for log_dir in answer["log_dirs"]:
                if log_dir["error_code"]:  # an offline log dir reports nothing usable
                    continue
                for topic in log_dir["topics"]:
                    for part in topic["partitions"]:
                        if not part["is_future_key"]:
                            key = (topic["name"], part["partition_index"], broker)
                            sizes[key] = sizes.get(key, 0) + part["partition_size"]
        return sizes


def _config_values(entries: Mapping[str, ConfigEntry]) -> dict[str, ConfigValue]:
    # librdkafka hands the source over as a bare int; the enum gives it its name.
    return {
        name: ConfigValue(entry.value, ConfigSource(entry.source).name, entry.is_default)
        for name, entry in entries.items()
    }
