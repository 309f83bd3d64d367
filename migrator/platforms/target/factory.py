"""The target platform a `target:` section names. Apart from base.py (the interface both targets import),
so the base module imports no target."""

from __future__ import annotations

from migrator.config import MigrationConfig
from migrator.platforms.target.base import TargetPlatform, require_target


def target_platform(config: MigrationConfig) -> TargetPlatform:
    """The platform config.target.kind names. Imported on demand: the strimzi one pulls in the kubernetes
    client, which costs a second of start-up that a local target need not pay."""
    target = require_target(config)
    if target.kind == "local":
        from migrator.platforms.target.local import LocalTarget

        return LocalTarget.from_config(config)
    from migrator.platforms.target.strimzi import StrimziTarget

    return StrimziTarget.from_config(config)
