"""The `cluster:` section of migration.yaml: how the clients reach the existing (source) cluster.

Kept with the clients, which need nothing else of the config.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from migrator.config_base import ConfigModel, SecretRef


class ClusterConfig(ConfigModel):
    """The existing (source) cluster."""

    zookeeper_connect: str = Field(description="host:port[,host:port...][/chroot] of the ensemble")
    bootstrap_servers: str = Field(description="host:port[,host:port...] of the brokers")
    cluster_id: str | None = Field(
        default=None, description="The cluster id every check compares against (from /cluster/id)."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretRef | None = None
    ssl_ca_location: Path | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("zookeeper_connect")
    @classmethod
    def _zk_connect(cls, value: str) -> str:
        hosts, _, chroot = value.partition("/")
        if not hosts or not all(re.fullmatch(r"[\w.\-\[\]:]+:\d+", h) for h in hosts.split(",")):
            raise ValueError("must be host:port[,host:port...][/chroot], e.g. zk1:2181,zk2:2181/kafka")
        if chroot and chroot.endswith("/"):
            raise ValueError("the chroot must not end with '/'")
        return value

    @field_validator("bootstrap_servers")
    @classmethod
    def _bootstrap(cls, value: str) -> str:
        if not all(re.fullmatch(r"[\w.\-\[\]:]+:\d+", h.strip()) for h in value.split(",")):
            raise ValueError("must be host:port[,host:port...], e.g. kafka-0:9092,kafka-1:9092")
        return value
