"""The `safety.canary:` section of migration.yaml: the embedded canary that the safety gate asks."""

from __future__ import annotations

from pydantic import Field

from migrator.config_base import ConfigModel


class CanaryConfig(ConfigModel):
    enabled: bool = Field(
        default=False,
        description="Produce and consume through a topic of ours before every step and while steps run; a "
        "failed or slow round trip closes the safety gate. Recommended in production.",
    )
    topic: str = Field(default="__migrator_canary", pattern=r"^[a-zA-Z0-9._-]{1,249}$")
    timeout_seconds: float = Field(default=15.0, gt=0, description="How long one round trip may take in all.")
    max_produce_latency_ms: float = Field(default=5000.0, gt=0)
    max_end_to_end_latency_ms: float = Field(default=10000.0, gt=0)
