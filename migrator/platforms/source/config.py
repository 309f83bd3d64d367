"""The `source_platform:` section of migration.yaml: where new source-side brokers are started and old
ones retired (the broker-ID shift phase), and what their server.properties hold.

    source_platform:
      kind: ec2                         # local | ec2 | manual
      server_properties:                # template; {id}, {rack} and {host} are filled in per broker
        listeners: PLAINTEXT://0.0.0.0:9092
        advertised.listeners: PLAINTEXT://{host}:9092
        log.dirs: /var/lib/kafka/data
      ec2:
        region: eu-west-1
        launch_template: {name: kafka-broker, version: "$Default"}
        subnets: {eu-west-1a: subnet-0aa..., eu-west-1b: subnet-0bb...}   # rack -> subnet

broker.id, broker.rack and zookeeper.connect are not part of the template: the platform writes them
from the broker being provisioned and from cluster.zookeeper_connect, so a new broker can never join
under another chroot (which would silently create a new cluster).

The `broker_id_shift:` section lives here too: it says which IDs the source platform gives the
brokers that replace the old ones (phases/broker_id_shift/):

    broker_id_shift:
      id_offset: 100                  # broker N is replaced by broker N + 100
      movement:                       # optional; defaults to the top-level movement: section
        throttle_bytes_per_second: 30000000
        max_moves_per_broker: 3
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from migrator.config_base import ConfigModel
from migrator.movers.settings import MovementConfig

#: Keys the platform writes itself; see the module docstring.
PLATFORM_KEYS = frozenset({"broker.id", "broker.rack", "zookeeper.connect", "node.id"})

PropertyValue = str | int | float | bool


def check_properties(values: dict[str, PropertyValue]) -> dict[str, str]:
    """Template keys and values as server.properties text can hold them; raises ValueError."""
    checked: dict[str, str] = {}
    for key, value in values.items():
        if key in PLATFORM_KEYS:
            raise ValueError(
                f"{key} must not be set here: the platform writes broker.id and broker.rack from the broker "
                "it provisions and zookeeper.connect from cluster.zookeeper_connect (or "
                "source_platform.zookeeper_connect)"
            )
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-]*", key):
            raise ValueError(f"{key!r} is not a Kafka property name")
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if "\n" in text or "\r" in text:
            raise ValueError(f"the value of {key} spans several lines, which server.properties cannot hold")
        checked[key] = text
    return checked


class LocalPlatformConfig(ConfigModel):
    sandbox_dir: Path = Field(
        description="Folder of a running sandbox (`migrator sandbox up --dir ...`); relative to the working directory."
    )


class LaunchTemplateRef(ConfigModel):
    id: str | None = Field(default=None, description="lt-0123...; give id or name.")
    name: str | None = None
    version: str = Field(default="$Default", description="$Default, $Latest or a version number.")

    @model_validator(mode="after")
    def _one_of(self) -> LaunchTemplateRef:
        if (self.id is None) == (self.name is None):
            raise ValueError("give exactly one of id and name")
        if not re.fullmatch(r"\$Default|\$Latest|[1-9][0-9]*", self.version):
            raise ValueError("version must be $Default, $Latest or a version number")
        return self

    def describe(self) -> str:
        return f"{self.id or self.name} (version {self.version})"

    def selector(self) -> dict[str, str]:
        """The template's name or id as EC2 requests take it."""
        return {"LaunchTemplateId": self.id} if self.id else {"LaunchTemplateName": self.name or ""}


class Ec2PlatformConfig(ConfigModel):
    region: str | None = Field(default=None, description="Unset: the standard chain (AWS_REGION, profile).")
    endpoint_url: str | None = Field(default=None, description="Only to aim at a stand-in such as moto.")
    launch_template: LaunchTemplateRef = Field(
        description="AMI with Kafka installed as a systemd unit, instance type, security groups, key, profile."
    )
    subnets: dict[str, str] = Field(description="rack -> subnet id; each new broker starts in its rack's subnet.")
    default_subnet: str | None = Field(default=None, description="For brokers without a rack.")
    instance_type: str | None = Field(default=None, description="Overrides the launch template's.")
    name_pattern: str = Field(default="kafka-{id}", description="The Name tag; {id} and {migration_id} are filled in.")
    tags: dict[str, str] = Field(default_factory=dict, description="Extra tags on instances and volumes.")
    properties_path: str = "/opt/kafka/config/server.properties"
    start_command: str = Field(
        default="systemctl enable --now kafka.service",
        description="Run as root at first boot after server.properties is written.",
    )
    existing_instances: dict[int, str] = Field(
        default_factory=dict,
        description="broker id -> instance id of brokers migrator did not launch (the fleet's own VMs). "
        "Retiring one stops it (never terminates it), so a rollback can start it again with its data.",
    )
    instance_timeout_seconds: float = Field(default=600.0, gt=0)
    poll_interval_seconds: float = Field(default=5.0, gt=0)

    @field_validator("name_pattern")
    @classmethod
    def _name_pattern(cls, value: str) -> str:
        if "{id}" not in value:
            raise ValueError("must contain {id} so that every broker's instance has its own name")
        value.format(id=0, migration_id="m")  # a stray brace fails here, not at launch
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = [k for k in value if k.lower().startswith("aws:") or k in _RESERVED_TAGS]
        if reserved:
            raise ValueError(f"{', '.join(reserved)}: these tags are set by migrator (or AWS) and cannot be overridden")
        return value


_RESERVED_TAGS = frozenset({"Name", "migration-id", "kafka-broker-id", "managed-by"})


class ManualPlatformConfig(ConfigModel):
    hosts: dict[int, str] = Field(default_factory=dict, description="new broker id -> the host a human starts it on")
    host_pattern: str | None = Field(default=None, description="e.g. kafka-{id}.vm.internal, for ids not in hosts")
    properties_path: str = "/opt/kafka/config/server.properties"
    start_command: str = Field(default="sudo systemctl enable --now kafka", description="{id} and {host} are filled in.")
    stop_command: str = Field(
        default="sudo systemctl disable --now kafka",
        description="A controlled shutdown (SIGTERM) that keeps the broker from starting again; {id}, {host}.",
    )

    @field_validator("host_pattern")
    @classmethod
    def _host_pattern(cls, value: str | None) -> str | None:
        if value is not None and "{id}" not in value:
            raise ValueError("must contain {id}, e.g. kafka-{id}.vm.internal")
        return value


class SourcePlatformConfig(ConfigModel):
    kind: Literal["local", "ec2", "manual"]
    server_properties: dict[str, PropertyValue] = Field(
        default_factory=dict,
        description="server.properties of every new broker (listeners, log.dirs, security, ...); {id}, {rack} "
        "and {host} are filled in. With kind local, {port} stands for the sandbox broker's port.",
    )
    zookeeper_connect: str | None = Field(
        default=None,
        description="How the new brokers reach the ensemble, when not as cluster.zookeeper_connect; the "
        "chroot must be the same.",
    )
    register_timeout_seconds: float = Field(default=600.0, gt=0)
    retire_timeout_seconds: float = Field(default=300.0, gt=0)
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    local: LocalPlatformConfig | None = None
    ec2: Ec2PlatformConfig | None = None
    manual: ManualPlatformConfig | None = None

    @field_validator("server_properties")
    @classmethod
    def _properties(cls, value: dict[str, PropertyValue]) -> dict[str, PropertyValue]:
        check_properties(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SourcePlatformConfig:
        if getattr(self, self.kind) is None and self.kind != "manual":
            raise ValueError(f"kind is {self.kind}, so the source_platform.{self.kind} section is required")
        # A broker without them would listen on localhost defaults and keep its data under /tmp.
        if self.kind != "local":
            missing = [k for k in ("listeners", "log.dirs") if k not in self.server_properties]
            if missing:
                raise ValueError(f"server_properties must set {' and '.join(missing)} for new {self.kind} brokers")
        return self

    @property
    def manual_section(self) -> ManualPlatformConfig:
        return self.manual or ManualPlatformConfig()


class BrokerIdShiftConfig(ConfigModel):
    id_offset: int = Field(
        default=100,
        ge=1,
        description="Every source broker N is replaced by broker N + id_offset; the new ids must be free "
        "and outside the target's node-ID range.",
    )
    movement: MovementConfig | None = Field(
        default=None, description="Throttle and batch limits of this phase; default: the top-level movement: section."
    )
