"""Propagation with two authoritative servers where one lags: a BIND primary and a BIND secondary that
has not received the change (its primary sends no NOTIFY until the test delivers one). The verify step
stays pending, however long we wait, until both answer; then it waits one TTL; then it passes."""

from __future__ import annotations

import pytest

from migrator.config import MigrationConfig
from migrator.engine.events import EventBus
from migrator.engine.step import StepContext
from migrator.sandbox.dns_server import DnsServer
from migrator.dns.steps import BrokerAddress, DnsFacadeResources, RepointFacade
from phases.dns_facade import build
from tests.dns_fixtures import bind_primary, bind_secondary, rfc2136_config  # noqa: F401
from tests.fake_clock import FakeClock

pytestmark = pytest.mark.cluster

BROKERS = [BrokerAddress(0, "127.0.0.1", 9092, "a"), BrokerAddress(1, "127.0.0.2", 9092, "b")]



class MoveBootstrap(RepointFacade):
    name = "repoint-facade"

    def targets(self, ctx: StepContext) -> dict[str, list[str]]:
        return {self.resources.dns.bootstrap_fqdn: ["127.0.0.7", "127.0.0.8"]}


def test_verify_waits_for_every_authoritative_server_then_one_ttl(bind_primary: DnsServer, bind_secondary: DnsServer) -> None:
    config = MigrationConfig(
        migration_id="m1",
        cluster={"zookeeper_connect": "127.0.0.1:2181/kafka", "bootstrap_servers": "127.0.0.1:9092"},
        dns=rfc2136_config(bind_primary, [bind_primary, bind_secondary]),
    )
    clock = FakeClock(now=1_000_000.0)
    resources = DnsFacadeResources(config, inventory=lambda: BROKERS, clock=clock)
    ctx = StepContext(config=config, state={}, events=EventBus())
    phase = build(config, resources)
    assert [str(s.address) for s in resources.servers] == [bind_primary.address, bind_secondary.address]

    phase.step("inventory-brokers").apply(ctx)
    create, verify = phase.step("create-facade-records"), phase.step("verify-propagation")
    create.apply(ctx)
    assert create.verify(ctx).done  # the primary holds the records...

    for _ in range(3):  # ...but the secondary does not, and no amount of waiting makes that pass
        verdict = verify.verify(ctx)
        assert not verdict.done and verdict.retry_after is not None
        assert "1 of 2 authoritative servers" in verdict.reason and f"ns2.sandbox.test. ({bind_secondary.address})" in verdict.reason
        clock.now += 3600

    bind_secondary.refresh()  # the NOTIFY arrives; the secondary transfers the zone
    verdict = verify.verify(ctx)
    assert not verdict.done and "all 2 authoritative servers answer" in verdict.reason and verdict.retry_after == 60
    clock.now += 59
    assert not verify.verify(ctx).done
    clock.now += 1
    assert verify.verify(ctx).done

    # A later repoint: pending again until the lagging server has it too.
    repoint = MoveBootstrap(resources)
    before = repoint.snapshot(ctx)
    repoint.apply(ctx)
    assert "1 of 2" in repoint.verify(ctx).reason
    bind_secondary.refresh()
    clock.now += 60
    assert not repoint.verify(ctx).done  # the TTL counts from when both servers answered
    clock.now += 60
    assert repoint.verify(ctx).done

    repoint.rollback(ctx, before)
    assert not verify.verify(ctx).done  # the secondary still answers the repointed value
    bind_secondary.refresh()
    assert "waiting" in verify.verify(ctx).reason
