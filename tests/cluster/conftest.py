"""Fixtures the Cruise Control tests share.

`private`: one 3-broker cluster of the module's own. Cruise Control's remove_broker drains EVERY
partition of a broker, internal topics included, so on the session's shared sandbox a proposal would
depend on what other tests left there (an RF-3 `__consumer_offsets` makes any drain of a 3-broker
cluster infeasible): these modules get a cluster no other module touches.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from migrator.config import MigrationConfig, load_config
from migrator.sandbox import jars
from migrator.sandbox.cluster import DEFAULT_BROKERS, SandboxCluster


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxCluster, MigrationConfig]]:
    jars.ensure_jars()
    cluster = SandboxCluster(tmp_path_factory.mktemp("cc-private"), DEFAULT_BROKERS, "/kafka")
    cluster.up()
    try:
        yield cluster, load_config(cluster.write_migration_config(tmp_path_factory.mktemp("cc-mover") / "migration.yaml"))
    finally:
        cluster.down()
