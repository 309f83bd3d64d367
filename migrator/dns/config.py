"""The `dns:` section of migration.yaml: which provider holds the zone, which names the facade uses,
and where the authoritative servers answer.

Names are written as users write them (`kafka-{id}.example.com`); the model turns them into absolute,
lower-case names with a trailing dot, the one form every other module compares.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from migrator.config_base import ConfigModel, SecretRef

TsigAlgorithm = Literal["hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5"]


def absolute_name(name: str) -> str:
    """'Kafka-0.Example.com' -> 'kafka-0.example.com.' (DNS names compare case-insensitively)."""
    name = name.strip().lower()
    if not name or name == ".":
        raise ValueError("a DNS name must not be empty")
    return name if name.endswith(".") else name + "."


def in_zone(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


@dataclass(frozen=True)
class Address:
    """A DNS server to talk to directly: `host[:port]`, port 53 unless given (IPv6 as `[::1]:53`)."""

    host: str
    port: int = 53

    @classmethod
    def parse(cls, text: str, default_port: int = 53) -> Address:
        text = text.strip()
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        elif text.count(":") == 1:
            host, _, port = text.partition(":")
        else:
            host, port = text, ""
        if not host or (port and not (port.isdigit() and 0 < int(port) < 65536)):
            raise ValueError(f"{text!r} is not host[:port] (write IPv6 addresses as [::1]:53)")
        return cls(host=host, port=int(port) if port else default_port)

    def __str__(self) -> str:
        try:
            bracket = ipaddress.ip_address(self.host).version == 6
        except ValueError:
            bracket = False
        return f"[{self.host}]:{self.port}" if bracket else f"{self.host}:{self.port}"


class TsigKeyConfig(ConfigModel):
    name: str = Field(description="The key name as the primary's configuration spells it.")
    algorithm: TsigAlgorithm = "hmac-sha256"
    secret: SecretRef = Field(description="Where the base64 secret lives (env or file), never the value.")


class Rfc2136Config(ConfigModel):
    primary: str = Field(description="host[:port] of the primary that accepts UPDATE messages.")
    tsig: TsigKeyConfig
    timeout_seconds: float = Field(default=5.0, gt=0)

    @field_validator("primary")
    @classmethod
    def _primary(cls, value: str) -> str:
        Address.parse(value)
        return value

    @property
    def primary_address(self) -> Address:
        return Address.parse(self.primary)


class Route53Config(ConfigModel):
    hosted_zone_id: str = Field(description="e.g. Z0123456789ABCDEFGHIJ (with or without /hostedzone/).")
    region: str = "us-east-1"
    endpoint_url: str | None = Field(default=None, description="Only to aim at a stand-in such as moto.")
    insync_timeout_seconds: float = Field(default=300.0, gt=0)
    poll_interval_seconds: float = Field(default=5.0, gt=0)

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str) -> str:
        return value.rsplit("/", 1)[-1]


class ClientScanConfig(ConfigModel):
    paths: list[Path] = Field(
        default_factory=list,
        description="Checkouts of the repositories that hold client configs (relative to the working dir).",
    )
    confirmed: bool = Field(
        default=False,
        description="The operator accepts the remaining findings (e.g. clients being retired); the "
        "adoption gate then passes and says how many findings were accepted.",
    )


class DnsConfig(ConfigModel):
    provider: Literal["route53", "rfc2136"]
    zone: str
    broker_name_pattern: str = Field(
        default="kafka-{id}.{zone}", description="Name of each broker's facade record; {id} is the broker id."
    )
    bootstrap_name: str = Field(default="kafka-bootstrap.{zone}", description="Name that holds every broker.")
    ttl_seconds: int = Field(default=60, ge=1)
    rfc2136: Rfc2136Config | None = None
    route53: Route53Config | None = None
    #: NS names carry no port, so where a name server does not answer on <its address>:53 (a test rig,
    #: a split-horizon view) the operator maps the NS name to the address to ask. Every NS record of the
    #: zone is still asked; an NS without an entry here is resolved and asked on port 53.
    authoritative_servers: dict[str, str] = Field(default_factory=dict)
    query_timeout_seconds: float = Field(default=3.0, gt=0)
    verify_timeout_seconds: float = Field(default=600.0, gt=0)
    client_scan: ClientScanConfig = Field(default_factory=ClientScanConfig)

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return absolute_name(value)

    @field_validator("broker_name_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if "{id}" not in value:
            raise ValueError("must contain {id}, e.g. kafka-{id}.example.com")
        return value

    @field_validator("authoritative_servers")
    @classmethod
    def _servers(cls, value: dict[str, str]) -> dict[str, str]:
        for address in value.values():
            Address.parse(address)
        return {absolute_name(ns): address for ns, address in value.items()}

    @model_validator(mode="after")
    def _consistent(self) -> DnsConfig:
        section = getattr(self, self.provider)
        if section is None:
            raise ValueError(f"provider is {self.provider}, so the dns.{self.provider} section is required")
        for name in (self.broker_name(0), self.bootstrap_fqdn):
            if not in_zone(name, self.zone) or name == self.zone:
                raise ValueError(f"{name} is not a name inside the zone {self.zone}")
        if self.broker_name(0) == self.bootstrap_fqdn:
            raise ValueError("the bootstrap name must differ from the per-broker names")
        return self

    def _format(self, pattern: str, **fields: object) -> str:
        return absolute_name(pattern.format(zone=self.zone.rstrip("."), **fields))

    def broker_name(self, broker_id: int) -> str:
        return self._format(self.broker_name_pattern, id=broker_id)

    @property
    def bootstrap_fqdn(self) -> str:
        return self._format(self.bootstrap_name)

    @property
    def server_overrides(self) -> dict[str, Address]:
        return {ns: Address.parse(address) for ns, address in self.authoritative_servers.items()}
