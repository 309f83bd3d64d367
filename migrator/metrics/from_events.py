"""The metrics the engine's events feed: the replica move's progress, pauses, the canary."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from migrator.engine.events import Event
from migrator.engine.machine import GATE_PAUSED, PAUSE_REQUESTED, UNTIL_PAUSED
from migrator.metrics.names import METRICS

#: A pause reason's start (as the machine words it) -> the `cause` label.
PAUSE_CAUSES = {
    PAUSE_REQUESTED: "operator",
    GATE_PAUSED: "safety_gate",
    UNTIL_PAUSED: "until",
}
CAUSES = (*PAUSE_CAUSES.values(), "other")
#: Canary produce latencies: from a healthy local ack (ms) to a stalled ISR (tens of seconds).
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def pause_cause(reason: str) -> str:
    return next((cause for start, cause in PAUSE_CAUSES.items() if reason.startswith(start)), "other")


class EventMetrics:
    """Subscribe `handle` to an EventBus. Counters and the histogram live in `registry`; the move's
    last progress is kept for the collector (`progress`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = threading.Lock()
        self._progress: dict[str, Any] = {}
        self.pauses = Counter("kafka_migration_pauses", _help("kafka_migration_pauses_total"), ["cause"], registry=registry)
        for cause in CAUSES:
            self.pauses.labels(cause)
        self.canary_latency = Histogram(
            "kafka_migration_canary_produce_latency_seconds",
            _help("kafka_migration_canary_produce_latency_seconds"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.canary_errors = Counter(
            "kafka_migration_canary_produce_errors", _help("kafka_migration_canary_produce_errors_total"), registry=registry
        )

    def handle(self, event: Event) -> None:
        if event.kind == "progress":
            with self._lock:
                self._progress = dict(event.data)
        elif event.kind == "phase.paused":
            self.pauses.labels(pause_cause(str(event.data.get("reason", "")))).inc()
        elif event.kind == "canary.produce":
            if event.data.get("error"):
                self.canary_errors.inc()
            elif (latency := event.data.get("latency_seconds")) is not None:
                self.canary_latency.observe(float(latency))

    @property
    def progress(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._progress)


def _help(name: str) -> str:
    return METRICS[name].help
