"""The `local` platform: brokers are processes of a running sandbox (`migrator sandbox up`), reached
through the hooks the sandbox's loader provides (migrator/platforms/local_sandbox.py).

The sandbox is found again from its folder (sandbox.json), so the CLI, a separate process from the one
that started the sandbox, can add and stop its brokers. A retired broker keeps its folder, like a
stopped VM keeps its disk: provisioning the same id again (a rollback) starts it with that data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from typing import Any

from migrator.errors import BadInput
from migrator.platforms.local_sandbox import sandbox_hooks
from migrator.platforms.model import Host, HostState, NewBroker, Outcome, ProvisionRecord
from migrator.platforms.source.base import BrokerPlatform, PlatformSettings
from migrator.platforms.source.config import PLATFORM_KEYS


class LocalPlatform(BrokerPlatform):
    kind = "local"

    def __init__(self, settings: PlatformSettings, sandbox_dir: Path) -> None:
        super().__init__(settings)
        self.sandbox_dir = Path(sandbox_dir)

    def _sandbox(self) -> Any:
        # Read afresh every time: another process may have changed the sandbox since.
        cluster = sandbox_hooks().load(self.sandbox_dir)
        expected = self.settings.template.zookeeper_connect
        if cluster.zookeeper_connect != expected:
            raise BadInput(
                f"The sandbox in {cluster.workdir} runs ZooKeeper at {cluster.zookeeper_connect}, but new brokers "
                f"are to join {expected}. Point source_platform.local.sandbox_dir at the sandbox this "
                "migration.yaml describes (or regenerate the file with `migrator sandbox up`)."
            )
        if not cluster.zookeeper.running:
            raise BadInput(
                f"The sandbox in {cluster.workdir} is not running (its ZooKeeper is down). Start it with "
                f"`migrator sandbox up --dir {cluster.workdir}`; nothing was changed."
            )
        return cluster

    def preflight(self, brokers: Sequence[NewBroker]) -> None:
        self._check(self._sandbox(), brokers)

    def _check(self, cluster: Any, brokers: Sequence[NewBroker]) -> None:
        for broker in brokers:
            known = cluster.brokers.get(broker.id)
            if known is not None and known.spec.rack != broker.rack:
                raise BadInput(
                    f"Sandbox broker {broker.id} already exists with rack {known.spec.rack!r}, not {broker.rack!r}; "
                    f"its folder {known.home} would be reused. Pick another broker id or start a fresh sandbox."
                )
            self._spec(broker)  # a template error surfaces here, before anything starts

    def provision(self, brokers: Sequence[NewBroker]) -> list[ProvisionRecord]:
        cluster = self._sandbox()
        self._check(cluster, brokers)
        records = []
        for broker in brokers:
            known = cluster.brokers.get(broker.id)
            if known is None:
                process = cluster.add_broker(self._spec(broker), timeout=self.settings.register_timeout)
                outcome = Outcome.LAUNCHED
            elif known.running:
                process, outcome = known, Outcome.REUSED
            else:
                process = cluster.start_broker(broker.id, timeout=self.settings.register_timeout)
                outcome = Outcome.STARTED
            records.append(ProvisionRecord(broker.id, outcome, process.address, f"pid {process.pid}"))
        return records

    def retire(self, broker_ids: Sequence[int]) -> None:
        cluster = self._sandbox()
        for broker_id in broker_ids:
            if broker_id in cluster.brokers:
                # SIGTERM: Kafka's controlled shutdown; returns once the broker deregistered.
                cluster.stop_broker(broker_id, timeout=self.settings.retire_timeout)

    def hosts(self, broker_ids: Sequence[int]) -> dict[int, Host]:
        cluster = sandbox_hooks().load(self.sandbox_dir)
        found = {}
        for broker_id in broker_ids:
            process = cluster.brokers.get(broker_id)
            if process is None:
                found[broker_id] = Host(HostState.ABSENT)
            else:
                found[broker_id] = Host(
                    HostState.RUNNING if process.running else HostState.STOPPED,
                    process.address,
                    f"pid {process.pid}" if process.running else None,
                    hint=f"its log is {process.log_path}",
                )
        return found

    def _spec(self, broker: NewBroker) -> Any:
        # The sandbox writes broker.id, broker.rack and zookeeper.connect itself (checked above to be ours).
        hooks = sandbox_hooks()
        properties = self.server_properties(broker, hooks.broker_host(broker.id))
        return hooks.broker_spec(broker.id, broker.rack, {k: v for k, v in properties.items() if k not in PLATFORM_KEYS})
