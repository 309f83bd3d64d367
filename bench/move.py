"""Movement on the sandbox: the native mover against a one-shot reassignment with a static throttle.

Usage: python bench/move.py

A 6-broker sandbox (0, 1, 2 and 100, 101, 102 on racks a, b, c) holds ~51 MB of data on brokers
0-2. The baseline shifts it between 0-2 and 100-102 the way the stock `kafka-reassign-partitions`
tool does: one static throttle on every broker and replica involved, the whole reassignment
submitted at once, polled until no partition is listed, throttles removed. The native mover shifts
it the other way, in batches, with the same throttle. That is one round, after an idle period; four rounds run, taking
turns at which approach moves first (onto the brokers that lead the probe's topic is the costlier
direction for latency), and the BENCH line reports medians over them (a single move's time varies by
about 10 % between runs on a shared machine, which would decide the comparison). A produce/consume workload on a topic of its own
(on brokers 0-2, so it shares them with the data in both directions) runs from before the first idle
period to after the last move.

Printed, per move (the BENCH line: makespans as medians over the rounds, p99 over all rounds' windows
pooled, the worst amplification):
- amplification: bytes that landed in new replicas (the largest size each reached, sampled from
  describe_log_dirs; a replica copied twice counts twice) over the bytes the plan had to move;
- makespan_over_bound: wall time over the throttle-bound lower bound, the busiest broker's bytes
  divided by the throttle (no schedule at that throttle can beat it);
- p99_ratio: produce p99 (acks=all) during the native move over the p99 of an idle period before
  any move (the same workload and the bytes sampler running, no move), from a warmed-up probe producer (a fresh producer's
  first sends wait for its producer id);
- lost: acknowledged messages the workload never read back, over all runs.
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from statistics import median
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from migrator.clients.kafka import KafkaAdmin  # noqa: E402
from migrator.cluster.inventory import read_inventory  # noqa: E402
from migrator.config import MigrationConfig, load_config  # noqa: E402
from migrator.engine.events import EventBus  # noqa: E402
from migrator.movers.native import NativeMover, planner_view  # noqa: E402
from migrator.movers.plan import BatchLimits, MovePlan  # noqa: E402
from migrator.movers.planner import plan_mapping  # noqa: E402
from migrator.movers.settings import MovementConfig  # noqa: E402
from migrator.movers.throttle_writer import BatchThrottles, ThrottleLedger, ThrottleWriter  # noqa: E402
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster  # noqa: E402
from migrator.sandbox.workload import Workload  # noqa: E402
from migrator.sandbox.workload_latency import LatencyHistogram  # noqa: E402

THROTTLE = 2_000_000  # bytes/s
TOPICS = ("bench-orders", "bench-events")
PARTITIONS = 6
MB_PER_PARTITION = 4
LIMITS = BatchLimits(max_moves_per_broker=5)
WORKLOAD_RATE = 100
IDLE_SECONDS = 15
#: Rounds of (idle, one approach out, the other back); the medians are reported (one move varies by ~10 %).
ROUNDS = 4
WORKLOAD_TOPIC = "bench-workload"
PROBE_TOPIC = "bench-probe"
POLL = 0.5
OLD, NEW = (0, 1, 2), (100, 101, 102)
#: Kafka's default segment size, not the sandbox's 8 MiB: with those, every copy here rolls (and
#: flushes) a segment every few seconds, which a fleet's 1 GiB segments never do at this size.
BROKER_CONFIG = {"log.segment.bytes": 1024**3}
RACKS = ("a", "b", "c")


class CopySampler:
    """Samples the sizes of the replicas a plan adds, in a thread, to count the bytes that landed."""

    def __init__(self, admin: KafkaAdmin, plan: MovePlan) -> None:
        self.admin = admin
        self.wanted = {(m.topic, m.partition, b) for m in plan.moves for b in m.adding}
        self.brokers = sorted({b for _, _, b in self.wanted})
        self.finished: list[int] = []  # sizes of replica copies that disappeared again
        self.current: dict[tuple[str, int, int], int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> CopySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def bytes_landed(self) -> int:
        return sum(self.finished) + sum(self.current.values())

    def sample(self) -> None:
        sizes = self.admin.replica_sizes(self.brokers)
        seen = {key: size for key, size in sizes.items() if key in self.wanted}
        for key in list(self.current):
            if key not in seen:  # the copy was removed again: it still cost its bytes
                self.finished.append(self.current.pop(key))
        for key, size in seen.items():
            self.current[key] = max(size, self.current.get(key, 0))

    def _loop(self) -> None:
        while not self._stop.wait(POLL):
            self.sample()


class ProduceProbe:
    """Steady acks=all sends from one long-lived producer in a process of its own: in this one, the
    workload's, the sampler's and the mover's threads would hold the GIL and delay its delivery
    callbacks, measuring Python's scheduling instead of Kafka (an orchestrator runs apart from the
    clients, too). Latency is recorded inside `window()`."""

    def __init__(self, bootstrap: str, topic: str, rate: float = WORKLOAD_RATE) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_probe, args=(child, bootstrap, topic, rate), daemon=True
        )

    def __enter__(self) -> ProduceProbe:
        self._process.start()
        if self._conn.recv() != "ready":  # warmed up: producer id acquired, metadata cached
            raise RuntimeError("the produce probe did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("exit")
        self._process.join(60)

    @contextmanager
    def window(self) -> Iterator[Window]:
        self._conn.send("start")
        window = Window()
        try:
            yield window
        finally:
            self._conn.send("stop")
            window.latency = self._conn.recv()


@dataclass
class Window:
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    @property
    def p99_ms(self) -> float:
        return self.latency.percentile(0.99) or 0.0


def _probe(conn: Connection, bootstrap: str, topic: str, rate: float) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5})
    interval, acked, ready = 1.0 / rate, [0], False
    histogram: LatencyHistogram | None = None

    def delivered(err: object, sent: float) -> None:
        if err is None:
            acked[0] += 1
            if histogram is not None:
                histogram.record((time.monotonic() - sent) * 1000)

    while True:
        if conn.poll():
            command = conn.recv()
            if command == "exit":
                break
            if command == "start":
                histogram = LatencyHistogram()
            elif histogram is not None:
                conn.send(histogram)
                histogram = None
        sent = time.monotonic()
        producer.produce(topic, b"probe", on_delivery=lambda err, msg, sent=sent: delivered(err, sent))
        producer.poll(max(0.0, interval - (time.monotonic() - sent)))
        if not ready and acked[0] >= 200:
            conn.send("ready")
            ready = True
    producer.flush(30)


def fill(cluster: SandboxCluster) -> None:
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    for future in admin.create_topics([NewTopic(t, PARTITIONS, 3) for t in TOPICS], operation_timeout=30).values():
        future.result()
    time.sleep(2)
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all", "linger.ms": 20})
    for topic in TOPICS:
        for i in range(PARTITIONS * MB_PER_PARTITION * 1024):
            producer.produce(topic, key=str(i).encode(), value=b"b" * 1024, partition=i % PARTITIONS)
            if i % 1000 == 0:
                producer.poll(0)
    if producer.flush(120):
        raise RuntimeError("the data did not reach the cluster")


def shift_plan(config: MigrationConfig, mapping: dict[int, int]) -> MovePlan:
    return plan_mapping(planner_view(read_inventory(config), TOPICS), mapping, LIMITS)


def one_shot(config: MigrationConfig, plan: MovePlan) -> float:
    """The stock tool's way: static throttle on everything involved, everything at once, then clean up."""
    with KafkaAdmin(config.cluster) as admin:
        start = time.monotonic()
        writer = ThrottleWriter(admin, ThrottleLedger(), persist=lambda: None)
        need = BatchThrottles.for_moves((m.topic, m.partition, m.current, m.target) for m in plan.moves)
        writer.apply(need, THROTTLE)
        keys = {(m.topic, m.partition) for m in plan.moves}
        answered = admin.alter_partition_reassignments({(m.topic, m.partition): list(m.target) for m in plan.moves})
        if any(answered.values()):
            raise RuntimeError(f"the baseline reassignment was refused: {answered}")
        while keys & set(admin.list_partition_reassignments()):
            time.sleep(POLL)
        leftovers = writer.release()
        if leftovers:
            raise RuntimeError(f"the baseline left throttles behind: {leftovers}")
        return time.monotonic() - start


def native(config: MigrationConfig, plan: MovePlan) -> float:
    settings = MovementConfig(throttle_bytes_per_second=THROTTLE, poll_interval_seconds=POLL)
    with NativeMover.open(config, events=EventBus(), persist=lambda: None, settings=settings) as mover:
        start = time.monotonic()
        mover.run(plan, {})
        return time.monotonic() - start


@dataclass(frozen=True)
class Outcome:
    seconds: float
    amplification: float
    latency: Window


def measured(
    config: MigrationConfig, plan: MovePlan, move: Callable[[MigrationConfig, MovePlan], float], probe: ProduceProbe
) -> Outcome:
    with KafkaAdmin(config.cluster) as admin:
        with CopySampler(admin, plan) as sampler, probe.window() as latency:
            seconds = move(config, plan)
    return Outcome(seconds, sampler.bytes_landed / plan.summary.total_bytes, latency)


@dataclass(frozen=True)
class Round:
    idle: Window
    baseline: Outcome
    baseline_bound: float
    native: Outcome
    native_bound: float
    batches: int
    plan_makespan: float


def one_round(config: MigrationConfig, probe: ProduceProbe, baseline_first: bool) -> Round:
    """An idle window, then one approach shifting 0-2 to 100-102 and the other shifting it back. Which
    goes first alternates: moving onto the brokers that lead the probe's topic costs more latency
    than moving off them, so each approach must take both directions equally often."""
    out = shift_plan(config, dict(zip(OLD, NEW)))
    # The sampler is the bench's instrument, not part of a move: it runs here too, on the same brokers.
    with KafkaAdmin(config.cluster) as admin, CopySampler(admin, out), probe.window() as idle:
        time.sleep(IDLE_SECONDS)
    first = measured(config, out, one_shot if baseline_first else native, probe)
    back = shift_plan(config, dict(zip(NEW, OLD)))
    second = measured(config, back, native if baseline_first else one_shot, probe)
    (base, base_plan), (ours, our_plan) = ((first, out), (second, back)) if baseline_first else ((second, back), (first, out))
    return Round(
        idle,
        base,
        base_plan.summary.bottleneck_bytes / THROTTLE,
        ours,
        our_plan.summary.bottleneck_bytes / THROTTLE,
        our_plan.summary.batches,
        our_plan.summary.makespan_bytes / our_plan.summary.bottleneck_bytes,
    )


def pooled(windows: Iterable[Window]) -> float:
    """p99 of every sample of the windows together: one stall of the shared host (a second or more)
    decides a single window's p99, but not that of the pool."""
    pool = LatencyHistogram()
    for window in windows:
        pool.merge(window.latency)
    return pool.percentile(0.99) or 0.0


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-move-") as tmp:
        cluster = SandboxCluster(Path(tmp), [BrokerSpec(b, r, BROKER_CONFIG) for b, r in zip(OLD, RACKS)])
        cluster.up()
        try:
            config = load_config(cluster.write_migration_config(Path(tmp) / "migration.yaml"))
            fill(cluster)
            # Created while only 0-2 exist, so the load shares its brokers with the data both ways.
            Workload(cluster.bootstrap_servers, WORKLOAD_TOPIC).ensure_topic()
            Workload(cluster.bootstrap_servers, PROBE_TOPIC).ensure_topic()
            for broker, rack in zip(NEW, RACKS):
                cluster.add_broker(BrokerSpec(broker, rack, BROKER_CONFIG))

            load = Workload(cluster.bootstrap_servers, WORKLOAD_TOPIC, WORKLOAD_RATE)
            with load, ProduceProbe(cluster.bootstrap_servers, PROBE_TOPIC) as probe:
                while not load.snapshot().consumed:  # its consumer joined its group: start-up is over
                    time.sleep(0.2)
                rounds = [one_round(config, probe, baseline_first=n % 2 == 0) for n in range(ROUNDS)]
            lost = load.report.lost if load.report else None
        finally:
            cluster.down()

    for n, r in enumerate(rounds, 1):
        print(
            f"round {n}: idle produce p99 {r.idle.p99_ms:.1f} ms; baseline one-shot {r.baseline.seconds:.1f} s "
            f"(bound {r.baseline_bound:.1f} s), p99 {r.baseline.latency.p99_ms:.1f} ms, amplification "
            f"{r.baseline.amplification:.3f}; native {r.native.seconds:.1f} s (bound {r.native_bound:.1f} s) in "
            f"{r.batches} batches (plan makespan {r.plan_makespan:.2f}x the busiest broker's bytes), p99 "
            f"{r.native.latency.p99_ms:.1f} ms, amplification {r.native.amplification:.3f}"
        )
    ours = median(r.native.seconds / r.native_bound for r in rounds)
    base = median(r.baseline.seconds / r.baseline_bound for r in rounds)
    idle = pooled(r.idle for r in rounds)
    p99_ratio = pooled(r.native.latency for r in rounds) / idle
    amplification = max(r.native.amplification for r in rounds)
    baseline_p99_ratio = pooled(r.baseline.latency for r in rounds) / idle
    print(
        f"makespans: medians of {ROUNDS} rounds; p99: over all rounds' windows pooled (idle {idle:.1f} ms); "
        f"throttle {THROTTLE / 1e6:g} MB/s; baseline p99 ratio {baseline_p99_ratio:.2f}"
    )
    print(
        f"BENCH move amplification={amplification:.2f} makespan_over_bound={ours:.2f} "
        f"baseline_makespan_over_bound={base:.2f} p99_ratio={p99_ratio:.2f} lost={lost}"
    )


if __name__ == "__main__":
    main()
