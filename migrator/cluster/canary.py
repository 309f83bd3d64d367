"""The embedded canary: a producer (acks=all, idempotent) and a consumer on a topic of ours with a
replica on every broker, as Strimzi's canary does, so a broker that stops taking writes or serving
reads shows up before the next step, and while a long step runs.

One round trip sends one record to every partition (each broker leads one when the topic is made),
waits for every acknowledgement (produce latency: send to ack) and reads each record back from the
offset the ack named (end-to-end latency: send to read). The report feeds the safety gate and
`migrator status`; it holds no payload and no secret. Brokers that join later (the mixed cluster's)
get a partition of their own, led by them, on the next round trip: partitions only ever grow. The
topic moves with every other topic when replicas move, so a retired broker never keeps it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import NewPartitions, NewTopic

from migrator.clients.connection import ClusterConfig
from migrator.clients.kafka import KafkaAdmin, confluent_settings
from migrator.cluster.canary_config import CanaryConfig
from migrator.engine.events import EventBus

#: At most this many replicas per partition (fewer on a smaller cluster), as Strimzi's canary.
MAX_REPLICATION = 3


@dataclass
class CanaryReport:
    """One round trip: how many records went out and came back, latencies in ms, errors."""

    topic: str
    partitions: int
    produced: int = 0
    consumed: int = 0
    produce_latency_ms: float | None = None  # the slowest acknowledgement
    #: Every acknowledged record's produce latency, and how many records were not acknowledged.
    acks_ms: list[float] = field(default_factory=list)
    produce_errors: int = 0
    end_to_end_latency_ms: float | None = None  # the slowest record read back
    errors: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.time)

    def problem(self, settings: CanaryConfig) -> str | None:
        """Why the round trip is unhealthy, or None."""
        if self.errors:
            return f"canary errors on {self.topic}: {'; '.join(self.errors[:5])}"
        if self.consumed < self.partitions:
            return f"canary read back {self.consumed} of {self.partitions} records within the timeout"
        if self.produce_latency_ms is not None and self.produce_latency_ms > settings.max_produce_latency_ms:
            return f"canary produce latency {self.produce_latency_ms:.0f} ms > {settings.max_produce_latency_ms:.0f} ms"
        if self.end_to_end_latency_ms is not None and self.end_to_end_latency_ms > settings.max_end_to_end_latency_ms:
            return (
                f"canary end-to-end latency {self.end_to_end_latency_ms:.0f} ms > "
                f"{settings.max_end_to_end_latency_ms:.0f} ms"
            )
        return None

    def summary(self) -> str:
        return (
            f"canary {self.consumed}/{self.partitions} round trips, produce {self.produce_latency_ms or 0:.0f} ms, "
            f"end-to-end {self.end_to_end_latency_ms or 0:.0f} ms, {len(self.errors)} error(s)"
        )

    def to_dict(self) -> dict:
        return asdict(self)

    def publish(self, events: EventBus) -> None:
        """One `canary.produce` event per record sent: its latency, or that it failed (the metrics count them)."""
        for latency in self.acks_ms:
            events.emit("canary.produce", latency_seconds=latency / 1000)
        for _ in range(self.produce_errors):
            events.emit("canary.produce", error=self.errors[0] if self.errors else "not acknowledged")


def canary_assignment(brokers: list[int], first_partition: int, leaders: list[int]) -> list[list[int]]:
    """Replica lists for new partitions led by `leaders`, each followed by the next brokers in id order."""
    ordered = sorted(brokers)
    replication = min(MAX_REPLICATION, len(ordered))
    assignment = []
    for leader in leaders:
        start = ordered.index(leader)
        assignment.append([ordered[(start + i) % len(ordered)] for i in range(replication)])
    return assignment


class Canary:
    """Long-lived producer and consumer; `round_trip()` is what the safety gate calls."""

    def __init__(self, cluster: ClusterConfig, settings: CanaryConfig, client_id: str = "kafka-k8s-migrator-canary") -> None:
        self.cluster = cluster
        self.settings = settings
        base = confluent_settings(cluster)
        self._producer = Producer(
            {**base, "client.id": client_id, "acks": "all", "enable.idempotence": True, "linger.ms": 0}
        )
        self._consumer = Consumer(
            {
                **base,
                "client.id": client_id,
                # assign(), never subscribe(): no group membership, no rebalance, nothing committed.
                "group.id": f"{client_id}-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )

    def close(self) -> None:
        self._producer.flush(self.settings.timeout_seconds)
        self._consumer.close()

    def ensure_topic(self) -> int:
        """Create the topic, or add partitions led by brokers that lead none; returns the partition count."""
        topic = self.settings.topic
        with KafkaAdmin(self.cluster) as admin:
            metadata = admin.metadata()
            brokers = sorted(metadata.brokers)
            described = metadata.topics.get(topic)
            if described is None or described.error is not None:
                assignment = canary_assignment(brokers, 0, brokers)
                future = admin.confluent.create_topics(
                    [NewTopic(topic, num_partitions=len(assignment), replica_assignment=assignment)],
                    request_timeout=self.settings.timeout_seconds,
                )[topic]
                try:
                    future.result()
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                        raise
                return len(brokers)
            leading = {p.leader for p in described.partitions.values()} | {
                p.replicas[0] for p in described.partitions.values() if p.replicas
            }
            missing = [b for b in brokers if b not in leading]
            count = len(described.partitions)
            if missing:
                future = admin.confluent.create_partitions(
                    [NewPartitions(topic, count + len(missing), canary_assignment(brokers, count, missing))],
                    request_timeout=self.settings.timeout_seconds,
                )[topic]
                future.result()
                count += len(missing)
            return count

    def round_trip(self) -> CanaryReport:
        try:
            partitions = self.ensure_topic()
        except KafkaException as exc:
            return CanaryReport(self.settings.topic, 1, produce_errors=1, errors=[f"topic: {exc.args[0].str()}"])
        report = CanaryReport(self.settings.topic, partitions)
        deadline = time.monotonic() + self.settings.timeout_seconds
        sent: dict[int, tuple[float, int]] = {}  # partition -> (send time, offset acknowledged)
        # Kept here: a delivery report carries no headers, so the send time cannot travel with the record.
        sent_at: dict[int, float] = {}
        run = uuid.uuid4().hex

        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                report.errors.append(f"produce to partition {message.partition()}: {error.str()}")
                report.produce_errors += 1
                return
            started = sent_at[message.partition()]
            latency = (time.time() - started) * 1000
            report.produced += 1
            report.produce_latency_ms = max(report.produce_latency_ms or 0.0, latency)
            report.acks_ms.append(latency)
            sent[message.partition()] = (started, message.offset())

        for partition in range(partitions):
            sent_at[partition] = time.time()
            self._producer.produce(self.settings.topic, value=run.encode(), partition=partition, on_delivery=delivered)
        self._producer.flush(max(0.0, deadline - time.monotonic()))
        unanswered = partitions - report.produced - report.produce_errors
        if unanswered > 0:
            report.produce_errors += unanswered
            if not report.errors:
                report.errors.append(f"{unanswered} record(s) not acknowledged within the timeout")
        self._read_back(report, sent, run, deadline)
        return report

    def _read_back(self, report: CanaryReport, sent: dict[int, tuple[float, int]], run: str, deadline: float) -> None:
        if not sent:
            return
        self._consumer.assign([TopicPartition(self.settings.topic, p, offset) for p, (_, offset) in sent.items()])
        waiting = dict(sent)
        while waiting and time.monotonic() < deadline:
            message = self._consumer.poll(min(1.0, max(0.0, deadline - time.monotonic())))
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() != KafkaError._PARTITION_EOF:
                    report.errors.append(f"consume: {message.error().str()}")
                continue
            if message.value() != run.encode() or message.partition() not in waiting:
                continue
            started, _ = waiting.pop(message.partition())
            report.consumed += 1
            report.end_to_end_latency_ms = max(report.end_to_end_latency_ms or 0.0, (time.time() - started) * 1000)
        self._consumer.unassign()


class CanaryProbe:
    """The canary as the safety gate's probe: `(events)` -> (healthy, detail), publishing what it
    measured on `events`. The clients are made on the first call and kept for the process's lifetime;
    one round trip per gate evaluation."""

    def __init__(self, cluster: ClusterConfig, settings: CanaryConfig) -> None:
        self.cluster = cluster
        self.settings = settings
        self._canary: Canary | None = None
        self.last: CanaryReport | None = None

    def __call__(self, events: EventBus) -> tuple[bool, str]:
        if self._canary is None:
            self._canary = Canary(self.cluster, self.settings)
        self.last = self._canary.round_trip()
        self.last.publish(events)
        problem = self.last.problem(self.settings)
        return problem is None, problem or self.last.summary()
