"""Preferred leader election with a few tries: a replica that just joined the ISR may not be electable
on the first call, and a controller that just moved may not answer yet."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from migrator.clients.kafka import KAFKA_IO_ERRORS, KafkaAdmin, PartitionKey


def elect_preferred_leaders(
    admin: KafkaAdmin,
    keys: Sequence[PartitionKey],
    *,
    attempts: int,
    pause: Callable[[], None],
    still_pending: Callable[[], Sequence[PartitionKey]] | None = None,
    on_attempt: Callable[[int, int, dict[PartitionKey, str]], None] = lambda attempt, asked, failed: None,
) -> dict[PartitionKey, str]:
    """Ask for the preferred leaders of `keys`, again (after `pause`) for those that failed, at most
    `attempts` times. `still_pending` re-reads which partitions still need an election before each try
    (default: those that failed the last one). Errors are answers, not exceptions: a caller's verify
    judges the outcome. Returns the failures of the last try; `on_attempt(attempt, asked, failures)`."""
    pending = sorted(keys)
    failures: dict[PartitionKey, str] = {}
    for attempt in range(attempts):
        if attempt:
            pause()
        if still_pending is not None:
            pending = sorted(still_pending())
        if not pending:
            return {}
        try:
            answered = admin.elect_preferred_leaders(pending)
        except KAFKA_IO_ERRORS as exc:  # e.g. no controller yet, after the old one died
            answered = {k: f"{type(exc).__name__}: {exc}" for k in pending}
        failures = {k: e for k, e in answered.items() if e}
        on_attempt(attempt, len(pending), failures)
        pending = sorted(failures)
        if not pending and still_pending is None:
            break
    return failures
