"""`migrator clients scan` / `--rewrite` on tests/fixtures/clients_scan: every file type, two git work
trees and a plain folder, and lines that must never be rewritten (marked `not ours` in the fixtures)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migrator.cli.clients import app, parse_hosts
from migrator.dns.clients_scan import BrokerHost, facade_pattern, rewrite, scan
from migrator.errors import BadInput

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "clients_scan"
HOSTS = "0=kafka1.prod.example.com:9092,1=kafka2.prod.example.com,2=kafka3.prod.example.com:9092"
BROKERS = [BrokerHost(0, "kafka1.prod.example.com", 9092), BrokerHost(1, "kafka2.prod.example.com", 9092), BrokerHost(2, "kafka3.prod.example.com", 9092)]
FACADE = facade_pattern("kafka-{id}.example.com")
REPOS = ("payments-service", "infra-terraform")

EXPECTED = {
    ("payments-service/config/consumer.properties", 2, 0),
    ("payments-service/config/consumer.properties", 2, 1),
    ("payments-service/config/consumer.properties", 2, 2),
    ("payments-service/deploy/values.yaml", 2, 1),
    ("payments-service/deploy/values.yaml", 6, 0),
    ("payments-service/deploy/values.yaml", 7, 2),
    ("payments-service/deploy/kafka.env", 1, 2),
    ("payments-service/src/main/java/com/example/payments/EventPublisher.java", 9, 0),
    ("infra-terraform/kafka.tf", 3, 0),
    ("infra-terraform/kafka.tf", 3, 1),
    ("infra-terraform/settings.json", 3, 1),
    ("loose-scripts/produce.py", 1, 1),
    ("loose-scripts/no-newline.sh", 1, 2),
}


def copy_repos(target: Path) -> Path:
    """The fixture tree with `git init` in the two repository folders."""
    shutil.copytree(FIXTURE, target)
    for repo in REPOS:
        subprocess.run(["git", "init", "-q", str(target / repo)], check=True)
    return target


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts}


def test_scan_finds_every_broker_address_and_nothing_else(tmp_path: Path) -> None:
    root = copy_repos(tmp_path / "repos")
    findings = scan([root], BROKERS, FACADE)
    assert {(f.path.relative_to(root).as_posix(), f.line, f.broker) for f in findings} == EXPECTED
    assert not [f for f in findings if "not ours" in f.text]
    json_finding = next(f for f in findings if f.path.name == "settings.json")
    assert (json_finding.match, json_finding.replacement) == ("KAFKA2.PROD.EXAMPLE.COM:9092", "kafka-1.example.com:9092")


def test_rewrite_writes_one_git_patch_per_work_tree_and_changes_nothing_in_place(tmp_path: Path) -> None:
    root = copy_repos(tmp_path / "repos")
    untouched = tree(root)
    patches = rewrite([root], BROKERS, FACADE, tmp_path / "patches")
    assert tree(root) == untouched
    assert {p.root.name: p.path.name for p in patches} == {
        "infra-terraform": "infra-terraform.patch",
        "payments-service": "payments-service.patch",
        "repos": "repos.patch",  # loose-scripts is in no work tree: its patch is per PATH
    }
    assert "+++ b/config/consumer.properties" in (tmp_path / "patches" / "payments-service.patch").read_text()

    for patch in patches:  # each patch applies from its own root, as a pull request would
        subprocess.run(["git", "apply", str(patch.path)], cwd=patch.root, check=True)
    in_place = copy_repos(tmp_path / "in-place")
    rewrite([in_place], BROKERS, FACADE, None, in_place=True)
    assert tree(root) == tree(in_place)

    assert scan([root], BROKERS) == []
    properties = (root / "payments-service/config/consumer.properties").read_text().splitlines()
    assert properties[1] == "bootstrap.servers=kafka-0.example.com:9092,kafka-1.example.com:9092,kafka-2.example.com:9092"
    for path, text in tree(root).items():
        for before, after in zip(untouched[path].decode().splitlines(), text.decode().splitlines()):
            if "not ours" in before:
                assert after == before, path
    assert tree(root)["loose-scripts/no-newline.sh"] == b'servers="kafka-2.example.com:9092"'


def test_hosts_option_parsing() -> None:
    assert parse_hosts(HOSTS, 9092) == BROKERS
    with pytest.raises(BadInput, match="not ID=HOST"):
        parse_hosts("kafka1.prod.example.com:9092", 9092)


def test_cli_prints_findings_as_json_and_writes_patches(tmp_path: Path) -> None:
    root = copy_repos(tmp_path / "repos")
    runner = CliRunner()
    result = runner.invoke(app, ["scan", str(root), "--hosts", HOSTS, "--output", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {(Path(r["path"]).relative_to(root).as_posix(), r["line"], r["broker"]) for r in rows} == EXPECTED
    assert all({"path", "line", "text", "broker"} <= set(r) for r in rows)

    args = ["scan", str(root), "--hosts", HOSTS, "--facade-pattern", "kafka-{id}.example.com", "--rewrite", "--patch-dir", str(tmp_path / "out"), "-o", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {Path(r["patch"]).name for r in rows} == {"payments-service.patch", "infra-terraform.patch", "repos.patch"}
    assert scan([root], BROKERS) != []  # without --in-place the files are as they were

    refused = runner.invoke(app, ["scan", str(root), "--hosts", HOSTS, "--facade-pattern", "kafka-{id}.example.com", "--rewrite"])
    assert refused.exit_code == 2 and "--patch-dir" in refused.output
    assert runner.invoke(app, ["scan", str(root)]).exit_code == 2  # neither --hosts nor --config
