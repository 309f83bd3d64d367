"""The ec2 platform against moto's server (a real HTTP EC2 API on 127.0.0.1).

What moto cannot do, and how that is handled honestly here:
- It runs no virtual machine, so no broker ever registers in ZooKeeper. Provisioning returns once the
  instances run (it never waits for ZooKeeper itself); the registration check is run against the real
  shared sandbox's ZooKeeper and must stay PENDING, naming the instances. Registration and
  deregistration themselves are exercised by the local and manual platform tests (same code).
- It ignores ClientToken (a repeated token launches another instance): idempotency here comes from
  the tag lookup; the token path is covered with botocore's Stubber in tests/unit.
- It does not check IAM permissions: UnauthorizedOperation is covered with the Stubber too.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from migrator.clients import aws
from migrator.config import load_config
from migrator.errors import BadInput, PermanentError
from migrator.platforms.source.ec2 import MANAGED_BY, Ec2Platform
from migrator.platforms.source.factory import source_platform
from migrator.platforms.model import HostState, NewBroker, Outcome
from migrator.platforms.source.user_data import HOST_MARK
from migrator.sandbox.cluster import SandboxCluster
from tests.dns_fixtures import aws_env, moto_endpoint  # noqa: F401

pytestmark = pytest.mark.cluster

REGION = "us-east-1"
BROKERS = [NewBroker(100, "a"), NewBroker(101, "b")]


def _network(ec2: Any) -> dict[str, str]:
    """A VPC with one subnet per rack (zone) and a launch template: what an operator prepares."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {
        rack: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for rack, cidr, zone in (("a", "10.0.1.0/24", "us-east-1a"), ("b", "10.0.2.0/24", "us-east-1b"))
    }
    template = f"kafka-broker-{uuid.uuid4().hex[:8]}"
    ec2.create_launch_template(
        LaunchTemplateName=template, LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "m5.large"}
    )
    return {"template": template, **subnets}


def _platform(sandbox: SandboxCluster, tmp_path: Path, endpoint: str, network: dict[str, str], **ec2: Any) -> Ec2Platform:
    path = sandbox.write_migration_config(tmp_path / "migration.yaml", migration_id=f"m-{uuid.uuid4().hex[:8]}")
    raw = yaml.safe_load(path.read_text())
    raw["source_platform"] = {
        "kind": "ec2",
        "server_properties": {
            "listeners": "PLAINTEXT://0.0.0.0:9092",
            "advertised.listeners": "PLAINTEXT://{host}:9092",
            "log.dirs": "/var/lib/kafka/data",
        },
        "ec2": {
            "region": REGION,
            "endpoint_url": endpoint,
            "launch_template": {"name": network["template"]},
            "subnets": {"a": network["a"], "b": network["b"]},
            "tags": {"team": "data-platform"},
            "poll_interval_seconds": 0.2,
            **ec2,
        },
    }
    path.write_text(yaml.safe_dump(raw))
    platform = source_platform(load_config(path))
    assert isinstance(platform, Ec2Platform)
    return platform


def _ours(ec2: Any, migration_id: str) -> list[dict[str, Any]]:
    pages = ec2.describe_instances(Filters=[{"Name": "tag:migration-id", "Values": [migration_id]}])
    return [i for r in pages["Reservations"] for i in r["Instances"]]


def _tags(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def test_provision_launches_tagged_brokers_and_retire_terminates_them(
    sandbox: SandboxCluster, tmp_path: Path, moto_endpoint: str, aws_env: None  # noqa: F811
) -> None:
    ec2 = aws.client("ec2", REGION, moto_endpoint)
    network = _network(ec2)
    platform = _platform(sandbox, tmp_path, moto_endpoint, network)
    migration_id = platform.migration_id

    records = platform.provision(BROKERS)
    assert [r.outcome for r in records] == [Outcome.LAUNCHED, Outcome.LAUNCHED]
    instances = {int(_tags(i)["kafka-broker-id"]): i for i in _ours(ec2, migration_id)}
    assert sorted(instances) == [100, 101]
    for broker, record in zip(BROKERS, records):
        instance = instances[broker.id]
        assert record.handle == instance["InstanceId"] and record.address == instance["PrivateDnsName"]
        assert instance["State"]["Name"] == "running"
        assert instance["SubnetId"] == network[broker.rack or ""]  # the rack's subnet
        assert instance["InstanceType"] == "m5.large"  # from the launch template
        tags = _tags(instance)
        assert tags["aws:ec2launchtemplate:id"].startswith("lt-")
        assert {k: tags[k] for k in ("Name", "migration-id", "kafka-broker-id", "managed-by", "team")} == {
            "Name": f"kafka-{broker.id}",
            "migration-id": migration_id,
            "kafka-broker-id": str(broker.id),
            "managed-by": MANAGED_BY,
            "team": "data-platform",
        }
        encoded = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="userData")
        script = base64.b64decode(encoded["UserData"]["Value"]).decode()
        lines = script.splitlines()
        for line in (
            f"broker.id={broker.id}",
            f"broker.rack={broker.rack}",
            f"zookeeper.connect={sandbox.zookeeper_connect}",  # the cluster's own chroot
            f"advertised.listeners=PLAINTEXT://{HOST_MARK}:9092",
            "log.dirs=/var/lib/kafka/data",
            "systemctl enable --now kafka.service",
        ):
            assert line in lines
        assert "meta-data/local-hostname" in script  # {host} is looked up on the instance at boot
        syntax = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
        assert syntax.returncode == 0, syntax.stderr

    again = platform.provision(BROKERS)  # idempotent: found by tags, nothing launched
    assert [(r.outcome, r.handle) for r in again] == [(Outcome.REUSED, r.handle) for r in records]
    assert len(_ours(ec2, migration_id)) == 2

    # No VM runs behind moto, so no broker registers: the check must say "not yet", naming the instance.
    check = platform.check_registered(BROKERS)
    assert check.waiting
    assert f"Broker 100 is not registered yet; host is running ({records[0].handle}" in check.reason
    with pytest.raises(PermanentError, match="did not register within 1 s"):  # the wait is bounded
        platform.wait_registered(BROKERS, timeout=1)

    platform.retire([100, 101])
    assert {i["State"]["Name"] for i in _ours(ec2, migration_id)} == {"terminated"}
    assert platform.check_retired([100, 101]).done
    assert [s.host.state for s in platform.describe([100, 101])] == [HostState.TERMINATED] * 2
    platform.retire([100, 101])  # idempotent


def test_a_missing_launch_template_is_bad_input_and_launches_nothing(
    sandbox: SandboxCluster, tmp_path: Path, moto_endpoint: str, aws_env: None  # noqa: F811
) -> None:
    ec2 = aws.client("ec2", REGION, moto_endpoint)
    network = {**_network(ec2), "template": "no-such-template"}
    platform = _platform(sandbox, tmp_path, moto_endpoint, network)
    with pytest.raises(BadInput, match="launch template no-such-template .* cannot be used"):
        platform.provision(BROKERS)
    assert _ours(ec2, platform.migration_id) == []


def test_the_fleets_own_instances_are_stopped_not_terminated(
    sandbox: SandboxCluster, tmp_path: Path, moto_endpoint: str, aws_env: None  # noqa: F811
) -> None:
    ec2 = aws.client("ec2", REGION, moto_endpoint)
    network = _network(ec2)
    fleet_vm = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=network["a"])
    instance_id = fleet_vm["Instances"][0]["InstanceId"]
    platform = _platform(sandbox, tmp_path, moto_endpoint, network, existing_instances={0: instance_id})

    # Broker 1 is live in the sandbox's ZooKeeper but runs on no instance migrator knows: refuse.
    with pytest.raises(BadInput, match=r"Broker\(s\) 1 are registered in ZooKeeper but run on no instance"):
        platform.retire([1])

    platform.retire([0])
    state = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] == "stopped"  # its disk keeps the broker's data for a rollback

    [record] = platform.provision([NewBroker(0, "a")])  # the rollback: the same VM starts again
    assert (record.outcome, record.handle) == (Outcome.STARTED, instance_id)
    state = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] == "running"
    assert _ours(ec2, platform.migration_id) == []  # nothing was launched
