"""The `cruise_control_rebalance:` section of migration.yaml (phase 4).

    cruise_control_rebalance:
      mover: native                     # or cruise-control (then the cruise_control: section is required)
      brokers_per_batch: 2              # VM brokers drained together; default: all of them at once
      movement:                         # optional; default: the top-level movement: section
        throttle_bytes_per_second: 50000000
        max_moves_per_broker: 5         # concurrency per broker = the size of a batch
        max_bytes_per_batch: 20000000000
      health_gate:
        auto_resume: true               # a pause on the gate resumes by itself once healthy
        healthy_for_seconds: 60
        max_pause_seconds: 3600
        check_interval_seconds: 5

A leaf on config_base (migrator.config imports it, and migrator imports no phase); the phase reads
it through phases/cruise_control_rebalance/plan.py.
"""

from __future__ import annotations

from pydantic import Field

from migrator.config_base import ConfigModel
from migrator.movers.settings import MovementConfig, MoverKind


class HealthGateConfig(ConfigModel):
    auto_resume: bool = Field(
        default=True,
        description="Resume by itself once healthy for healthy_for_seconds; off: the run stops paused (exit 3).",
    )
    healthy_for_seconds: float = Field(default=60.0, ge=0, description="How long the cluster must stay healthy.")
    max_pause_seconds: float = Field(default=3600.0, gt=0, description="How long one pause may wait for health.")
    check_interval_seconds: float = Field(default=5.0, gt=0)


class RebalanceConfig(ConfigModel):
    mover: MoverKind = "native"
    brokers_per_batch: int | None = Field(
        default=None,
        ge=1,
        description="How many VM brokers are drained together: every replica of one group is on the Kubernetes "
        "brokers before the next group starts. Default: all VM brokers in one group.",
    )
    movement: MovementConfig | None = Field(
        default=None, description="Throttle and batch limits of this phase; default: the top-level movement: section."
    )
    health_gate: HealthGateConfig = HealthGateConfig()

