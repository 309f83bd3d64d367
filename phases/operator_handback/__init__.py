"""Phase 6, operator-handback: the Kafka cluster goes back to the upstream Strimzi operator of the same
version, leaving nothing of the fork behind.

    restore-inter-broker-listener  inter.broker.listener.name leaves spec.kafka.config: the (still
                                 forked) operator rolls the brokers onto REPLICATION-9091 while they all
                                 still serve the shared listener, so a broker not rolled yet keeps
                                 fetching from the rolled ones; done once the operator reconciled it
    remove-overrides             every other mixed-cluster override leaves the Kafka CR: the keys of
                                 overrides.yaml from spec.kafka.config, the shared listener from
                                 spec.kafka.listeners, spec.zookeeper; a second roll, which no broker
                                 notices any more (none replicates over the shared listener)
    switch-operator-to-upstream  the operator Deployment runs the upstream image of the same version
                                 (rolled out); every node's pod is recorded just before
    verify-no-restart            the upstream operator reconciles the cluster to Ready, and over two full
                                 reconciliation intervals after it came up no node was restarted (the same
                                 pods): the fork's output equals upstream's once the overrides are gone,
                                 so a restart here means something was left behind
    remove-fork-leftovers        the kafka-k8s-migrator/operator-build annotation on the Deployment

Preconditions: the KRaft cutover is finalized (Kafka status.kafkaMetadataState KRaft: in ZooKeeper mode
removing zookeeper.connect would send every broker to the empty ensemble of spec.zookeeper), no broker
outside the node pool is left (the VM brokers are retired), the operator runs the fork or upstream.
With target.kind local the phase is skipped: no operator runs there.
Both rolls in one would break replication half-way: a broker rolled first stops serving the shared
listener that the brokers not rolled yet still fetch over, and the partitions it leads drop under
min.insync.replicas until the roll is over (the VM brokers were prepared in two rolls for the same
reason, strimzi-overrides/README.md).
Rollback, newest first: the annotation comes back, the operator goes back to the fork, the overrides
go back into the CR (the shared listener before the inter-broker listener name that uses it).
Runbook: runbooks/06-operator-handback.md.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable
from functools import cached_property

from migrator.clients.kafka import KafkaAdmin
from migrator.config import MigrationConfig
from migrator.engine.phase import Phase, Precondition
from migrator.engine.step import JSON, Action, Step, StepContext, Verdict
from migrator.platforms.target.strimzi import StrimziTarget
from migrator.platforms.target.base import require_target
from migrator.text import id_list

PHASE = "operator-handback"
#: ctx.state keys (the phase's checkpointed memory).
REMOVED = "removed_overrides"  # what remove-overrides took out of the CR
INTER_BROKER = "removed_inter_broker_listener"  # what restore-inter-broker-listener took out
INTER_BROKER_KEY = "inter.broker.listener.name"
BEFORE_SWITCH = "before_switch"  # {"operator": {...}, "incarnations": {node id: pod}}
SWITCHED_AT = "switched_at"  # wall-clock time the upstream operator was seen rolled out
KRAFT = "KRaft"


#: Why the phase is skipped for a local target.
NO_OPERATOR = (
    "target.kind is local: the sandbox brokers run without a cluster operator, so there is no fork to hand "
    "back and no override to remove"
)


def build(config: MigrationConfig, resources: HandbackResources | None = None) -> Phase:
    resources = resources or HandbackResources(config)
    without_operator = require_target(config).kind == "local"
    return Phase(
        name=PHASE,
        steps=[
            RestoreInterBrokerListener(resources),
            RemoveOverrides(resources),
            SwitchOperatorToUpstream(resources),
            VerifyNoRestart(resources),
            RemoveForkLeftovers(resources),
        ],
        preconditions=[Precondition("handback-ready", resources.ready)],
        skip_when=lambda ctx: NO_OPERATOR if without_operator else None,
    )


class HandbackResources:
    """What the steps share. The platform is built on first use; tests pass their own, a clock, or a
    shorter watch after the switch."""

    def __init__(
        self,
        config: MigrationConfig,
        *,
        platform: StrimziTarget | None = None,
        clock: Callable[[], float] = time.time,
        settle_seconds: float | None = None,
    ) -> None:
        self.config = config
        self.target = require_target(config)
        self._platform = platform
        # Wall-clock time: compared with a time kept in the checkpoint by an earlier process.
        self.clock = clock
        self._settle = settle_seconds

    @cached_property
    def platform(self) -> StrimziTarget:
        return self._platform or StrimziTarget.from_config(self.config)

    @property
    def upstream_image(self) -> str:
        operator = self.target.operator
        assert operator is not None and operator.upstream_image is not None  # kind strimzi requires it
        return operator.upstream_image

    @property
    def deployment(self) -> str:
        operator = self.target.operator
        assert operator is not None
        return f"Deployment {self.target.operator_namespace}/{operator.deployment}"

    def settle_seconds(self) -> float:
        """How long to watch after the switch: two of the operator's full reconciliation intervals."""
        return self._settle if self._settle is not None else 2 * self.platform.reconciliation_interval()

    def ready(self, ctx: StepContext) -> Verdict:
        """Entry gate: the cutover finished, only node-pool brokers left, a known operator build."""
        platform, problems = self.platform, []
        state = platform.metadata_state()
        if state != KRAFT:
            problems.append(
                f"Kafka {self.target.cluster_name} reports kafkaMetadataState {state}, not {KRAFT}: the KRaft cutover "
                "is not finalized. While the brokers use ZooKeeper, removing zookeeper.connect would make the operator "
                "roll every broker onto the empty ensemble of spec.zookeeper, a new cluster. Finish phase "
                "kraft-cutover first"
            )
        pool = set(platform.node_ids() or [])
        with KafkaAdmin(self.config.cluster) as admin:
            brokers = set(admin.confluent.list_topics(timeout=self.config.cluster.timeout_seconds).brokers)
        strangers = sorted(brokers - pool)
        if strangers:
            problems.append(
                f"broker(s) {id_list(strangers)} are not in node pool {self.target.node_pool} ({id_list(pool)}): the VM brokers "
                "must be retired first (phase cruise-control-rebalance), the shared listener is still theirs"
            )
        operator = platform.operator()
        known = {self.upstream_image, self.target.operator.forked_image if self.target.operator else ""}
        if operator is not None and operator.image not in known:
            problems.append(
                f"the operator runs {operator.image}, which is neither the fork nor {self.upstream_image}: find out who "
                "changed it before handing anything back"
            )
        if problems:
            return Verdict.failed("; ".join(problems))
        return Verdict.ok(f"cutover finalized ({state}), only node-pool brokers {id_list(brokers)} left")


class _OverridesRemoval(Step):
    """Takes a part of the overrides out of the Kafka CR; done once the forked operator rolled the
    brokers onto the result. What was removed is the snapshot, and goes back on rollback."""

    verify_timeout = 3600.0  # the fork rolls every broker once
    state_key: str
    then: str

    def __init__(self, resources: HandbackResources) -> None:
        self.resources = resources

    @abstractmethod
    def part(self, found: JSON) -> JSON:
        """The part of the overrides found in the CR that this step removes."""

    def plan(self, ctx: StepContext) -> list[Action]:
        found = self.part(self.resources.platform.overrides())
        if not found:
            return []
        detail = {
            "spec.kafka.config": sorted(found.get("config", {})),
            "spec.kafka.listeners": [l["name"] for l in found.get("listeners", [])],
            "spec.zookeeper": "zookeeper" in found,
            "then": self.then,
        }
        target = self.resources.target
        return [Action("remove", f"overrides from Kafka {target.namespace}/{target.cluster_name}", detail)]

    def snapshot(self, ctx: StepContext) -> JSON:
        found = self.part(self.resources.platform.overrides())
        ctx.state[self.state_key] = found
        return {"found": found}

    def apply(self, ctx: StepContext) -> None:
        if ctx.state[self.state_key]:
            self.resources.platform.remove_overrides(ctx.state[self.state_key])

    def verify(self, ctx: StepContext) -> Verdict:
        platform = self.resources.platform
        left = self.part(platform.overrides())
        if left:
            return Verdict.failed(f"the Kafka CR carries overrides again: {_describe(left)}; someone put them back")
        return platform.reconciled()

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        if before.get("found"):
            platform = self.resources.platform
            platform.restore_overrides(before["found"])
            # The step before this one changes the CR again on its way back: the brokers must have
            # rolled onto this change first, for the same reason the two steps are two.
            platform.platform.wait_ready(timeout=self.verify_timeout)
        ctx.state.pop(self.state_key, None)


class RestoreInterBrokerListener(_OverridesRemoval):
    name = "restore-inter-broker-listener"
    state_key = INTER_BROKER
    then = "the forked operator rolls the brokers once onto REPLICATION-9091; they still serve the shared listener"

    def part(self, found: JSON) -> JSON:
        config = found.get("config", {})
        return {"config": {INTER_BROKER_KEY: config[INTER_BROKER_KEY]}} if INTER_BROKER_KEY in config else {}


class RemoveOverrides(_OverridesRemoval):
    name = "remove-overrides"
    state_key = REMOVED
    then = "the forked operator rolls the brokers once more, without the shared listener"

    def part(self, found: JSON) -> JSON:
        config = {k: v for k, v in found.get("config", {}).items() if k != INTER_BROKER_KEY}
        return {**{k: v for k, v in found.items() if k != "config"}, **({"config": config} if config else {})}


class SwitchOperatorToUpstream(Step):
    name = "switch-operator-to-upstream"

    def __init__(self, resources: HandbackResources) -> None:
        self.resources = resources

    def plan(self, ctx: StepContext) -> list[Action]:
        current = self.resources.platform.operator()
        image = self.resources.upstream_image
        if current is not None and current.image == image:
            return []
        return [Action("switch", self.resources.deployment, {"from": current.image if current else None, "to": image})]

    def snapshot(self, ctx: StepContext) -> JSON:
        platform = self.resources.platform
        current = platform.operator()
        operator = current.to_dict() if current else None
        ctx.state[BEFORE_SWITCH] = {"operator": operator, "incarnations": {str(i): p for i, p in platform.incarnations().items()}}
        ctx.state.pop(SWITCHED_AT, None)
        return {"operator": operator}

    def apply(self, ctx: StepContext) -> None:
        self.resources.platform.switch_operator(self.resources.upstream_image, "upstream")

    def verify(self, ctx: StepContext) -> Verdict:
        verdict = self.resources.platform.operator_settled(self.resources.upstream_image)
        if verdict.done:
            ctx.state.setdefault(SWITCHED_AT, self.resources.clock())
        return verdict

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        previous = before.get("operator")
        if previous:
            self.resources.platform.switch_operator(previous["image"], previous.get("build"))
        ctx.state.pop(SWITCHED_AT, None)


class VerifyNoRestart(Step):
    name = "verify-no-restart"
    verify_timeout = 3600.0

    def __init__(self, resources: HandbackResources) -> None:
        self.resources = resources

    def plan(self, ctx: StepContext) -> list[Action]:
        detail = {"watch_seconds": self.resources.settle_seconds(), "compare": "every node's pod, before and after"}
        return [Action("verify", "the upstream operator reconciles without restarting a node", detail)]

    def apply(self, ctx: StepContext) -> None:
        """Nothing to change: the step watches."""

    def verify(self, ctx: StepContext) -> Verdict:
        before = {int(i): p for i, p in (ctx.state.get(BEFORE_SWITCH) or {}).get("incarnations", {}).items()}
        now = self.resources.platform.incarnations()
        restarted = [f"node {i}: {p} -> {now.get(i, 'no pod')}" for i, p in sorted(before.items()) if now.get(i) != p]
        if restarted:
            return Verdict.failed(
                f"the switch to {self.resources.upstream_image} restarted node(s) ({'; '.join(restarted)}): the upstream "
                "operator writes another configuration than the fork did, so an override was left behind. Compare the "
                "brokers' config before and after (migrator's overrides verifier), then roll the phase back"
            )
        reconciled = self.resources.platform.reconciled()
        if not reconciled.done:
            return reconciled
        since = ctx.state.get(SWITCHED_AT)
        if since is None:
            return Verdict.failed("the time of the switch is not recorded; step switch-operator-to-upstream did not finish")
        remaining = since + self.resources.settle_seconds() - self.resources.clock()
        if remaining > 0:
            return Verdict.pending(
                f"{reconciled.reason}; no node restarted so far, watching {remaining:.0f} s more", retry_after=min(remaining, 10.0)
            )
        return Verdict.ok(f"{reconciled.reason}; none of the {len(before)} nodes restarted since the switch")

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        """Nothing was changed."""


class RemoveForkLeftovers(Step):
    name = "remove-fork-leftovers"

    def __init__(self, resources: HandbackResources) -> None:
        self.resources = resources

    def plan(self, ctx: StepContext) -> list[Action]:
        return [Action("remove", leftover, {}) for leftover in self.resources.platform.leftovers()]

    def snapshot(self, ctx: StepContext) -> JSON:
        current = self.resources.platform.operator()
        return {"build": current.build if current else None}

    def apply(self, ctx: StepContext) -> None:
        self.resources.platform.remove_leftovers()

    def verify(self, ctx: StepContext) -> Verdict:
        left = self.resources.platform.leftovers()
        if left:
            return Verdict.failed(f"still there: {'; '.join(left)}")
        return Verdict.ok("no trace of the fork is left")

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        current = self.resources.platform.operator()
        if current is not None and before.get("build"):
            self.resources.platform.switch_operator(current.image, before["build"])


def _describe(found: JSON) -> str:
    parts = [*found.get("config", {}), *(f"listener {l['name']}" for l in found.get("listeners", []))]
    return ", ".join(parts + ["spec.zookeeper"] * ("zookeeper" in found))
