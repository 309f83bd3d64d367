"""The health gate of a long data movement: asked continuously while data moves, it says why the move
must pause; once paused, it waits until the cluster has been healthy for a while before the move resumes.

    gate = HealthGate(config, brokers=lambda: {0, 1, 2, 1000, 1001, 1002}, extra_checks=[canary.problem])
    gate.problem()                                   # "under_replicated_partitions: 2 ..." or None
    gate.await_healthy(hold=60, timeout=3600, ...)   # returns once healthy for 60 s in a row

What it judges, from ZooKeeper alone (cheap enough to ask every few seconds on a busy fleet): a broker
that should be registered is not (a broker offline), partitions under-replicated beyond
safety.max_under_replicated_partitions (a move in flight is not under-replicated: its adding replicas
are not counted), partitions under min.insync.replicas, offline partitions, no controller. Each of
`extra_checks` is one more reason to pause: the embedded canary (migrator/cluster/canary.py, produce
p99 and errors) plugs in there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property

from migrator.clients.zk import ZooKeeper
from migrator.cluster.inventory import read_inventory, refresh_from_zookeeper
from migrator.cluster.model import Inventory
from migrator.cluster.safety import CONTROLLER, OFFLINE, UNDER_MIN_ISR, UNDER_REPLICATED, evaluate_safety
from migrator.config import MigrationConfig
from migrator.errors import OperatorPause, SafetyGateError

GATE_CHECKS = (CONTROLLER, OFFLINE, UNDER_REPLICATED, UNDER_MIN_ISR)

#: A check beyond the cluster's own: why to pause, or None.
ExtraCheck = Callable[[], str | None]


class HealthGate:
    def __init__(
        self,
        config: MigrationConfig,
        *,
        brokers: Callable[[], Iterable[int]] = lambda: (),
        extra_checks: Sequence[ExtraCheck] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._brokers = brokers
        self.extra_checks = list(extra_checks)
        self._clock = clock
        self._sleep = sleep

    @cached_property
    def _known(self) -> Inventory:
        """One full read for the topics' min.insync.replicas; later reads refresh it from ZooKeeper."""
        return read_inventory(self.config)

    def problem(self) -> str | None:
        """Why data must not move now (every broken condition, one line), or None when healthy."""
        with ZooKeeper.from_config(self.config.cluster) as zk:
            inventory = refresh_from_zookeeper(zk, self._known)
        problems = []
        missing = sorted(set(self._brokers()) - inventory.live_broker_ids)
        if missing:
            problems.append(f"broker(s) {', '.join(map(str, missing))} offline (not registered in ZooKeeper)")
        report = evaluate_safety(self.config, inventory, (), GATE_CHECKS)
        problems += [f"{c.name}: {c.detail}" for c in report.failures]
        problems += [p for check in self.extra_checks if (p := check()) is not None]
        return "; ".join(problems) or None

    def await_healthy(
        self,
        *,
        hold: float,
        timeout: float,
        interval: float,
        stop_requested: Callable[[], str | None] = lambda: None,
        on_poll: Callable[[str | None, float], None] = lambda problem, healthy_for: None,
    ) -> None:
        """Return once `problem()` has been None for `hold` seconds in a row. SafetyGateError when that
        has not happened within `timeout`; OperatorPause when `stop_requested` gives a reason (an operator's pause)."""
        deadline = self._clock() + timeout
        healthy_since: float | None = None
        last = "not checked yet"
        while True:
            if reason := stop_requested():
                raise OperatorPause(f"The move stays paused: {reason}. `migrator resume` carries on.")
            try:
                problem = self.problem()
            except Exception as exc:  # noqa: BLE001 - an unreadable cluster is not a healthy one
                problem = f"the cluster could not be read ({type(exc).__name__}: {exc})"
            now = self._clock()
            if problem is None:
                healthy_since = now if healthy_since is None else healthy_since
                if now - healthy_since >= hold:
                    return
            else:
                healthy_since, last = None, problem
            on_poll(problem, 0.0 if healthy_since is None else now - healthy_since)
            if now >= deadline:
                raise SafetyGateError(
                    f"The move paused on its health gate and the cluster did not stay healthy for {hold:g} s within "
                    f"{timeout:g} s (last problem: {last}). Restore the cluster's health, then `migrator resume`; "
                    "or `migrator rollback` to move everything back."
                )
            self._sleep(interval)
