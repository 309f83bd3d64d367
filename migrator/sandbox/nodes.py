"""The nodes of a sandbox as data: what to run (BrokerSpec) and a running JVM with the files it uses
(ZooKeeperProcess, BrokerProcess)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from migrator.errors import MigratorError
from migrator.sandbox import configs
from migrator.sandbox.ports import HOST, broker_host
from migrator.sandbox.process import JvmProcess

BROKER_HEAP = "384m"
ZOOKEEPER_HEAP = "128m"


class SandboxError(MigratorError):
    """A sandbox process failed to start or stop; the message quotes the end of its log."""


@dataclass(frozen=True)
class BrokerSpec:
    """One broker to run. `config` entries override the sandbox's server.properties; in their values
    `{host}` and `{port}` stand for the broker's own address and the cluster's broker port (e.g. to
    replace `listeners`). With `process.roles` in `config` it is a KRaft node, see the module docstring."""

    id: int
    rack: str | None = None
    config: Mapping[str, object] = field(default_factory=dict)


@dataclass(eq=False)
class SandboxProcess:
    """A sandbox JVM and where its files live; `process` is None until started."""

    port: int
    home: Path
    process: JvmProcess | None = None

    config_name: ClassVar[str]
    log_name: ClassVar[str]

    @property
    def name(self) -> str:
        return self.home.name

    @property
    def config_path(self) -> Path:
        return self.home / self.config_name

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_path(self) -> Path:
        return self.home / self.log_name

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.alive

    @property
    def host(self) -> str:
        return HOST

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(eq=False)
class ZooKeeperProcess(SandboxProcess):
    config_name: ClassVar[str] = "zoo.cfg"
    log_name: ClassVar[str] = "zookeeper.log"
    main_class: ClassVar[str] = "org.apache.zookeeper.server.ZooKeeperServerMain"
    heap: ClassVar[str] = ZOOKEEPER_HEAP


@dataclass(eq=False)
class BrokerProcess(SandboxProcess):
    spec: BrokerSpec = field(kw_only=True)

    config_name: ClassVar[str] = "server.properties"
    log_name: ClassVar[str] = "server.log"
    main_class: ClassVar[str] = "kafka.Kafka"
    heap: ClassVar[str] = BROKER_HEAP

    @property
    def id(self) -> int:
        return self.spec.id

    @property
    def host(self) -> str:
        return broker_host(self.id)

    @property
    def roles(self) -> frozenset[str]:
        """Its KRaft roles (broker, controller); empty for a ZooKeeper-mode broker."""
        return configs.process_roles(self.spec.config)

    @property
    def kraft(self) -> bool:
        return bool(self.roles)

    @property
    def is_broker(self) -> bool:
        """A broker of either mode, serving clients; False for a KRaft controller without the broker role."""
        return not self.kraft or "broker" in self.roles

    @property
    def on_shared_port(self) -> bool:
        """Whether it listens on the sandbox's `broker_port` (the default listeners, or `{port}` in its own)."""
        return "{port}" in str(self.spec.config.get("listeners", configs.DEFAULT_LISTENERS))


DEFAULT_BROKERS = (BrokerSpec(0, "a"), BrokerSpec(1, "b"), BrokerSpec(2, "c"))
