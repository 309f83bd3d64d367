"""migration.yaml, validated by pydantic: `MigrationConfig` assembles the sections, each defined next to
the code it configures (cluster: clients/connection.py, dns: dns/config.py, source_platform: and
broker_id_shift: platforms/source/config.py, target: platforms/target/config.py, movement:
movers/settings.py, cruise_control: movers/cruise_control_config.py, cruise_control_rebalance:
movers/rebalance_config.py, safety.canary: cluster/canary_config.py) on the shared base in config_base.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from migrator.clients.connection import ClusterConfig
from migrator.cluster.canary_config import CanaryConfig
from migrator.config_base import ConfigModel, SecretRef
from migrator.dns.config import DnsConfig
from migrator.errors import BadInput
from migrator.movers.cruise_control_config import CruiseControlConfig
from migrator.movers.rebalance_config import RebalanceConfig
from migrator.movers.settings import MovementConfig
from migrator.platforms.source.config import BrokerIdShiftConfig, SourcePlatformConfig
from migrator.platforms.target.config import TargetConfig

__all__ = ["ClusterConfig", "ConfigModel", "MigrationConfig", "SecretRef", "load_config"]


class CheckpointConfig(ConfigModel):
    store: Literal["local", "kubernetes"] = "local"
    path: Path = Path(".migrator")
    # store: kubernetes keeps checkpoint, journal and lock in this namespace (deploy/rbac/README.md).
    namespace: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    name: str | None = Field(default=None, description="Objects' base name; default migrator-<migration_id>.")
    kubeconfig: Path | None = Field(default=None, description="Default: $KUBECONFIG, ~/.kube/config, or in-pod.")
    context: str | None = None


class SafetyConfig(ConfigModel):
    """Invariants checked before every step and during data movement."""

    max_under_replicated_partitions: int = Field(default=0, ge=0)
    max_under_min_isr_partitions: int = Field(default=0, ge=0)
    require_controller: bool = True
    canary: CanaryConfig = CanaryConfig()


class MigrationConfig(ConfigModel):
    migration_id: str = Field(description="Names this migration in checkpoints, locks and DNS markers.")
    cluster: ClusterConfig
    checkpoint: CheckpointConfig = CheckpointConfig()
    safety: SafetyConfig = SafetyConfig()
    dns: DnsConfig | None = None
    source_platform: SourcePlatformConfig | None = None
    movement: MovementConfig | None = None
    cruise_control: CruiseControlConfig | None = None
    target: TargetConfig | None = None
    broker_id_shift: BrokerIdShiftConfig | None = None
    cruise_control_rebalance: RebalanceConfig | None = None

    @field_validator("migration_id")
    @classmethod
    def _migration_id(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", value):
            raise ValueError("use 1-63 lower-case letters, digits and '-' (it names DNS and Kubernetes objects)")
        return value

    @model_validator(mode="after")
    def _mover_configured(self) -> MigrationConfig:
        rebalance = self.cruise_control_rebalance
        if rebalance is not None and rebalance.mover == "cruise-control" and self.cruise_control is None:
            raise ValueError(
                "cruise_control_rebalance.mover is cruise-control, so the cruise_control: section (at least its "
                "url:) is required; add it, or set mover: native"
            )
        return self


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
    secrets = list(_secret_refs(config))
    for secret in secrets:
        # Relative to the config file, like checkpoint.path: not to wherever migrator happens to run.
        if secret.file is not None and not secret.file.is_absolute():
            secret.file = base / secret.file
    # Fail before anything connects when a named secret is missing; the values are not kept.
    for secret in secrets:
        secret.read()
    return config


def _secret_refs(value: object) -> Iterator[SecretRef]:
    """Every secret reference in the config, in sections and in free-form maps alike."""
    if isinstance(value, SecretRef):
        # A subclass (the brokers' own secrets in server_properties) is resolved elsewhere, not here.
        if type(value) is SecretRef:
            yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secret_refs(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secret_refs(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _secret_refs(item)

