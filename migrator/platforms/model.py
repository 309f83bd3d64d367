"""The data a broker platform takes and returns; plain, JSON-friendly, so a phase can checkpoint it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum

from migrator.platforms.source.config import check_properties


@dataclass(frozen=True)
class NewBroker:
    """A broker to provision. `config` holds per-broker overrides on top of the configured template
    (e.g. a setting copied from the broker it replaces)."""

    id: int
    rack: str | None = None
    config: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.id < 0:
            raise ValueError(f"broker id {self.id} is negative")
        object.__setattr__(self, "config", check_properties(dict(self.config)))

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "rack": self.rack, "config": dict(self.config)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> NewBroker:
        rack, config = data.get("rack"), data.get("config") or {}
        if not isinstance(config, Mapping):
            raise ValueError(f"broker config must be a mapping, got {config!r}")
        return cls(int(str(data["id"])), None if rack is None else str(rack), dict(config))


class Outcome(str, Enum):
    """What provision did for one broker."""

    LAUNCHED = "launched"  # a new host was created and started
    STARTED = "started"  # a stopped host of this broker was started again, with its data
    REUSED = "reused"  # the host was already up: nothing done
    REQUESTED = "requested"  # a human must act (the manual platform); see its instructions


@dataclass(frozen=True)
class ProvisionRecord:
    broker_id: int
    outcome: Outcome
    address: str | None = None  # where the host is reached: a DNS name, an IP, 127.0.0.1:port
    handle: str | None = None  # the platform's own name for the host: an instance id, a pid

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "outcome": self.outcome.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ProvisionRecord:
        address, handle = data.get("address"), data.get("handle")
        return cls(
            int(str(data["broker_id"])),
            Outcome(data["outcome"]),
            None if address is None else str(address),
            None if handle is None else str(handle),
        )


class HostState(str, Enum):
    ABSENT = "absent"  # no host is known for this broker
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    TERMINATED = "terminated"
    UNKNOWN = "unknown"  # migrator cannot see hosts on this platform (manual)

    @property
    def active(self) -> bool:
        """A broker process may be running (or about to) on the host."""
        return self in (HostState.STARTING, HostState.RUNNING, HostState.STOPPING)

    @property
    def gone(self) -> bool:
        """Nothing will start a broker on this host without someone provisioning it again."""
        return self in (HostState.ABSENT, HostState.STOPPED, HostState.TERMINATED)


@dataclass(frozen=True)
class Host:
    """The platform's view of one broker's host."""

    state: HostState
    address: str | None = None
    handle: str | None = None
    #: What to look at when the broker does not come up there (e.g. where its boot log is).
    hint: str = ""

    def describe(self) -> str:
        where = ", ".join(part for part in (self.handle, self.address) if part)
        return f"host is {self.state.value}" + (f" ({where})" if where else "")


@dataclass(frozen=True)
class Registration:
    """A live broker as /brokers/ids/<id> records it."""

    broker_id: int
    rack: str | None
    host: str | None
    endpoints: tuple[str, ...] = ()


@dataclass(frozen=True)
class BrokerHostStatus:
    """Host and ZooKeeper registration of one broker, side by side."""

    broker_id: int
    host: Host
    registration: Registration | None

    @property
    def registered(self) -> bool:
        return self.registration is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "broker_id": self.broker_id,
            "host_state": self.host.state.value,
            "address": self.host.address,
            "handle": self.host.handle,
            "registered": self.registered,
            "rack": self.registration.rack if self.registration else None,
            "endpoints": list(self.registration.endpoints) if self.registration else [],
        }


#: How long a phase waits before it asks a platform again about brokers or objects not there yet (seconds).
PLATFORM_POLL = 5.0
