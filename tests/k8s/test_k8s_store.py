"""The Kubernetes checkpoint store against the real API server: the same behaviour as the local file
store (the contract tests run against both), compare-and-swap on resourceVersion, the Lease lock with
its renewal and stale-lock rules, the journal's segments, and the machine running on top of it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s

from migrator.config import MigrationConfig
from migrator.engine.checkpoint import (
    NEW,
    Checkpoint,
    CheckpointConflict,
    CheckpointStore,
    JournalEntry,
    LocalFileStore,
    PauseRequest,
    PhaseRecord,
    PhaseStatus,
    StepRecord,
    StepStatus,
    utcnow,
)
from migrator.k8s_checkpoint.lease import HOLDER_ANNOTATION, LockLost, micro_time
from migrator.k8s_checkpoint.store import COMPRESSED_KEY, KubernetesStore
from migrator.engine.lock import BREAK_STALE_FLAG, LockInfo
from migrator.engine.machine import Machine
from migrator.engine.phase import Phase
from migrator.errors import BadInput
from migrator.sandbox.kube import KubeRig
from migrator.checkpoint_store import open_store
from migrator.session import Session
from tests.unit.engine_fakes import Crasher, FakeSystem, KeyStep, SimulatedCrash, context_with_events

pytestmark = pytest.mark.k8s

REPO = Path(__file__).resolve().parents[2]
MIGRATION = "mig-1"


def fresh_namespace(rig: KubeRig) -> str:
    name = f"ckpt-{uuid.uuid4().hex[:10]}"
    with rig.api_client() as api:
        k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return name


class Stores:
    """Builds stores (each with its own API client, as separate processes would have) and closes them."""

    def __init__(self, make: Callable[[], CheckpointStore]) -> None:
        self._make = make
        self.made: list[CheckpointStore] = []

    def __call__(self) -> CheckpointStore:
        store = self._make()
        self.made.append(store)
        return store

    def close(self) -> None:
        for store in self.made:
            store.unlock()  # stops a renewal thread a failed test left running


@pytest.fixture
def admin(kube_rig: KubeRig) -> Iterator[k8s.ApiClient]:
    with kube_rig.api_client() as api:
        yield api


@pytest.fixture
def namespace(kube_rig: KubeRig) -> str:
    return fresh_namespace(kube_rig)


@pytest.fixture
def k8s_stores(kube_rig: KubeRig, namespace: str) -> Iterator[Callable[..., KubernetesStore]]:
    made: list[KubernetesStore] = []

    def make(**options: object) -> KubernetesStore:
        store = KubernetesStore(kube_rig.api_client(), namespace, MIGRATION, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.unlock()


@pytest.fixture(params=["local", "kubernetes"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    """The contract fixture: the same tests run against the local file store and the Kubernetes store."""
    if request.param == "local":
        made = Stores(lambda: LocalFileStore(tmp_path / "checkpoint"))
    else:
        rig: KubeRig = request.getfixturevalue("kube_rig")
        namespace = fresh_namespace(rig)
        made = Stores(lambda: KubernetesStore(rig.api_client(), namespace, MIGRATION))
    yield made
    made.close()


def checkpoint_with_one_step(status: StepStatus = StepStatus.PENDING) -> Checkpoint:
    record = PhaseRecord(name="demo", steps=[StepRecord(name="only", status=status)])
    return Checkpoint(migration_id=MIGRATION, phases={"demo": record})


# ------------------------------------------------------------------- contract (both stores)


def test_contract_save_and_load_round_trip_with_a_new_version_each_time(stores: Stores) -> None:
    store = stores()
    assert store.load() is None
    checkpoint = checkpoint_with_one_step()
    checkpoint.phases["demo"].state = {"inventory": {"brokers": [0, 1, 2]}}
    first = store.save(checkpoint, expected_version=NEW)
    second = store.save(checkpoint, expected_version=first)

    loaded = stores().load()
    assert first != second and loaded.version == second
    assert loaded.checkpoint == checkpoint and loaded.checkpoint.revision == 2


def test_contract_save_is_a_compare_and_swap(stores: Stores) -> None:
    store = stores()
    checkpoint = checkpoint_with_one_step()
    first = store.save(checkpoint, expected_version=NEW)
    second = store.save(checkpoint, expected_version=first)
    checkpoint.phases["demo"].steps[0].status = StepStatus.APPLYING

    with pytest.raises(CheckpointConflict, match="Nothing was written"):
        store.save(checkpoint, expected_version=first)
    with pytest.raises(CheckpointConflict):
        store.save(checkpoint, expected_version=NEW)
    loaded = store.load()
    assert loaded.version == second and loaded.checkpoint.phases["demo"].steps[0].status is StepStatus.PENDING
    assert store.save(checkpoint, expected_version=None) != second  # None skips the check
    assert store.load().checkpoint.phases["demo"].steps[0].status is StepStatus.APPLYING


def test_contract_the_journal_keeps_every_entry_in_order_with_who_and_when(stores: Stores) -> None:
    store = stores()
    assert store.read_journal() == []
    moves = [("pending", "applying"), ("applying", "applied"), ("applied", "done")]
    for before, after in moves:
        store.append_journal(JournalEntry.now("step", phase="demo", step="only", from_status=before, to_status=after))

    entries = stores().read_journal()
    assert [(e.from_status, e.to_status) for e in entries] == moves
    assert all(e.user and e.host and e.pid == os.getpid() and e.at for e in entries)


def test_contract_a_pause_request_is_stored_until_cleared(stores: Stores) -> None:
    store = stores()
    assert store.pause_request() is None
    store.clear_pause()  # nothing to clear is fine
    store.request_pause(PauseRequest.now("change freeze"))
    request = stores().pause_request()
    assert request.reason == "change freeze" and request.user and request.host
    store.clear_pause()
    assert store.pause_request() is None


def test_contract_the_lock_names_its_holder_and_refuses_a_second_one(stores: Stores) -> None:
    first, second = stores(), stores()
    assert first.lock_holder() is None
    mine = first.lock()
    holder = second.lock_holder()
    assert holder == mine and holder.pid == os.getpid() and holder.host == socket.gethostname()

    with pytest.raises(BadInput) as refused:
        second.lock()
    message = str(refused.value)
    assert "held by" in message and f"pid {os.getpid()}" in message and socket.gethostname() in message

    first.unlock()
    assert second.lock_holder() is None
    second.lock()  # free again once the first released it
    second.unlock()


def test_contract_locked_releases_on_any_exit_and_nests(stores: Stores) -> None:
    store = stores()
    with pytest.raises(KeyboardInterrupt):
        with store.locked():
            with store.locked():
                assert store.lock_holder() is not None
            assert store.lock_holder() is not None
            raise KeyboardInterrupt
    assert store.lock_holder() is None


def test_contract_the_machine_runs_crashes_and_resumes_from_the_store(stores: Stores) -> None:
    system = FakeSystem(values={"k0": "before"})
    phase = Phase(
        "demo",
        [
            KeyStep(system, "first", {"k0": "one"}),
            KeyStep(system, "second", {"k1": "two", "k2": "two"}, pending_polls=1, retry_after=0.0),
            KeyStep(system, "third", {"k3": "three"}),
        ],
    )
    system.crasher = Crasher(at=7)  # inside the apply of "second", between its two keys
    ctx, _ = context_with_events()
    with pytest.raises(SimulatedCrash):
        Machine(stores(), MIGRATION, sleep=lambda _: None).run(phase, ctx)

    store = stores()  # a new process: a new client, nothing cached
    crashed = store.load().checkpoint.phases["demo"]
    assert [s.status for s in crashed.steps] == [StepStatus.DONE, StepStatus.APPLYING, StepStatus.PENDING]
    assert store.lock_holder() is None, "the crashed run released its lock on the way out"

    system.crasher = Crasher()
    ctx, events = context_with_events()
    record = Machine(store, MIGRATION, sleep=lambda _: None).run(phase, ctx)

    assert record.status is PhaseStatus.DONE and not record.steps_left()
    assert system.values == {"k0": "one", "k1": "two", "k2": "two", "k3": "three"}
    assert system.applied_after_done == [] and system.count("apply", "first") == 1
    assert ("step.already_done", "first") in [(e.kind, e.step) for e in events]
    assert stores().load().checkpoint.phases["demo"] == record
    steps = [(e.step, e.to_status) for e in store.read_journal() if e.event == "step"]
    assert steps[0] == ("first", "applying") and steps[-1] == ("third", "done")
    assert ("second", "done") in steps


# ------------------------------------------------------------- Kubernetes store specifics


def test_two_writers_one_wins_and_the_other_gets_a_clear_conflict(k8s_stores, admin, namespace) -> None:
    k8s_stores().save(checkpoint_with_one_step(), expected_version=NEW)
    writers = [k8s_stores(), k8s_stores()]
    loaded = [writer.load() for writer in writers]
    assert loaded[0].version == loaded[1].version
    start = threading.Barrier(2)
    outcomes: dict[int, object] = {}

    def write(index: int) -> None:
        checkpoint = loaded[index].checkpoint
        checkpoint.phases["demo"].state = {"writer": index}
        start.wait()
        try:
            outcomes[index] = writers[index].save(checkpoint, expected_version=loaded[index].version)
        except CheckpointConflict as conflict:
            outcomes[index] = conflict

    threads = [threading.Thread(target=write, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    [winner] = [index for index, outcome in outcomes.items() if isinstance(outcome, str)]
    [conflict] = [outcome for outcome in outcomes.values() if isinstance(outcome, CheckpointConflict)]
    message = str(conflict)
    assert f"ConfigMap {namespace}/migrator-{MIGRATION}" in message and "another writer changed it" in message
    assert loaded[winner].version in message and "Nothing was written" in message
    stored = k8s.CoreV1Api(admin).read_namespaced_config_map(f"migrator-{MIGRATION}", namespace)
    assert stored.metadata.resource_version == outcomes[winner]
    assert json.loads(stored.data["checkpoint.json"])["phases"]["demo"]["state"] == {"writer": winner}


def test_a_pause_request_does_not_invalidate_the_running_save(k8s_stores) -> None:
    runner, operator = k8s_stores(), k8s_stores()
    version = runner.save(checkpoint_with_one_step(), expected_version=NEW)
    with runner.locked():
        operator.request_pause(PauseRequest.now("change freeze"))
        runner.save(checkpoint_with_one_step(), expected_version=version)
        assert runner.pause_request().reason == "change freeze"


def test_the_checkpoint_configmap_is_labelled_readable_json(k8s_stores, admin, namespace) -> None:
    k8s_stores().save(checkpoint_with_one_step(), expected_version=NEW)
    stored = k8s.CoreV1Api(admin).read_namespaced_config_map(f"migrator-{MIGRATION}", namespace)
    assert stored.metadata.labels["kafka-k8s-migrator/migration-id"] == MIGRATION
    assert stored.metadata.labels["app.kubernetes.io/component"] == "checkpoint"
    assert json.loads(stored.data["checkpoint.json"])["migration_id"] == MIGRATION


def test_a_checkpoint_too_large_for_text_is_stored_compressed(k8s_stores, admin, namespace) -> None:
    checkpoint = checkpoint_with_one_step()
    # A reassignment plan of 20,000 partitions: about 1.5 MB of JSON, over what a ConfigMap holds.
    plan = [
        {"topic": f"orders-{n // 100}", "partition": n % 100, "replicas": [n % 7, 1000 + n % 5]} for n in range(20_000)
    ]
    checkpoint.phases["demo"].state = {"plan": plan}
    store = k8s_stores()
    version = store.save(checkpoint, expected_version=NEW)

    stored = k8s.CoreV1Api(admin).read_namespaced_config_map(f"migrator-{MIGRATION}", namespace)
    assert stored.data is None and COMPRESSED_KEY in stored.binary_data
    assert len(json.dumps(checkpoint.model_dump(mode="json"))) > 1024 * 1024
    loaded = k8s_stores().load()
    assert loaded.version == version and loaded.checkpoint == checkpoint


def test_a_damaged_checkpoint_is_reported_not_overwritten(k8s_stores, admin, namespace) -> None:
    store = k8s_stores()
    store.save(checkpoint_with_one_step(), expected_version=NEW)
    core = k8s.CoreV1Api(admin)
    core.patch_namespaced_config_map(f"migrator-{MIGRATION}", namespace, {"data": {"checkpoint.json": "{not json"}})
    with pytest.raises(BadInput, match=f"The checkpoint ConfigMap {namespace}/migrator-{MIGRATION} is not valid"):
        store.load()


def test_the_journal_rotates_into_bounded_segments_and_reads_back_in_order(k8s_stores, admin, namespace) -> None:
    segment_bytes = 1000  # three or four lines a segment
    writer = k8s_stores(journal_segment_bytes=segment_bytes)
    for n in range(12):
        writer.append_journal(JournalEntry.now("step", phase="demo", step=f"s{n}", to_status="done"))
    late = k8s_stores(journal_segment_bytes=segment_bytes)  # a new process: finds the tail by itself
    for n in range(12, 15):
        late.append_journal(JournalEntry.now("step", phase="demo", step=f"s{n}", to_status="done"))

    assert [e.step for e in k8s_stores().read_journal()] == [f"s{n}" for n in range(15)]
    core = k8s.CoreV1Api(admin)
    segments = []
    for number in range(1, 100):
        try:
            segments.append(core.read_namespaced_config_map(f"migrator-{MIGRATION}-journal-{number:04d}", namespace))
        except k8s.ApiException as exc:
            assert exc.status == 404
            break
    assert len(segments) >= 3
    for segment in segments:
        assert sum(len(k) + len(v.encode()) for k, v in segment.data.items()) <= segment_bytes
        assert segment.metadata.labels["app.kubernetes.io/component"] == "journal"


# ------------------------------------------------------------------------------- the lock


def lease(admin: k8s.ApiClient, namespace: str) -> k8s.V1Lease:
    return k8s.CoordinationV1Api(admin).read_namespaced_lease(f"migrator-{MIGRATION}", namespace)


def plant_holder(admin: k8s.ApiClient, namespace: str, host: str, renewed_ago: timedelta, pid: int = 4242) -> LockInfo:
    """Make the Lease look held by another process (created if missing), last renewed `renewed_ago`."""
    info = LockInfo(pid=pid, host=host, user="alice", started_at="2026-01-01T00:00:00+00:00", command="migrator run")
    leases = k8s.CoordinationV1Api(admin)
    renewed = micro_time(utcnow() - renewed_ago)
    body = {
        "metadata": {"name": f"migrator-{MIGRATION}", "annotations": {HOLDER_ANNOTATION: json.dumps(info.to_dict())}},
        "spec": {
            "holderIdentity": f"alice@{host} pid {pid} {info.token}",
            "leaseDurationSeconds": 60,
            "acquireTime": renewed,
            "renewTime": renewed,
        },
    }
    try:
        leases.patch_namespaced_lease(f"migrator-{MIGRATION}", namespace, body)
    except k8s.ApiException as exc:
        assert exc.status == 404
        leases.create_namespaced_lease(namespace, body)
    return info


@pytest.fixture
def holder_process(kube_rig: KubeRig, namespace: str) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.k8s.hold_lock", str(kube_rig.kubeconfig), namespace, MIGRATION],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout.readline().strip() == "locked"
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_a_lock_held_by_another_process_is_refused_naming_it(k8s_stores, holder_process) -> None:
    other = holder_process()
    store = k8s_stores()
    with pytest.raises(BadInput) as refused:
        store.lock(break_stale=True)  # the flag breaks only a stale lock, never a live one
    message = str(refused.value)
    assert f"pid {other.pid}" in message and socket.gethostname() in message and "held by" in message
    assert "migrator pause" in message

    other.stdin.write("done\n")
    other.stdin.flush()
    assert other.wait(timeout=60) == 0
    assert store.lock_holder() is None  # released on its way out
    store.lock()


def test_a_killed_holder_on_this_host_is_broken_only_with_the_flag(k8s_stores, holder_process) -> None:
    other = holder_process()
    os.kill(other.pid, signal.SIGKILL)
    other.wait()
    store = k8s_stores()

    with pytest.raises(BadInput) as refused:
        store.lock()
    message = str(refused.value)
    assert "looks stale" in message and f"pid {other.pid} no longer runs on this host" in message
    assert BREAK_STALE_FLAG in message
    assert store.lock_holder().pid == other.pid

    mine = store.lock(break_stale=True)
    assert store.lock_holder() == mine
    [entry] = store.read_journal()
    assert entry.event == "lock.broken" and entry.detail["stale_lock"]["pid"] == other.pid


def test_an_expired_lease_of_another_host_is_taken_only_per_the_rules(k8s_stores, admin, namespace) -> None:
    store = k8s_stores()
    live = plant_holder(admin, namespace, "far-away.example", renewed_ago=timedelta(seconds=5))
    with pytest.raises(BadInput, match="held by alice@far-away.example"):
        store.lock(break_stale=True)  # renewed 5 s ago: alive, whatever the flag says

    stale = plant_holder(admin, namespace, "far-away.example", renewed_ago=timedelta(minutes=10))
    with pytest.raises(BadInput) as refused:
        store.lock()
    message = str(refused.value)
    assert "looks stale" in message and "lease of 60s expired" in message and BREAK_STALE_FLAG in message
    assert store.lock_holder() == stale != live
    before = lease(admin, namespace).spec.lease_transitions or 0

    mine = store.lock(break_stale=True)
    taken = lease(admin, namespace)
    assert store.lock_holder() == mine
    assert taken.spec.holder_identity.startswith(f"{mine.user}@{mine.host} pid {os.getpid()}")
    assert taken.spec.lease_transitions == before + 1
    assert [e.detail["stale_lock"]["token"] for e in store.read_journal()] == [stale.token]


def test_the_holder_renews_its_lease_until_it_unlocks(k8s_stores, admin, namespace) -> None:
    store = k8s_stores(lease_seconds=3)  # renews every second
    store.lock()
    acquired = lease(admin, namespace).spec
    assert acquired.lease_duration_seconds == 3 and acquired.renew_time == acquired.acquire_time
    assert wait_for(lambda: lease(admin, namespace).spec.renew_time > acquired.renew_time)
    renewer = next(t for t in threading.enumerate() if t.name == f"renew Lease {namespace}/migrator-{MIGRATION}")

    store.unlock()
    assert not renewer.is_alive()
    released = lease(admin, namespace).spec
    assert released.holder_identity is None and released.renew_time is None
    assert HOLDER_ANNOTATION not in (lease(admin, namespace).metadata.annotations or {})


def test_a_process_whose_lock_was_broken_stops_before_writing(k8s_stores, admin, namespace) -> None:
    store = k8s_stores()
    version = store.save(checkpoint_with_one_step(), expected_version=NEW)
    store.lock()
    thief = plant_holder(admin, namespace, "far-away.example", renewed_ago=timedelta(0))

    with pytest.raises(LockLost) as lost:
        store.save(checkpoint_with_one_step(StepStatus.APPLYING), expected_version=version)
    assert "no longer holds the migration lock" in str(lost.value) and "alice@far-away.example" in str(lost.value)
    assert isinstance(lost.value, CheckpointConflict)
    assert store.load().version == version
    store.unlock()
    assert store.lock_holder() == thief, "unlock never releases a lock another process holds"


def wait_for(check: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True



def test_migration_yaml_selects_the_kubernetes_store(kube_rig: KubeRig, namespace: str) -> None:
    context = yaml.safe_load(kube_rig.kubeconfig.read_text())["current-context"]
    section = {"store": "kubernetes", "kubeconfig": str(kube_rig.kubeconfig), "context": context}
    config = MigrationConfig.model_validate(
        {
            "migration_id": MIGRATION,
            "cluster": {"zookeeper_connect": "127.0.0.1:2181/kafka", "bootstrap_servers": "127.0.0.1:9092"},
            "checkpoint": section,
        }
    )
    with pytest.raises(BadInput, match="checkpoint.namespace is not set"):
        open_store(config)

    config.checkpoint.namespace = namespace
    store = open_store(config)
    assert isinstance(store, KubernetesStore) and store.location == f"ConfigMap {namespace}/migrator-{MIGRATION}"
    store.save(checkpoint_with_one_step(), expected_version=NEW)
    assert Session.open(config).status().checkpoint.phases["demo"].steps[0].name == "only"
