"""The route53 provider against moto's server (a real HTTP Route 53 API): the same cycle as rfc2136.

moto answers every change INSYNC at once and accepts a CREATE over an existing record (AWS does not),
so the PENDING wait and AWS's conflict refusals are covered with botocore's Stubber in
tests/unit/test_dns_route53_stubber.py; here the requests themselves are real.
"""

from __future__ import annotations

import uuid

import pytest

from migrator.clients import aws
from migrator.dns.config import DnsConfig
from migrator.dns.facade import Facade
from migrator.dns.ownership import NotOurs, marker_name
from migrator.dns.records import NameState
from migrator.dns.route53 import Route53Provider
from migrator.errors import BadInput
from tests.dns_fixtures import aws_env, moto_endpoint  # noqa: F401

pytestmark = pytest.mark.cluster


def _zone(endpoint: str) -> tuple[str, str]:
    """A fresh hosted zone: (zone name, hosted zone id)."""
    zone = f"z{uuid.uuid4().hex[:8]}.example.com."
    created = aws.client("route53", "us-east-1", endpoint).create_hosted_zone(Name=zone, CallerReference=uuid.uuid4().hex)
    return zone, created["HostedZone"]["Id"]


def _config(endpoint: str, zone: str, zone_id: str) -> DnsConfig:
    return DnsConfig.model_validate(
        {"provider": "route53", "zone": zone, "route53": {"hosted_zone_id": zone_id, "endpoint_url": endpoint}}
    )


def test_create_verify_repoint_rollback(moto_endpoint: str, aws_env: None) -> None:
    zone, zone_id = _zone(moto_endpoint)
    config = _config(moto_endpoint, zone, zone_id)
    provider = Route53Provider.from_config(config)
    provider.check_zone()
    assert provider.nameservers()  # the zone's NS record set, as published
    facade = Facade(provider, "m1", 60)
    name, bootstrap = config.broker_name(0), config.bootstrap_fqdn

    assert facade.repoint(name, ["broker0.vm.internal"]) == NameState(name)
    assert facade.repoint(bootstrap, ["10.0.0.1", "10.0.0.2", "2001:db8::1"]) == NameState(bootstrap)
    held = facade.read(name)
    assert [(r.rdtype, r.values) for r in held.records] == [("CNAME", ("broker0.vm.internal.",))]
    assert held.marker == facade.desired(name, ["broker0.vm.internal"]).marker
    assert held.marker.name == marker_name(name)
    assert [(r.rdtype, r.values) for r in facade.read(bootstrap).records] == [
        ("A", ("10.0.0.1", "10.0.0.2")),
        ("AAAA", ("2001:db8::1",)),
    ]
    assert facade.change_to(name, ["broker0.vm.internal"]) is None  # nothing left to do

    replaced = facade.repoint(name, ["10.0.0.9"])
    assert replaced == held
    assert [(r.rdtype, r.values) for r in facade.read(name).records] == [("A", ("10.0.0.9",))]

    facade.restore(replaced)
    assert facade.read(name) == held
    facade.remove(name)
    facade.remove(bootstrap)
    assert facade.read(name) == NameState(name)
    assert facade.read(bootstrap) == NameState(bootstrap)


def test_a_record_created_by_someone_else_is_never_touched(moto_endpoint: str, aws_env: None) -> None:
    zone, zone_id = _zone(moto_endpoint)
    config = _config(moto_endpoint, zone, zone_id)
    name = config.broker_name(1)
    aws.client("route53", "us-east-1", moto_endpoint).change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {"Name": name, "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.1"}]},
                }
            ]
        },
    )
    facade = Facade(Route53Provider.from_config(config), "m1", 60)
    before = facade.read(name)
    with pytest.raises(NotOurs, match="carries no ownership marker"):
        facade.repoint(name, ["10.0.0.1"])
    with pytest.raises(NotOurs):
        facade.remove(name)
    assert facade.read(name) == before
    assert before.record("A").values == ("192.0.2.1",)


def test_missing_zone_and_wrong_zone_are_bad_input(moto_endpoint: str, aws_env: None) -> None:
    zone, zone_id = _zone(moto_endpoint)
    with pytest.raises(BadInput, match="has no hosted zone ZNOSUCHZONE"):
        Route53Provider.from_config(_config(moto_endpoint, zone, "ZNOSUCHZONE")).check_zone()
    with pytest.raises(BadInput, match="not dns.zone"):
        Route53Provider.from_config(_config(moto_endpoint, "other.example.org", zone_id)).check_zone()
