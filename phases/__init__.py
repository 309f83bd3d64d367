"""The phases of a migration, in the order they run. Each module exposes `build(config) -> Phase`."""

from __future__ import annotations

import importlib

from migrator.config import MigrationConfig
from migrator.engine.phase import Phase
from migrator.errors import BadInput, MigratorError

#: Phase name -> module, in migration order. A phase joins this table when its module exists.
PHASES: dict[str, str] = {
    "preflight": "phases.preflight",
    "dns-facade": "phases.dns_facade",
    "broker-id-shift": "phases.broker_id_shift",
    "mixed-cluster-join": "phases.mixed_cluster_join",
    "cruise-control-rebalance": "phases.cruise_control_rebalance",
    "operator-handback": "phases.operator_handback",
}


def phase_names() -> list[str]:
    return list(PHASES)


def build_phase(name: str, config: MigrationConfig) -> Phase:
    """The phase `name` as configured; BadInput for a name that is not a phase."""
    if name not in PHASES:
        raise BadInput(
            f"There is no phase called {name!r}. The phases, in order, are: {', '.join(PHASES)}. "
            "Run `migrator plan` to see each one's steps."
        )
    return importlib.import_module(PHASES[name]).build(config)


def step_layout(config: MigrationConfig) -> dict[str, list[tuple[str, bool]]]:
    """Every phase's steps in order, each with whether it is reversible (the metrics' point of no
    return). A phase this config cannot build yet (its section is missing) gets no steps here; what
    the checkpoint records of it still shows."""
    layout: dict[str, list[tuple[str, bool]]] = {}
    for name in PHASES:
        try:
            layout[name] = [(step.name, step.reversible) for step in build_phase(name, config).steps]
        except MigratorError:
            layout[name] = []
    return layout
