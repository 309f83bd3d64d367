"""The `local` target platform: the "Kubernetes side" as sandbox brokers, for the demo and for machines
without a Kubernetes cluster.

Each new broker is a process of the running sandbox (source_platform.local.sandbox_dir) configured the
way the forked Strimzi operator would configure a pod from the Kafka CR and the overrides:

- `broker.id` from the node-ID range (`target.node_ids`), the first `target.replicas` of them, which is
  what Strimzi hands a new pool;
- `zookeeper.connect` of the VM ensemble with its chroot, `zookeeper.ssl.client.enable=false`,
  `inter.broker.listener.name` = the shared listener, `reserved.broker.max.id` when the range needs it,
  the Cruise Control metrics topic when enabled, `control.plane.listener.name` left out;
- the listeners of `target.listeners` and `target.shared_listener` under the names Strimzi gives them
  (`<NAME>-<PORT>`), each on the broker's own loopback address like a pod's IP. The first client listener
  binds the sandbox's broker port (the sandbox waits for it); the others bind their configured port;
- `broker.rack`, when `target.rack_topology_key` is set, taken in turn from the VM brokers' racks (the
  zones the pods would be spread over).

There is no operator here: the operator steps say so in their plan and change nothing, and phase
operator-handback is skipped (the sandbox brokers are not reconciled by anyone).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from migrator.config import MigrationConfig
from migrator.engine.step import Verdict
from migrator.errors import BadInput
from migrator.platforms.local_sandbox import sandbox_hooks
from migrator.platforms.source.base import PlatformSettings
from migrator.platforms.source.config import PLATFORM_KEYS
from migrator.platforms.source.local import LocalPlatform
from migrator.platforms.model import NewBroker
from migrator.platforms.properties import PropertiesTemplate, to_text
from migrator.platforms.registration import Registrations
from migrator.platforms.target.strimzi_manifests import render_overrides
from migrator.platforms.target.base import JSON, Build, OperatorState, Review, TargetPlatform

#: How long one sandbox broker may take to start and register (a loaded 2-core machine included).
REGISTER_TIMEOUT = 180.0
NO_OPERATOR = "the local target has no cluster operator: the sandbox brokers are configured directly"


def local_broker_config(config: MigrationConfig) -> dict[str, str]:
    """server.properties entries (besides broker.id, broker.rack and zookeeper.connect, which the
    sandbox writes) that the forked operator would give every broker of the pool."""
    target = config.target
    assert target is not None
    properties: dict[str, str] = {}
    for override in render_overrides(config):
        if override.value is None or override.key in PLATFORM_KEYS:
            continue  # unset on purpose (control.plane.listener.name), or written by the sandbox
        if override.spec.set_in in ("kafka_config", "cruise_control_config"):
            properties[override.key] = override.value
    listeners = [*target.listeners, target.shared_listener]
    properties["listener.security.protocol.map"] = ",".join(f"{l.kafka_name}:{l.security_protocol}" for l in listeners)
    if target.inter_broker_protocol_version:
        properties["inter.broker.protocol.version"] = target.inter_broker_protocol_version
    for key, value in target.extra_config.items():
        properties[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return properties


def listeners_value(config: MigrationConfig) -> str:
    """`listeners` with {host} for the broker's address and {port} for the sandbox's broker port."""
    target = config.target
    assert target is not None
    first, *others = [*target.listeners, target.shared_listener]
    return ",".join([f"{first.kafka_name}://{{host}}:{{port}}", *(f"{l.kafka_name}://{{host}}:{l.port}" for l in others)])


class LocalTarget(TargetPlatform):
    kind = "local"

    def __init__(self, config: MigrationConfig, sandbox_dir: Path) -> None:
        super().__init__(config)
        self.sandbox_dir = Path(sandbox_dir)

    @classmethod
    def from_config(cls, config: MigrationConfig) -> LocalTarget:
        source = config.source_platform
        if source is None or source.local is None:
            raise BadInput(
                "target.kind is local, so the new brokers start in the local sandbox, but migration.yaml names no "
                "sandbox: set source_platform.kind: local with source_platform.local.sandbox_dir (the folder of "
                "`migrator sandbox up --dir ...`). Nothing was changed."
            )
        return cls(config, source.local.sandbox_dir)

    @cached_property
    def _platform(self) -> LocalPlatform:
        cluster = self.config.cluster
        template = PropertiesTemplate(cluster.zookeeper_connect, local_broker_config(self.config))
        registrations = Registrations(cluster.zookeeper_connect, cluster.cluster_id, cluster.timeout_seconds)
        settings = PlatformSettings(registrations, template, register_timeout=REGISTER_TIMEOUT)
        return LocalPlatform(settings, self.sandbox_dir)

    @property
    def planned_ids(self) -> list[int]:
        return list(self.target.node_id_candidates[: self.target.replicas])

    def _brokers(self, racks: Sequence[str]) -> list[NewBroker]:
        ordered = sorted(set(racks)) if self.target.rack_topology_key else []
        listeners = {"listeners": listeners_value(self.config)}
        return [
            NewBroker(node_id, ordered[i % len(ordered)] if ordered else None, listeners)
            for i, node_id in enumerate(self.planned_ids)
        ]

    def _sandbox(self) -> Any:
        return sandbox_hooks().load(self.sandbox_dir)

    # -- review ----------------------------------------------------------------------------------

    def review(self) -> Review:
        known = self._sandbox().brokers
        texts, diffs = [], []
        for broker in self._brokers([]):
            properties = self._platform.server_properties(broker, sandbox_hooks().broker_host(broker.id))
            header = f"# sandbox broker {broker.id} ({self.sandbox_dir})\n"
            if self.target.rack_topology_key:
                header += "# broker.rack: the VM brokers' racks, taken in turn\n"
            texts.append(header + to_text(properties))
            existing = known.get(broker.id)
            before = to_text({k: str(v) for k, v in existing.spec.config.items()}) if existing else ""
            mine = to_text({k: v for k, v in properties.items() if k not in PLATFORM_KEYS})
            label = f"sandbox broker {broker.id}"
            diffs += difflib.unified_diff(
                before.splitlines(keepends=True),
                mine.splitlines(keepends=True),
                fromfile=f"live: {label}" + ("" if existing else " (absent)"),
                tofile=f"rendered: {label}",
            )
        return Review(f"{len(texts)} sandbox brokers", "\n".join(texts), "".join(diffs))

    # -- operator: there is none ------------------------------------------------------------------

    def operator(self) -> OperatorState | None:
        return None

    def switch_operator(self, image: str, build: Build | None) -> None:
        """Nothing to switch (see NO_OPERATOR)."""

    def operator_settled(self, image: str) -> Verdict:
        return Verdict.ok(NO_OPERATOR)

    # -- brokers ---------------------------------------------------------------------------------

    def existing(self) -> JSON:
        known = self._sandbox().brokers
        return {"present": sorted(i for i in self.planned_ids if i in known and known[i].running)}

    def create(self, racks: Sequence[str]) -> None:
        self._platform.provision(self._brokers(racks))

    def node_ids(self) -> list[int] | None:
        known = self._sandbox().brokers
        started = [i for i in self.planned_ids if i in known and known[i].running]
        return started if len(started) == len(self.planned_ids) else None

    def remove(self, before: JSON) -> None:
        self._platform.retire(self._created(before))

    def removed(self, before: JSON) -> Verdict:
        return self._platform.check_retired(self._created(before))

    def _created(self, before: JSON) -> list[int]:
        return [i for i in self.planned_ids if i not in before.get("present", [])]

    def reconciled(self) -> Verdict:
        return Verdict.ok(NO_OPERATOR)
