from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from migrator.config import load_config
from migrator.dns.config import Address, DnsConfig
from migrator.errors import BadInput

RFC2136 = {"primary": "ns1.example.com", "tsig": {"name": "migrator", "secret": {"env": "TSIG_SECRET"}}}


def test_names_are_absolute_lower_case_and_inside_the_zone() -> None:
    config = DnsConfig.model_validate({"provider": "rfc2136", "zone": "Example.COM", "rfc2136": RFC2136})
    assert config.zone == "example.com."
    assert config.broker_name(7) == "kafka-7.example.com."
    assert config.bootstrap_fqdn == "kafka-bootstrap.example.com."
    custom = DnsConfig.model_validate(
        {"provider": "rfc2136", "zone": "example.com.", "rfc2136": RFC2136, "broker_name_pattern": "b{id}.kafka.example.com", "bootstrap_name": "kafka.example.com."}
    )
    assert (custom.broker_name(0), custom.bootstrap_fqdn) == ("b0.kafka.example.com.", "kafka.example.com.")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rfc2136": None}, "dns.rfc2136 section is required"),
        ({"broker_name_pattern": "kafka.example.com"}, "must contain {id}"),
        ({"broker_name_pattern": "kafka-{id}.example.org"}, "not a name inside the zone"),
        ({"bootstrap_name": "kafka-{zone}"}, "not a name inside the zone"),
        ({"rfc2136": {**RFC2136, "primary": "ns1:port"}}, "not host"),
        ({"authoritative_servers": {"ns1.example.com": "127.0.0.1:99999"}}, "not host"),
    ],
)
def test_invalid_sections_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DnsConfig.model_validate({"provider": "rfc2136", "zone": "example.com", "rfc2136": RFC2136, **change})


def test_addresses_parse_with_default_port_and_ipv6() -> None:
    assert Address.parse("10.0.0.1") == Address("10.0.0.1", 53)
    assert Address.parse("ns1.example.com:5353") == Address("ns1.example.com", 5353)
    assert Address.parse("[::1]:5300") == Address("::1", 5300)
    assert str(Address("::1", 5300)) == "[::1]:5300"


def test_migration_yaml_carries_the_dns_section_without_secret_values(tmp_path: Path) -> None:
    path = tmp_path / "migration.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "migration_id": "prod-move",
                "cluster": {"zookeeper_connect": "zk1:2181/kafka", "bootstrap_servers": "kafka1:9092"},
                "dns": {
                    "provider": "route53",
                    "zone": "example.com",
                    "route53": {"hosted_zone_id": "/hostedzone/Z123"},
                    "authoritative_servers": {"NS1.example.com": "127.0.0.1:5300"},
                },
            }
        )
    )
    config = load_config(path)
    assert config.dns is not None and config.dns.route53 is not None
    assert config.dns.route53.hosted_zone_id == "Z123"
    assert config.dns.server_overrides == {"ns1.example.com.": Address("127.0.0.1", 5300)}

    path.write_text(path.read_text().replace("route53:\n", "rfc2136:\n"))
    with pytest.raises(BadInput, match="dns"):
        load_config(path)
