"""Error kinds shared by every layer; the CLI maps each to its exit code, decided here once:

    0 done, 1 failed, 2 bad input (nothing changed), 3 paused on a safety gate, 4 paused by the operator.

Like kopf's handler errors, a failure says how to retry by its type: the engine, not each step,
owns retry and backoff.
"""

from __future__ import annotations


class MigratorError(Exception):
    """A failure the CLI reports as one paragraph (cause + next action) and exit code 1."""

    exit_code = 1


class BadInput(MigratorError):
    """Wrong config, unreachable endpoint, mismatched cluster id, held lock...: nothing was changed."""

    exit_code = 2


class SafetyGateError(MigratorError):
    """A safety invariant is broken: the run paused instead of pushing on."""

    exit_code = 3


class OperatorPause(MigratorError):
    """The operator asked for a pause (`migrator pause`) and the run stopped cleanly; `migrator resume`
    carries on. Its own exit code, so a script can tell a requested stop from a broken invariant."""

    exit_code = 4


class TemporaryError(MigratorError):
    """Worth retrying after `delay` seconds (a broker restarting, a DNS answer not yet propagated)."""

    def __init__(self, message: str, delay: float = 5.0) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentError(MigratorError):
    """Retrying will not help; a human must act."""
