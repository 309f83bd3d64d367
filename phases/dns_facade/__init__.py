"""Phase 1, dns-facade: put names we control between the clients and the brokers. Changes nothing in Kafka.

    inventory-brokers      read each broker's id, rack and advertised host:port
    create-facade-records  kafka-{id}.<zone> -> that broker, kafka-bootstrap.<zone> -> all of them,
                           each with our ownership marker; a name held by anyone else stops the phase
    verify-propagation     every authoritative server of the zone answers the new records, then one
                           TTL passes so no cache still holds an older answer
    client-adoption-gate   the configured client repositories no longer name brokers directly (or the
                           operator confirmed the rest)

Later phases shift traffic with `RepointFacade` (migrator/dns/steps.py; a subclass names its step and
its targets): it moves names, verifies them on every authoritative server, and rolls back to the
values it replaced.
Runbook: runbooks/01-dns-facade.md.
"""

from __future__ import annotations

from dataclasses import asdict

from migrator.config import MigrationConfig
from migrator.dns.clients_scan import BrokerHost, Finding, scan
from migrator.dns.steps import (
    BROKERS,
    PROPAGATION,
    DnsFacadeResources,
    FacadeRecordsStep,
)
from migrator.engine.phase import Phase, Precondition
from migrator.engine.step import JSON, Action, Step, StepContext, Verdict

__all__ = ["build"]

PHASE = "dns-facade"


def build(config: MigrationConfig, resources: DnsFacadeResources | None = None) -> Phase:
    resources = resources or DnsFacadeResources(config)
    return Phase(
        name=PHASE,
        steps=[
            InventoryBrokers(resources),
            CreateFacadeRecords(resources),
            VerifyPropagation(resources),
            ClientAdoptionGate(resources),
        ],
        preconditions=[Precondition("zone-ready", resources.zone_ready)],
    )


class InventoryBrokers(Step):
    name = "inventory-brokers"

    def __init__(self, resources: DnsFacadeResources) -> None:
        self.resources = resources

    def plan(self, ctx: StepContext) -> list[Action]:
        return [Action("read", "broker inventory", {"zookeeper": self.resources.config.cluster.zookeeper_connect})]

    def apply(self, ctx: StepContext) -> None:
        ctx.state[BROKERS] = [asdict(b) for b in self.resources.inventory()]

    def verify(self, ctx: StepContext) -> Verdict:
        brokers = ctx.state.get(BROKERS) or []
        if not brokers:
            return Verdict.failed("no broker is registered in ZooKeeper; start the brokers, then resume")
        return Verdict.ok(f"{len(brokers)} brokers: " + ", ".join(f"{b['id']}={b['host']}:{b['port']}" for b in brokers))

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        ctx.state.pop(BROKERS, None)


class CreateFacadeRecords(FacadeRecordsStep):
    name = "create-facade-records"

    def targets(self, ctx: StepContext) -> dict[str, list[str]]:
        return self.resources.facade_targets(self.resources.brokers(ctx))


class VerifyPropagation(Step):
    name = "verify-propagation"

    def __init__(self, resources: DnsFacadeResources) -> None:
        self.resources = resources
        self.verify_timeout = resources.dns.verify_timeout_seconds

    def _targets(self, ctx: StepContext) -> dict[str, list[str]]:
        return self.resources.facade_targets(self.resources.brokers(ctx))

    def plan(self, ctx: StepContext) -> list[Action]:
        servers = [str(s) for s in self.resources.servers]
        return [Action("verify", name, {"servers": servers}) for name in self._targets(ctx)]

    def apply(self, ctx: StepContext) -> None:
        """Nothing to change: this step only waits for the servers (and caches) to catch up."""

    def verify(self, ctx: StepContext) -> Verdict:
        return self.resources.propagation(ctx, self.name, self._targets(ctx))

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        ctx.state.get(PROPAGATION, {}).pop(self.name, None)


class ClientAdoptionGate(Step):
    name = "client-adoption-gate"

    def __init__(self, resources: DnsFacadeResources) -> None:
        self.resources = resources

    def _findings(self, ctx: StepContext) -> list[Finding]:
        paths = self.resources.dns.client_scan.paths
        hosts = [BrokerHost(b.id, b.host, b.port) for b in self.resources.brokers(ctx)]
        return scan(paths, hosts) if paths else []

    def plan(self, ctx: StepContext) -> list[Action]:
        settings = self.resources.dns.client_scan
        detail = {"paths": [str(p) for p in settings.paths], "findings": len(self._findings(ctx)), "confirmed": settings.confirmed}
        return [Action("gate", "client configs", detail)]

    def apply(self, ctx: StepContext) -> None:
        """Nothing to change: the clients' owners adopt the facade names (see `migrator clients scan`)."""

    def verify(self, ctx: StepContext) -> Verdict:
        settings = self.resources.dns.client_scan
        if not settings.paths:
            if settings.confirmed:
                return Verdict.ok("no client repositories listed; the operator confirmed every client uses the facade")
            return Verdict.failed(
                "no client repositories to check: list their checkouts under dns.client_scan.paths, or set "
                "dns.client_scan.confirmed: true once you know every client uses the facade names"
            )
        findings = self._findings(ctx)
        if not findings:
            return Verdict.ok(f"no client config under {len(settings.paths)} path(s) names a broker directly")
        if settings.confirmed:
            return Verdict.ok(f"{len(findings)} client config lines still name brokers directly; accepted by the operator")
        where = ", ".join(f"{f.path}:{f.line}" for f in findings[:5]) + (" ..." if len(findings) > 5 else "")
        return Verdict.failed(
            f"{len(findings)} client config lines still name brokers directly ({where}). Rewrite them with "
            "`migrator clients scan --rewrite --patch-dir DIR` and merge the patches, or set "
            "dns.client_scan.confirmed: true to accept the rest"
        )

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        """Nothing was changed."""
