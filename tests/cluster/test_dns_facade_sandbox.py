"""The dns-facade phase over the real sandbox cluster and a real BIND: the brokers come from the live
inventory, and a Kafka client bootstrapped through the facade name reaches the cluster. (The run
through the engine with the workload producing and consuming is the lead's end-to-end test.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from migrator.config import load_config
from migrator.dns.resolve import resolve_bootstrap
from migrator.engine.events import EventBus
from migrator.engine.step import StepContext
from migrator.sandbox.dns_server import DnsServer
from migrator.dns.steps import DnsFacadeResources
from phases.dns_facade import build
from tests.dns_fixtures import bind_primary, rfc2136_config  # noqa: F401

pytestmark = pytest.mark.cluster


def test_facade_over_the_live_inventory_leads_clients_to_the_cluster(sandbox, bind_primary: DnsServer, tmp_path: Path) -> None:
    config = load_config(sandbox.write_migration_config(tmp_path / "migration.yaml", migration_id="dns-sandbox"))
    config = config.model_copy(update={"dns": rfc2136_config(bind_primary)})
    resources = DnsFacadeResources(config, clock=lambda: 0.0)
    phase = build(config, resources)
    ctx = StepContext(config=config, state={}, events=EventBus())

    inventory, create = phase.step("inventory-brokers"), phase.step("create-facade-records")
    inventory.apply(ctx)
    assert inventory.verify(ctx).done
    assert sorted(b["id"] for b in ctx.state["brokers"]) == sorted(sandbox.brokers)
    before = create.snapshot(ctx)
    try:
        create.apply(ctx)
        assert create.verify(ctx).done

        port = sandbox.broker_port
        bootstrap = resolve_bootstrap(config.dns.bootstrap_fqdn, port, bind_primary.address)
        assert bootstrap == ",".join(f"{host}:{port}" for host in sorted(b.host for b in sandbox.brokers.values()))
        metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=20)
        assert sorted(metadata.brokers) == sorted(sandbox.brokers)
    finally:
        create.rollback(ctx, before)
    assert all(resources.facade.read(name).is_empty for name in before["names"])
