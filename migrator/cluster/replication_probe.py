"""Does data flow both ways between the VM brokers and the new ones? A probe topic answers it.

Each new broker gets two partitions, paired with a VM broker: one led on the VM side with a follower on
the new broker, one led on the new broker with a follower on the VM side. The topic has
min.insync.replicas=2, so a record produced with acks=all is acknowledged only once the follower on the
OTHER side has it: an acknowledgement proves replication in that direction. Reading every record back
from its leader closes the loop.

All clients connect through the shared inter-broker listener (target.shared_listener): the one listener
every broker of the mixed cluster has. Kafka leaves brokers without the listener a client connected
through out of its metadata, so through any other listener one side would be invisible.

    endpoints = shared_endpoints(zk.brokers(), "SHARED-9094")
    probe = ReplicationProbe(endpoints, "__migrator-probe-m1", timeout=30)
    probe.create(assignment)                  # idempotent; the same topic, same assignment
    offsets = probe.produce(marker)           # partition -> offset, acks=all
    probe.read_back(offsets, marker)          # partitions whose record is missing or different
    probe.delete()
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, ElectionType, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from migrator.errors import PermanentError, TemporaryError

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

JSON = dict[str, object]


def probe_assignment(vm_ids: Sequence[int], new_ids: Sequence[int]) -> list[list[int]]:
    """Partition -> replicas (preferred leader first): for each new broker, [vm, new] then [new, vm],
    the VM brokers taken in turn so that each new broker is paired with a different one where possible."""
    if not vm_ids or not new_ids:
        raise ValueError("the probe needs at least one VM broker and one new broker")
    vm = sorted(vm_ids)
    assignment = []
    for index, new in enumerate(sorted(new_ids)):
        partner = vm[index % len(vm)]
        assignment += [[partner, new], [new, partner]]
    return assignment


def shared_endpoints(registrations: Mapping[int, JSON], listener: str) -> dict[int, str]:
    """broker id -> host:port of its `listener` endpoint, from /brokers/ids/<id> registrations. Brokers
    that do not advertise the listener are left out (the caller names them)."""
    found = {}
    prefix = f"{listener.upper()}://"
    for broker_id, data in registrations.items():
        for endpoint in data.get("endpoints") or ():  # type: ignore[union-attr]
            if str(endpoint).upper().startswith(prefix):
                found[broker_id] = str(endpoint)[len(prefix) :]
    return found


@dataclass(frozen=True)
class PartitionReplication:
    """What ZooKeeper says about one probe partition."""

    partition: int
    replicas: list[int]
    leader: int
    isr: list[int]

    @property
    def replicated(self) -> bool:
        return set(self.replicas) <= set(self.isr)

    @property
    def preferred_leads(self) -> bool:
        return bool(self.replicas) and self.leader == self.replicas[0]


class ReplicationProbe:
    """Create, write, read back and delete the probe topic through `endpoints` (the shared listener)."""

    def __init__(self, endpoints: Mapping[int, str], topic: str, timeout: float = 30.0) -> None:
        if not endpoints:
            raise ValueError("no broker advertises the shared listener")
        self.bootstrap = ",".join(endpoints[b] for b in sorted(endpoints))
        self.topic = topic
        self.timeout = timeout

    def _client_config(self) -> dict[str, object]:
        # PLAINTEXT: the shared listener is plain text for now (TargetConfig refuses a TLS one).
        return {"bootstrap.servers": self.bootstrap, "logger": log, "socket.timeout.ms": int(self.timeout * 1000)}

    def _admin(self) -> AdminClient:
        return AdminClient(self._client_config())

    def create(self, assignment: Sequence[Sequence[int]]) -> None:
        """Create the topic with exactly this assignment; an existing probe topic must have it."""
        topic = NewTopic(
            self.topic,
            # confluent-kafka 2.16 wants the count with an assignment (-1 is refused as "a default count").
            num_partitions=len(assignment),
            replica_assignment=[list(r) for r in assignment],
            config={"min.insync.replicas": "2", "unclean.leader.election.enable": "false"},
        )
        admin = self._admin()  # referenced until the answer: a collected client cancels its requests
        try:
            admin.create_topics([topic], request_timeout=self.timeout)[self.topic].result()
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise _temporary(f"creating the probe topic {self.topic} failed: {error.str()}") from None

    def elect_preferred(self, partitions: Sequence[int]) -> None:
        """Move each partition's leadership to its first replica (a leader on the wrong side would make
        the probe test one direction twice)."""
        if not partitions:
            return
        tps = [TopicPartition(self.topic, p) for p in partitions]
        admin = self._admin()
        try:
            admin.elect_leaders(ElectionType.PREFERRED, tps).result()
        except KafkaException as exc:
            raise _temporary(f"preferred leader election on {self.topic} failed: {exc.args[0].str()}") from None

    def produce(self, partitions: Sequence[int], marker: str) -> dict[int, int]:
        """One record per partition with acks=all; partition -> its offset. TemporaryError when any is
        not acknowledged within the timeout (the follower on the other side is not in sync)."""
        producer = Producer(
            {
                **self._client_config(),
                "acks": "all",
                "enable.idempotence": True,
                "message.timeout.ms": int(self.timeout * 1000),
            }
        )
        offsets: dict[int, int] = {}
        failures: dict[int, str] = {}

        def delivered(err: KafkaError | None, msg: object) -> None:
            partition = msg.partition()  # type: ignore[attr-defined]
            if err is not None:
                failures[partition] = err.str()
            else:
                offsets[partition] = msg.offset()  # type: ignore[attr-defined]

        for partition in partitions:
            producer.produce(self.topic, value=marker.encode(), partition=partition, on_delivery=delivered)
        left = producer.flush(self.timeout + 5)
        if left:
            producer.purge()
            producer.flush(0)
        missing = [p for p in partitions if p not in offsets and p not in failures]
        failures.update({p: "no acknowledgement before the timeout" for p in missing})
        if failures:
            shown = "; ".join(f"partition {p}: {why}" for p, why in sorted(failures.items()))
            raise _temporary(
                f"records produced to the probe topic {self.topic} with acks=all were not acknowledged ({shown})"
            )
        return offsets

    def read_back(self, offsets: Mapping[int, int], marker: str) -> dict[int, str]:
        """partition -> what is wrong with its record (missing, or another value); empty when all match."""
        consumer = Consumer(
            {
                **self._client_config(),
                "group.id": f"{self.topic}-reader",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        try:
            consumer.assign([TopicPartition(self.topic, p, o) for p, o in offsets.items()])
            found: dict[int, bytes | None] = {}
            deadline = time.monotonic() + self.timeout
            while len(found) < len(offsets) and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None or msg.error() is not None:
                    continue
                if msg.offset() == offsets.get(msg.partition()):
                    found[msg.partition()] = msg.value()
        finally:
            consumer.close()
        wrong = {}
        for partition, offset in offsets.items():
            value = found.get(partition)
            if value is None:
                wrong[partition] = f"no record at offset {offset} within {self.timeout:g} s"
            elif value != marker.encode():
                wrong[partition] = f"offset {offset} holds another record ({value[:40]!r})"
        return wrong

    def delete(self) -> None:
        """Delete the topic (idempotent: an absent topic is fine)."""
        admin = self._admin()
        try:
            admin.delete_topics([self.topic], request_timeout=self.timeout)[self.topic].result()
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise _temporary(f"deleting the probe topic {self.topic} failed: {error.str()}") from None


def _temporary(message: str) -> TemporaryError:
    return TemporaryError(message, delay=10.0)


def unreachable(broker_ids: Sequence[int], listener: str) -> PermanentError:
    """The brokers that do not advertise the shared listener, as one paragraph."""
    return PermanentError(
        f"Broker(s) {', '.join(map(str, sorted(broker_ids)))} register no {listener} endpoint in ZooKeeper, so "
        "they cannot replicate to or from the other side. Every broker of the mixed cluster needs the shared "
        "listener: on the VM brokers add it and make it inter.broker.listener.name (strimzi-overrides/README.md, "
        "'Preparing the VM brokers'); on the Strimzi side it comes from target.shared_listener."
    )
