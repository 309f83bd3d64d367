"""The dns-facade steps against a real BIND, called one by one (plan, snapshot, apply, verify, rollback)
as the engine calls them. The brokers are given directly; the end-to-end run with the sandbox cluster
and the workload goes through the engine (see the runbook)."""

from __future__ import annotations

import dns.query
import dns.tsigkeyring
import dns.update
import pytest

from migrator.config import MigrationConfig
from migrator.dns.ownership import NotOurs
from migrator.dns.records import NameState
from migrator.dns.resolve import resolve_bootstrap
from migrator.engine.events import EventBus
from migrator.engine.step import StepContext
from migrator.sandbox.dns_server import DnsServer
from migrator.dns.steps import BrokerAddress, DnsFacadeResources, RepointFacade
from phases.dns_facade import build
from tests.dns_fixtures import bind_primary, rfc2136_config  # noqa: F401
from tests.fake_clock import FakeClock

pytestmark = pytest.mark.cluster

BROKERS = [BrokerAddress(0, "127.0.0.1", 9092, "a"), BrokerAddress(1, "127.0.0.2", 9092, "b"), BrokerAddress(2, "127.0.0.3", 9092, "c")]



def _config(server: DnsServer, servers: list[DnsServer] | None = None) -> MigrationConfig:
    return MigrationConfig(
        migration_id="m1",
        cluster={"zookeeper_connect": "127.0.0.1:2181/kafka", "bootstrap_servers": "127.0.0.1:9092"},
        dns=rfc2136_config(server, servers),
    )


def _context(config: MigrationConfig, resources: DnsFacadeResources) -> StepContext:
    return StepContext(config=config, state={}, events=EventBus())


def _names(config: MigrationConfig) -> list[str]:
    return [config.dns.broker_name(b.id) for b in BROKERS] + [config.dns.bootstrap_fqdn]


def _foreign_a(server: DnsServer, name: str, value: str) -> None:
    keyring = dns.tsigkeyring.from_text({server.key.name: (server.key.algorithm, server.key.secret)})
    update = dns.update.UpdateMessage(server.zone, keyring=keyring, keyname=server.key.name)
    update.replace(name, 300, "A", value)
    assert dns.query.tcp(update, "127.0.0.1", port=server.port, timeout=5).rcode() == 0


def test_phase_creates_verifies_and_rolls_back_the_facade(bind_primary: DnsServer) -> None:
    config, clock = _config(bind_primary), FakeClock(now=1_000_000.0)
    resources = DnsFacadeResources(config, inventory=lambda: BROKERS, clock=clock)
    phase = build(config, resources)
    ctx = _context(config, resources)
    assert [s.name for s in phase.steps] == ["inventory-brokers", "create-facade-records", "verify-propagation", "client-adoption-gate"]
    assert all(check(ctx).done for check in phase.preconditions)
    inventory, create, propagation = phase.steps[:3]
    _foreign_a(bind_primary, "unrelated.sandbox.test.", "192.0.2.50")

    inventory.apply(ctx)
    assert inventory.verify(ctx).done
    assert [b["host"] for b in ctx.state["brokers"]] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]

    actions = create.plan(ctx)
    assert [(a.verb, a.target) for a in actions] == [("create", n) for n in _names(config)]
    before = create.snapshot(ctx)
    assert all(NameState.from_json(s).is_empty for s in before["names"].values())
    create.apply(ctx)
    assert create.verify(ctx).done
    assert create.plan(ctx) == []  # nothing left to do: no-op changes are dropped
    create.apply(ctx)  # idempotent

    pending = propagation.verify(ctx)
    assert not pending.done and "waiting 60 s more" in pending.reason
    clock.now += 60
    assert propagation.verify(ctx).done
    assert resolve_bootstrap(config.dns.bootstrap_fqdn, 9092, bind_primary.address) == "127.0.0.1:9092,127.0.0.2:9092,127.0.0.3:9092"

    propagation.rollback(ctx, {})
    create.rollback(ctx, before)
    assert all(resources.facade.read(n) == NameState(n) for n in _names(config))
    assert not create.verify(ctx).done
    assert resources.facade.read("unrelated.sandbox.test.").record("A").values == ("192.0.2.50",)  # untouched


def test_a_name_held_by_someone_else_stops_the_phase_before_any_change(bind_primary: DnsServer) -> None:
    config = _config(bind_primary)
    resources = DnsFacadeResources(config, inventory=lambda: BROKERS, clock=FakeClock(now=1_000_000.0))
    create = build(config, resources).step("create-facade-records")
    ctx = _context(config, resources)
    taken = config.dns.broker_name(1)
    _foreign_a(bind_primary, taken, "192.0.2.1")

    with pytest.raises(NotOurs, match=taken):
        create.plan(ctx)
    with pytest.raises(NotOurs, match=taken):
        create.snapshot(ctx)
    with pytest.raises(NotOurs, match=taken):
        create.apply(ctx)
    assert resources.facade.read(config.dns.broker_name(0)) == NameState(config.dns.broker_name(0))
    assert resources.facade.read(taken).record("A").values == ("192.0.2.1",)


class MoveBrokerZero(RepointFacade):
    """What a later phase writes: one step that moves names to new targets."""

    name = "repoint-facade"

    def targets(self, ctx: StepContext) -> dict[str, list[str]]:
        return {self.resources.dns.broker_name(0): ["127.0.0.9"]}


def test_repoint_keeps_the_old_value_for_rollback(bind_primary: DnsServer) -> None:
    config, clock = _config(bind_primary), FakeClock(now=1_000_000.0)
    resources = DnsFacadeResources(config, inventory=lambda: BROKERS, clock=clock)
    ctx = _context(config, resources)
    phase = build(config, resources)
    phase.step("inventory-brokers").apply(ctx)
    phase.step("create-facade-records").apply(ctx)
    name = config.dns.broker_name(0)
    created = resources.facade.read(name)

    repoint = MoveBrokerZero(resources)
    assert [(a.verb, a.target) for a in repoint.plan(ctx)] == [("update", name)]
    before = repoint.snapshot(ctx)
    repoint.apply(ctx)
    assert resources.facade.read(name).record("A").values == ("127.0.0.9",)
    assert not repoint.verify(ctx).done  # answered everywhere, but one TTL has not passed
    clock.now += 60
    assert repoint.verify(ctx).done

    repoint.rollback(ctx, before)
    assert resources.facade.read(name) == created
