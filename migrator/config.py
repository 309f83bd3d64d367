"""migration.yaml, validated by pydantic. Secrets are never values here: only names of environment
variables or files that hold them, so they never reach the checkpoint, logs, plans or metrics."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from migrator.errors import BadInput


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SecretRef(_Model):
    """Where a secret lives: an environment variable or a file, never the value itself."""

    env: str | None = None
    file: Path | None = None

    def read(self) -> str:
        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise BadInput(
                    f"The secret is to come from the environment variable {self.env}, which is not set. "
                    f"Export {self.env} in the shell that runs migrator, or point the config at a file."
                )
            return value
        if self.file:
            try:
                return self.file.read_text().strip()
            except OSError as exc:
                raise BadInput(
                    f"The secret file {self.file} cannot be read ({exc.strerror}). "
                    "Check the path and its permissions in migration.yaml."
                ) from exc
        raise BadInput("A secret reference names neither `env` nor `file`; set one of them in migration.yaml.")


class ClusterConfig(_Model):
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


class CheckpointConfig(_Model):
    store: Literal["local", "kubernetes"] = "local"
    path: Path = Path(".migrator")
    # store: kubernetes keeps checkpoint, journal and lock in this namespace (deploy/rbac/README.md).
    namespace: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    name: str | None = Field(default=None, description="Objects' base name; default migrator-<migration_id>.")
    kubeconfig: Path | None = Field(default=None, description="Default: $KUBECONFIG, ~/.kube/config, or in-pod.")
    context: str | None = None


class SafetyConfig(_Model):
    """Invariants checked before every step and during data movement."""

    max_under_replicated_partitions: int = Field(default=0, ge=0)
    max_under_min_isr_partitions: int = Field(default=0, ge=0)
    require_controller: bool = True


class MigrationConfig(_Model):
    migration_id: str = Field(description="Names this migration in checkpoints, locks and DNS markers.")
    cluster: ClusterConfig
    checkpoint: CheckpointConfig = CheckpointConfig()
    safety: SafetyConfig = SafetyConfig()
    dns: migrator.dns.config.DnsConfig | None = None
    source_platform: migrator.platforms.config.SourcePlatformConfig | None = None
    movement: migrator.movers.settings.MovementConfig | None = None
    cruise_control: migrator.movers.cruise_control_config.CruiseControlConfig | None = None
    target: migrator.platforms.strimzi_config.TargetConfig | None = None
    broker_id_shift: phases.broker_id_shift_config.BrokerIdShiftConfig | None = None

    @field_validator("migration_id")
    @classmethod
    def _migration_id(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", value):
            raise ValueError("use 1-63 lower-case letters, digits and '-' (it names DNS and Kubernetes objects)")
        return value


def load_config(path: Path) -> MigrationConfig:
    """Read and validate migration.yaml; every problem becomes one BadInput paragraph."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise BadInput(
            f"The config file {path} does not exist. Pass --config with the path of your migration.yaml "
            "(`migrator sandbox up` writes one for the local sandbox)."
        ) from None
    except yaml.YAMLError as exc:
        raise BadInput(f"The config file {path} is not valid YAML: {exc}. Fix the syntax and run again.") from None
    if not isinstance(raw, dict):
        raise BadInput(f"The config file {path} must hold a YAML mapping (migration_id:, cluster:, ...).")
    try:
        config = MigrationConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise BadInput(
            f"The config file {path} is not valid: {problems}. Correct these fields and run again; "
            "nothing was changed."
        ) from None
    base = Path(path).resolve().parent
    if not config.checkpoint.path.is_absolute():
        config.checkpoint.path = base / config.checkpoint.path
    _check_secrets_readable(config)
    return config


def _check_secrets_readable(model: BaseModel) -> None:
    """Fail before anything connects when a named secret is missing; the values are not kept."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretRef):
            value.read()
        elif isinstance(value, BaseModel):
            _check_secrets_readable(value)


# At the bottom, as a module import: the DNS section imports SecretRef from here, and the annotation
# above is resolved when MigrationConfig is first used, whichever module was imported first.
import migrator.dns.config  # noqa: E402
import migrator.platforms.config  # noqa: E402
import migrator.movers.settings  # noqa: E402
import migrator.movers.cruise_control_config  # noqa: E402
import migrator.platforms.strimzi_config  # noqa: E402
import phases.broker_id_shift_config  # noqa: E402
