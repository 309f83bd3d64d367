"""Safety invariants checked before every step: a broken one pauses the run, never pushes on.

`evaluate_safety` judges an Inventory (pure); `check_safety` reads the cluster first; and
`safety_precondition` wraps the same checks as an engine Precondition so a phase can list them.
A cluster that is not the configured one is not a safety gate but bad input: that raises BadInput.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import asdict, dataclass

from migrator.cluster.inventory import ensure_cluster_id, read_inventory
from migrator.cluster.model import Inventory, PartitionKey, PartitionState, Reassignment
from migrator.config import MigrationConfig
from migrator.engine.phase import Precondition
from migrator.engine.step import StepContext, Verdict
from migrator.errors import BadInput, SafetyGateError

CLUSTER_ID = "cluster_id"
CONTROLLER = "controller"
OFFLINE = "offline_partitions"
UNDER_REPLICATED = "under_replicated_partitions"
UNDER_MIN_ISR = "under_min_isr_partitions"
FOREIGN_REASSIGNMENTS = "foreign_reassignments"
ALL_CHECKS = (CLUSTER_ID, CONTROLLER, OFFLINE, UNDER_REPLICATED, UNDER_MIN_ISR, FOREIGN_REASSIGNMENTS)

#: How many partitions a detail names before it says "and N more".
_SHOWN = 10

#: The partitions whose reassignment the run itself started, fixed or read from the step context.
Ours = Collection[PartitionKey] | Callable[[StepContext], Collection[PartitionKey]]


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class SafetyReport:
    cluster_id: str
    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.ok]

    def to_dict(self) -> dict:
        return {"cluster_id": self.cluster_id, "ok": self.ok, "checks": [asdict(c) for c in self.checks]}

    def paragraph(self) -> str:
        """All failures in one paragraph, with what to do next."""
        if self.ok:
            return f"All {len(self.checks)} safety checks passed on cluster {self.cluster_id}."
        broken = " ".join(f"{c.name}: {c.detail}." for c in self.failures)
        return (
            f"Paused: {len(self.failures)} safety check(s) failed on cluster {self.cluster_id}. {broken} "
            "Nothing further was changed. Restore the cluster's health (or, for a known and accepted "
            "condition, raise the tolerance under safety: in migration.yaml), then resume."
        )

    def raise_if_failed(self) -> None:
        if not self.ok:
            raise SafetyGateError(self.paragraph())


def evaluate_safety(
    config: MigrationConfig,
    inventory: Inventory,
    ours: Iterable[PartitionKey] = (),
    checks: Iterable[str] = ALL_CHECKS,
) -> SafetyReport:
    """Judge the inventory against the configured tolerances. Raises BadInput when the cluster is not
    the one the config pins, or the config pins none (a gate cannot vouch for an unnamed cluster)."""
    wanted = tuple(checks)
    if unknown := set(wanted) - set(ALL_CHECKS):
        raise ValueError(f"unknown safety checks {sorted(unknown)}; known: {ALL_CHECKS}")
    mine = set(ours)
    return SafetyReport(inventory.cluster_id, tuple(_JUDGES[name](config, inventory, mine) for name in wanted))


def check_safety(
    config: MigrationConfig, ours: Iterable[PartitionKey] = (), checks: Iterable[str] = ALL_CHECKS
) -> SafetyReport:
    """Read the cluster and judge it."""
    return evaluate_safety(config, read_inventory(config), ours, checks)


def safety_precondition(config: MigrationConfig, ours: Ours = (), checks: Iterable[str] = ALL_CHECKS) -> Precondition:
    """The checks as one engine Precondition (one cluster read however many checks run). `ours` may be
    a function of the step context, e.g. reading the batch the mover recorded in ctx.state."""
    wanted = tuple(checks)

    def check(ctx: StepContext) -> Verdict:
        mine = ours(ctx) if callable(ours) else ours
        report = check_safety(config, mine, wanted)
        return Verdict.ok(report.paragraph()) if report.ok else Verdict.failed(report.paragraph())

    return Precondition(f"safety[{','.join(wanted)}]", check)


def _cluster_id(config: MigrationConfig, inventory: Inventory, ours: set[PartitionKey]) -> CheckResult:
    if config.cluster.cluster_id is None:
        raise BadInput(
            f"migration.yaml does not pin cluster.cluster_id, so the migrator cannot verify it is talking to "
            f"the intended cluster before it changes anything. The cluster at "
            f"{config.cluster.zookeeper_connect} reports id {inventory.cluster_id}: if that is the cluster "
            f"to migrate, add `cluster_id: {inventory.cluster_id}` under cluster: and run again."
        )
    ensure_cluster_id(config.cluster, inventory.cluster_id)
    return CheckResult(CLUSTER_ID, True, f"cluster id is {inventory.cluster_id}, as configured")


def _controller(config: MigrationConfig, inventory: Inventory, ours: set[PartitionKey]) -> CheckResult:
    if inventory.controller_id is not None:
        return CheckResult(CONTROLLER, True, f"broker {inventory.controller_id} is the controller")
    if not config.safety.require_controller:
        return CheckResult(CONTROLLER, True, "no controller elected (not required by safety.require_controller)")
    return CheckResult(
        CONTROLLER, False, "no controller is elected (/controller is absent): wait for the election to finish"
    )


def _offline(config: MigrationConfig, inventory: Inventory, ours: set[PartitionKey]) -> CheckResult:
    offline = inventory.offline
    if not offline:
        return CheckResult(OFFLINE, True, "no offline partitions")
    detail = f"{len(offline)} partition(s) have no live leader ({_names(offline)}); bring their brokers back"
    return CheckResult(OFFLINE, False, detail)


def _under_replicated(config: MigrationConfig, inventory: Inventory, ours: set[PartitionKey]) -> CheckResult:
    return _within(
        UNDER_REPLICATED,
        "under-replicated",
        inventory.under_replicated,
        config.safety.max_under_replicated_partitions,
        "max_under_replicated_partitions",
    )


def _under_min_isr(config: MigrationConfig, inventory: Inventory, ours: set[PartitionKey]) -> CheckResult:
    return _within(
        UNDER_MIN_ISR,
        "under-min-ISR",
        inventory.under_min_isr,
        config.safety.max_under_min_isr_partitions,
        "max_under_min_isr_partitions",
    )


def _within(name: str, label: str, found: list[PartitionState], tolerance: int, setting: str) -> CheckResult:
    ok = len(found) <= tolerance
    detail = f"{len(found)} {label} partition(s), tolerance {tolerance} (safety.{setting})"
    if found:
        detail += f": {_names(found)}"
    return CheckResult(name, ok, detail)


def _foreign_reassignments(config: MigrationConfig, inventory: Inventory, ours: set[PartitionKey]) -> CheckResult:
    foreign = [r for r in inventory.reassignments if r.key not in ours]
    if not foreign:
        return CheckResult(FOREIGN_REASSIGNMENTS, True, "no reassignment in flight that the migrator did not start")
    return CheckResult(
        FOREIGN_REASSIGNMENTS,
        False,
        f"{len(foreign)} reassignment(s) in flight that the migrator did not start ({_names(foreign)}); let "
        "them finish or cancel them before moving data",
    )


def foreign_reassignment_refusal(who: str, foreign: list[Reassignment], bootstrap: str) -> str:
    """The BadInput paragraph when `who` ("Phase X", "The replica move") cannot start because of
    reassignments the migrator did not start: which ones, why, and how to see and cancel them."""
    shown = ", ".join(
        f"{r.topic}-{r.partition} -> {[b for b in r.replicas if b not in r.removing]}"
        + (" (legacy /admin/reassign_partitions)" if r.source == "znode" else "")
        for r in foreign[:_SHOWN]
    )
    more = f" and {len(foreign) - _SHOWN} more" if len(foreign) > _SHOWN else ""
    return (
        f"{who} cannot start: {len(foreign)} partition reassignment(s) that the migrator did not start are in "
        f"flight ({shown}{more}). Two movers on one cluster fight over throttles and bandwidth, so nothing was "
        f"changed. See them with `kafka-reassign-partitions.sh --bootstrap-server {bootstrap} --list`; let them "
        f"finish, or cancel them with `kafka-reassign-partitions.sh --bootstrap-server {bootstrap} --cancel "
        "--reassignment-json-file <the file that started them>`; then run again."
    )


def _names(partitions: list[PartitionState] | list[Reassignment]) -> str:
    shown = ", ".join(f"{p.topic}-{p.partition}" for p in partitions[:_SHOWN])
    return shown + (f" and {len(partitions) - _SHOWN} more" if len(partitions) > _SHOWN else "")


_Judge = Callable[[MigrationConfig, Inventory, set[PartitionKey]], CheckResult]
_JUDGES: dict[str, _Judge] = {
    CLUSTER_ID: _cluster_id,
    CONTROLLER: _controller,
    OFFLINE: _offline,
    UNDER_REPLICATED: _under_replicated,
    UNDER_MIN_ISR: _under_min_isr,
    FOREIGN_REASSIGNMENTS: _foreign_reassignments,
}
