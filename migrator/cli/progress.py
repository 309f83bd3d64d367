"""The progress bar of long steps: bytes moved of the total, the rate achieved and the ETA, drawn on
stderr from the "progress" events a step emits (the mover's, migrator/movers/progress.py), and the
same figures as one line for `migrator status` from the checkpoint."""

from __future__ import annotations

from typing import Any

from rich.progress import Progress, TaskID

from migrator.engine.events import Event


def size(n: float | None) -> str:
    if n is None:
        return "?"
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else (f"{minutes}m{secs:02d}s" if minutes else f"{secs}s")


def progress_line(data: dict[str, Any]) -> str:
    """'1.2 GB of 3.4 GB (35%), 12.0 MB/s, ETA 3m05s, 40/120 partitions, batch 2/5'."""
    total, moved = data.get("bytes_total") or 0, data.get("bytes_moved") or 0
    percent = f" ({100 * moved / total:.0f}%)" if total else ""
    rate = data.get("rate_bytes_per_second")
    parts = [
        f"{size(moved)} of {size(total)}{percent}",
        f"{size(rate)}/s" if rate is not None else "rate unknown yet",
        f"ETA {duration(data.get('eta_seconds'))}",
        f"{data.get('partitions_done', 0)}/{data.get('partitions_total', 0)} partitions",
    ]
    if data.get("batch"):
        parts.append(f"batch {data['batch']}/{data.get('batches_total', '?')}")
    return ", ".join(parts)


class ProgressBars:
    """One bar per step that reports progress; subscribe `on_event` to the session's event bus."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self._tasks: dict[str, TaskID] = {}

    def on_event(self, event: Event) -> None:
        if event.kind != "progress":
            return
        key = f"{event.phase}/{event.step}"
        total = event.data.get("bytes_total") or 0
        fields = {"total": total or None, "completed": event.data.get("bytes_moved") or 0, "line": progress_line(event.data)}
        if key not in self._tasks:
            if not self._tasks:
                self.progress.start()
            self._tasks[key] = self.progress.add_task(key, **fields)
        else:
            self.progress.update(self._tasks[key], **fields)

    def close(self) -> None:
        if self._tasks:
            self.progress.stop()
