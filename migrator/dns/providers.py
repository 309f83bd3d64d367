"""The DNS provider a `dns:` section names. Apart from provider.py (the interface every provider module
imports), so the base module imports no provider."""

from __future__ import annotations

from migrator.dns.config import DnsConfig
from migrator.dns.provider import DnsProvider


def make_provider(dns: DnsConfig) -> DnsProvider:
    # Imported on demand: boto3 costs start-up time that an rfc2136 migration need not pay.
    if dns.provider == "rfc2136":
        from migrator.dns.rfc2136 import Rfc2136Provider

        return Rfc2136Provider.from_config(dns)
    from migrator.dns.route53 import Route53Provider

    return Route53Provider.from_config(dns)
