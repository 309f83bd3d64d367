"""Phase 3, mixed-cluster-join: Strimzi-managed brokers join the EXISTING ZooKeeper-mode cluster.

    render-manifests         the Kafka CR, its KafkaNodePool and the operator overlay, from
                             strimzi-overrides/ and `target:` (local target: the sandbox brokers'
                             server.properties); the plan prints them with a diff against what the
                             cluster holds, and apply records a digest of what was reviewed
    switch-operator-to-fork  the operator Deployment runs the forked build; the image it ran before is
                             recorded for rollback (Strimzi itself is installed by the cluster admin)
    create-kafka-cluster     the Kafka CR and node pool (local: the sandbox brokers), only if nothing
                             changed since the review; done once the pool has its node IDs
    check-node-ids           the IDs Strimzi assigned (KafkaNodePool status.nodeIds) are the range's and
                             collide with no VM broker, live or holding replicas; checked before any
                             data is put on the new brokers
    verify-brokers-joined    every new broker is registered in the same ZooKeeper under the same chroot
                             (so with the same cluster id), runs with every override, and the operator
                             reports the cluster ready
    probe-replication        a probe topic with partitions led on each side and followed on the other,
                             min.insync.replicas=2, takes one acks=all record per partition and gives it back
    delete-probe-topic       the probe topic goes again

Preconditions: the safety checks; the VM brokers carry the shared inter-broker listener; the IDs the
pool will get collide with no VM broker; the new brokers get a rack when the VM brokers have one.
Rollback, newest first: the probe topic is deleted, the Kafka CR and node pool are deleted and their
brokers deregister (refused, naming the partitions, if a topic was placed on the new brokers since: the
phase itself leaves no data there), the operator gets its previous image back.
Runbook: runbooks/03-mixed-cluster-join.md.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from functools import cached_property

from migrator.clients.kafka import KafkaAdmin
from migrator.clients.zk import ZooKeeper
from migrator.cluster.holdings import refuse_while_holding, replica_holders
from migrator.cluster.overrides_verifier import ExpectedConfig, verify_overrides
from migrator.cluster.replication_probe import (
    PartitionReplication,
    ReplicationProbe,
    probe_assignment,
    shared_endpoints,
    unreachable,
)
from migrator.cluster.safety import safety_precondition
from migrator.config import MigrationConfig
from migrator.engine.phase import Phase, Precondition
from migrator.engine.step import JSON, Action, Step, StepContext, Verdict
from migrator.errors import BadInput, PermanentError, TemporaryError
from migrator.platforms.model import PLATFORM_POLL
from migrator.platforms.registration import Registrations
from migrator.platforms.target.config import TargetConfig
from migrator.platforms.target.strimzi_manifests import render_overrides
from migrator.platforms.target.base import TargetPlatform, require_target
from migrator.platforms.target.factory import target_platform
from migrator.text import SHOWN, id_list
from phases.mixed_cluster_join.plan import PHASE, digest, node_id_problems, predicted_collisions, shared_cluster

#: ctx.state keys (the phase's checkpointed memory).
REVIEWED = "reviewed"  # digest of the manifests the render step showed
VM_BROKERS = "vm_brokers"  # {"ids": [...], "racks": [...]}: the existing brokers, before any new one
NODE_IDS = "node_ids"  # the ids the target assigned
PROBE = "probe"  # {"topic", "marker", "assignment", "offsets"}


def build(config: MigrationConfig, resources: JoinResources | None = None) -> Phase:
    resources = resources or JoinResources(config)
    return Phase(
        name=PHASE,
        steps=[
            RenderManifests(resources),
            SwitchOperatorToFork(resources),
            CreateKafkaCluster(resources),
            CheckNodeIds(resources),
            VerifyBrokersJoined(resources),
            ProbeReplication(resources),
            DeleteProbeTopic(resources),
        ],
        preconditions=[safety_precondition(config), Precondition("join-ready", resources.ready)],
    )



def vm_brokers(zk: ZooKeeper) -> JSON:
    """The existing brokers: live ones and those that are down but still hold replicas (both own their
    ID), and the racks of the live ones."""
    live = zk.brokers()
    holders = replica_holders(zk)
    racks = sorted({str(data["rack"]) for data in live.values() if data.get("rack")})
    return {"ids": sorted(set(live) | holders), "racks": racks}


# ---------------------------------------------------------------------------------------- resources


class JoinResources:
    """What the steps share. The platform is built on first use, so a plan of the local target needs no
    Kubernetes credentials; tests pass their own platform, clock or timeouts."""

    def __init__(
        self,
        config: MigrationConfig,
        *,
        platform: TargetPlatform | None = None,
        sleep: Callable[[float], None] = time.sleep,
        remove_timeout: float = 600.0,
        probe_timeout: float = 30.0,
    ) -> None:
        self.config = config
        self.target = require_target(config)
        self._platform = platform
        self.sleep = sleep
        self.remove_timeout = remove_timeout
        self.probe_timeout = probe_timeout

    @cached_property
    def platform(self) -> TargetPlatform:
        return self._platform or target_platform(self.config)

    @property
    def shared_listener(self) -> str:
        return self.target.shared_listener.kafka_name

    @property
    def probe_topic(self) -> str:
        return f"migrator-probe-{self.config.migration_id}"

    def zookeeper(self) -> ZooKeeper:
        return ZooKeeper.from_config(self.config.cluster)

    def vm(self, ctx: StepContext) -> JSON:
        """The VM brokers as recorded before the first new broker existed; a dry run reads them live."""
        if VM_BROKERS in ctx.state:
            return ctx.state[VM_BROKERS]
        with self.zookeeper() as zk:
            return vm_brokers(zk)

    def node_ids(self, ctx: StepContext) -> list[int]:
        if NODE_IDS not in ctx.state:
            raise PermanentError(f"No node IDs are recorded; step create-kafka-cluster of {PHASE} has not finished.")
        return list(ctx.state[NODE_IDS])

    def endpoints(self, broker_ids: Iterable[int], strict: bool = True) -> dict[int, str]:
        """host:port of the shared listener of each registered broker; unless `strict` is off, a
        PermanentError names the brokers without one."""
        ids = sorted(set(broker_ids))
        with self.zookeeper() as zk:
            registered = zk.brokers()
        found = shared_endpoints({i: registered[i] for i in ids if i in registered}, self.shared_listener)
        missing = [i for i in ids if i in registered and i not in found]
        if missing and strict:
            raise unreachable(missing, self.shared_listener)
        return found

    def admin(self, broker_ids: Iterable[int]) -> KafkaAdmin:
        return KafkaAdmin(shared_cluster(self.config.cluster, self.endpoints(broker_ids)))

    def probe(self, broker_ids: Iterable[int]) -> ReplicationProbe:
        return ReplicationProbe(self.endpoints(broker_ids), self.probe_topic, self.probe_timeout)

    def deregistered(self, broker_ids: list[int]) -> Verdict:
        with self.zookeeper() as zk:
            left = sorted(set(broker_ids) & set(zk.broker_ids()))
        if left:
            return Verdict.pending(f"broker(s) {id_list(left)} still registered in ZooKeeper", PLATFORM_POLL)
        return Verdict.ok("no new broker is registered")

    def await_check(self, check: Callable[[], Verdict], timeout: float, what: str) -> None:
        """Poll `check` until done (rollbacks wait for what they undo); TemporaryError after `timeout`,
        so the machine tries again later."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result.done:
                return
            if result.gave_up:
                raise PermanentError(f"{what}: {result.reason}")
            if time.monotonic() >= deadline:
                raise TemporaryError(f"{what} within {timeout:.0f} s: {result.reason}", delay=15.0)
            self.sleep(2.0)

    # -- preconditions -----------------------------------------------------------------------------

    def ready(self, ctx: StepContext) -> Verdict:
        """Entry gate. A node-ID range or rack setting that cannot work is bad input (nothing changed); VM
        brokers that are not prepared for the shared listener are a failed verdict."""
        vm = self.vm(ctx)
        colliding = predicted_collisions(self.target, vm["ids"])
        if colliding:
            raise BadInput(
                f"target.node_ids {self.target.node_ids} hands the node pool ID(s) {id_list(colliding)}, which VM "
                f"brokers hold (the existing IDs are {id_list(vm['ids'])}). Choose a range clear of them, e.g. "
                f"\"[1000-1999]\", or free the IDs first with phase broker-id-shift. Nothing was changed."
            )
        if vm["racks"] and not self.target.rack_topology_key:
            raise BadInput(
                f"The VM brokers have racks ({', '.join(vm['racks'])}) but target.rack_topology_key is not set, so "
                "the new brokers would have none. Kafka refuses rack-aware replica assignment when only some "
                "brokers have a rack (\"Not all brokers have rack information\"): creating topics would fail. Set "
                "target.rack_topology_key (e.g. topology.kubernetes.io/zone) and run again. Nothing was changed."
            )
        with KafkaAdmin(self.config.cluster) as admin:
            report = verify_overrides(admin, self._registered(vm["ids"]), self.vm_expectations())
        if not report.in_effect:
            rows = "; ".join(
                f"broker {c.broker_id} {c.key}={c.actual!r} (expected {c.expected!r})" for c in report.not_in_effect[:SHOWN]
            )
            return Verdict.failed(
                f"the VM brokers are not prepared for the mixed cluster: {rows}. Give each VM broker the listener "
                f"{self.shared_listener} and make it inter.broker.listener.name, in two rolling restarts "
                "(strimzi-overrides/README.md, 'Preparing the VM brokers')"
            )
        return Verdict.ok(f"{len(report.checks)} shared settings in effect on the VM brokers")

    def vm_expectations(self) -> list[ExpectedConfig]:
        """The overrides both sides must share and the join needs (the Cruise Control metrics topic is the
        rebalance phase's business)."""
        return [o.expectation for o in render_overrides(self.config) if o.spec.side == "both" and o.spec.when == "always"]

    def _registered(self, broker_ids: list[int]) -> list[int]:
        with self.zookeeper() as zk:
            live = set(zk.broker_ids())
        return [i for i in broker_ids if i in live]


# -------------------------------------------------------------------------------------------- steps


class RenderManifests(Step):
    name = "render-manifests"

    def __init__(self, resources: JoinResources) -> None:
        self.resources = resources

    def plan(self, ctx: StepContext) -> list[Action]:
        review = self.resources.platform.review()
        diff = review.diff or "(no difference: the cluster already holds exactly these objects)\n"
        return [Action("render", review.what, {"manifests": review.manifests, "diff": diff})]

    def apply(self, ctx: StepContext) -> None:
        ctx.state[REVIEWED] = digest(self.resources.platform.review().manifests)

    def verify(self, ctx: StepContext) -> Verdict:
        review = self.resources.platform.review()
        if ctx.state.get(REVIEWED) != digest(review.manifests):
            return Verdict.failed(
                "the manifests rendered now differ from the ones recorded: migration.yaml (target:) changed. Roll "
                "the phase back and run it again to review the new ones"
            )
        return Verdict.ok(f"{review.what} rendered (digest {ctx.state[REVIEWED]})")

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        ctx.state.pop(REVIEWED, None)


class SwitchOperatorToFork(Step):
    name = "switch-operator-to-fork"

    def __init__(self, resources: JoinResources) -> None:
        self.resources = resources

    def _forked(self) -> str | None:
        operator = self.resources.target.operator
        return operator.forked_image if operator else None

    def plan(self, ctx: StepContext) -> list[Action]:
        current = self.resources.platform.operator()
        forked = self._forked()
        if current is None or forked is None:
            return [Action("skip", "cluster operator", {"why": _no_operator(self.resources)})]
        if current.image == forked:
            return []
        return [Action("switch", _deployment(self.resources.target), {"from": current.image, "to": forked})]

    def snapshot(self, ctx: StepContext) -> JSON:
        current = self.resources.platform.operator()
        return {"operator": current.to_dict() if current else None}

    def apply(self, ctx: StepContext) -> None:
        forked = self._forked()
        if forked is not None and self.resources.platform.operator() is not None:
            self.resources.platform.switch_operator(forked, "forked")

    def verify(self, ctx: StepContext) -> Verdict:
        forked = self._forked()
        if forked is None:
            return Verdict.ok(_no_operator(self.resources))
        return self.resources.platform.operator_settled(forked)

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        previous = before.get("operator")
        if previous:
            self.resources.platform.switch_operator(previous["image"], previous.get("build"))


class CreateKafkaCluster(Step):
    name = "create-kafka-cluster"
    verify_timeout = 900.0

    def __init__(self, resources: JoinResources) -> None:
        self.resources = resources

    def plan(self, ctx: StepContext) -> list[Action]:
        target = self.resources.target
        detail = {"replicas": target.replicas, "node_ids": target.node_ids, "kind": target.kind}
        return [Action("create", self.resources.platform.review().what, detail)]

    def snapshot(self, ctx: StepContext) -> JSON:
        # Fixed here, before the first new broker exists: later checks compare with this record.
        with self.resources.zookeeper() as zk:
            ctx.state[VM_BROKERS] = vm_brokers(zk)
        return {"existing": self.resources.platform.existing()}

    def apply(self, ctx: StepContext) -> None:
        review = self.resources.platform.review()
        if ctx.state.get(REVIEWED) != digest(review.manifests):
            raise PermanentError(
                "The manifests rendered now differ from the ones reviewed in step render-manifests: migration.yaml "
                f"changed since. Nothing was created. Roll the phase back (`migrator rollback {PHASE}`) and run it "
                "again to review and apply the new ones."
            )
        self.resources.platform.create(ctx.state[VM_BROKERS]["racks"])

    def verify(self, ctx: StepContext) -> Verdict:
        ids = self.resources.platform.node_ids()
        replicas = self.resources.target.replicas
        if ids is None or len(ids) < replicas:
            return Verdict.pending(f"node pool {self.resources.target.node_pool}: {len(ids or [])} of {replicas} node IDs assigned")
        ctx.state[NODE_IDS] = sorted(ids)
        return Verdict.ok(f"node pool {self.resources.target.node_pool} got node IDs {id_list(ids)}")

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        existing = before.get("existing", {})
        resources, platform = self.resources, self.resources.platform
        # IDs that collided with VM brokers are the VM brokers' own: never judged or waited for here.
        vm = set((ctx.state.get(VM_BROKERS) or {}).get("ids", []))
        ours = [i for i in ctx.state.get(NODE_IDS, []) if i not in vm]
        with resources.zookeeper() as zk:
            refuse_while_holding(
                zk,
                ours,
                lambda held: f"The new broker(s) hold data ({held}): partitions were created on them or moved there "
                "after the join. Deleting the brokers would lose those replicas, so nothing was deleted. Move the "
                "partitions onto the VM brokers (kafka-reassign-partitions.sh), then run the rollback again.",
            )
        platform.remove(existing)
        resources.await_check(lambda: platform.removed(existing), resources.remove_timeout, "the new brokers did not go")
        resources.await_check(lambda: resources.deregistered(ours), resources.remove_timeout, "the new brokers did not deregister")
        ctx.state.pop(NODE_IDS, None)


class CheckNodeIds(Step):
    name = "check-node-ids"

    def __init__(self, resources: JoinResources) -> None:
        self.resources = resources

    def plan(self, ctx: StepContext) -> list[Action]:
        target = self.resources.target
        detail = {"range": target.node_ids, "must_avoid": self.resources.vm(ctx)["ids"]}
        return [Action("check", f"node IDs of pool {target.node_pool}", detail)]

    def apply(self, ctx: StepContext) -> None:
        """Nothing to change: the check is the step."""

    def verify(self, ctx: StepContext) -> Verdict:
        ids = self.resources.platform.node_ids() or self.resources.node_ids(ctx)
        problem = node_id_problems(ids, self.resources.target, ctx.state[VM_BROKERS]["ids"])
        if problem:
            return Verdict.failed(problem)
        return Verdict.ok(f"node IDs {id_list(ids)} are from {self.resources.target.node_ids} and clear of every VM broker")

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        """Nothing was changed."""


class VerifyBrokersJoined(Step):
    name = "verify-brokers-joined"
    verify_timeout = 900.0

    def __init__(self, resources: JoinResources) -> None:
        self.resources = resources

    def plan(self, ctx: StepContext) -> list[Action]:
        config = self.resources.config
        detail = {
            "zookeeper": config.cluster.zookeeper_connect,
            "cluster_id": config.cluster.cluster_id,
            "overrides": [o.key for o in render_overrides(config)],
        }
        return [Action("verify", "new brokers registered, same cluster, overrides in effect", detail)]

    def apply(self, ctx: StepContext) -> None:
        """Nothing to change: the operator starts the brokers."""

    def verify(self, ctx: StepContext) -> Verdict:
        ids = self.resources.node_ids(ctx)
        cluster = self.resources.config.cluster
        snapshot = Registrations(cluster.zookeeper_connect, cluster.cluster_id, cluster.timeout_seconds).read(ids)
        if snapshot.misplaced:
            where = "; ".join(f"broker {b} under {root}" for b, root in sorted(snapshot.misplaced.items()))
            return Verdict.failed(
                f"new broker(s) registered OUTSIDE the chroot of {cluster.zookeeper_connect} ({where}): they created "
                "or joined another cluster. zookeeper.connect did not reach them as rendered; check that the operator "
                "runs the forked build, then roll the phase back"
            )
        waiting = [i for i in ids if i not in snapshot.registered]
        if waiting:
            return Verdict.pending(f"broker(s) {id_list(waiting)} not registered in {cluster.zookeeper_connect} yet", 5.0)
        with self.resources.admin(ids) as admin:
            report = verify_overrides(admin, ids, [o.expectation for o in render_overrides(self.resources.config)])
        if not report.in_effect:
            rows = "; ".join(
                f"broker {c.broker_id} {c.key}={c.actual!r} ({c.source}), expected {c.expected!r}"
                for c in report.not_in_effect[:SHOWN]
            )
            return Verdict.failed(f"overrides not in effect on the new brokers: {rows}. Is the operator the forked build?")
        reconciled = self.resources.platform.reconciled()
        if not reconciled.done:
            return reconciled
        return Verdict.ok(
            f"broker(s) {id_list(ids)} registered in cluster {cluster.cluster_id} with {len(report.checks)} override checks "
            f"in effect; {reconciled.reason}"
        )

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        """Nothing was changed."""


class ProbeReplication(Step):
    name = "probe-replication"

    def __init__(self, resources: JoinResources) -> None:
        self.resources = resources

    def _assignment(self, ctx: StepContext) -> list[list[int]]:
        if PROBE in ctx.state:
            return ctx.state[PROBE]["assignment"]
        vm = self.resources.vm(ctx)["ids"]
        new = ctx.state.get(NODE_IDS) or list(self.resources.target.node_id_candidates[: self.resources.target.replicas])
        return probe_assignment(self._live_vm(vm), new)

    def _live_vm(self, vm_ids: list[int]) -> list[int]:
        with self.resources.zookeeper() as zk:
            live = set(zk.broker_ids())
        return [i for i in vm_ids if i in live] or vm_ids

    def plan(self, ctx: StepContext) -> list[Action]:
        assignment = self._assignment(ctx)
        detail = {
            "replicas": {str(p): r for p, r in enumerate(assignment)},
            "min.insync.replicas": 2,
            "through": self.resources.shared_listener,
        }
        return [
            Action("create", f"topic {self.resources.probe_topic}", detail),
            Action("produce", f"topic {self.resources.probe_topic}", {"records": len(assignment), "acks": "all"}),
        ]

    def snapshot(self, ctx: StepContext) -> JSON:
        ctx.state[PROBE] = {
            "topic": self.resources.probe_topic,
            "marker": f"{PHASE} probe {uuid.uuid4().hex}",
            "assignment": self._assignment(ctx),
        }
        return {"topic": self.resources.probe_topic}

    def apply(self, ctx: StepContext) -> None:
        record = ctx.state[PROBE]
        assignment = record["assignment"]
        brokers = {b for replicas in assignment for b in replicas}
        probe = self.resources.probe(brokers)
        probe.create(assignment)
        self._await_preferred_leaders(probe, assignment)
        record["offsets"] = {str(p): o for p, o in probe.produce(list(range(len(assignment))), record["marker"]).items()}

    def _await_preferred_leaders(self, probe: ReplicationProbe, assignment: list[list[int]]) -> None:
        deadline = time.monotonic() + self.resources.probe_timeout
        elected = False
        while True:
            states = self._states(len(assignment))
            if len(states) == len(assignment) and all(s.preferred_leads for s in states):
                return
            if time.monotonic() >= deadline:
                wrong = [f"{s.partition}: leader {s.leader}, replicas {s.replicas}" for s in states if not s.preferred_leads]
                raise TemporaryError(
                    f"the probe partitions are not led by their first replica yet ({'; '.join(wrong) or 'no state'})",
                    delay=10.0,
                )
            if states and not elected:
                probe.elect_preferred([s.partition for s in states if not s.preferred_leads])
                elected = True
            self.resources.sleep(0.5)

    def _states(self, partitions: int) -> list[PartitionReplication]:
        topic = self.resources.probe_topic
        with self.resources.zookeeper() as zk:
            assignment = (zk.topics([topic]).get(topic) or {}).get("partitions", {})
            states = zk.partition_states([(topic, p) for p in range(partitions)])
        return [
            PartitionReplication(p, list(assignment[str(p)]), state.get("leader", -1), list(state.get("isr", [])))
            for p in range(partitions)
            if str(p) in assignment and (state := states.get((topic, p))) is not None
        ]

    def verify(self, ctx: StepContext) -> Verdict:
        record = ctx.state.get(PROBE) or {}
        if "offsets" not in record:
            return Verdict.failed("no probe record was produced")
        assignment = record["assignment"]
        states = {s.partition: s for s in self._states(len(assignment))}
        for partition, replicas in enumerate(assignment):
            state = states.get(partition)
            if state is None or state.replicas != replicas:
                return Verdict.failed(f"probe partition {partition} does not have replicas {replicas} (found {state})")
            if not state.replicated:
                return Verdict.pending(f"probe partition {partition}: ISR {state.isr} does not hold replicas {replicas} yet")
        offsets = {int(p): o for p, o in record["offsets"].items()}
        wrong = self.resources.probe({b for r in assignment for b in r}).read_back(offsets, record["marker"])
        if wrong:
            return Verdict.failed("; ".join(f"probe partition {p}: {why}" for p, why in sorted(wrong.items())))
        led = sorted({r[0] for r in assignment})
        return Verdict.ok(
            f"{len(assignment)} probe records written with acks=all through leaders {id_list(led)} on both sides, "
            "replicated to the other side and read back"
        )

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        _delete_probe(self.resources, ctx)
        ctx.state.pop(PROBE, None)


class DeleteProbeTopic(Step):
    name = "delete-probe-topic"

    def __init__(self, resources: JoinResources) -> None:
        self.resources = resources

    def plan(self, ctx: StepContext) -> list[Action]:
        return [Action("delete", f"topic {self.resources.probe_topic}", {})]

    def apply(self, ctx: StepContext) -> None:
        _delete_probe(self.resources, ctx, wait=False)

    def verify(self, ctx: StepContext) -> Verdict:
        return _probe_gone(self.resources)

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        """The probe proved its point; it is not created again."""


def _probe_gone(resources: JoinResources) -> Verdict:
    topic = resources.probe_topic
    with resources.zookeeper() as zk:
        present = zk.exists(f"/brokers/topics/{topic}") or zk.exists(f"/admin/delete_topics/{topic}")
    if present:
        # ZooKeeper-mode deletion finishes only once every replica's broker has deleted its copy.
        return Verdict.pending(f"topic {topic} is still being deleted", 2.0)
    return Verdict.ok(f"topic {topic} is gone")


def _delete_probe(resources: JoinResources, ctx: StepContext, wait: bool = True) -> None:
    if _probe_gone(resources).done:
        return
    with resources.zookeeper() as zk:
        live = zk.broker_ids()
    ReplicationProbe(resources.endpoints(live, strict=False), resources.probe_topic, resources.probe_timeout).delete()
    if wait:
        resources.await_check(lambda: _probe_gone(resources), resources.remove_timeout, "the probe topic was not deleted")


def _deployment(target: TargetConfig) -> str:
    operator = target.operator
    assert operator is not None
    return f"Deployment {target.operator_namespace}/{operator.deployment} (container {operator.container})"


def _no_operator(resources: JoinResources) -> str:
    return f"target kind {resources.target.kind} has no cluster operator to switch; nothing to do"
