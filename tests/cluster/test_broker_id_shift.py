"""The broker-ID shift on a real cluster holding ~200 MB, under continuous produce/consume load: brokers
0, 1, 2 (racks a, b, c) become 100, 101, 102, then the whole phase is rolled back. One cluster serves
the three tests, each starting where the one before left it, so they run in file order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka.admin import AdminClient

from migrator.config import MigrationConfig, load_config
from migrator.engine.events import Event
from migrator.sandbox import jars
from migrator.sandbox.cluster import DEFAULT_BROKERS, SandboxCluster
from migrator.sandbox.dns_server import DnsServer
from migrator.sandbox.workload import Workload
from migrator.session import Session
from tests.cluster.broker_id_shift_support import (
    OFFSET,
    WORKLOAD_CLIENT,
    PartitionKey,
    Znodes,
    end_offsets,
    facade,
    fill,
    settle_earlier_phases,
    stop_everything,
    unique,
    wait_for,
    write_config,
)
from tests.dns_fixtures import ZONE

pytestmark = pytest.mark.cluster

PHASE = "broker-id-shift"
OLD = {0: "a", 1: "b", 2: "c"}
NEW = {b + OFFSET: rack for b, rack in OLD.items()}
#: (topic, partitions, MB, compacted): about 200 MB of data, RF 3.
DATA = [("bulk-a", 6, 80, False), ("bulk-b", 6, 60, False), ("bulk-c", 3, 40, False), ("profiles", 3, 20, True)]


@dataclass
class World:
    cluster: SandboxCluster
    dns: DnsServer
    config: MigrationConfig
    topics: list[str]
    workload_topic: str
    original: dict[PartitionKey, list[int]]
    offsets: dict[PartitionKey, int]

    def session(self) -> tuple[Session, list[Event]]:
        session = Session.open(self.config)
        events: list[Event] = []
        session.events.subscribe(events.append)
        return session, events

    def workload(self) -> Workload:
        """Clients bootstrap through the facade name, resolved at BIND before every (re)connect."""
        port = self.cluster.broker_port
        bootstrap = self.config.dns.bootstrap_fqdn
        return Workload(
            lambda: ",".join(facade(self.dns, port, bootstrap)),
            topic=self.workload_topic,
            rate_per_s=150,
            keys=8,
            client_config=WORKLOAD_CLIENT,
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A cluster of the module's own (sandbox_factory builds one per test, and 200 MB are worth producing
    once), its DNS server, the data, and the earlier phases done."""
    jars.ensure_jars()
    home = tmp_path_factory.mktemp("broker-id-shift")
    cluster = SandboxCluster(home / "sandbox", DEFAULT_BROKERS)
    dns = DnsServer(home / "ns1", ZONE)
    try:
        cluster.up()
        dns.up()
        topics = [f"{name}-{unique('t')}" for name, *_ in DATA]
        for topic, (_, partitions, mb, compacted) in zip(topics, DATA):
            fill(cluster, topic, partitions, mb, compacted=compacted)
        config_path = write_config(
            cluster, dns, home, "shift-under-load", throttle_bytes_per_second=200_000_000, poll_interval_seconds=0.5
        )
        settle_earlier_phases(config_path)
        shared = World(cluster, dns, load_config(config_path), topics, unique("canary"), {}, {})
        # The clients ran before the shift: their topic and the group offsets topic exist already.
        with shared.workload():
            time.sleep(3)
        with Znodes(cluster) as zk:
            shared.original = zk.assignment_with_group_offsets()
        shared.offsets = end_offsets(cluster, cluster.bootstrap_servers, topics)
        yield shared
    finally:
        try:
            stop_everything(cluster)
        finally:
            dns.down()


def _assert_no_throttle_left(zk: Znodes) -> None:
    assert zk.throttles() == {}


def test_the_plan_shows_the_shift_and_changes_nothing(world: World) -> None:
    session, _ = world.session()
    plan = session.machine.plan(session.phase(PHASE), session.context())
    assert plan.skip_reason is None and plan.point_of_no_return is None
    steps = {s.name: s for s in plan.steps}
    assert [a.target for a in steps["provision-new-brokers"].actions] == ["broker 100", "broker 101", "broker 102"]
    moved = sum(a.detail["partitions"] for a in steps["move-replicas"].actions)
    assert moved == len(world.original)  # RF 3 on 3 brokers: every partition has a replica to move
    assert sum(a.detail["bytes"] for a in steps["move-replicas"].actions) > 3 * 190_000_000
    with Znodes(world.cluster) as zk:
        assert sorted(zk.brokers()) == sorted(OLD)


def test_the_shift_under_load_moves_every_replica_once_and_retires_the_old_brokers(world: World) -> None:
    session, events = world.session()
    with world.workload() as load:
        record = session.machine.run(session.phase(PHASE), session.context())
    report = load.report

    assert record.status.value == "done", record.error
    assert report is not None and report.zero_loss, report.progress_line()
    assert report.acknowledged > 0 and report.failed == 0
    with Znodes(world.cluster) as zk:
        assert zk.brokers() == NEW  # the old ones are gone from /brokers/ids, racks are kept
        after = zk.assignment()
        # 1:1: every replica went to its mapped broker, in the same position (racks and preferred leaders kept).
        assert after == {key: [b + OFFSET for b in replicas] for key, replicas in world.original.items()}
        assert all(leader == after[key][0] for key, leader in zk.leaders().items())
        _assert_no_throttle_left(zk)
        # The controller ran on an old broker (they started first): it was moved off before retiring it.
        assert zk.controller() in NEW
        elections = [e.data["controller"] for e in events if e.kind == "shift.controller_election"]
        assert elections and set(elections) <= set(OLD)
    batches_started = [e.data for e in events if e.kind == "mover.batch_started"]
    assert len(batches_started) == record.state["move_plan"]["summary"]["batches"] > 1
    assert end_offsets(world.cluster, world.config.cluster.bootstrap_servers, world.topics) == world.offsets

    port, dns = world.cluster.broker_port, world.config.dns
    loaded = SandboxCluster.load(world.cluster.workdir)
    new_hosts = {b: loaded.brokers[b].address for b in NEW}
    assert facade(world.dns, port, dns.bootstrap_fqdn) == sorted(new_hosts.values())
    for old in OLD:
        assert facade(world.dns, port, dns.broker_name(old)) == [new_hosts[old + OFFSET]]
        assert facade(world.dns, port, dns.broker_name(old + OFFSET)) == [new_hosts[old + OFFSET]]
    # A client that bootstraps through the facade now meets only the new brokers.
    bootstrap = ",".join(facade(world.dns, port, dns.bootstrap_fqdn))
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=20)
    assert sorted(metadata.brokers) == sorted(NEW)


def test_rolling_the_phase_back_puts_the_data_back_on_the_original_brokers(world: World) -> None:
    session, _ = world.session()
    with world.workload() as load:
        record = session.machine.rollback(session.phase(PHASE), session.context())
    report = load.report

    assert record.status.value == "rolled_back", record.error
    assert report is not None and report.zero_loss, report.progress_line()
    with Znodes(world.cluster) as zk:
        assert zk.brokers() == OLD
        assert zk.assignment() == world.original  # same brokers, same order
        wait_for(lambda: all(leader == world.original[k][0] for k, leader in zk.leaders().items()), "preferred leaders")
        _assert_no_throttle_left(zk)
        assert zk.controller() in OLD
    assert end_offsets(world.cluster, world.config.cluster.bootstrap_servers, world.topics) == world.offsets
    port, dns = world.cluster.broker_port, world.config.dns
    loaded = SandboxCluster.load(world.cluster.workdir)
    old_hosts = sorted(loaded.brokers[b].address for b in OLD)
    assert facade(world.dns, port, dns.bootstrap_fqdn) == old_hosts
    assert facade(world.dns, port, dns.broker_name(0)) == [loaded.brokers[0].address]
    assert facade(world.dns, port, dns.broker_name(100)) == []
