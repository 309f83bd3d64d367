"""Moving the ZooKeeper-mode controller off brokers that are about to stop."""

from __future__ import annotations

from collections.abc import Callable

from migrator.clients.zk import ZooKeeper
from migrator.errors import PermanentError, TemporaryError
from migrator.text import id_list

#: How many times the controller is asked to move before the caller gives up for now.
CONTROLLER_ELECTIONS = 10


def move_controller_off(
    zk: ZooKeeper,
    leaving: set[int],
    live: set[int],
    *,
    on_election: Callable[[int], None],
    sleep: Callable[[float], None],
    poll_interval: float,
) -> None:
    """Return once the controller runs on a broker outside `leaving`, asking for elections (deleting
    /controller) while it does not; `on_election` hears the controller each election moves off."""
    if not live - leaving:
        raise PermanentError(
            f"Retiring broker(s) {id_list(leaving)} would leave no broker to take over as controller; nothing was stopped."
        )
    for _ in range(CONTROLLER_ELECTIONS):
        controller = (zk.controller() or {}).get("brokerid")
        if controller is not None and controller not in leaving:
            return
        if controller is not None:
            on_election(controller)
            zk.request_controller_election()
        sleep(poll_interval)
    raise TemporaryError(
        f"The controller is still on broker(s) {id_list(leaving)} (or being elected) after {CONTROLLER_ELECTIONS} "
        "elections; nothing was stopped. Retrying shortly.",
        delay=10.0,
    )
