"""Secrets in migration.yaml: relative {file: ...} paths resolve against the config file's folder, and
secrets in source_platform.server_properties reach only the broker (through Kafka's config providers),
never EC2 user data, the manual platform's instructions or the migrator's own memory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from migrator.config import load_config
from migrator.errors import BadInput
from migrator.platforms.source.factory import source_platform
from migrator.platforms.model import NewBroker
from migrator.platforms.properties import PropertiesTemplate, to_text
from migrator.platforms.source.user_data import broker_script

PASSWORD = "s3cr3t-never-printed"


def _write(folder: Path, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "migration.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _cluster(**extra: object) -> dict:
    return {"zookeeper_connect": "zk1:2181/kafka", "bootstrap_servers": "kafka-0:9092", **extra}


def test_a_relative_secret_file_is_read_next_to_the_config_not_in_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "conf"
    path = _write(
        folder,
        {"migration_id": "m1", "cluster": _cluster(sasl_mechanism="PLAIN", sasl_username="u", sasl_password={"file": "secrets/pw"})},
    )
    (folder / "secrets").mkdir()
    (folder / "secrets" / "pw").write_text(PASSWORD + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path)
    assert config.cluster.sasl_password.file == folder / "secrets" / "pw"
    assert config.cluster.sasl_password.read() == PASSWORD


def test_a_missing_relative_secret_file_names_the_resolved_path(tmp_path: Path) -> None:
    path = _write(tmp_path / "conf", {"migration_id": "m1", "cluster": _cluster(sasl_mechanism="PLAIN", sasl_password={"file": "pw"})})
    with pytest.raises(BadInput, match=str(tmp_path / "conf" / "pw")):
        load_config(path)


def _broker_secrets(tmp_path: Path, kind: str = "manual") -> Path:
    return _write(
        tmp_path,
        {
            "migration_id": "m1",
            "cluster": _cluster(),
            "source_platform": {
                "kind": kind,
                "manual": {"host_pattern": "kafka-{id}.vm.internal"},
                "server_properties": {
                    "listeners": "SASL_PLAINTEXT://0.0.0.0:9092",
                    "log.dirs": "/var/lib/kafka/data",
                    # On the broker's host, not this machine's: load_config must not try to read it.
                    "listener.name.sasl_plaintext.plain.sasl.jaas.config": {"file": "/etc/kafka/secrets/jaas"},
                    "ssl.keystore.password": {"env": "KAFKA_KEYSTORE_PASSWORD"},
                },
            },
        },
    )


def test_broker_secrets_render_as_config_provider_references(tmp_path: Path) -> None:
    config = load_config(_broker_secrets(tmp_path))
    template = PropertiesTemplate("zk1:2181/kafka", config.source_platform.server_properties)
    properties = template.render(NewBroker(100, "a"), "vm-100")
    assert properties["listener.name.sasl_plaintext.plain.sasl.jaas.config"] == "${migrator_dir:/etc/kafka/secrets:jaas}"
    assert properties["ssl.keystore.password"] == "${migrator_env:KAFKA_KEYSTORE_PASSWORD}"
    assert properties["config.providers"] == "migrator_dir,migrator_env"
    assert properties["config.providers.migrator_dir.class"].endswith("DirectoryConfigProvider")
    assert properties["config.providers.migrator_env.class"].endswith("EnvVarConfigProvider")


def test_the_manual_instructions_and_ec2_user_data_hold_only_the_references(tmp_path: Path) -> None:
    config = load_config(_broker_secrets(tmp_path))
    printed: list[str] = []
    platform = source_platform(config, announce=printed.append)
    text = platform.instructions(provision=[NewBroker(100, "a")])
    assert "${migrator_dir:/etc/kafka/secrets:jaas}" in text and "${migrator_env:KAFKA_KEYSTORE_PASSWORD}" in text
    script = broker_script(
        migration_id="m1", broker_id=100, rack="a",
        properties=platform.server_properties(NewBroker(100, "a"), "vm-100"),
        properties_path=str(tmp_path / "server.properties"), start_command="true",
    )
    # Bash must not expand the placeholders when cloud-init runs the script (host given: no metadata call).
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    written = (tmp_path / "server.properties").read_text()
    assert "ssl.keystore.password=${migrator_env:KAFKA_KEYSTORE_PASSWORD}" in written
    assert "jaas.config=${migrator_dir:/etc/kafka/secrets:jaas}" in written


def test_a_relative_broker_secret_file_is_refused(tmp_path: Path) -> None:
    path = _broker_secrets(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["source_platform"]["server_properties"]["ssl.key.password"] = {"file": "relative/pw"}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(BadInput, match="absolute"):
        load_config(path)


def test_properties_text_keeps_the_placeholders(tmp_path: Path) -> None:
    config = load_config(_broker_secrets(tmp_path))
    text = to_text(PropertiesTemplate("zk:2181/kafka", config.source_platform.server_properties).render(NewBroker(1, None), "h"))
    assert "ssl.keystore.password=${migrator_env:KAFKA_KEYSTORE_PASSWORD}\n" in text
