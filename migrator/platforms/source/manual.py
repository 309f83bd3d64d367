"""The `manual` platform: a human starts and stops the brokers; migrator says exactly what to do, then
watches ZooKeeper until it has happened.

provision / retire only announce the instructions (for the brokers not there yet / still there);
check_registered / check_retired stay pending until ZooKeeper shows the change, so a phase waits on
the human the same way it waits on EC2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from migrator.errors import BadInput
from migrator.platforms.source.base import BrokerPlatform, PlatformSettings
from migrator.platforms.source.config import ManualPlatformConfig
from migrator.platforms.model import Host, HostState, NewBroker, Outcome, ProvisionRecord
from migrator.platforms.properties import to_text
from migrator.platforms.registration import RegistrationSnapshot

Announce = Callable[[str], None]

_HINT = "a human starts and stops it; follow the instructions migrator printed"


def print_to_stderr(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")
    sys.stderr.flush()


class ManualPlatform(BrokerPlatform):
    kind = "manual"

    def __init__(self, settings: PlatformSettings, section: ManualPlatformConfig, announce: Announce = print_to_stderr):
        super().__init__(settings)
        self.section = section
        self.announce = announce

    def host_of(self, broker_id: int) -> str | None:
        """The configured host of a new broker."""
        if broker_id in self.section.hosts:
            return self.section.hosts[broker_id]
        return self.section.host_pattern.format(id=broker_id) if self.section.host_pattern else None

    def preflight(self, brokers: Sequence[NewBroker]) -> None:
        unplaced = [b.id for b in brokers if self.host_of(b.id) is None]
        if unplaced:
            raise BadInput(
                f"No host is configured for new broker(s) {', '.join(map(str, unplaced))}, so migrator cannot tell "
                "anyone where to start them. Add them to source_platform.manual.hosts (id: host) or set "
                "source_platform.manual.host_pattern (e.g. kafka-{id}.vm.internal). Nothing was changed."
            )
        for broker in brokers:
            self._properties(broker)  # a template error surfaces here, before anyone is asked to act

    def provision(self, brokers: Sequence[NewBroker]) -> list[ProvisionRecord]:
        self.preflight(brokers)
        snapshot = self.settings.registrations.read(b.id for b in brokers)
        todo = [b for b in brokers if b.id not in snapshot.registered]
        if todo:
            self.announce(self.instructions(provision=todo))
        return [
            ProvisionRecord(b.id, Outcome.REQUESTED if b in todo else Outcome.REUSED, self.host_of(b.id))
            for b in brokers
        ]

    def retire(self, broker_ids: Sequence[int]) -> None:
        snapshot = self.settings.registrations.read(broker_ids)
        still = [i for i in broker_ids if i in snapshot.registered]
        if still:
            self.announce(self._instructions([], still, snapshot))

    def hosts(self, broker_ids: Sequence[int]) -> dict[int, Host]:
        return {i: Host(HostState.UNKNOWN, self.host_of(i), hint=_HINT) for i in broker_ids}

    def instructions(self, provision: Sequence[NewBroker] = (), retire: Sequence[int] = ()) -> str:
        self.preflight(provision)
        snapshot = self.settings.registrations.read(retire) if retire else RegistrationSnapshot({})
        return self._instructions(provision, retire, snapshot)

    def _instructions(self, provision: Sequence[NewBroker], retire: Sequence[int], snapshot: RegistrationSnapshot) -> str:
        zookeeper = self.settings.registrations.zookeeper_connect
        parts = [
            f"Manual steps (migrator watches ZooKeeper {zookeeper} and carries on by itself once they are done):"
        ]
        for broker in provision:
            host = self._host(broker)
            properties = self._properties(broker)
            lines = "".join(f"       {line}\n" for line in to_text(properties).splitlines())
            rack = f" (rack {broker.rack})" if broker.rack else ""
            parts.append(
                f"Start broker {broker.id}{rack} on host {host}:\n"
                f"  1. Make sure every directory in log.dirs ({properties['log.dirs']}) is empty "
                "or absent: a new broker must not find another broker's data.\n"
                f"  2. Write {self.section.properties_path} with exactly these lines:\n{lines}"
                f"  3. Run: {self._command(self.section.start_command, broker.id, host)}\n"
                f"  Done when /brokers/ids/{broker.id} appears in ZooKeeper"
                + (f" with rack {broker.rack}." if broker.rack else ".")
            )
        for broker_id in retire:
            registration = snapshot.registered.get(broker_id)
            host = (registration.host if registration else None) or self.host_of(broker_id) or "its host"
            parts.append(
                f"Retire broker {broker_id} on host {host} (migrator asks for this only once the broker holds no "
                "replica, leads no partition and is not the controller):\n"
                f"  1. Run: {self._command(self.section.stop_command, broker_id, host)}\n"
                "     It must stop Kafka with SIGTERM, a controlled shutdown: wait until the process has exited, "
                "never kill -9 it.\n"
                "  2. Keep the host and its disk until the migration is finished: a rollback starts it again.\n"
                f"  Done when /brokers/ids/{broker_id} has disappeared from ZooKeeper."
            )
        return "\n\n".join(parts) + "\n"

    def _host(self, broker: NewBroker) -> str:
        host = self.host_of(broker.id)
        assert host is not None, "preflight() checks that every new broker has a host"
        return host

    def _properties(self, broker: NewBroker) -> dict[str, str]:
        return self.server_properties(broker, self._host(broker))

    @staticmethod
    def _command(template: str, broker_id: int, host: str) -> str:
        return template.replace("{id}", str(broker_id)).replace("{host}", host)
