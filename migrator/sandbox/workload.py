"""Continuous produce/consume load that proves a migration lost, duplicated and reordered nothing.

A producer (idempotent, acks=all) sends, at a steady rate, messages for K keys, each carrying its
run id and a per-key sequence number; a message counts as acknowledged only from its delivery
callback. A consumer in a fresh group reads the topic from the beginning and hands every record to
the `WorkloadChecker`. `stop()` stops producing, flushes, then lets the consumer drain until it has
passed every acknowledged offset (or the drain times out): whatever acknowledged message it has not
seen by then is lost.

    with Workload(cluster.bootstrap_servers, topic="orders-canary") as load:
        migrate()
        print(load.snapshot().progress_line())
    assert load.report.zero_loss
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from migrator.errors import BadInput, MigratorError
from migrator.sandbox.workload_checker import Consumption, WorkloadChecker
from migrator.sandbox.workload_report import WorkloadReport

log = logging.getLogger(__name__)

# A string, or a callable giving the bootstrap list to use for each new client: that is where a
# DNS facade name gets resolved afresh before every (re)connect.
Bootstrap = str | Callable[[], str]

_POLL_S = 0.2
_THREAD_STOP_GRACE_S = 30.0


class WorkloadError(MigratorError):
    """A workload thread failed; `report` holds the counters up to the failure."""

    def __init__(self, message: str, report: WorkloadReport | None = None) -> None:
        super().__init__(message)
        self.report = report


def encode_value(run_id: str, seq: int) -> bytes:
    return json.dumps({"run": run_id, "seq": seq}, separators=(",", ":")).encode()


def decode_value(raw: bytes | None) -> tuple[str, int] | None:
    """(run id, seq) of a workload record; None for anything else on the topic."""
    try:
        value = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("run"), str):
        return None
    seq = value.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return None
    return value["run"], seq


def key_name(index: int) -> str:
    return f"key-{index:04d}"


class Workload:
    """Background producer + consumer on one topic; see the module docstring.

    `start(consume=False)` followed later by `start_consuming()` lets a test act on acknowledged data
    before the consumer has read it (e.g. delete it, to show the checker reports the loss).
    """

    def __init__(
        self,
        bootstrap_servers: Bootstrap,
        topic: str = "migrator-workload",
        rate_per_s: float = 200,
        keys: int = 16,
        *,
        partitions: int = 6,
        replication_factor: int = 3,
        min_insync_replicas: int = 2,
        client_config: Mapping[str, Any] | None = None,
    ) -> None:
        if rate_per_s <= 0 or keys < 1 or partitions < 1:
            raise BadInput(
                f"The workload needs a positive rate, at least one key and one partition (got "
                f"rate_per_s={rate_per_s}, keys={keys}, partitions={partitions}); pass values above zero."
            )
        self.topic = topic
        self.rate_per_s = rate_per_s
        self.keys = keys
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.min_insync_replicas = min_insync_replicas
        self.run_id = uuid.uuid4().hex[:12]
        self.report: WorkloadReport | None = None
        self._bootstrap: Callable[[], str] = (
            bootstrap_servers if callable(bootstrap_servers) else lambda: bootstrap_servers
        )
        self._client_config = dict(client_config or {})
        self._last_bootstrap = ""
        self._failure_kinds_seen: set[int] = set()
        self._checker = WorkloadChecker()
        self._stop_producing = threading.Event()
        self._stop_consuming = threading.Event()
        self._flush_deadline = 0.0
        self._started_at: float | None = None
        self._producer_thread: threading.Thread | None = None
        self._consumer_thread: threading.Thread | None = None
        self._thread_errors: list[tuple[str, BaseException]] = []

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self, *, consume: bool = True) -> Workload:
        if self._started_at is not None:
            raise MigratorError("This workload was already started; create a new Workload for a new run.")
        self.ensure_topic()
        self._started_at = time.monotonic()
        self._producer_thread = self._spawn("producer", self._produce_loop)
        if consume:
            self.start_consuming()
        return self

    def start_consuming(self) -> None:
        if self._started_at is None:
            raise MigratorError("Start the workload before its consumer: call start(consume=False) first.")
        if self._consumer_thread is not None:
            raise MigratorError("The workload's consumer is already running.")
        self._consumer_thread = self._spawn("consumer", self._consume_loop)

    def snapshot(self) -> WorkloadReport:
        """Live counters: `lost` is None and `unconsumed` is the consumer's lag."""
        return self._checker.report(final=False, duration_s=self._elapsed())

    def stop(self, drain_timeout_s: float = 30.0) -> WorkloadReport:
        """Stop producing, flush, let the consumer drain, stop it; the final report.

        Producer flush and consumer drain share `drain_timeout_s`. Deliveries still unconfirmed when
        it runs out are purged and count as failed; acknowledged messages not consumed by then, lost.
        """
        if self.report is not None:
            return self.report
        if self._started_at is None:
            raise MigratorError("This workload was never started; call start() before stop().")
        deadline = time.monotonic() + drain_timeout_s
        self._flush_deadline = deadline
        self._stop_producing.set()
        try:
            self._join(self._producer_thread, deadline - time.monotonic() + _THREAD_STOP_GRACE_S)
            while (
                self._consumer_thread is not None
                and self._consumer_thread.is_alive()
                and not self._checker.caught_up()
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
        finally:
            self._stop_consuming.set()
            self._join(self._consumer_thread, _THREAD_STOP_GRACE_S)
        self.report = self._checker.report(final=True, duration_s=self._elapsed())
        if self._thread_errors:
            name, error = self._thread_errors[0]
            raise WorkloadError(
                f"The workload {name} thread failed ({error!r}); its counters up to the failure are "
                f"on this error's report. Check that {self._last_bootstrap} is reachable and the topic "
                f"{self.topic!r} is writable.",
                self.report,
            ) from error
        log.info("workload %s on %s finished: %s", self.run_id, self.topic, self.report.progress_line())
        return self.report

    def __enter__(self) -> Workload:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- topic -----------------------------------------------------------------------------------

    def ensure_topic(self, timeout_s: float = 30.0) -> None:
        """Create the topic if missing and wait until every partition has a leader."""
        bootstrap = self._resolve_bootstrap()
        admin = AdminClient({**self._client_config, "bootstrap.servers": bootstrap, "logger": log})
        try:
            for attempt in Retrying(
                stop=stop_after_delay(timeout_s),
                wait=wait_fixed(0.5),
                retry=retry_if_exception_type((KafkaException, _TopicNotReady)),
                reraise=True,
            ):
                with attempt:
                    self._create_topic(admin, request_timeout_s=min(10.0, timeout_s))
                    self._check_leaders(admin, request_timeout_s=min(10.0, timeout_s))
        except (KafkaException, _TopicNotReady) as exc:
            raise BadInput(
                f"Could not create or find the workload topic {self.topic!r} through {bootstrap} within "
                f"{timeout_s:.0f} s ({exc}). Check that the bootstrap address reaches running brokers and "
                f"that there are at least {self.replication_factor} of them (the topic's replication factor)."
            ) from exc

    def _create_topic(self, admin: AdminClient, request_timeout_s: float) -> None:
        new_topic = NewTopic(
            self.topic,
            num_partitions=self.partitions,
            replication_factor=self.replication_factor,
            config={"min.insync.replicas": str(self.min_insync_replicas)},
        )
        future = admin.create_topics([new_topic], request_timeout=request_timeout_s)[self.topic]
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise

    def _check_leaders(self, admin: AdminClient, request_timeout_s: float) -> None:
        metadata = admin.list_topics(self.topic, timeout=request_timeout_s).topics.get(self.topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise _TopicNotReady(f"topic metadata not available yet ({metadata and metadata.error})")
        leaderless = [p for p, info in metadata.partitions.items() if info.leader < 0]
        if leaderless:
            raise _TopicNotReady(f"partitions {leaderless} have no leader yet")

    # --- producer --------------------------------------------------------------------------------

    def _produce_loop(self) -> None:
        producer = Producer(
            {
                **self._client_config,
                "bootstrap.servers": self._resolve_bootstrap(),
                "client.id": f"migrator-workload-{self.run_id}",
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "error_cb": _log_client_error,
                "logger": log,
            }
        )
        interval = 1.0 / self.rate_per_s
        next_send = time.monotonic()
        index = 0
        while not self._stop_producing.is_set():
            now = time.monotonic()
            if now < next_send:
                producer.poll(min(next_send - now, _POLL_S))
                continue
            key, seq = key_name(index % self.keys), index // self.keys
            try:
                producer.produce(
                    self.topic,
                    key=key.encode(),
                    value=encode_value(self.run_id, seq),
                    on_delivery=functools.partial(self._delivered, key, seq, time.monotonic()),
                )
            except BufferError:  # librdkafka's queue is full: the cluster is not keeping up
                producer.poll(_POLL_S)
                continue
            self._checker.record_sent()
            index += 1
            # After a stall, make up at most one second's worth of messages, then keep the set rate.
            next_send = max(next_send + interval, now - 1.0)
            producer.poll(0)
        if producer.flush(max(0.0, self._flush_deadline - time.monotonic())):
            producer.purge()
            producer.flush(0)

    def _delivered(self, key: str, seq: int, sent_at: float, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            # One line per kind of failure: a purge at stop fails thousands of messages the same way.
            first_of_kind = err.code() not in self._failure_kinds_seen
            self._failure_kinds_seen.add(err.code())
            level = logging.WARNING if first_of_kind else logging.DEBUG
            log.log(level, "workload delivery of %s seq %d failed: %s", key, seq, err)
            self._checker.record_failed()
            return
        latency_ms = (time.monotonic() - sent_at) * 1000.0
        self._checker.record_ack(key, seq, msg.partition(), msg.offset(), latency_ms)

    # --- consumer --------------------------------------------------------------------------------

    def _consume_loop(self) -> None:
        # A group of its own, reading from the start: the checker sees every record of this run,
        # whichever consumer read the topic before. Auto-commit only shortens what a rebalance makes
        # it re-read; the checker tells such re-reads (redelivered) from duplicates in the log anyway.
        consumer = Consumer(
            {
                **self._client_config,
                "bootstrap.servers": self._resolve_bootstrap(),
                "client.id": f"migrator-workload-{self.run_id}",
                "group.id": f"migrator-workload-{self.run_id}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": True,
                "error_cb": _log_client_error,
                "logger": log,
            }
        )
        try:
            consumer.subscribe([self.topic])
            while not self._stop_consuming.is_set():
                for msg in consumer.consume(num_messages=500, timeout=_POLL_S):
                    self._check(msg)
                positions = consumer.position(consumer.assignment())
                self._checker.record_positions({tp.partition: tp.offset for tp in positions})
        finally:
            consumer.close()

    def _check(self, msg: Message) -> None:
        err = msg.error()
        if err is not None:
            if err.fatal():
                raise KafkaException(err)
            log.info("workload consumer: %s", err)
            return
        decoded = decode_value(msg.value())
        raw_key = msg.key()
        if decoded is None or raw_key is None or decoded[0] != self.run_id:
            self._checker.record_foreign()
            return
        key, seq = raw_key.decode(errors="replace"), decoded[1]
        outcome = self._checker.record_consumed(key, seq, msg.partition(), msg.offset())
        if outcome in (Consumption.DUPLICATE, Consumption.FIRST_OUT_OF_ORDER):
            log.warning(
                "workload %s: %s seq %d at partition %d offset %d",
                outcome.value,
                key,
                seq,
                msg.partition(),
                msg.offset(),
            )

    # --- plumbing --------------------------------------------------------------------------------

    def _spawn(self, name: str, target: Callable[[], None]) -> threading.Thread:
        def guarded() -> None:
            try:
                target()
            except BaseException as exc:  # surfaced by stop(), which every caller reaches
                log.exception("workload %s thread failed", name)
                self._thread_errors.append((name, exc))

        thread = threading.Thread(target=guarded, name=f"workload-{name}-{self.run_id}", daemon=True)
        thread.start()
        return thread

    def _join(self, thread: threading.Thread | None, timeout_s: float) -> None:
        if thread is None:
            return
        thread.join(timeout_s)
        if thread.is_alive():
            raise WorkloadError(
                f"The workload thread {thread.name} did not stop within {timeout_s:.0f} s; the Kafka "
                f"client is probably blocked on an unreachable broker ({self._last_bootstrap})."
            )

    def _resolve_bootstrap(self) -> str:
        self._last_bootstrap = self._bootstrap()
        return self._last_bootstrap

    def _elapsed(self) -> float:
        return 0.0 if self._started_at is None else time.monotonic() - self._started_at


class _TopicNotReady(Exception):
    pass


def _log_client_error(err: KafkaError) -> None:
    # Brokers going away is the normal weather of a migration; librdkafka reconnects by itself.
    log.log(logging.ERROR if err.fatal() else logging.INFO, "workload kafka client: %s", err)
