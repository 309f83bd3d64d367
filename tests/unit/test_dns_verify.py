"""The verifier's logic on hand-made DNS answers (the real servers are in tests/cluster/)."""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from migrator.dns.config import Address
from migrator.dns.records import NameState, RecordSet
from migrator.dns.verify import Nameserver, authoritative_servers, disagreements
from migrator.errors import BadInput

NAME = "kafka-0.example.com."
WANT = NameState(NAME, (RecordSet(NAME, "A", 60, ("10.0.0.1",)),))


def answer(*rrsets: tuple[str, str, str], rcode: int = dns.rcode.NOERROR, authoritative: bool = True) -> dns.message.Message:
    response = dns.message.make_response(dns.message.make_query(NAME, "A"))
    response.set_rcode(rcode)
    if authoritative:
        response.flags |= dns.flags.AA
    for name, rdtype, value in rrsets:
        response.answer.append(dns.rrset.from_text(name, 60, "IN", rdtype, value))
    return response


def test_every_ns_record_is_asked_and_overrides_only_redirect() -> None:
    resolved = {"ns2.example.com": ["192.0.2.2", "2001:db8::2"]}
    servers = authoritative_servers(
        "example.com.", ["ns2.example.com.", "ns1.example.com."], {"ns1.example.com.": Address("127.0.0.1", 5300)}, resolved.__getitem__
    )
    assert servers == [
        Nameserver("ns1.example.com.", Address("127.0.0.1", 5300)),
        Nameserver("ns2.example.com.", Address("192.0.2.2", 53)),
        Nameserver("ns2.example.com.", Address("2001:db8::2", 53)),
    ]


def test_an_override_for_a_server_the_zone_does_not_list_is_refused() -> None:
    with pytest.raises(BadInput, match=r"maps ns3\.example\.com\.,.*its NS records: ns1\.example\.com\."):
        authoritative_servers("example.com.", ["ns1.example.com."], {"ns3.example.com.": Address("127.0.0.1")})
    with pytest.raises(BadInput, match="no NS records"):
        authoritative_servers("example.com.", [], {})


@pytest.mark.parametrize(
    ("response", "answered"),
    [
        (answer(), "nothing"),
        (answer(rcode=dns.rcode.NXDOMAIN), "nothing"),
        (answer((NAME, "A", "10.0.0.2")), "A 10.0.0.2"),
        (answer((NAME, "CNAME", "b0.vm.internal."), ("b0.vm.internal.", "A", "10.0.0.1")), "CNAME b0.vm.internal."),
        (answer((NAME, "A", "10.0.0.1"), authoritative=False), "a non-authoritative answer (the server does not serve this zone)"),
        (answer(rcode=dns.rcode.SERVFAIL), "rcode SERVFAIL"),
    ],
)
def test_what_counts_as_a_disagreement(response: dns.message.Message, answered: str) -> None:
    server = Nameserver("ns1.example.com.", Address("127.0.0.1", 5300))
    found = [d for d in disagreements([WANT], [server], 1.0, lambda *_: response) if d.name == NAME]
    assert [(d.server, d.answered, d.expected) for d in found] == [("ns1.example.com. (127.0.0.1:5300)", answered, "A 10.0.0.1")]


def test_the_expected_answer_and_a_removed_name_agree() -> None:
    server = Nameserver("ns1.example.com.", Address("127.0.0.1", 5300))
    assert disagreements([WANT], [server], 1.0, lambda *_: answer((NAME, "A", "10.0.0.1"))) == []
    assert disagreements([NameState(NAME)], [server], 1.0, lambda *_: answer(rcode=dns.rcode.NXDOMAIN)) == []


def test_a_silent_server_is_a_disagreement_not_a_crash() -> None:
    def timeout(*_: object) -> dns.message.Message:
        raise dns.exception.Timeout

    found = disagreements([WANT], [Nameserver("ns1.example.com.", Address("127.0.0.1", 5300))], 1.0, timeout)
    assert [d.answered for d in found] == ["no answer (The DNS operation timed out.)"] * 2  # the name and its marker


def test_the_ownership_marker_is_checked_on_every_server_too() -> None:
    """A server that has the record but not yet our marker is lagging: another writer could claim the
    name there."""
    marker = RecordSet(f"_migrator.{NAME}", "TXT", 60, ('"heritage=kafka-k8s-migrator,migration=m1"',))
    want = NameState(NAME, WANT.records, marker=marker)
    servers = [Nameserver("ns1.example.com.", Address("127.0.0.1", 5300)), Nameserver("ns2.example.com.", Address("127.0.0.2", 5300))]

    def ask(address: Address, name: str, rdtype: str, timeout: float) -> dns.message.Message:
        if rdtype == "A":
            return answer((NAME, "A", "10.0.0.1"))
        if address.host == "127.0.0.1":
            return answer((marker.name, "TXT", marker.values[0]))
        return answer(rcode=dns.rcode.NXDOMAIN)

    found = disagreements([want], servers, 1.0, ask)
    assert [(d.server, d.name, d.answered) for d in found] == [("ns2.example.com. (127.0.0.2:5300)", marker.name, "nothing")]
