"""One way to get a mover, whichever kind the config names, so a phase never knows which one moves.

    with open_mover("native", config, events=ctx.events, persist=ctx.save_state) as mover:
        mover.run(plan, memory)        # blocks until every batch is done; raises when it pauses
        mover.verify(plan, memory)     # Verdict from the real cluster
        mover.reverse(memory)          # everything back where it was before the run
        mover.cancel(memory, reason)   # stop the moves in flight, remove our throttles

`memory` is the JSON dict the phase keeps in its checkpointed state for the mover. The kinds:
"native" (KIP-455 reassignments the migrator drives itself, movers/native.py) and "cruise-control"
(Cruise Control's remove_broker, movers/cruise_control.py, configured by the `cruise_control:`
section). A new kind (Strimzi's KafkaRebalance) joins `MoverKind` (movers/settings.py, what `mover:`
in migration.yaml accepts) and the table in `open_mover`; the phase does not change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, get_args

from migrator.config import MigrationConfig
from migrator.engine.step import JSON, Verdict
from migrator.errors import BadInput
from migrator.movers.plan import MovePlan
from migrator.movers.settings import MoverKind

MOVER_KINDS: tuple[str, ...] = get_args(MoverKind)


class Mover(Protocol):
    """What a phase asks of a mover: the native executor's interface."""

    def run(self, plan: MovePlan, state: JSON) -> object: ...

    def verify(self, plan: MovePlan, state: JSON) -> Verdict: ...

    def reverse(self, state: JSON) -> object: ...

    def cancel(self, state: JSON, reason: str = ...) -> object: ...


@contextmanager
def open_mover(kind: str, config: MigrationConfig, **options: Any) -> Iterator[Mover]:
    """The mover of `kind` with its connections open; closed on exit. BadInput for an unknown kind.

    `options` are the keyword arguments both movers' `open` take: events and persist (required),
    pause_requested, settings, phase, step, and the phase's hooks: `health_check`, polled during
    movement (a reason to pause, or None), and `progress_detail`, added to every progress event."""
    opened: AbstractContextManager[Mover]
    if kind == "native":
        from migrator.movers.native import NativeMover  # the Kafka clients, only when this kind moves

        opened = NativeMover.open(config, **options)
    elif kind == "cruise-control":
        from migrator.movers.cruise_control import CruiseControlMover  # requests and the CC client

        opened = CruiseControlMover.open(config, **options)
    else:
        raise BadInput(
            f"There is no mover called {kind!r}; the movers are {', '.join(MOVER_KINDS)}. Correct `mover:` in "
            "migration.yaml and run again; nothing was changed."
        )
    with opened as mover:
        yield mover
