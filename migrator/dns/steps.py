"""Facade steps any phase can use: point facade names at targets, verify them on every authoritative
server, and roll back to the values they replaced. `FacadeRecordsStep` writes names (the dns-facade
phase creates them with it); `RepointFacade` moves them later (broker-ID shift, rebalance) and is done
only once every authoritative server answers the new records and one TTL has passed. A subclass names
its step and implements `targets`, the way `MoveReplicas` is the movers' reusable step.

`DnsFacadeResources` is what these steps talk to (provider, facade, authoritative servers), built
from the `dns:` section on first use.
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from migrator.config import MigrationConfig
from migrator.dns import wire
from migrator.dns.config import DnsConfig
from migrator.dns.facade import Facade
from migrator.dns.ownership import is_ours, marker_name
from migrator.dns.provider import DnsProvider
from migrator.dns.providers import make_provider
from migrator.dns.records import NameState, Resolver, resolve_host
from migrator.dns.verify import Ask, Nameserver, authoritative_servers, disagreements, negative_ttl
from migrator.engine.step import JSON, Action, Step, StepContext, Verdict
from migrator.errors import BadInput

#: ctx.state keys these steps use (in the checkpointed memory of whichever phase runs them).
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

