"""The committed dashboard's queries, and which source each needs (the migrator or the brokers)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "dashboards" / "migration-progress.json"
MIGRATOR = "migrator"
BROKERS = "brokers"  # Strimzi's JMX exporter rules in every broker
_NAME = re.compile(r"\b(kafka_[a-z0-9_]+)\b")
#: Series suffixes a histogram or counter family adds to its name.
_SUFFIXES = ("_bucket", "_count", "_sum")


@dataclass(frozen=True)
class Target:
    panel: str
    ref: str
    expr: str

    @property
    def metric_names(self) -> set[str]:
        names = set()
        for name in _NAME.findall(self.expr):
            for suffix in _SUFFIXES:
                name = name.removesuffix(suffix)
            names.add(name)
        return names

    @property
    def source(self) -> str:
        return MIGRATOR if all(n.startswith("kafka_migration_") for n in self.metric_names) else BROKERS


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def targets(dashboard: dict[str, Any]) -> list[Target]:
    return [
        Target(panel["title"], target["refId"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
