"""The local platform on a real sandbox: it finds the sandbox from its folder, as the CLI (another
process) does, and its brokers must really join the cluster and really leave it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kazoo.client import KazooClient

from migrator.config import load_config
from migrator.errors import BadInput
from migrator.platforms.source.factory import source_platform
from migrator.platforms.source.local import LocalPlatform
from migrator.platforms.model import HostState, NewBroker, Outcome
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster(sandbox_factory: Callable[..., SandboxCluster]) -> Iterator[SandboxCluster]:
    """A private 2-broker cluster. Brokers the platform adds are recorded only in sandbox.json, so
    the cluster is stopped from there too, before the factory's own teardown."""
    private = sandbox_factory(brokers=[BrokerSpec(0, "a"), BrokerSpec(1, "b")])
    try:
        yield private
    finally:
        SandboxCluster.load(private.workdir).down(grace=20)


def _platform(cluster: SandboxCluster, tmp_path: Path) -> LocalPlatform:
    path = cluster.write_migration_config(tmp_path / "migration.yaml")
    raw = yaml.safe_load(path.read_text())
    raw["source_platform"] = {"kind": "local", "local": {"sandbox_dir": str(cluster.workdir)}}
    path.write_text(yaml.safe_dump(raw))
    platform = source_platform(load_config(path))
    assert isinstance(platform, LocalPlatform)
    return platform


def _registration(cluster: SandboxCluster, broker_id: int) -> dict[str, object] | None:
    zk = KazooClient(hosts=cluster.zookeeper_hosts)
    zk.start(timeout=10)
    try:
        path = f"{cluster.chroot}/brokers/ids/{broker_id}"
        return json.loads(zk.get(path)[0]) if zk.exists(path) else None
    finally:
        zk.stop()
        zk.close()


def test_provision_joins_the_cluster_and_retire_leaves_it(cluster: SandboxCluster, tmp_path: Path) -> None:
    platform = _platform(cluster, tmp_path)
    broker = NewBroker(100, "a")
    assert platform.check_registered([broker]).gave_up  # no host yet: nothing would ever register

    [record] = platform.provision([broker])
    assert record.outcome is Outcome.LAUNCHED
    assert platform.check_registered([broker]).done
    registration = _registration(cluster, 100)
    assert registration is not None and registration["rack"] == "a"
    # The broker took the cluster id from /cluster/id under our chroot: the same cluster, not a new one.
    meta = (cluster.workdir / "broker-100" / "data" / "meta.properties").read_text()
    assert f"cluster.id={cluster.cluster_id}" in meta.splitlines()
    [status] = platform.describe([100])
    assert status.host.state is HostState.RUNNING and status.registration is not None
    assert status.registration.rack == "a" and status.host.address == record.address

    [again] = platform.provision([broker])  # idempotent: the running broker is reused
    assert (again.outcome, again.handle) == (Outcome.REUSED, record.handle)

    assert platform.check_retired([100]).waiting
    platform.retire([100])
    assert _registration(cluster, 100) is None
    assert platform.check_retired([100]).done
    assert platform.describe([100])[0].host.state is HostState.STOPPED
    platform.retire([100])  # idempotent
    assert _registration(cluster, 0) is not None and _registration(cluster, 1) is not None  # others untouched

    # A rollback provisions the id again: the stopped broker starts with its data, still in this cluster.
    [restarted] = platform.provision([broker])
    assert restarted.outcome is Outcome.STARTED
    platform.wait_registered([broker])
    assert _registration(cluster, 100)["rack"] == "a"  # type: ignore[index]


def test_a_wrong_rack_for_an_existing_broker_is_bad_input(cluster: SandboxCluster, tmp_path: Path) -> None:
    platform = _platform(cluster, tmp_path)
    with pytest.raises(BadInput, match="already exists with rack 'a'"):
        platform.provision([NewBroker(0, "b")])
    assert _registration(cluster, 0)["rack"] == "a"  # type: ignore[index]
