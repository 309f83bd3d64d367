"""A real Prometheus (Debian's) scrapes the migrator's exporter while preflight and dns-facade run on
the real sandbox, and every dashboard query that targets the migrator's metrics returns data through
Prometheus' HTTP API, as Grafana would ask it; `migrator watch` shows the same figures.

The broker-side panels join once the sandbox brokers run the JMX exporter agent: add their job to
`scrape_jobs` (one line), and their queries are checked the same way."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Producer
from typer.testing import CliRunner

from migrator.cli import app
from migrator.cli.metrics import exporter_for
from migrator.config import load_config
from migrator.engine.events import EventBus
from migrator.metrics.exporter import Exporter
from migrator.sandbox.cluster import SandboxCluster
from migrator.sandbox.dns_server import DnsServer
from migrator.sandbox.prometheus import PrometheusServer
from migrator.session import Session
from tests.dashboard_queries import MIGRATOR, load_dashboard, targets
from tests.dns_fixtures import bind_primary  # noqa: F401
from tests.promtool import require_binary

pytestmark = pytest.mark.cluster

CANARY_TOPIC = "metrics-canary"


def scrape_jobs(sandbox: SandboxCluster, exporter: Exporter) -> dict[str, list[str]]:
    """What Prometheus scrapes, by source (tests/dashboard_queries.py); the queries of every source
    listed here must return data."""
    return {
        MIGRATOR: [f"127.0.0.1:{exporter.port}"],
    }


class CanaryStandIn:
    """Produces one message every 0.2 s to the sandbox and publishes `canary.produce` events with the
    acknowledgement latency, as migrator/cluster/canary.py is to (see migrator/metrics/__init__.py)."""

    def __init__(self, bootstrap: str, events: EventBus) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
        self._events = events
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="canary-stand-in", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()

            def acked(error: object, _message: object, sent: float = sent) -> None:
                if error is not None:
                    self._events.emit("canary.produce", error=str(error))
                else:
                    self._events.emit("canary.produce", latency_seconds=time.monotonic() - sent)

            self._producer.produce(CANARY_TOPIC, b"canary", on_delivery=acked)
            self._producer.flush(10)
            self._stop.wait(0.2)

    def __enter__(self) -> CanaryStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=20)


@pytest.fixture
def session(sandbox: SandboxCluster, bind_primary: DnsServer, tmp_path: Path) -> Session:  # noqa: F811
    path = sandbox.write_migration_config(tmp_path / "migration.yaml", migration_id="metrics-sandbox")
    data = yaml.safe_load(path.read_text())
    # One second of TTL keeps "wait one TTL after propagation" short; no client repositories to scan.
    data["dns"] = {**bind_primary.config_section([bind_primary, bind_primary], ttl_seconds=1), "client_scan": {"confirmed": True}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return Session.open(load_config(path))


@pytest.fixture
def exporter(session: Session) -> Iterator[Exporter]:
    with exporter_for(session, events=session.events, sample_seconds=1.0) as exporter:
        yield exporter.serve(0, "127.0.0.1")


def test_every_migrator_panel_returns_data_through_prometheus(
    sandbox: SandboxCluster, session: Session, exporter: Exporter, tmp_path: Path
) -> None:
    require_binary("prometheus")
    jobs = scrape_jobs(sandbox, exporter)
    started = time.time()
    with PrometheusServer(tmp_path / "prometheus", jobs) as prometheus, CanaryStandIn(sandbox.bootstrap_servers, session.events):
        prometheus.wait_for("kafka_migration_leaders", timeout=60)
        session.machine.run(session.phase("preflight"), session.context())
        facade = session.phase("dns-facade")
        paused = session.machine.run(facade, session.context(), until="verify-propagation")
        assert paused.status.value == "paused"
        prometheus.wait_for('kafka_migration_pause_info{phase="dns-facade"}', timeout=60)
        assert session.machine.run(facade, session.context()).status.value == "done"
        prometheus.wait_for('kafka_migration_phase_state{phase="dns-facade", state="done"} == 1', timeout=60)
        prometheus.wait_for("kafka_migration_dns_facade_target_info", timeout=60)
        prometheus.wait_for("kafka_migration_canary_produce_latency_seconds_count > 0", timeout=60)

        facade_targets = prometheus.query("kafka_migration_dns_facade_target_info")
        assert {s["metric"]["name"] for s in facade_targets} >= {session.config.dns.bootstrap_fqdn}
        scraped_replicas = prometheus.query("kafka_migration_replicas")

        checked = [t for t in targets(load_dashboard()) if t.source in jobs]
        assert {t.source for t in checked} == set(jobs)
        empty = [
            f"{t.panel} [{t.ref}]: {t.expr}"
            for t in checked
            if not prometheus.query_range(t.expr, started, time.time(), step=1.0)
        ]
        assert empty == [], "panel queries without data:\n" + "\n".join(empty)

    # `migrator watch` shows the same figures from its own read of the checkpoint and the cluster.
    shown = CliRunner().invoke(app, ["watch", "-c", str(tmp_path / "migration.yaml"), "--once", "-o", "json"])
    assert shown.exit_code == 0, shown.output
    watched = json.loads(shown.stdout)
    replicas = {r["labels"]["env"]: r["value"] for r in watched["kafka_migration_replicas"]}
    scraped = {s["metric"]["env"]: float(s["value"][1]) for s in scraped_replicas}
    assert replicas == scraped and replicas["vm"] > 0
    states = {(r["labels"]["phase"], r["labels"]["state"]) for r in watched["kafka_migration_phase_state"] if r["value"]}
    assert {("preflight", "done"), ("dns-facade", "done")} <= states
