"""EC2 answers moto cannot give: AWS refusing a permission, and ClientToken idempotency (moto launches a
new instance for a repeated token; AWS returns the first one, even once it is terminated).
botocore's Stubber checks each request we send and plays AWS's documented reply."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from migrator.errors import BadInput, PermanentError
from migrator.platforms.source.base import PlatformSettings
from migrator.platforms.source.config import Ec2PlatformConfig
from migrator.platforms.source.ec2 import Ec2Platform, client_token
from migrator.platforms.model import NewBroker, Outcome
from migrator.platforms.properties import PropertiesTemplate
from migrator.platforms.registration import Registrations

MIGRATION = "m1"
BROKER = NewBroker(100, "a")


@pytest.fixture
def stubbed() -> Iterator[tuple[Ec2Platform, Stubber]]:
    client = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    section = Ec2PlatformConfig.model_validate(
        {"launch_template": {"name": "kafka-broker"}, "subnets": {"a": "subnet-a"}, "poll_interval_seconds": 1}
    )
    settings = PlatformSettings(
        # Never opened here: these tests stop before anything reads ZooKeeper.
        registrations=Registrations("127.0.0.1:1/kafka", None),
        template=PropertiesTemplate("zk:2181/kafka", {"listeners": "PLAINTEXT://0.0.0.0:9092", "log.dirs": "/data"}),
        sleep=lambda seconds: None,
    )
    with Stubber(client) as stubber:
        yield Ec2Platform(settings, section, MIGRATION, client=client), stubber
        stubber.assert_no_pending_responses()


def _no_instances_yet(stubber: Stubber) -> None:
    stubber.add_response("describe_instances", {"Reservations": []}, {"Filters": ANY})


def _preflight_passes(stubber: Stubber) -> None:
    stubber.add_response(
        "describe_launch_template_versions",
        {"LaunchTemplateVersions": [{"VersionNumber": 1}]},
        {"LaunchTemplateName": "kafka-broker", "Versions": ["$Default"]},
    )
    stubber.add_response("describe_subnets", {"Subnets": [{"SubnetId": "subnet-a"}]}, {"SubnetIds": ["subnet-a"]})
    stubber.add_client_error(
        "run_instances", "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
    )


def _instance(instance_id: str, state: str) -> dict[str, Any]:
    return {"InstanceId": instance_id, "State": {"Name": state}, "PrivateDnsName": f"{instance_id}.internal"}


def _launch_request(token: str) -> dict[str, Any]:
    return {
        "LaunchTemplate": {"LaunchTemplateName": "kafka-broker", "Version": "$Default"},
        "MinCount": 1,
        "MaxCount": 1,
        "SubnetId": "subnet-a",
        "UserData": ANY,
        "TagSpecifications": ANY,
        "ClientToken": token,
    }


def _describe(stubber: Stubber, instance: dict[str, Any]) -> None:
    stubber.add_response(
        "describe_instances",
        {"Reservations": [{"Instances": [instance]}]},
        {"InstanceIds": [instance["InstanceId"]]},
    )


def test_missing_permission_is_bad_input_before_anything_launches(stubbed: tuple[Ec2Platform, Stubber]) -> None:
    platform, stubber = stubbed
    _no_instances_yet(stubber)
    stubber.add_response(
        "describe_launch_template_versions", {"LaunchTemplateVersions": [{"VersionNumber": 1}]}, None
    )
    stubber.add_response("describe_subnets", {"Subnets": [{"SubnetId": "subnet-a"}]}, None)
    stubber.add_client_error(
        "run_instances", "UnauthorizedOperation", "You are not authorized to perform this operation.", 403
    )
    with pytest.raises(BadInput, match=r"AWS denied ec2:RunInstances .*Grant .*ec2:RunInstances"):
        platform.provision([BROKER])
    # The Stubber fails on any request not queued above: no real RunInstances was sent.


def test_a_token_answered_by_a_terminated_instance_moves_on(stubbed: tuple[Ec2Platform, Stubber]) -> None:
    """After a rollback the first token still names the old, terminated instance (AWS keeps tokens for
    a while after termination); the platform derives the next token from that instance and launches."""
    platform, stubber = stubbed
    first, second = client_token(MIGRATION, 100), client_token(MIGRATION, 100, after="i-old")
    assert first != second and len(first) <= 64 and len(second) <= 64
    _no_instances_yet(stubber)
    _preflight_passes(stubber)
    stubber.add_response("run_instances", {"Instances": [_instance("i-old", "pending")]}, _launch_request(first))
    _describe(stubber, _instance("i-old", "terminated"))
    stubber.add_response("run_instances", {"Instances": [_instance("i-new", "pending")]}, _launch_request(second))
    _describe(stubber, _instance("i-new", "pending"))
    _describe(stubber, _instance("i-new", "pending"))  # the wait for running polls ...
    _describe(stubber, _instance("i-new", "running"))  # ... until it runs
    [record] = platform.provision([BROKER])
    assert (record.outcome, record.handle, record.address) == (Outcome.LAUNCHED, "i-new", "i-new.internal")


def test_a_token_reused_with_other_parameters_is_bad_input(stubbed: tuple[Ec2Platform, Stubber]) -> None:
    """Tokens are derived, not random: a retry after a crash sends the same one, which AWS answers
    with the instance the first attempt launched instead of launching a second."""
    platform, stubber = stubbed
    assert client_token(MIGRATION, 100) == client_token(MIGRATION, 100)
    assert client_token(MIGRATION, 100) != client_token(MIGRATION, 101)
    assert client_token(MIGRATION, 100) != client_token("m2", 100)
    _no_instances_yet(stubber)
    _preflight_passes(stubber)
    stubber.add_client_error(
        "run_instances",
        "IdempotentParameterMismatch",
        "The client token you have provided is associated with a resource that has different parameters.",
        400,
        expected_params=_launch_request(client_token(MIGRATION, 100)),
    )
    with pytest.raises(BadInput, match="same idempotency token used other parameters"):
        platform.provision([BROKER])


def test_an_instance_that_dies_while_starting_stops_the_provisioning(stubbed: tuple[Ec2Platform, Stubber]) -> None:
    platform, stubber = stubbed
    _no_instances_yet(stubber)
    _preflight_passes(stubber)
    stubber.add_response(
        "run_instances", {"Instances": [_instance("i-1", "pending")]}, _launch_request(client_token(MIGRATION, 100))
    )
    _describe(stubber, _instance("i-1", "pending"))
    reason = "Server.InsufficientInstanceCapacity: Insufficient capacity."
    _describe(stubber, {**_instance("i-1", "terminated"), "StateReason": {"Code": "x", "Message": reason}})
    with pytest.raises(PermanentError, match=f"i-1 of broker 100 went terminated instead of running \\({reason}\\)"):
        platform.provision([BROKER])
