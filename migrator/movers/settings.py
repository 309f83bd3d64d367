"""The `movement:` section of migration.yaml: how fast and how much at once replicas move.

The defaults are the safe side of what production teams run: a throttle well below a 1 Gbit/s
link, five concurrent moves per broker (Cruise Control's default), and a pause that lets the batch
in flight finish rather than throwing away what it already copied.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from migrator.config_base import ConfigModel
from migrator.movers.plan import BatchLimits

#: The movers a phase can be configured with (migrator/movers/factory.py opens them).
MoverKind = Literal["native", "cruise-control"]


class MovementConfig(ConfigModel):
    throttle_bytes_per_second: int = Field(
        default=50_000_000,
        gt=0,
        description="leader/follower.replication.throttled.rate on every broker a batch touches",
    )
    max_moves_per_broker: int = Field(default=5, ge=1)
    max_bytes_per_batch: int | None = Field(default=None, ge=1)
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    #: The whole-cluster safety read (offline, under-min-ISR, controller) is heavier than the
    #: per-poll check of the batch's own brokers and partitions, so it runs less often.
    safety_interval_seconds: float = Field(default=15.0, gt=0)
    #: Replica sizes (describe_log_dirs on every receiving broker, for progress, rate and ETA) are read
    #: this often at most; completion is still checked every poll, from the controller and ZooKeeper.
    #: Each read walks every log of those brokers, which sit on the client path.
    progress_interval_seconds: float = Field(default=5.0, gt=0)
    #: A batch that copies no byte and completes no partition for this long pauses the run.
    stall_timeout_seconds: float = Field(default=1800.0, gt=0)
    #: What `migrator pause` does to the batch in flight: let it finish, or cancel it (KIP-455
    #: revert); either way our throttles are cleared before the run stops.
    on_pause: Literal["finish", "cancel"] = "finish"
    elect_leaders: bool = True

    def limits(self) -> BatchLimits:
        return BatchLimits(self.max_moves_per_broker, self.max_bytes_per_batch)


def resolve_movement(*sections: MovementConfig | None) -> MovementConfig:
    """The first movement settings configured, from the most specific section (a phase's own) to the
    least (the top-level movement: section), else the defaults. The one place the default is decided."""
    return next((s for s in sections if s is not None), None) or MovementConfig()
