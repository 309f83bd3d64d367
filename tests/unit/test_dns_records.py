from __future__ import annotations

import pytest

from migrator.dns.ownership import NotOurs, is_ours, marker_name, marker_owner, marker_record
from migrator.dns.records import NameState, RecordSet, target_records
from migrator.errors import BadInput

NAME = "kafka-0.example.com."


def no_resolver(host: str) -> list[str]:
    raise AssertionError(f"{host} should not need resolving")


def test_one_host_name_becomes_a_cname() -> None:
    assert target_records(NAME, ["Broker0.VM.internal"], 60, no_resolver) == (RecordSet(NAME, "CNAME", 60, ("broker0.vm.internal.",)),)


def test_addresses_become_a_and_aaaa_sets() -> None:
    records = target_records(NAME, ["10.0.0.2", "10.0.0.1", "2001:db8:0::1", "10.0.0.1"], 30, no_resolver)
    assert records == (RecordSet(NAME, "A", 30, ("10.0.0.1", "10.0.0.2")), RecordSet(NAME, "AAAA", 30, ("2001:db8::1",)))


def test_several_host_names_are_resolved_because_a_cname_holds_one_target() -> None:
    addresses = {"b0.vm": ["10.0.0.1"], "b1.vm": ["10.0.0.2", "2001:db8::2"]}
    records = target_records(NAME, ["b0.vm", "b1.vm", "10.0.0.3"], 60, addresses.__getitem__)
    assert [(r.rdtype, r.values) for r in records] == [("A", ("10.0.0.1", "10.0.0.2", "10.0.0.3")), ("AAAA", ("2001:db8::2",))]


def test_a_name_pointing_at_itself_or_at_nothing_is_refused() -> None:
    with pytest.raises(BadInput, match="point at itself"):
        target_records(NAME, ["kafka-0.example.com"], 60, no_resolver)
    with pytest.raises(BadInput, match="no target"):
        target_records(NAME, [" "], 60, no_resolver)


def test_name_state_round_trips_through_json() -> None:
    state = NameState(NAME, (RecordSet(NAME, "A", 60, ("10.0.0.1",)),), ("MX",), marker_record(NAME, "m1", 60))
    assert NameState.from_json(state.to_json()) == state


def test_the_marker_sits_beside_the_name_and_names_the_migration() -> None:
    marker = marker_record(NAME, "m1", 60)
    assert marker.name == marker_name(NAME) == "_migrator.kafka-0.example.com."
    assert marker_owner(marker) == "m1"
    assert marker_owner(RecordSet(marker.name, "TXT", 60, ('"v=spf1 -all"',))) is None


def test_ownership_decisions() -> None:
    record = RecordSet(NAME, "A", 60, ("10.0.0.1",))
    assert is_ours(NameState(NAME), "m1") is False
    assert is_ours(NameState(NAME, (record,), marker=marker_record(NAME, "m1", 60)), "m1") is True
    assert is_ours(NameState(NAME, marker=marker_record(NAME, "m1", 60)), "m1") is True  # half-written by us
    with pytest.raises(NotOurs, match="no ownership marker"):
        is_ours(NameState(NAME, (record,)), "m1")
    with pytest.raises(NotOurs, match="no ownership marker"):
        is_ours(NameState(NAME, other_types=("MX",)), "m1")
    with pytest.raises(NotOurs, match="migration 'm2'"):
        is_ours(NameState(NAME, (record,), marker=marker_record(NAME, "m2", 60)), "m1")
    with pytest.raises(NotOurs, match="not our marker"):
        is_ours(NameState(NAME, marker=RecordSet(marker_name(NAME), "TXT", 60, ('"hello"',))), "m1")
