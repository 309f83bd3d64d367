"""The source_platform section, the server.properties template, and the platform data types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from migrator.config import load_config
from migrator.errors import BadInput
from migrator.platforms.source.config import SourcePlatformConfig
from migrator.platforms.source.factory import settings_for, source_platform
from migrator.platforms.source.manual import ManualPlatform
from migrator.platforms.model import NewBroker, Outcome, ProvisionRecord
from migrator.platforms.properties import PropertiesTemplate, to_text

EC2 = {
    "launch_template": {"name": "kafka-broker"},
    "subnets": {"a": "subnet-a", "b": "subnet-b"},
}
TEMPLATE = {"listeners": "PLAINTEXT://0.0.0.0:9092", "log.dirs": "/var/lib/kafka/data"}


def _migration(tmp_path: Path, section: dict[str, Any], connect: str = "zk1:2181,zk2:2181/kafka") -> Path:
    path = tmp_path / "migration.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "migration_id": "m1",
                "cluster": {"zookeeper_connect": connect, "bootstrap_servers": "kafka-0:9092"},
                "source_platform": section,
            }
        )
    )
    return path


def test_migration_yaml_carries_the_section(tmp_path: Path) -> None:
    config = load_config(_migration(tmp_path, {"kind": "ec2", "server_properties": TEMPLATE, "ec2": EC2}))
    assert config.source_platform is not None
    assert config.source_platform.ec2 is not None
    assert config.source_platform.ec2.launch_template.version == "$Default"
    assert config.source_platform.ec2.subnets == {"a": "subnet-a", "b": "subnet-b"}


@pytest.mark.parametrize(
    ("section", "complaint"),
    [
        ({"kind": "ec2", "server_properties": TEMPLATE}, "source_platform.ec2 section is required"),
        ({"kind": "ec2", "server_properties": {"listeners": "x"}, "ec2": EC2}, "log.dirs"),
        ({"kind": "manual", "server_properties": {**TEMPLATE, "broker.id": 7}}, "broker.id must not be set"),
        ({"kind": "manual", "server_properties": {**TEMPLATE, "zookeeper.connect": "zk:2181/other"}}, "zookeeper.connect"),
        ({"kind": "manual", "server_properties": {**TEMPLATE, "listeners": "a\nb"}}, "several lines"),
        (
            {"kind": "ec2", "server_properties": TEMPLATE, "ec2": {**EC2, "launch_template": {"id": "lt-1", "name": "n"}}},
            "exactly one of id and name",
        ),
        (
            {"kind": "ec2", "server_properties": TEMPLATE, "ec2": {**EC2, "launch_template": {"name": "n", "version": "x"}}},
            "version",
        ),
        ({"kind": "ec2", "server_properties": TEMPLATE, "ec2": {**EC2, "name_pattern": "kafka"}}, "{id}"),
        ({"kind": "ec2", "server_properties": TEMPLATE, "ec2": {**EC2, "tags": {"managed-by": "me"}}}, "managed-by"),
        ({"kind": "manual", "server_properties": TEMPLATE, "manual": {"host_pattern": "vm"}}, "{id}"),
        ({"kind": "gcp"}, "kind"),
    ],
)
def test_invalid_sections_are_refused_with_the_reason(section: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SourcePlatformConfig.model_validate(section)
    assert complaint in str(caught.value)


def test_a_broker_zookeeper_connect_with_another_chroot_is_bad_input(tmp_path: Path) -> None:
    config = load_config(
        _migration(
            tmp_path,
            {"kind": "manual", "server_properties": TEMPLATE, "zookeeper_connect": "10.0.0.1:2181/kafka-new"},
        )
    )
    with pytest.raises(BadInput, match="another chroot"):
        settings_for(config)


def test_no_section_is_bad_input(tmp_path: Path) -> None:
    path = _migration(tmp_path, {"kind": "manual", "server_properties": TEMPLATE})
    raw = yaml.safe_load(path.read_text())
    del raw["source_platform"]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(BadInput, match="no source_platform"):
        source_platform(load_config(path))


def test_factory_builds_the_configured_kind_with_the_clusters_connect(tmp_path: Path) -> None:
    config = load_config(
        _migration(tmp_path, {"kind": "manual", "server_properties": TEMPLATE, "zookeeper_connect": "10.0.0.9:2181/kafka"})
    )
    platform = source_platform(config, announce=lambda text: None)
    assert isinstance(platform, ManualPlatform)
    # Brokers get the address they reach ZooKeeper at; registrations are read where migrator reaches it.
    assert platform.settings.template.zookeeper_connect == "10.0.0.9:2181/kafka"
    assert platform.settings.registrations.zookeeper_connect == "zk1:2181,zk2:2181/kafka"


def test_template_renders_identity_first_and_fills_placeholders() -> None:
    template = PropertiesTemplate(
        "zk:2181/kafka",
        {
            "listeners": "PLAINTEXT://{host}:9092",
            "log.dirs": "/data/broker-{id}",
            "client.rack.note": "rack={rack}",
            "num.io.threads": 8,
            "auto.create.topics.enable": False,
            "sandbox.value": "{port}",
        },
    )
    broker = NewBroker(100, "a", {"num.io.threads": "16"})
    rendered = template.render(broker, "kafka-100.internal")
    assert list(rendered)[:3] == ["broker.id", "broker.rack", "zookeeper.connect"]
    assert rendered == {
        "broker.id": "100",
        "broker.rack": "a",
        "zookeeper.connect": "zk:2181/kafka",
        "listeners": "PLAINTEXT://kafka-100.internal:9092",
        "log.dirs": "/data/broker-100",
        "client.rack.note": "rack=a",
        "num.io.threads": "16",
        "auto.create.topics.enable": "false",
        "sandbox.value": "{port}",
    }


def test_rack_placeholder_without_a_rack_is_bad_input() -> None:
    template = PropertiesTemplate("zk:2181", {"log.dirs": "/data/{rack}"})
    with pytest.raises(BadInput, match="no rack"):
        template.render(NewBroker(5), "h")
    assert "broker.rack" not in PropertiesTemplate("zk:2181").render(NewBroker(5), "h")


def test_per_broker_config_cannot_change_the_identity() -> None:
    with pytest.raises(ValueError, match="zookeeper.connect"):
        NewBroker(1, "a", {"zookeeper.connect": "elsewhere:2181"})


def test_properties_text_escapes_backslashes() -> None:
    assert to_text({"a": "x", "ssl.path": r"C:\kafka"}) == "a=x\nssl.path=C:\\\\kafka\n"


def test_records_survive_a_checkpoint_round_trip() -> None:
    broker = NewBroker(101, "b", {"num.io.threads": "4"})
    assert NewBroker.from_dict(broker.to_dict()) == broker
    record = ProvisionRecord(101, Outcome.LAUNCHED, "ip-10-0-0-1.ec2.internal", "i-0abc")
    assert record.to_dict()["outcome"] == "launched"
    assert ProvisionRecord.from_dict(record.to_dict()) == record
