"""The rfc2136 provider against a real BIND: create, verify, repoint, rollback; records of others are
never touched; a wrong TSIG key is a clear error that changes nothing; a concurrent writer wins."""

from __future__ import annotations

import dns.query
import dns.tsigkeyring
import dns.update
import pytest

from migrator.config_base import SecretRef
from migrator.dns.facade import Facade
from migrator.dns.ownership import NotOurs, marker_name
from migrator.dns.provider import ConcurrentChange
from migrator.dns.records import Change, NameState
from migrator.dns.rfc2136 import Rfc2136Provider
from migrator.dns.verify import authoritative_servers, disagreements
from migrator.errors import BadInput
from migrator.sandbox.dns_server import DnsServer
from tests.dns_fixtures import bind_primary, rfc2136_config  # noqa: F401

pytestmark = pytest.mark.cluster


def _provider(server: DnsServer) -> Rfc2136Provider:
    return Rfc2136Provider.from_config(rfc2136_config(server))


def _foreign_update(server: DnsServer, *changes: tuple[str, str, str]) -> None:
    """Another writer (same zone key, not migrator) replaces RRsets: (name, type, value)."""
    keyring = dns.tsigkeyring.from_text({server.key.name: (server.key.algorithm, server.key.secret)})
    update = dns.update.UpdateMessage(server.zone, keyring=keyring, keyname=server.key.name)
    for name, rdtype, value in changes:
        update.replace(name, 60, rdtype, value)
    response = dns.query.tcp(update, "127.0.0.1", port=server.port, timeout=5)
    assert response.rcode() == 0


def test_create_verify_repoint_rollback(bind_primary: DnsServer) -> None:
    config = rfc2136_config(bind_primary)
    provider = Rfc2136Provider.from_config(config)
    provider.check_zone()
    facade = Facade(provider, "m1", 60)
    name = config.broker_name(0)
    servers = authoritative_servers(config.zone, provider.nameservers(), config.server_overrides)
    assert [s.ns for s in servers] == ["ns1.sandbox.test.", "ns2.sandbox.test."]

    created_over = facade.repoint(name, ["broker0.vm.internal"])
    assert created_over == NameState(name)
    held = facade.read(name)
    assert [(r.rdtype, r.values) for r in held.records] == [("CNAME", ("broker0.vm.internal.",))]
    assert held.marker is not None and held.marker.name == marker_name(name)
    assert disagreements([facade.desired(name, ["broker0.vm.internal"])], servers, 2.0) == []

    replaced = facade.repoint(name, ["10.0.0.7", "10.0.0.8"])
    assert replaced == held
    assert disagreements([facade.desired(name, ["10.0.0.7", "10.0.0.8"])], servers, 2.0) == []
    assert disagreements([facade.desired(name, ["broker0.vm.internal"])], servers, 2.0) != []

    facade.restore(replaced)  # roll the repoint back: the CNAME returns
    assert facade.read(name) == held
    facade.restore(created_over)  # roll the creation back: name and marker are gone
    assert facade.read(name) == NameState(name)
    assert disagreements([NameState(name)], servers, 2.0) == []


def test_a_record_created_by_someone_else_is_never_touched(bind_primary: DnsServer) -> None:
    config = rfc2136_config(bind_primary)
    facade = Facade(_provider(bind_primary), "m1", 60)
    theirs, other_migration = config.broker_name(1), config.broker_name(2)
    _foreign_update(bind_primary, (theirs, "A", "192.0.2.1"))
    _foreign_update(
        bind_primary,
        (other_migration, "A", "192.0.2.2"),
        (marker_name(other_migration), "TXT", '"heritage=kafka-k8s-migrator,migration=someone-else"'),
    )
    before = {n: facade.read(n) for n in (theirs, other_migration)}

    with pytest.raises(NotOurs, match="carries no ownership marker"):
        facade.repoint(theirs, ["10.0.0.1"])
    with pytest.raises(NotOurs, match="someone-else"):
        facade.repoint(other_migration, ["10.0.0.1"])
    with pytest.raises(NotOurs):
        facade.remove(theirs)
    with pytest.raises(NotOurs):
        facade.restore(NameState(other_migration))

    assert {n: facade.read(n) for n in before} == before
    assert before[theirs].record("A").values == ("192.0.2.1",)


def test_wrong_tsig_key_is_a_clear_error_and_changes_nothing(bind_primary: DnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    name = rfc2136_config(bind_primary).broker_name(0)
    monkeypatch.setenv("WRONG_TSIG", "d3JvbmcgLS0gd3JvbmcgLS0gd3JvbmcgLS0gd3Jvbmc=")
    wrong_secret = rfc2136_config(bind_primary).model_copy(deep=True)
    wrong_secret.rfc2136.tsig.secret = SecretRef(env="WRONG_TSIG")
    unknown_key = rfc2136_config(bind_primary).model_copy(deep=True)
    unknown_key.rfc2136.tsig.name = "not-a-key"

    for config in (wrong_secret, unknown_key):
        facade = Facade(Rfc2136Provider.from_config(config), "m1", 60)
        with pytest.raises(BadInput, match="rejected our TSIG signature") as error:
            facade.repoint(name, ["10.0.0.1"])
        assert "dns.rfc2136.tsig" in str(error.value)
        assert facade.read(name) == NameState(name)


def test_unreachable_primary_is_bad_input(bind_primary: DnsServer) -> None:
    provider = _provider(bind_primary)
    bind_primary.down()
    with pytest.raises(BadInput, match="does not answer"):
        provider.check_zone()


def test_a_concurrent_writer_is_never_clobbered(bind_primary: DnsServer) -> None:
    provider = _provider(bind_primary)
    facade = Facade(provider, "m1", 60)
    name = rfc2136_config(bind_primary).broker_name(0)
    facade.repoint(name, ["10.0.0.1"])
    stale = facade.read(name)

    _foreign_update(bind_primary, (name, "A", "10.9.9.9"))  # someone moves our name meanwhile
    want = facade.desired(name, ["10.0.0.2"])
    with pytest.raises(ConcurrentChange, match="changed on"):
        provider.apply(Change(stale, want))
    assert facade.read(name).record("A").values == ("10.9.9.9",)

    # Creating over a name someone took between our read and our write is refused the same way.
    free = rfc2136_config(bind_primary).broker_name(5)
    read_free = facade.read(free)
    _foreign_update(bind_primary, (free, "A", "10.8.8.8"))
    with pytest.raises(ConcurrentChange):
        provider.apply(Change(read_free, facade.desired(free, ["10.0.0.5"])))
    assert facade.read(free).record("A").values == ("10.8.8.8",)
    assert facade.read(free).marker is None
