"""The broker-ID shift's decisions, without a cluster: whether the phase is needed (and what skipping it
saves), the shift it plans and the inputs it refuses, the move plan, the facade targets, the entry gate
and the dry-run plan of every step. Runs against the real sandbox are in tests/cluster/."""

from __future__ import annotations

from typing import Any

import pytest

from migrator.cluster.model import Broker, Inventory, PartitionState, Reassignment, Topic
from migrator.config import MigrationConfig
from migrator.dns.config import DnsConfig
from migrator.engine.events import EventBus
from migrator.engine.step import StepContext
from migrator.errors import BadInput
from migrator.movers.settings import MovementConfig
from migrator.platforms.source.base import PlatformSettings
from migrator.platforms.source.config import ManualPlatformConfig
from migrator.platforms.source.manual import ManualPlatform
from migrator.platforms.model import Host, HostState
from migrator.platforms.properties import PropertiesTemplate
from migrator.platforms.registration import Registrations
from phases import PHASES, phase_names
from migrator.engine.checkpoint import Checkpoint, LocalFileStore, PhaseRecord, StepStatus
from migrator.engine.machine import Machine
from phases.broker_id_shift import HOSTS, SHIFT, ShiftResources, build
from phases.broker_id_shift.plan import (
    ShiftPlan,
    check_bootstrap,
    facade_targets,
    move_plan,
    movement_settings,
    plan_shift,
    skip_reason,
    target_ids,
)
from migrator.dns.steps import DnsFacadeResources

RACKS = {0: "a", 1: "b", 2: "c"}
CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qg"
MB = 1_000_000


def _config(**sections: Any) -> MigrationConfig:
    return MigrationConfig.model_validate(
        {
            "migration_id": "shift",
            "cluster": {
                "zookeeper_connect": "zk1:2181/kafka",
                "bootstrap_servers": "kafka-bootstrap.example.com:9092",
                "cluster_id": CLUSTER_ID,
            },
            **sections,
        }
    )


def _target(node_ids: str, replicas: int = 3) -> dict[str, Any]:
    return {
        "kind": "strimzi",
        "cluster_name": "events",
        "replicas": replicas,
        "node_ids": node_ids,
        "shared_listener": {"name": "shared", "port": 9094},
        "operator": {"forked_image": "registry.example.com/strimzi/operator:0.45.2-mixed-zk"},
    }


def _inventory(
    racks: dict[int, str | None] = RACKS,
    assignments: dict[str, list[list[int]]] | None = None,
    *,
    down: set[int] = frozenset(),
    reassignments: tuple[Reassignment, ...] = (),
    isr_short: bool = False,
) -> Inventory:
    """Brokers `racks` (minus `down`) and topics whose partitions hold (p + 1) MB per replica."""
    assignments = assignments or {"orders": [[0, 1, 2], [1, 2, 0], [2, 0, 1]], "audit": [[2, 1, 0]]}
    brokers = {
        b: Broker(b, rack, f"kafka{b}.prod.example.com", 9092, [f"PLAINTEXT://kafka{b}.prod.example.com:9092"])
        for b, rack in racks.items()
        if b not in down
    }
    topics = {}
    for name, partitions in assignments.items():
        states = {}
        for p, replicas in enumerate(partitions):
            live = [b for b in replicas if b not in down]
            isr = live[:1] if isr_short else live
            states[p] = PartitionState(name, p, replicas, isr, live[0], size_bytes={b: (p + 1) * MB for b in live})
        topics[name] = Topic(name, states)
    return Inventory(CLUSTER_ID, 0, brokers, topics, list(reassignments), default_min_insync_replicas=1)


class _Platform(ManualPlatform):
    """The manual platform (pure until it provisions), so the gate's platform preflight is real."""

    def __init__(self) -> None:
        super().__init__(
            PlatformSettings(Registrations("zk1:2181/kafka", CLUSTER_ID), PropertiesTemplate("zk1:2181/kafka", {"log.dirs": "/data"})),
            ManualPlatformConfig(host_pattern="kafka{id}.prod.example.com"),
        )


def _resources(config: MigrationConfig, inventory: Inventory) -> ShiftResources:
    return ShiftResources(config, platform=_Platform(), inventory=lambda: inventory)


def _ctx(config: MigrationConfig, state: dict[str, Any] | None = None) -> StepContext:
    return StepContext(config=config, state=state or {}, events=EventBus())


# ------------------------------------------------------------------------------- needed at all?


def test_without_a_target_section_strimzi_numbers_from_zero_onto_the_source_brokers() -> None:
    config = _config()
    assert target_ids(config, 3).ids == (0, 1, 2)
    assert skip_reason(config, _inventory()) is None


def test_a_target_range_clear_of_every_broker_skips_the_phase_and_says_what_it_saves() -> None:
    inventory = _inventory()
    reason = skip_reason(_config(target=_target("[1000-1999]")), inventory)
    assert reason is not None
    assert "1000, 1001, 1002" in reason and "0, 1, 2" in reason
    # orders: 1+2+3 MB on each of 3 replicas, audit: 1 MB on 3 replicas.
    assert "21.0 MB (12 replicas)" in reason


def test_only_the_ids_strimzi_will_hand_out_count() -> None:
    # The range starts with a free id; a pool of one never reaches the colliding 0-2.
    assert skip_reason(_config(target=_target("[5, 0-2]", replicas=1)), _inventory()) is not None
    assert skip_reason(_config(target=_target("[5, 0-2]", replicas=2)), _inventory()) is None


def test_a_broker_that_is_down_still_owns_its_id() -> None:
    inventory = _inventory({0: "a", 1: "b", 2: "c", 7: "c"}, {"t": [[0, 1, 7]]}, down={7})
    assert skip_reason(_config(target=_target("[5-9]")), inventory) is None


# ---------------------------------------------------------------------------------------- the shift


def test_every_broker_moves_up_by_the_offset_keeping_its_rack() -> None:
    shift = plan_shift(_config(broker_id_shift={"id_offset": 100}), _inventory())
    assert shift.mapping == {0: 100, 1: 101, 2: 102}
    assert [(b.id, b.rack) for b in shift.new_brokers()] == [(100, "a"), (101, "b"), (102, "c")]
    assert shift.addresses[1] == "kafka1.prod.example.com:9092"
    assert ShiftPlan.from_json(shift.to_json()) == shift


@pytest.mark.parametrize(
    ("racks", "sections", "needle"),
    [
        ({0: "a", 1: "b", 100: "c"}, {}, "100 already belong to brokers of the cluster"),
        (RACKS, {"target": _target("[100-199]")}, "are IDs the target will use"),
        (RACKS, {"broker_id_shift": {"id_offset": 1000}}, "exceed reserved.broker.max.id (1000)"),
    ],
)
def test_new_ids_that_cannot_work_are_refused_before_anything_changes(racks, sections, needle) -> None:
    with pytest.raises(BadInput) as refused:
        plan_shift(_config(**sections), _inventory(racks, {"t": [list(racks)]}))
    assert needle in str(refused.value) and "Nothing was changed" in str(refused.value)


def test_a_raised_reserved_broker_max_id_allows_high_ids() -> None:
    config = _config(
        broker_id_shift={"id_offset": 1000},
        source_platform={"kind": "manual", "server_properties": {"listeners": "PLAINTEXT://:9092", "log.dirs": "/d", "reserved.broker.max.id": 2000}},
    )
    assert plan_shift(config, _inventory()).new_ids == [1000, 1001, 1002]


def test_a_source_broker_that_is_down_stops_the_shift() -> None:
    with pytest.raises(BadInput, match="start them again"):
        plan_shift(_config(), _inventory(down={2}))


def test_the_bootstrap_list_must_survive_the_retirement() -> None:
    shift = plan_shift(_config(), _inventory())
    old_only = _config().model_copy(deep=True)
    old_only.cluster.bootstrap_servers = "kafka0.prod.example.com:9092,kafka2.prod.example.com:9092"
    with pytest.raises(BadInput, match="names only brokers this phase retires"):
        check_bootstrap(old_only, shift)
    check_bootstrap(_config(), shift)  # the facade name stays


def test_the_move_plan_sends_each_replica_once_to_its_mapped_broker_in_the_same_position() -> None:
    inventory = _inventory()
    shift = plan_shift(_config(), inventory)
    plan = move_plan(inventory, shift, MovementConfig(max_moves_per_broker=2))
    targets = {(m.topic, m.partition): m.target for m in plan.moves}
    assert targets == {
        ("orders", 0): (100, 101, 102),
        ("orders", 1): (101, 102, 100),
        ("orders", 2): (102, 100, 101),
        ("audit", 0): (102, 101, 100),
    }
    assert plan.summary.replicas == 12 and plan.summary.total_bytes == 21 * MB
    assert plan.summary.batches == 2  # every move touches every broker; two per broker at once


def test_the_phase_movement_section_wins_over_the_migration_one() -> None:
    assert movement_settings(_config()) == MovementConfig()
    assert movement_settings(_config(movement={"max_moves_per_broker": 2})).max_moves_per_broker == 2
    both = _config(movement={"max_moves_per_broker": 2}, broker_id_shift={"movement": {"max_moves_per_broker": 1}})
    assert movement_settings(both).max_moves_per_broker == 1


def test_old_and_new_names_lead_to_the_new_brokers() -> None:
    dns = DnsConfig.model_validate(
        {"provider": "rfc2136", "zone": "kafka.example.com", "rfc2136": {"primary": "ns1:53", "tsig": {"name": "k", "secret": {"env": "X"}}}}
    )
    hosts = {100: "10.0.0.100", 101: "10.0.0.101"}
    assert facade_targets(dns, {0: 100, 1: 101}, hosts) == {
        "kafka-100.kafka.example.com.": ["10.0.0.100"],
        "kafka-0.kafka.example.com.": ["10.0.0.100"],
        "kafka-101.kafka.example.com.": ["10.0.0.101"],
        "kafka-1.kafka.example.com.": ["10.0.0.101"],
        "kafka-bootstrap.kafka.example.com.": ["10.0.0.100", "10.0.0.101"],
    }


# ------------------------------------------------------------------------------------ the phase


def test_the_phase_is_registered_after_the_dns_facade_with_its_steps_in_runbook_order() -> None:
    assert phase_names().index("broker-id-shift") == phase_names().index("dns-facade") + 1
    assert PHASES["broker-id-shift"] == "phases.broker_id_shift"
    config = _config()
    phase = build(config, _resources(config, _inventory()))
    assert [s.name for s in phase.steps] == [
        "provision-new-brokers",
        "move-replicas",
        "elect-leaders",
        "repoint-facade",
        "retire-old-brokers",
    ]
    assert phase.irreversible_steps == [] and phase.skip_when(_ctx(config)) is None


def test_a_phase_that_has_begun_is_not_skipped_whatever_the_cluster_looks_like_now(tmp_path) -> None:
    config = _config(target=_target("[1000-1999]"))
    phase = build(config, _resources(config, _inventory()))
    store = LocalFileStore(tmp_path)
    machine = Machine(store, config.migration_id)
    assert "collide with no existing broker" in machine.plan(phase, _ctx(config)).skip_reason
    checkpoint = Checkpoint(migration_id=config.migration_id)
    record = checkpoint.phases.setdefault("broker-id-shift", PhaseRecord(name="broker-id-shift"))
    record.sync_steps([s.name for s in phase.steps])
    record.step("provision-new-brokers").status = StepStatus.DONE
    store.save(checkpoint, expected_version=None)
    assert machine.plan(phase, _ctx(config)).skip_reason is None


def test_the_dry_run_plans_every_step_before_a_broker_exists() -> None:
    config = _config()
    phase = build(config, _resources(config, _inventory()))
    ctx = _ctx(config)
    plans = {s.name: s.plan(ctx) for s in phase.steps}
    assert [(a.verb, a.target, a.detail["replaces"], a.detail["rack"]) for a in plans["provision-new-brokers"]] == [
        ("provision", "broker 100", 0, "a"),
        ("provision", "broker 101", 1, "b"),
        ("provision", "broker 102", 2, "c"),
    ]
    assert sum(a.detail["partitions"] for a in plans["move-replicas"]) == 4
    assert plans["elect-leaders"][0].detail["partitions"] == 4
    assert plans["repoint-facade"][0].verb == "none" and "no dns: section" in plans["repoint-facade"][0].detail["reason"]
    assert [a.target for a in plans["retire-old-brokers"]] == ["broker 0", "broker 1", "broker 2"]
    assert ctx.state == {}  # a plan records nothing


def test_with_a_facade_the_dry_run_names_every_record_it_will_move() -> None:
    config = _config(
        dns={"provider": "rfc2136", "zone": "kafka.example.com", "rfc2136": {"primary": "ns1:53", "tsig": {"name": "k", "secret": {"env": "X"}}}}
    )
    resources = _resources(config, _inventory())
    phase = build(config, resources, DnsFacadeResources(config, inventory=lambda: []))
    actions = phase.step("repoint-facade").plan(_ctx(config))
    assert [a.target for a in actions] == [
        "kafka-100.kafka.example.com.",
        "kafka-0.kafka.example.com.",
        "kafka-101.kafka.example.com.",
        "kafka-1.kafka.example.com.",
        "kafka-102.kafka.example.com.",
        "kafka-2.kafka.example.com.",
        "kafka-bootstrap.kafka.example.com.",
    ]
    # Once the new brokers registered, their recorded hosts make the targets concrete.
    shift = plan_shift(config, _inventory())
    state = {SHIFT: shift.to_json(), HOSTS: {"100": "h100", "101": "h101", "102": "h102"}}
    step = phase.step("repoint-facade")
    assert step.targets(_ctx(config, state))["kafka-bootstrap.kafka.example.com."] == ["h100", "h101", "h102"]


def test_the_gate_refuses_a_reassignment_someone_else_started_as_bad_input() -> None:
    config = _config()
    theirs = Reassignment("orders", 1, (1, 2, 0, 5), adding=(5,), removing=(1,))
    with pytest.raises(BadInput) as refused:
        _resources(config, _inventory(reassignments=(theirs,))).shift_ready(_ctx(config))
    message = str(refused.value)
    assert refused.value.exit_code == 2
    assert "orders-1 -> [2, 0, 5]" in message and "--list" in message and "nothing was changed" in message


def test_the_gate_pauses_on_an_unhealthy_cluster_and_passes_a_healthy_one() -> None:
    config = _config()
    assert _resources(config, _inventory()).shift_ready(_ctx(config)).done
    verdict = _resources(config, _inventory(isr_short=True)).shift_ready(_ctx(config))
    assert not verdict.done and "under-replicated" in verdict.reason


class _NoHosts(_Platform):
    """A platform that can see hosts and finds none for the source brokers (ec2 without existing_instances)."""

    def hosts(self, broker_ids):
        return {b: Host(HostState.ABSENT) for b in broker_ids}


def test_the_gate_refuses_source_brokers_the_platform_could_not_retire() -> None:
    config = _config()
    resources = ShiftResources(config, platform=_NoHosts(), inventory=lambda: _inventory())
    with pytest.raises(BadInput, match="knows no host of source broker.s. 0, 1, 2.*existing_instances"):
        resources.shift_ready(_ctx(config))
