"""Where source-side brokers run: the interface every platform (local, ec2, manual) implements.

A platform changes HOSTS; ZooKeeper is the judge of BROKERS. So:

    platform.preflight(brokers)          read-only; BadInput naming what to fix, nothing changed
    platform.provision(brokers)          make each broker's host exist and start it (idempotent:
                                         an existing host is reused); returns per-broker records
    platform.check_registered(brokers)   /brokers/ids/<id> under our chroot with the right rack?
    platform.wait_registered(brokers)    the same, polled until done (bounded)
    platform.retire(broker_ids)          controlled shutdown, then the host goes (idempotent)
    platform.check_retired(broker_ids)   deregistered and the host no longer runs?
    platform.describe(broker_ids)        host state and registration side by side
    platform.instructions(...)           what a human must do (only the manual platform needs one)

`provision` and `retire` return once the host-level change is done (an instance running, a process
stopped); the registration in ZooKeeper is checked separately, so a phase applies with `provision`
and verifies with `check_registered`, which the engine polls. Nothing here decides WHETHER a broker
may be retired: the phase checks that it holds no replica, leads nothing and is not the controller.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from migrator.errors import PermanentError
from migrator.engine.step import Verdict
from migrator.platforms.model import PLATFORM_POLL, BrokerHostStatus, Host, NewBroker, ProvisionRecord
from migrator.platforms.properties import PropertiesTemplate
from migrator.platforms.registration import Registrations


@dataclass
class PlatformSettings:
    """What every platform shares: where registrations are read, the server.properties template, bounds."""

    registrations: Registrations
    template: PropertiesTemplate
    register_timeout: float = 600.0
    retire_timeout: float = 300.0
    poll_interval: float = 2.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    clock: Callable[[], float] = field(default=time.monotonic)


class BrokerPlatform(ABC):
    kind: ClassVar[str]

    def __init__(self, settings: PlatformSettings) -> None:
        self.settings = settings

    # -- what each platform implements ------------------------------------------------------------

    @abstractmethod
    def preflight(self, brokers: Sequence[NewBroker]) -> None:
        """Read-only checks that `provision(brokers)` can work; BadInput naming what to fix."""

    @abstractmethod
    def provision(self, brokers: Sequence[NewBroker]) -> list[ProvisionRecord]:
        """Make each broker's host exist and start it; an existing one is reused. Idempotent."""

    @abstractmethod
    def retire(self, broker_ids: Sequence[int]) -> None:
        """Controlled shutdown of each broker, then its host goes away. Idempotent."""

    @abstractmethod
    def hosts(self, broker_ids: Sequence[int]) -> dict[int, Host]:
        """The platform's view of each broker's host (every id is a key)."""

    def instructions(self, provision: Sequence[NewBroker] = (), retire: Sequence[int] = ()) -> str:
        """What a human must do for these changes; empty where the platform does it all."""
        return ""

    # -- shared: what ZooKeeper says ---------------------------------------------------------------

    def server_properties(self, broker: NewBroker, host: str) -> dict[str, str]:
        return self.settings.template.render(broker, host)

    def describe(self, broker_ids: Sequence[int]) -> list[BrokerHostStatus]:
        hosts = self.hosts(broker_ids)
        snapshot = self.settings.registrations.read(broker_ids)
        return [BrokerHostStatus(i, hosts[i], snapshot.registered.get(i)) for i in broker_ids]

    def check_registered(self, brokers: Sequence[NewBroker]) -> Verdict:
        """Every broker registered in our cluster with the rack it was provisioned with."""
        ids = [b.id for b in brokers]
        snapshot = self.settings.registrations.read(ids)
        hosts = self.hosts(ids)
        waiting, broken = [], []
        for broker in brokers:
            registration = snapshot.registered.get(broker.id)
            host = hosts[broker.id]
            if registration is not None:
                if registration.rack != broker.rack:
                    broken.append(
                        f"Broker {broker.id} registered with rack {registration.rack!r}, not {broker.rack!r}: its "
                        "broker.rack is wrong, so rack-aware placement would be too. Fix it and restart the broker."
                    )
            elif broker.id in snapshot.misplaced:
                broken.append(
                    f"Broker {broker.id} registered under the chroot {snapshot.misplaced[broker.id]} instead of "
                    f"{self.settings.registrations.zookeeper_connect}: it joined ANOTHER cluster. Stop it, fix its "
                    "zookeeper.connect, empty its log.dirs (meta.properties holds the other cluster id), start it again."
                )
            elif host.state.gone:
                broken.append(f"Broker {broker.id} is not registered and its {host.describe()}: provision it again.")
            else:
                waiting.append(_not_yet(f"Broker {broker.id} is not registered yet; {host.describe()}", host))
        return _verdict(broken, waiting, f"Broker(s) {_ids(ids)} registered in the cluster.")

    def check_retired(self, broker_ids: Sequence[int]) -> Verdict:
        """Every broker deregistered from ZooKeeper and its host no longer running one."""
        snapshot = self.settings.registrations.read(broker_ids)
        hosts = self.hosts(broker_ids)
        waiting = []
        for broker_id in broker_ids:
            host = hosts[broker_id]
            if broker_id in snapshot.registered:
                waiting.append(_not_yet(f"Broker {broker_id} is still registered; {host.describe()}", host))
            elif host.state.active:
                waiting.append(f"Broker {broker_id} has deregistered but its {host.describe()}.")
        return _verdict([], waiting, f"Broker(s) {_ids(broker_ids)} retired.")

    def bring_back(self, brokers: Sequence[NewBroker]) -> None:
        """Start retired brokers again with their disks (a rollback) and wait until they are registered."""
        if brokers:
            self.provision(brokers)
            self.wait_registered(brokers)

    def wait_registered(self, brokers: Sequence[NewBroker], timeout: float | None = None) -> None:
        self._poll(lambda: self.check_registered(brokers), timeout or self.settings.register_timeout, "register")

    def wait_retired(self, broker_ids: Sequence[int], timeout: float | None = None) -> None:
        self._poll(lambda: self.check_retired(broker_ids), timeout or self.settings.retire_timeout, "retire")

    def _poll(self, check: Callable[[], Verdict], timeout: float, what: str) -> None:
        deadline = self.settings.clock() + timeout
        while True:
            result = check()
            if result.done:
                return
            if result.gave_up:
                raise PermanentError(result.reason)
            if self.settings.clock() >= deadline:
                raise PermanentError(
                    f"The brokers did not {what} within {timeout:.0f} s (source_platform.{what}_timeout_seconds). "
                    f"{result.reason}"
                )
            self.settings.sleep(self.settings.poll_interval)


def _not_yet(line: str, host: Host) -> str:
    return f"{line} ({host.hint})." if host.hint else f"{line}."


def _verdict(broken: list[str], waiting: list[str], done: str) -> Verdict:
    if broken:
        return Verdict.failed(" ".join(broken + waiting))
    if waiting:
        return Verdict.pending(" ".join(waiting), PLATFORM_POLL)
    return Verdict.ok(done)


def _ids(broker_ids: Sequence[int]) -> str:
    return ", ".join(str(i) for i in broker_ids)

