"""The `broker_id_shift:` section of migration.yaml (phase 2, phases/broker_id_shift.py).

    broker_id_shift:
      id_offset: 100                  # broker N is replaced by broker N + 100
      movement:                       # optional; defaults to the top-level movement: section
        throttle_bytes_per_second: 30000000
        max_moves_per_broker: 3

Kept apart from the phase module, which imports the Kafka clients: migrator.config imports this
section at its bottom, and the clients import migrator.config.
"""

from __future__ import annotations

from pydantic import Field

from migrator.config import MigrationConfig, _Model
from migrator.movers.settings import MovementConfig


class BrokerIdShiftConfig(_Model):
    id_offset: int = Field(
        default=100,
        ge=1,
        description="Every source broker N is replaced by broker N + id_offset; the new ids must be free "
        "and outside the target's node-ID range.",
    )
    movement: MovementConfig | None = Field(
        default=None, description="Throttle and batch limits of this phase; default: the top-level movement: section."
    )


def shift_settings(config: MigrationConfig) -> BrokerIdShiftConfig:
    """The section as configured, or its safe defaults."""
    return config.broker_id_shift or BrokerIdShiftConfig()


def movement_settings(config: MigrationConfig) -> MovementConfig:
    """This phase's movement settings: its own, else the migration's, else the defaults."""
    return shift_settings(config).movement or config.movement or MovementConfig()
