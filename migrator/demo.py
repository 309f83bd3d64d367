"""`migrator demo`: a whole migration on the embedded local cluster, under continuous load.

It starts the sandbox (ZooKeeper and three ZooKeeper-mode brokers as local processes) and a BIND
server for the facade zone, and a workload whose bootstrap comes from a client config file, the way
a service's would. It runs every phase this version can run locally through the same machine and
checkpoints a user's run goes through; between the facade's propagation and its client adoption
gate it rewrites that client config to the facade names, as the merged pull request of
`migrator clients scan --rewrite` would. Then it stops the load and reports what the clients saw:
produced, acknowledged, consumed, lost, duplicated. Every process is torn down.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka.admin import AdminClient

from migrator.cluster.inventory import read_inventory
from migrator.config import MigrationConfig, load_config
from migrator.dns.clients_scan import BrokerHost, facade_pattern, rewrite
from migrator.dns.resolve import resolve_servers
from migrator.engine.events import Event
from migrator.errors import MigratorError
from migrator.sandbox.cluster import DEFAULT_BROKERS, SandboxCluster
from migrator.sandbox.dns_server import DnsServer
from migrator.sandbox.workload import Workload
from migrator.session import Session

ZONE = "kafka.demo.test."
#: The phases the demo runs, in order: those that need nothing beyond the local sandbox.
DEMO_PHASES = ("preflight", "dns-facade")
#: Where the demo stops dns-facade to "merge the clients' pull request".
BEFORE_ADOPTION = "verify-propagation"
CLIENT_CONFIG = Path("clients/orders-service/application.properties")


@dataclass
class DemoResult:
    workload: dict[str, Any]
    phases: dict[str, str] = field(default_factory=dict)
    inventory: dict[str, Any] = field(default_factory=dict)
    client_bootstrap: str = ""
    #: Broker ids a client freshly bootstrapped from the rewritten config sees through the facade.
    facade_brokers: list[int] = field(default_factory=list)
    workdir: str = ""

    @property
    def ok(self) -> bool:
        return self.workload.get("lost") == 0 and self.workload.get("duplicated") == 0 and all(
            status in ("done", "skipped") for status in self.phases.values()
        )

    def to_dict(self) -> dict[str, Any]:
        # The workload report's counters stay at the top level: they are the demo's headline.
        return {
            **self.workload,
            "phases": self.phases,
            "inventory": self.inventory,
            "client_bootstrap": self.client_bootstrap,
            "facade_brokers": self.facade_brokers,
            "workdir": self.workdir,
            "ok": self.ok,
        }


class ClientConfig:
    """A service's `bootstrap.servers`, read from its properties file and resolved through the facade's
    DNS server each time a client is created, as the service's own clients would."""

    def __init__(self, path: Path, dns_server: str) -> None:
        self.path = path
        self.dns_server = dns_server

    def write(self, bootstrap_servers: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"# orders-service Kafka client\nbootstrap.servers={bootstrap_servers}\nacks=all\n")

    def bootstrap_servers(self) -> str:
        for line in self.path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "bootstrap.servers":
                return value.strip()
        raise ValueError(f"{self.path} has no bootstrap.servers")

    def __call__(self) -> str:
        return resolve_servers(self.bootstrap_servers(), ZONE, self.dns_server)

    def brokers_seen(self, timeout: float = 20.0) -> list[int]:
        """Bootstrap a fresh client from this config and list the brokers the cluster reports."""
        return sorted(AdminClient({"bootstrap.servers": self()}).list_topics(timeout=timeout).brokers)


def _demo_config(cluster: SandboxCluster, dns: DnsServer, workdir: Path) -> MigrationConfig:
    path = cluster.write_migration_config(workdir / "migration.yaml", migration_id="demo")
    data = yaml.safe_load(path.read_text())
    # A short TTL keeps "wait one TTL after propagation" to seconds in the demo.
    data["dns"] = {**dns.config_section([dns], ttl_seconds=5), "client_scan": {"paths": [str(workdir / "clients")]}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path)


def _adopt_facade(config: MigrationConfig) -> None:
    """The client owners merge the rewrite `migrator clients scan --rewrite` proposed."""
    assert config.dns is not None
    hosts = [BrokerHost(b.id, b.host, b.port) for b in read_inventory(config).brokers.values()]
    rewrite(config.dns.client_scan.paths, hosts, facade_pattern(config.dns.broker_name_pattern.replace("{zone}", config.dns.zone)), None, in_place=True)


def _wait_until_consuming(workload: Workload, timeout: float = 60.0) -> None:
    """The consumer's first read creates __consumer_offsets; until its partitions have leaders the
    preflight safety gate rightly counts them offline, so the phases start once consuming has begun."""
    deadline = time.monotonic() + timeout
    while workload.snapshot().consumed == 0:
        if time.monotonic() > deadline:
            raise MigratorError(
                f"The demo workload consumed nothing within {timeout:.0f} s; the sandbox logs under the "
                "demo's workdir say why (run with --workdir to keep them)."
            )
        time.sleep(0.5)


def run_demo(
    workdir: Path | None = None,
    min_load_seconds: float = 10.0,
    rate_per_s: float = 200,
    on_event: Callable[[Event], None] | None = None,
    on_progress: Callable[[str], None] | None = None,
    metrics: Callable[[Session], AbstractContextManager[object]] | None = None,
) -> DemoResult:
    """Run the demo end to end; the sandbox is down again when this returns or raises. `metrics`
    (the CLI's --metrics-port) serves the demo session's metrics while the phases run."""
    with ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="migrator-demo-")))
        workdir = Path(workdir).resolve()
        say = on_progress or (lambda line: None)
        say(f"starting the sandbox and a DNS server for {ZONE} in {workdir}")
        cluster = SandboxCluster(workdir / "sandbox", DEFAULT_BROKERS)
        stack.callback(cluster.down)
        cluster.up()
        dns = stack.enter_context(DnsServer(workdir / "dns", ZONE))
        config = _demo_config(cluster, dns, workdir)

        client = ClientConfig(workdir / CLIENT_CONFIG, dns.address)
        client.write(cluster.bootstrap_servers)
        say(f"cluster {cluster.cluster_id} is up; starting the workload ({rate_per_s:.0f} msg/s, acks=all)")
        workload = Workload(client, rate_per_s=rate_per_s)
        workload.start()
        stack.callback(workload.stop)
        started = time.monotonic()
        _wait_until_consuming(workload)

        session = Session.open(config)
        if on_event:
            session.events.subscribe(on_event)
        if metrics is not None:
            stack.enter_context(metrics(session))
        phases: dict[str, str] = {}
        for name in DEMO_PHASES:
            say(f"phase {name}: {workload.snapshot().progress_line()}")
            phase = session.phase(name)
            if name == "dns-facade":
                session.machine.run(phase, session.context(), until=BEFORE_ADOPTION)
                _adopt_facade(config)
                say(f"client config now reads bootstrap.servers={client.bootstrap_servers()}")
            phases[name] = session.machine.run(phase, session.context()).status.value

        # Enough load around the phases for the loss check to mean something.
        while time.monotonic() - started < min_load_seconds:
            time.sleep(1.0)
            say(workload.snapshot().progress_line())
        report = workload.stop()
        say(f"workload stopped: {report.progress_line()}")
        return DemoResult(
            workload=report.to_dict(),
            phases=phases,
            inventory=read_inventory(config).summary(),
            client_bootstrap=client.bootstrap_servers(),
            facade_brokers=client.brokers_seen(),
            workdir=str(workdir),
        )
