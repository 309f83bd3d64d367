"""Fixtures for tests against the real Kubernetes rig (kube-apiserver + etcd, migrator/sandbox/kube.py).

Without Go or etcd the k8s tests skip and say how to enable them; with CI set they fail instead,
because CI must build the rig rather than quietly run without it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from migrator.errors import BadInput
from migrator.sandbox.kube import KubeRig
from migrator.sandbox.kube_binaries import (
    KubeBinaries,
    ensure_binaries,
    is_apiserver_cached,
    kubernetes_version,
)
from tests.upstream import missing

_BINARIES = pytest.StashKey["KubeBinaries | BadInput"]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The first build takes many minutes; done here, not in the fixture, because pytest-timeout
    # counts fixture set-up against the first test that uses it.
    if _BINARIES in config.stash or not any(item.get_closest_marker("k8s") for item in items):
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and not is_apiserver_cached():
        reporter.write_line(
            f"building kube-apiserver {kubernetes_version()} for the k8s tests (first run only; many minutes "
            "on 2 cores; `python -m migrator.sandbox.kube_binaries` does the same ahead of time)"
        )
    config.stash[_BINARIES] = _prepare()


def _prepare() -> KubeBinaries | BadInput:
    try:
        return ensure_binaries()
    except BadInput as error:
        return error


def rig_binaries(config: pytest.Config) -> KubeBinaries:
    """The rig's binaries, or skip (fail when CI is set) saying how to get them."""
    if _BINARIES not in config.stash:  # a run that selected no k8s-marked test but uses the fixture
        config.stash[_BINARIES] = _prepare()
    binaries = config.stash[_BINARIES]
    if isinstance(binaries, BadInput):
        missing(f"Kubernetes rig unavailable (the k8s tests need it): {binaries}")
    return binaries


@pytest.fixture(scope="session")
def kube_rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeRig]:
    """One kube-apiserver + etcd with Strimzi's CRDs and RBAC for the whole session. Tests share it:
    use namespaces and names of your own, and do not rely on deleting namespaces."""
    rig = KubeRig(tmp_path_factory.mktemp("kube-rig"), binaries=rig_binaries(request.config))
    rig.up()
    try:
        yield rig
    finally:
        rig.down()
