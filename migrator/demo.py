"""`migrator demo`: a whole migration on the embedded local cluster, under continuous load.

It starts the sandbox (ZooKeeper and three ZooKeeper-mode brokers as local processes), runs the
workload generator against it, runs every phase this version can run locally through the same
machine and checkpoints a user's run goes through, then stops the load and reports what the clients
saw: produced, acknowledged, consumed, lost, duplicated. The sandbox is always torn down.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.cluster.inventory import read_inventory
from migrator.config import load_config
from migrator.engine.events import Event
from migrator.sandbox.cluster import DEFAULT_BROKERS, SandboxCluster
from migrator.sandbox.workload import Workload
from migrator.session import Session

#: The phases the demo runs, in order: those that need nothing beyond the local sandbox.
DEMO_PHASES = ("preflight",)


@dataclass
class DemoResult:
    workload: dict[str, Any]
    phases: dict[str, str] = field(default_factory=dict)
    inventory: dict[str, Any] = field(default_factory=dict)
    workdir: str = ""

    @property
    def ok(self) -> bool:
        return self.workload.get("lost") == 0 and self.workload.get("duplicated") == 0 and all(
            status in ("done", "skipped") for status in self.phases.values()
        )

    def to_dict(self) -> dict[str, Any]:
        # The workload report's counters stay at the top level: they are the demo's headline.
        return {**self.workload, "phases": self.phases, "inventory": self.inventory, "workdir": self.workdir, "ok": self.ok}


def run_demo(
    workdir: Path | None = None,
    min_load_seconds: float = 10.0,
    rate_per_s: float = 200,
    on_event: Callable[[Event], None] | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the demo end to end; the sandbox is down again when this returns or raises."""
    with ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="migrator-demo-")))
        say = on_progress or (lambda line: None)
        say(f"starting the sandbox in {workdir}")
        cluster = SandboxCluster(Path(workdir) / "sandbox", DEFAULT_BROKERS)
        stack.callback(cluster.down)
        cluster.up()
        config = load_config(cluster.write_migration_config(Path(workdir) / "migration.yaml", migration_id="demo"))

        say(f"cluster {cluster.cluster_id} is up; starting the workload ({rate_per_s:.0f} msg/s, acks=all)")
        workload = Workload(cluster.bootstrap_servers, rate_per_s=rate_per_s)
        workload.start()
        stack.callback(workload.stop)
        started = time.monotonic()

        session = Session.open(config)
        if on_event:
            session.events.subscribe(on_event)
        phases: dict[str, str] = {}
        for name in DEMO_PHASES:
            say(f"phase {name}: {workload.snapshot().progress_line()}")
            record = session.machine.run(session.phase(name), session.context())
            phases[name] = record.status.value

        # Enough load around the phases for the loss check to mean something.
        while time.monotonic() - started < min_load_seconds:
            time.sleep(1.0)
            say(workload.snapshot().progress_line())
        report = workload.stop()
        say(f"workload stopped: {report.progress_line()}")
        inventory = read_inventory(config).summary()
        return DemoResult(workload=report.to_dict(), phases=phases, inventory=inventory, workdir=str(workdir))
