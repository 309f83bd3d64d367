"""Phase 1, dns-facade: put names we control between the clients and the brokers. Changes nothing in Kafka.

    inventory-brokers      read each broker's id, rack and advertised host:port
    create-facade-records  kafka-{id}.<zone> -> that broker, kafka-bootstrap.<zone> -> all of them,
                           each with our ownership marker; a name held by anyone else stops the phase
    verify-propagation     every authoritative server of the zone answers the new records, then one
                           TTL passes so no cache still holds an older answer
    client-adoption-gate   the configured client repositories no longer name brokers directly (or the
                           operator confirmed the rest)

Later phases shift traffic with `RepointFacade` (a subclass names its step and its targets): it moves
names, verifies them on every authoritative server, and rolls back to the values it replaced.
Runbook: runbooks/01-dns-facade.md.
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cached_property

from migrator.config import MigrationConfig
from migrator.dns import wire
from migrator.dns.clients_scan import BrokerHost, Finding, scan
from migrator.dns.config import DnsConfig
from migrator.dns.facade import Facade
from migrator.dns.ownership import is_ours, marker_name
from migrator.dns.provider import DnsProvider, make_provider
from migrator.dns.records import NameState, Resolver, resolve_host
from migrator.dns.verify import Ask, Nameserver, authoritative_servers, disagreements, negative_ttl
from migrator.engine.phase import Phase
from migrator.engine.step import JSON, Action, Step, StepContext, Verdict
from migrator.errors import BadInput

PHASE = "dns-facade"
#: ctx.state keys (the phase's checkpointed memory).
BROKERS = "brokers"
PROPAGATION = "propagation"


@dataclass(frozen=True)
class BrokerAddress:
    """A broker as clients reach it: the host and port it advertises."""

    id: int
    host: str
    port: int
    rack: str | None = None


Inventory = Callable[[], list[BrokerAddress]]


def inventory_from_cluster(config: MigrationConfig) -> list[BrokerAddress]:
    """The live brokers, from ZooKeeper registrations (and the cluster id check that comes with them)."""
    from migrator.cluster.inventory import read_inventory  # reads ZooKeeper and the Admin API

    found = []
    for broker in read_inventory(config).brokers.values():
        host, _, port = broker.address.rpartition(":")
        if not host:
            raise BadInput(
                f"Broker {broker.id} registers no listener address in ZooKeeper, so no facade name can point "
                "at it. Check its advertised.listeners and that it is running."
            )
        found.append(BrokerAddress(broker.id, host.strip("[]"), int(port), broker.rack))
    return found


def require_dns(config: MigrationConfig) -> DnsConfig:
    if config.dns is None:
        raise BadInput(
            "migration.yaml has no dns: section, which the DNS facade needs (provider, zone, and the "
            "rfc2136 or route53 settings). Add one as shown in runbooks/01-dns-facade.md and run again."
        )
    return config.dns


class DnsFacadeResources:
    """What the facade steps talk to, built from the config on first use (so a plan that never
    reaches DNS needs no credentials). Tests pass their own inventory, clock or provider."""

    def __init__(
        self,
        config: MigrationConfig,
        *,
        provider: DnsProvider | None = None,
        inventory: Inventory | None = None,
        clock: Callable[[], float] = time.time,
        ask: Ask = wire.ask,
        resolve: Resolver = resolve_host,
    ) -> None:
        self.config = config
        self.dns = require_dns(config)
        self._provider = provider
        self.inventory: Inventory = inventory or (lambda: inventory_from_cluster(config))
        # Wall-clock time: it is compared with times kept in the checkpoint by an earlier process.
        self.clock = clock
        self.ask = ask
        self.resolve = resolve

    @cached_property
    def provider(self) -> DnsProvider:
        return self._provider or make_provider(self.dns)

    @cached_property
    def facade(self) -> Facade:
        return Facade(self.provider, self.config.migration_id, self.dns.ttl_seconds, self.resolve)

    @cached_property
    def servers(self) -> list[Nameserver]:
        return authoritative_servers(self.dns.zone, self.provider.nameservers(), self.dns.server_overrides, self.resolve)

    def zone_ready(self, ctx: StepContext) -> Verdict:
        """Precondition: the zone exists where the config says, and we reach who serves it."""
        try:
            self.provider.check_zone()
        except BadInput as exc:
            return Verdict.failed(str(exc))
        return Verdict.ok(f"zone {self.dns.zone} served by {self.dns.provider}")

    def brokers(self, ctx: StepContext) -> list[BrokerAddress]:
        """The brokers inventory-brokers recorded; a dry run before it ran reads them live."""
        if BROKERS in ctx.state:
            return [BrokerAddress(**b) for b in ctx.state[BROKERS]]
        return self.inventory()

    def facade_targets(self, brokers: list[BrokerAddress]) -> dict[str, list[str]]:
        targets = {self.dns.broker_name(b.id): [b.host] for b in brokers}
        targets[self.dns.bootstrap_fqdn] = sorted({b.host for b in brokers})
        return targets

    def propagation(self, ctx: StepContext, key: str, targets: dict[str, list[str]]) -> Verdict:
        """Pending until every authoritative server answers `targets`, then pending for one TTL
        (the longer of the records' TTL and the zone's negative-caching TTL), then ok."""
        expected = [self.facade.desired(name, hosts) for name, hosts in targets.items()]
        memory = ctx.state.setdefault(PROPAGATION, {})
        wrong = disagreements(expected, self.servers, self.dns.query_timeout_seconds, self.ask)
        if wrong:
            memory.pop(key, None)
            lagging = sorted({d.server for d in wrong})
            return Verdict.pending(
                f"{len(lagging)} of {len(self.servers)} authoritative servers do not answer the new records yet "
                f"({len(wrong)} answers differ; first: {wrong[0].describe()})"
            )
        fingerprint = hashlib.sha256(json.dumps([s.to_json() for s in expected], sort_keys=True).encode()).hexdigest()
        seen = memory.get(key)
        if not seen or seen["fingerprint"] != fingerprint:
            seen = memory[key] = {"fingerprint": fingerprint, "since": self.clock()}
        wait = max(self.dns.ttl_seconds, negative_ttl(self.dns.zone, self.servers, self.dns.query_timeout_seconds, self.ask))
        remaining = seen["since"] + wait - self.clock()
        if remaining > 0:
            return Verdict.pending(
                f"all {len(self.servers)} authoritative servers answer the new records; waiting {remaining:.0f} s "
                f"more (one TTL, {wait} s) until no resolver can still hold an older answer",
                retry_after=remaining,
            )
        return Verdict.ok(f"all {len(self.servers)} authoritative servers have answered the new records for {wait} s or more")


def _state_json(states: dict[str, NameState]) -> JSON:
    return {name: state.to_json() for name, state in states.items()}


class FacadeRecordsStep(Step):
    """Point facade names at targets. Snapshot: what each name held (checked to be free or ours);
    rollback restores exactly that, so names we created disappear and values we replaced return."""

    def __init__(self, resources: DnsFacadeResources) -> None:
        self.resources = resources
        self.verify_timeout = resources.dns.verify_timeout_seconds

    @abstractmethod
    def targets(self, ctx: StepContext) -> dict[str, list[str]]:
        """Facade name -> the hosts or addresses it should lead to."""

    def plan(self, ctx: StepContext) -> list[Action]:
        actions = []
        for name, hosts in self.targets(ctx).items():
            change = self.resources.facade.change_to(name, hosts)
            if change is not None:
                detail = {
                    "records": [r.describe() for r in change.after.records],
                    "replaces": change.before.describe(),
                    "marker": marker_name(name),
                }
                actions.append(Action(change.verb, name, detail))
        return actions

    def snapshot(self, ctx: StepContext) -> JSON:
        states = {}
        for name in self.targets(ctx):
            states[name] = self.resources.facade.read(name)
            is_ours(states[name], self.resources.config.migration_id)
        return {"names": _state_json(states)}

    def apply(self, ctx: StepContext) -> None:
        self.resources.facade.repoint_all(self.targets(ctx))

    def verify(self, ctx: StepContext) -> Verdict:
        """The provider holds what we wrote (the source of truth every server copies from)."""
        facade = self.resources.facade
        wrong = []
        for name, hosts in self.targets(ctx).items():
            want, have = facade.desired(name, hosts), facade.read(name)
            if (have.records, have.marker) != (want.records, want.marker):
                wrong.append(f"{name} holds {have.describe()}, expected {want.describe()}")
        if wrong:
            return Verdict.failed("; ".join(wrong))
        return Verdict.ok(f"{len(self.targets(ctx))} facade names hold their records and our marker")

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        for state in before.get("names", {}).values():
            self.resources.facade.restore(NameState.from_json(state))
        ctx.state.get(PROPAGATION, {}).pop(self.name, None)


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


class RepointFacade(FacadeRecordsStep):
    """For later phases: move facade names to new targets; done once every authoritative server answers
    them and one TTL has passed. Subclasses set `name` and implement `targets`."""

    def verify(self, ctx: StepContext) -> Verdict:
        written = super().verify(ctx)
        if not written.done:
            return written
        return self.resources.propagation(ctx, self.name, self.targets(ctx))


class NoFacade(Step):
    """A later phase's repoint-facade when migration.yaml has no dns: section: no facade name to move."""

    name = "repoint-facade"

    def __init__(self, before_step: str) -> None:
        self.reason = (
            "migration.yaml has no dns: section, so there is no facade name to move; clients that name the "
            f"retiring brokers directly must be pointed at the new ones before {before_step}"
        )

    def plan(self, ctx: StepContext) -> list[Action]:
        return [Action("none", "DNS facade", {"reason": self.reason})]

    def apply(self, ctx: StepContext) -> None:
        """Nothing to change."""

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.ok(self.reason)

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        """Nothing was changed."""


def repoint_step(
    config: MigrationConfig,
    dns: DnsFacadeResources | None,
    make: Callable[[DnsFacadeResources], Step],
    before_step: str,
) -> Step:
    """A later phase's repoint-facade: `make(dns)` when migration.yaml has a dns: section, else NoFacade."""
    if dns is None and config.dns is not None:
        dns = DnsFacadeResources(config)
    return make(dns) if dns is not None else NoFacade(before_step)


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
        preconditions=[resources.zone_ready],
    )
