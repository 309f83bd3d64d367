"""Phase 0, preflight: read the cluster, check it is the configured one and healthy, and record the
starting inventory that later phases (and a human after an incident) compare against.

Steps:
    record-inventory   read brokers, topics and partitions; keep a summary in the checkpoint

Preconditions: every safety invariant (cluster id, controller, offline, URP, under-min-ISR,
foreign reassignments). The phase changes nothing in the cluster.
"""

from __future__ import annotations

from migrator.cluster.inventory import read_inventory
from migrator.cluster.model import Inventory
from migrator.cluster.safety import safety_precondition
from migrator.config import MigrationConfig
from migrator.engine.phase import Phase
from migrator.engine.step import JSON, Action, Step, StepContext, Verdict

STATE_KEY = "baseline"


def baseline(inventory: Inventory) -> JSON:
    """What later phases need to know of the starting point: who the brokers were and where."""
    return {
        "cluster_id": inventory.cluster_id,
        "controller_id": inventory.controller_id,
        "brokers": {
            str(b.id): {"rack": b.rack, "host": b.host, "port": b.port} for b in inventory.brokers.values()
        },
        "summary": inventory.summary(),
    }


class RecordInventory(Step):
    name = "record-inventory"

    def plan(self, ctx: StepContext) -> list[Action]:
        config: MigrationConfig = ctx.config
        return [
            Action(
                "read",
                f"cluster at {config.cluster.zookeeper_connect}",
                {"record": "brokers, racks, endpoints, partition summary", "into": "the checkpoint"},
            )
        ]

    def snapshot(self, ctx: StepContext) -> JSON:
        return {STATE_KEY: ctx.state.get(STATE_KEY)}

    def apply(self, ctx: StepContext) -> None:
        ctx.state[STATE_KEY] = baseline(read_inventory(ctx.config))

    def verify(self, ctx: StepContext) -> Verdict:
        recorded = ctx.state.get(STATE_KEY)
        if not recorded:
            return Verdict.failed("no baseline inventory is recorded")
        live = read_inventory(ctx.config)
        if recorded["cluster_id"] != live.cluster_id:
            return Verdict.failed(
                f"the recorded baseline is of cluster {recorded['cluster_id']}, the live cluster is {live.cluster_id}"
            )
        return Verdict.ok(
            f"baseline of {len(recorded['brokers'])} brokers and {recorded['summary']['partitions']} partitions recorded"
        )

    def rollback(self, ctx: StepContext, before: JSON) -> None:
        if before.get(STATE_KEY) is None:
            ctx.state.pop(STATE_KEY, None)
        else:
            ctx.state[STATE_KEY] = before[STATE_KEY]


def build(config: MigrationConfig) -> Phase:
    return Phase(name="preflight", steps=[RecordInventory()], preconditions=[safety_precondition(config)])
