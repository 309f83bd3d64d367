"""Docs claim only what the code does: runbook links lead somewhere, and nothing promises a metrics
exporter or a Prometheus install that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_runbook_link_leads_to_a_runbook() -> None:
    index = ROOT / "runbooks" / "README.md"
    links = re.findall(r"\]\(([^)#]+\.md)\)", index.read_text())
    assert links, "the runbook index links no runbook"
    assert [link for link in links if not (index.parent / link).exists()] == []


def test_no_metrics_exporter_is_claimed_while_none_exists() -> None:
    if (ROOT / "migrator" / "metrics").exists():
        return
    for path in (ROOT / "migrator" / "engine" / "events.py", ROOT / "migrator" / "config.py"):
        text = path.read_text().lower()
        assert "exporter" not in text and "metrics" not in text, path


def test_dev_setup_claims_only_the_packages_it_installs() -> None:
    script = (ROOT / "scripts" / "dev.sh").read_text()
    installed = re.search(r"MIGRATOR_APT_PACKAGES:-([^}]+)\}", script).group(1)
    if "prometheus" not in installed:
        comments = [line for line in script.splitlines() if line.strip().startswith("#")]
        assert not any("prometheus" in line.lower() for line in comments)
