"""dashboards/migration-progress.json: generated, valid against Grafana 11.6's schema, asking only for
metrics that exist (ours, or the brokers' under Strimzi's JMX exporter rules), loadable by provisioning."""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

from migrator.metrics.names import METRICS
from tests.dashboard_queries import BROKERS, DASHBOARD, MIGRATOR, ROOT, load_dashboard, targets
from tests.upstream import upstream_file

SCHEMA_DIR = "grafana-dashboard-schema-11.6"
#: The broker MBeans the board reads, as the JMX exporter writes them for pattern matching.
BROKER_BEANS = (
    "kafka.server<type=BrokerTopicMetrics, name=ReassignmentBytesInPerSec><>Count",
    "kafka.server<type=BrokerTopicMetrics, name=ReassignmentBytesOutPerSec><>Count",
    "kafka.server<type=ReplicaManager, name=UnderReplicatedPartitions><>Value",
    "kafka.server<type=ReplicaManager, name=UnderMinIsrPartitionCount><>Value",
    "kafka.controller<type=KafkaController, name=OfflinePartitionsCount><>Value",
    "kafka.controller<type=KafkaController, name=ZkMigrationState><>Value",
    "kafka.controller<type=KafkaController, name=MigratingZkBrokerCount><>Value",
)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dashboards_generate", ROOT / "dashboards" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_json_is_what_the_generator_builds() -> None:
    assert DASHBOARD.read_text() == _generator().render(), "run `.venv/bin/python dashboards/generate.py` and commit"


@cache
def _schema(kind: str) -> dict[str, Any]:
    return json.loads(upstream_file(f"{SCHEMA_DIR}/{kind}.jsonschema.json").read_text())


def _validate(instance: Any, kind: str, definition: str | None = None) -> None:
    schema = _schema(kind)
    if definition is not None:
        schema = {"$ref": f"#/definitions/{definition}", "definitions": schema["definitions"]}
    jsonschema.Draft7Validator(schema).validate(instance)


def test_dashboard_panels_and_queries_validate_against_grafana_11_6_schema() -> None:
    dashboard = load_dashboard()
    _validate(dashboard, "dashboard")
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        kind = panel["type"]
        assert upstream_file(f"{SCHEMA_DIR}/{kind}.jsonschema.json"), kind
        _validate(panel.get("options", {}), kind, "Options")
        custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom")
        if custom is not None and "FieldConfig" in _schema(kind)["definitions"]:
            _validate(custom, kind, "FieldConfig")
        for target in panel.get("targets", []):
            _validate(target, "prometheus")


def test_every_query_uses_the_datasource_variable_and_no_uid_is_hard_coded() -> None:
    dashboard = load_dashboard()
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    reference = {"type": "prometheus", "uid": "${" + variable["name"] + "}"}
    for panel in dashboard["panels"]:
        if panel["type"] in ("row", "text"):
            continue
        assert panel["datasource"] == reference, panel["title"]
        assert all(t["datasource"] == reference for t in panel["targets"]), panel["title"]
    uids = re.findall(r'"uid": "([^"]*)"', DASHBOARD.read_text())
    assert set(uids) == {dashboard["uid"], reference["uid"]}


def test_migrator_queries_name_only_metrics_the_exporter_serves() -> None:
    found = targets(load_dashboard())
    ours = {n for t in found if t.source == MIGRATOR for n in t.metric_names}
    assert ours <= set(METRICS), ours - set(METRICS)
    assert {t.source for t in found} == {MIGRATOR, BROKERS}


def _strimzi_rules() -> list[dict[str, Any]]:
    documents = yaml.safe_load_all(upstream_file("strimzi-0.45.2/metrics/kafka-metrics.yaml").read_text())
    config_map = next(d for d in documents if d and d.get("kind") == "ConfigMap")
    return yaml.safe_load(config_map["data"]["kafka-metrics-config.yml"])["rules"]


def _exported_name(bean: str, rules: list[dict[str, Any]]) -> str:
    """The name the JMX exporter gives `bean` under `rules` (first match wins; patterns are unanchored;
    lowercaseOutputName is on in Strimzi's config)."""
    for rule in rules:
        match = re.search(rule["pattern"], f"{bean}: 1")
        if match:
            name = re.sub(r"\$(\d+)", lambda m: match.group(int(m.group(1))), rule["name"])
            return re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9_:]", "_", name)).lower()
    raise AssertionError(f"no Strimzi rule exports {bean}")


def test_broker_queries_use_the_names_strimzi_rules_give() -> None:
    rules = _strimzi_rules()
    exported = {_exported_name(bean, rules) for bean in BROKER_BEANS}
    assert "kafka_server_brokertopicmetrics_reassignmentbytesin_total" in exported
    asked = {n for t in targets(load_dashboard()) if t.source == BROKERS for n in t.metric_names}
    assert asked == exported


def test_provisioning_points_grafana_at_the_folder_the_dashboard_is_copied_to() -> None:
    provider_file = ROOT / "dashboards/provisioning/dashboards/kafka-migration.yaml"
    config = yaml.safe_load(provider_file.read_text())
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    folder = provider["options"]["path"]
    copy = f"cp dashboards/provisioning/dashboards/kafka-migration.yaml dashboards/migration-progress.json {folder}/"
    readme = " ".join((ROOT / "dashboards/README.md").read_text().split())
    assert copy in readme


def test_the_readme_says_what_every_panel_answers() -> None:
    readme = (ROOT / "dashboards/README.md").read_text()
    titles = [p["title"] for p in load_dashboard()["panels"] if p["type"] not in ("row", "text")]
    assert [t for t in titles if f"| {t} |" not in readme] == []


@pytest.mark.parametrize("kind", ["dashboard", "prometheus"])
def test_the_schema_rejects_what_grafana_would(kind: str) -> None:
    """The validation above can fail: a panel without a type and a query without an expression are refused."""
    bad = {"panels": [{"title": "no type"}]} if kind == "dashboard" else {"refId": "A"}
    with pytest.raises(jsonschema.ValidationError):
        _validate(bad, kind)
