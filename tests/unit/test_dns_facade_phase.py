"""The dns-facade steps that need no DNS server: the phase's shape, the inventory step and the client
adoption gate (which scans files). The DNS steps run against BIND in tests/cluster/."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.config import MigrationConfig
from migrator.engine.events import EventBus
from migrator.engine.step import StepContext
from migrator.errors import BadInput
from migrator.dns.steps import BrokerAddress, DnsFacadeResources
from phases.dns_facade import build

BROKERS = [BrokerAddress(0, "kafka1.prod.example.com", 9092, "a"), BrokerAddress(1, "kafka2.prod.example.com", 9092, "b")]


def _config(**client_scan: object) -> MigrationConfig:
    return MigrationConfig.model_validate(
        {
            "migration_id": "m1",
            "cluster": {"zookeeper_connect": "zk1:2181/kafka", "bootstrap_servers": "kafka1.prod.example.com:9092"},
            "dns": {
                "provider": "rfc2136",
                "zone": "example.com",
                "rfc2136": {"primary": "ns1.example.com", "tsig": {"name": "k", "secret": {"env": "UNSET_IN_THIS_TEST"}}},
                "client_scan": client_scan,
            },
        }
    )


def _run(config: MigrationConfig) -> tuple[StepContext, object]:
    resources = DnsFacadeResources(config, inventory=lambda: BROKERS)
    phase = build(config, resources)
    ctx = StepContext(config=config, state={}, events=EventBus())
    phase.step("inventory-brokers").apply(ctx)
    return ctx, phase


def test_the_phase_lists_its_steps_in_runbook_order_and_all_are_reversible() -> None:
    ctx, phase = _run(_config())
    assert phase.name == "dns-facade"
    assert [s.name for s in phase.steps] == ["inventory-brokers", "create-facade-records", "verify-propagation", "client-adoption-gate"]
    assert phase.irreversible_steps == []
    assert phase.step("inventory-brokers").verify(ctx).reason == "2 brokers: 0=kafka1.prod.example.com:9092, 1=kafka2.prod.example.com:9092"
    phase.step("inventory-brokers").rollback(ctx, {})
    assert "brokers" not in ctx.state


def test_a_config_without_dns_section_is_bad_input() -> None:
    config = _config().model_copy(update={"dns": None})
    with pytest.raises(BadInput, match="no dns: section"):
        build(config)


def test_adoption_gate_passes_only_when_no_client_names_a_broker(tmp_path: Path) -> None:
    repo = tmp_path / "orders"
    repo.mkdir()
    (repo / "app.properties").write_text("bootstrap.servers=kafka1.prod.example.com:9092\n")
    ctx, phase = _run(_config(paths=[str(repo)]))
    gate = phase.step("client-adoption-gate")
    assert gate.plan(ctx)[0].detail["findings"] == 1

    verdict = gate.verify(ctx)
    assert not verdict.done and verdict.retry_after is None
    assert "app.properties:1" in verdict.reason and "--rewrite" in verdict.reason

    (repo / "app.properties").write_text("bootstrap.servers=kafka-0.example.com:9092\n")
    assert gate.verify(ctx).done


def test_adoption_gate_accepts_an_explicit_confirmation(tmp_path: Path) -> None:
    (tmp_path / "legacy.env").write_text("KAFKA=kafka2.prod.example.com:9092\n")
    ctx, phase = _run(_config(paths=[str(tmp_path)], confirmed=True))
    verdict = phase.step("client-adoption-gate").verify(ctx)
    assert verdict.done and "1 client config lines" in verdict.reason and "accepted by the operator" in verdict.reason

    ctx, phase = _run(_config())
    assert not phase.step("client-adoption-gate").verify(ctx).done  # nothing scanned, nothing confirmed
