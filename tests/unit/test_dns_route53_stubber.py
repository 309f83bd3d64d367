"""Route 53 behaviour moto cannot show (it answers INSYNC at once and accepts conflicting changes),
checked with botocore's Stubber: the exact change batch, the PENDING -> INSYNC wait, its timeout, and
AWS's refusals turned into clear errors."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from migrator.dns.facade import Facade
from migrator.dns.ownership import marker_record
from migrator.dns.provider import ConcurrentChange
from migrator.dns.records import Change, NameState, RecordSet
from migrator.dns.route53 import Route53Provider
from migrator.errors import BadInput, TemporaryError
from tests.fake_clock import FakeClock

ZONE_ID = "Z0123456789ABCDEFGHIJ"
NAME = "kafka-0.example.com."



@pytest.fixture
def client() -> Iterator[tuple[object, Stubber]]:
    aws = boto3.client("route53", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(aws) as stubber:
        yield aws, stubber
        stubber.assert_no_pending_responses()


def _provider(aws: object, clock: FakeClock, timeout: float = 60.0) -> Route53Provider:
    return Route53Provider("example.com.", ZONE_ID, aws, insync_timeout=timeout, poll_interval=5.0, sleep=clock.sleep, clock=clock)


def _rrset(records: RecordSet) -> dict:
    return {"Name": records.name, "Type": records.rdtype, "TTL": records.ttl, "ResourceRecords": [{"Value": v} for v in records.values]}


def _change_info(status: str) -> dict:
    return {"ChangeInfo": {"Id": "/change/C1", "Status": status, "SubmittedAt": "2026-01-01T00:00:00Z"}}


MARKER = marker_record(NAME, "m1", 60)
OLD = RecordSet(NAME, "A", 60, ("10.0.0.1",))
NEW = RecordSet(NAME, "CNAME", 60, ("broker0.vm.internal.",))


def test_repoint_sends_one_compare_and_swap_batch_then_waits_for_insync(client: tuple[object, Stubber]) -> None:
    aws, stubber = client
    clock = FakeClock()
    stubber.add_response(
        "change_resource_record_sets",
        _change_info("PENDING"),
        {
            "HostedZoneId": ZONE_ID,
            "ChangeBatch": {
                "Comment": f"kafka-k8s-migrator facade {NAME}",
                "Changes": [
                    {"Action": "DELETE", "ResourceRecordSet": _rrset(OLD)},
                    {"Action": "DELETE", "ResourceRecordSet": _rrset(MARKER)},
                    {"Action": "UPSERT", "ResourceRecordSet": _rrset(NEW)},
                    {"Action": "UPSERT", "ResourceRecordSet": _rrset(MARKER)},
                ],
            },
        },
    )
    stubber.add_response("get_change", _change_info("PENDING"), {"Id": "/change/C1"})
    stubber.add_response("get_change", _change_info("PENDING"), {"Id": "/change/C1"})
    stubber.add_response("get_change", _change_info("INSYNC"), {"Id": "/change/C1"})

    before = NameState(NAME, (OLD,), marker=MARKER)
    _provider(aws, clock).apply(Change(before, NameState(NAME, (NEW,), marker=MARKER)))
    assert clock.sleeps == [5.0, 5.0]


def test_a_free_name_is_created_so_aws_refuses_it_if_taken_meanwhile(client: tuple[object, Stubber]) -> None:
    aws, stubber = client
    stubber.add_response(
        "change_resource_record_sets",
        _change_info("INSYNC"),
        {
            "HostedZoneId": ZONE_ID,
            "ChangeBatch": {
                "Comment": f"kafka-k8s-migrator facade {NAME}",
                "Changes": [
                    {"Action": "CREATE", "ResourceRecordSet": _rrset(NEW)},
                    {"Action": "CREATE", "ResourceRecordSet": _rrset(MARKER)},
                ],
            },
        },
    )
    stubber.add_response("get_change", _change_info("INSYNC"), {"Id": "/change/C1"})
    _provider(aws, FakeClock()).apply(Change(NameState(NAME), NameState(NAME, (NEW,), marker=MARKER)))


def test_insync_wait_is_bounded(client: tuple[object, Stubber]) -> None:
    aws, stubber = client
    clock = FakeClock()
    stubber.add_response("change_resource_record_sets", _change_info("PENDING"))
    for _ in range(5):  # at t = 0, 5, 10, 15, 20: the last one is past the 20 s budget
        stubber.add_response("get_change", _change_info("PENDING"), {"Id": "/change/C1"})
    with pytest.raises(TemporaryError, match="still PENDING after 20 s"):
        _provider(aws, clock, timeout=20.0).apply(Change(NameState(NAME), NameState(NAME, (NEW,), marker=MARKER)))
    assert clock.now == 20.0


def test_changed_since_read_is_a_concurrent_change(client: tuple[object, Stubber]) -> None:
    aws, stubber = client
    message = f"Tried to delete resource record set [name='{NAME}', type='A'] but the values provided do not match the current values"
    stubber.add_client_error("change_resource_record_sets", "InvalidChangeBatch", message, 400)
    with pytest.raises(ConcurrentChange, match="do not match"):
        _provider(aws, FakeClock()).apply(Change(NameState(NAME, (OLD,), marker=MARKER), NameState(NAME, (NEW,), marker=MARKER)))


def test_missing_zone_and_denied_action_are_bad_input(client: tuple[object, Stubber]) -> None:
    aws, stubber = client
    stubber.add_client_error("get_hosted_zone", "NoSuchHostedZone", f"No hosted zone found with ID: {ZONE_ID}", 404)
    stubber.add_client_error("change_resource_record_sets", "AccessDenied", "User: arn:aws:iam::1:user/x is not authorized", 403)
    provider = _provider(aws, FakeClock())
    with pytest.raises(BadInput, match="no hosted zone Z0123456789ABCDEFGHIJ.*hosted_zone_id"):
        provider.check_zone()
    with pytest.raises(BadInput, match="denied route53:change_resource_record_sets.*Grant"):
        provider.apply(Change(NameState(NAME), NameState(NAME, (NEW,), marker=MARKER)))


def test_facade_reads_records_aliases_and_marker_apart(client: tuple[object, Stubber]) -> None:
    aws, stubber = client
    listing = {
        "ResourceRecordSets": [
            _rrset(OLD),
            {"Name": NAME, "Type": "AAAA", "AliasTarget": {"HostedZoneId": "Z2", "DNSName": "lb.example.net.", "EvaluateTargetHealth": False}},
            {"Name": "kafka-1.example.com.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.0.0.2"}]},
        ],
        "IsTruncated": False,
        "MaxItems": "100",
    }
    stubber.add_response("list_resource_record_sets", listing, {"HostedZoneId": ZONE_ID, "StartRecordName": NAME, "MaxItems": "100"})
    stubber.add_response(
        "list_resource_record_sets",
        {"ResourceRecordSets": [_rrset(MARKER)], "IsTruncated": False, "MaxItems": "100"},
        {"HostedZoneId": ZONE_ID, "StartRecordName": MARKER.name, "MaxItems": "100"},
    )
    state = Facade(_provider(aws, FakeClock()), "m1", 60).read(NAME)
    assert state == NameState(NAME, (OLD,), ("AAAA (alias)",), MARKER)
