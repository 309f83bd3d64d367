"""An in-process event bus: the machine, long steps and the canary publish; the CLI (progress lines and bars)
and the metrics exporter subscribe."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

Subscriber = Callable[["Event"], None]


@dataclass(frozen=True)
class Event:
    kind: str  # e.g. "step.applying", "step.done", "phase.paused", "progress"
    phase: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            # A broken display must never stop a migration.
            try:
                subscriber(event)
            except Exception:  # noqa: BLE001
                pass

    def emit(self, kind: str, phase: str | None = None, step: str | None = None, **data: Any) -> None:
        self.publish(Event(kind=kind, phase=phase, step=step, data=data))
