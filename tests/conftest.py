"""Fixtures for tests against the real local Kafka sandbox (migrator/sandbox/cluster.py).

`sandbox`         one shared 3-broker cluster (ids 0, 1, 2, racks a, b, c) for the whole session; tests
                  must not break it, and create uniquely-named topics of their own.
`sandbox_factory` builds private clusters for destructive tests, torn down after the test:
                  `sandbox_factory()` (3 brokers) or `sandbox_factory(brokers=[BrokerSpec(...)], chroot=...)`.

Tests that use either carry `@pytest.mark.cluster` (checked at collection). The jars are fetched at
collection time when such a test is selected, because pytest-timeout would count a first download
against the first test that needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from typing import Any

import os

import pytest
from hypothesis import settings

from migrator.errors import BadInput
from migrator.platforms.local_sandbox import provide_sandbox
from migrator.sandbox import jars
from migrator.sandbox.cluster import DEFAULT_BROKERS, BrokerSpec, SandboxCluster
from migrator.sandbox.hooks import HOOKS

# The tests load the sandbox, so they hand it to the local platforms as the CLI does.
provide_sandbox(HOOKS)

# Property tests judge correctness, never speed: no per-example deadline on a loaded 2-core machine,
# and in CI a fixed seed so that a run is reproducible from its log.
settings.register_profile("migrator", deadline=None, print_blob=True, derandomize=bool(os.environ.get("CI")))
settings.load_profile("migrator")

_SANDBOX_FIXTURES = frozenset({"sandbox", "sandbox_factory"})
_JARS = pytest.StashKey["BadInput | None"]()


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    unmarked = [
        item.nodeid
        for item in items
        if _SANDBOX_FIXTURES & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker("cluster")
    ]
    if unmarked:
        raise pytest.UsageError(
            "These tests use the Kafka sandbox but are not marked @pytest.mark.cluster, so `-m 'not cluster'` "
            "would still start JVMs for them: " + ", ".join(unmarked)
        )
    result = yield  # deselection by -m happens in here: fetch jars only if a selected test needs them
    if any(_SANDBOX_FIXTURES & set(getattr(item, "fixturenames", ())) for item in items):
        if not jars.is_cached():
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"fetching Apache Kafka {jars.KAFKA_VERSION} jars with Maven (first run only)")
        try:
            jars.ensure_jars()
            config.stash[_JARS] = None
        except BadInput as error:  # reported by every sandbox test rather than aborting unit tests
            config.stash[_JARS] = error
    return result


def _require_jars(config: pytest.Config) -> None:
    error = config.stash.get(_JARS, None)
    if error is not None:
        raise error


@pytest.fixture(scope="session")
def sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxCluster]:
    _require_jars(request.config)
    cluster = SandboxCluster(tmp_path_factory.mktemp("sandbox"), DEFAULT_BROKERS)
    cluster.up()
    try:
        yield cluster
    finally:
        cluster.down()


@pytest.fixture
def sandbox_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., SandboxCluster]]:
    _require_jars(request.config)
    with ExitStack() as teardown:  # stops every cluster even if stopping one of them fails

        def make(
            brokers: Sequence[BrokerSpec] = DEFAULT_BROKERS, chroot: str = "/kafka", **options: Any
        ) -> SandboxCluster:
            cluster = SandboxCluster(tmp_path_factory.mktemp("sandbox-private"), brokers, chroot, **options)
            teardown.callback(cluster.down)
            return cluster.up()

        yield make
