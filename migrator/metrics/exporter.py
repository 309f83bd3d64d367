"""The exporter a long-running verb starts: one registry, one HTTP server, one cluster sampler.

    with Exporter(config, store, layout, kubernetes_ids, events=session.events).serve(9404):
        ...                       # run the phase; Prometheus scrapes http://<host>:9404/metrics
"""

from __future__ import annotations

import threading
from typing import Self

from prometheus_client import CollectorRegistry, generate_latest, start_http_server

from migrator.config import MigrationConfig
from migrator.engine.checkpoint import CheckpointStore
from migrator.engine.events import EventBus
from migrator.errors import BadInput
from migrator.metrics.cluster_sample import ClusterSampler
from migrator.metrics.collector import Layout, MigrationCollector
from migrator.metrics.environments import KubernetesIds
from migrator.metrics.from_events import EventMetrics
from migrator.metrics.readings import Readings

DEFAULT_PORT = 9404
DEFAULT_SAMPLE_SECONDS = 10.0


class Exporter:
    def __init__(
        self,
        config: MigrationConfig,
        store: CheckpointStore,
        layout: Layout,
        kubernetes_ids: KubernetesIds,
        *,
        events: EventBus | None = None,
        sample_seconds: float | None = DEFAULT_SAMPLE_SECONDS,
    ) -> None:
        """`layout` and `kubernetes_ids` are what the phases say (the CLI wires them in);
        `sample_seconds=None` reads nothing from the cluster (checkpoint and events only)."""
        self.store = store
        self._kubernetes_ids_of = kubernetes_ids
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = EventMetrics(self.registry)
        self.sampler = None
        if sample_seconds is not None:
            self.sampler = ClusterSampler(config, self._kubernetes_ids, sample_seconds)
        self.registry.register(
            MigrationCollector(config.migration_id, store, layout, kubernetes_ids, self.events, self.sampler)
        )
        self._unsubscribe = events.subscribe(self.events.handle) if events is not None else (lambda: None)
        self._server: object | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def _kubernetes_ids(self) -> frozenset[int]:
        loaded = self.store.load()
        return self._kubernetes_ids_of(loaded.checkpoint if loaded else None)

    def exposition(self) -> bytes:
        """What a scrape returns now."""
        return generate_latest(self.registry)

    def readings(self) -> Readings:
        """The migration's figures now, as plain data."""
        return Readings.of(self.registry.collect())

    def start_sampling(self) -> None:
        if self.sampler is not None:
            self.sampler.start()

    def serve(self, port: int, address: str = "0.0.0.0") -> Self:
        """Serve /metrics on `port` (0: any free port, see `self.port`) and start reading the cluster."""
        try:
            server, thread = start_http_server(port, address, registry=self.registry)
        except OSError as exc:
            raise BadInput(
                f"The metrics port {address}:{port} cannot be opened ({exc.strerror}). Pick a free one with "
                "--metrics-port, or 0 to let the system choose. Nothing was changed."
            ) from None
        self._server, self._thread, self.port = server, thread, server.server_port
        self.start_sampling()
        return self

    def close(self) -> None:
        self._unsubscribe()
        if self.sampler is not None:
            self.sampler.stop()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
