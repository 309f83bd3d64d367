"""The exporter's figures as plain data, for views that are not Prometheus (`migrator watch`)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.metrics_core import Metric


@dataclass(frozen=True)
class Reading:
    labels: dict[str, str]
    value: float


@dataclass
class Readings:
    """sample name -> its samples (counters under their `_total` name, histograms as _bucket/_count/_sum)."""

    samples: dict[str, list[Reading]] = field(default_factory=dict)

    @classmethod
    def of(cls, families: Iterable[Metric]) -> "Readings":
        found = cls()
        for family in families:
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue  # prometheus_client's process-start times of counters: no figure of the migration
                found.samples.setdefault(sample.name, []).append(Reading(dict(sample.labels), sample.value))
        return found

    def all(self, name: str, **labels: str) -> list[Reading]:
        return [r for r in self.samples.get(name, []) if all(r.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, default: float | None = None, **labels: str) -> float | None:
        found = self.all(name, **labels)
        return found[0].value if found else default

    def to_dict(self) -> dict[str, list[dict[str, object]]]:
        """JSON-ready: NaN (an unknown ETA) becomes None."""
        return {
            name: [{"labels": r.labels, "value": None if math.isnan(r.value) else r.value} for r in readings]
            for name, readings in sorted(self.samples.items())
        }
