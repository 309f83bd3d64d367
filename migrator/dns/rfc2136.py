"""RFC 2136 dynamic updates with dnspython: TSIG-signed UPDATE messages over TCP to the zone's primary.

Every update carries prerequisites that restate what we read (each managed RRset present with exactly
those values, or absent; our marker likewise). The primary applies the whole message or nothing, so a
record another writer changed since our read is never overwritten: the update is rejected and we
read again.
"""

from __future__ import annotations

import binascii

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.update

from migrator.dns.config import Address, DnsConfig
from migrator.dns.ownership import marker_name
from migrator.dns.provider import ConcurrentChange, DnsProvider
from migrator.dns.records import MANAGED_TYPES, Change, NameState, RecordSet
from migrator.dns.wire import TRANSIENT, ask, send
from migrator.errors import BadInput, PermanentError, TemporaryError

#: Types that DNSSEC adds beside any name; they are the signer's business, not records of ours or others'.
_DNSSEC_TYPES = {"RRSIG", "NSEC", "NSEC3"}
#: Prerequisite failures: the name is no longer as we read it.
_PREREQUISITE_FAILED = {dns.rcode.YXDOMAIN, dns.rcode.YXRRSET, dns.rcode.NXDOMAIN, dns.rcode.NXRRSET}


def _rdataset(records: RecordSet, ttl: int | None = None) -> dns.rdataset.Rdataset:
    return dns.rdataset.from_text("IN", records.rdtype, records.ttl if ttl is None else ttl, *records.values)


def _record_set(rrset: dns.rrset.RRset) -> RecordSet:
    return RecordSet(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rrset.ttl, tuple(r.to_text() for r in rrset))


class Rfc2136Provider(DnsProvider):
    def __init__(self, zone: str, primary: Address, keyring: dict[dns.name.Name, dns.tsig.Key], key_name: str, timeout: float) -> None:
        self.zone = zone
        self.primary = primary
        self.timeout = timeout
        self._keyring = keyring
        self._key_name = dns.name.from_text(key_name)

    @classmethod
    def from_config(cls, dns_config: DnsConfig) -> Rfc2136Provider:
        section = dns_config.rfc2136
        assert section is not None  # DnsConfig guarantees it for provider rfc2136
        key = section.tsig
        try:
            keyring = dns.tsigkeyring.from_text({key.name: (key.algorithm, key.secret.read())})
        except (binascii.Error, ValueError):
            raise BadInput(
                f"The TSIG secret of key {key.name} (dns.rfc2136.tsig.secret) is not valid base64. Copy the "
                "`secret` value of the key from the primary's configuration (tsig-keygen prints it)."
            ) from None
        return cls(dns_config.zone, section.primary_address, keyring, key.name, section.timeout_seconds)

    # --- reads -----------------------------------------------------------------------------------

    def _ask(self, name: str, rdtype: str) -> dns.message.Message:
        try:
            return ask(self.primary, name, rdtype, self.timeout, tcp=True)
        except TRANSIENT as exc:
            raise BadInput(
                f"The DNS primary {self.primary} does not answer over TCP ({exc or type(exc).__name__}). Check "
                "dns.rfc2136.primary in migration.yaml and that this machine may reach it; nothing was changed."
            ) from None

    def check_zone(self) -> None:
        response = self._ask(self.zone, "SOA")
        authoritative = bool(response.flags & dns.flags.AA)
        if response.rcode() != dns.rcode.NOERROR or not authoritative or not response.answer:
            raise BadInput(
                f"The DNS server {self.primary} is not authoritative for the zone {self.zone} (answer "
                f"{dns.rcode.to_text(response.rcode())}, authoritative={authoritative}). Point "
                "dns.rfc2136.primary at the zone's primary, or fix dns.zone; nothing was changed."
            )

    def read(self, name: str) -> NameState:
        at_name = self._ask(name, "ANY")
        records, other_types = [], []
        for rrset in at_name.answer:
            if rrset.name != dns.name.from_text(name):
                continue
            rdtype = dns.rdatatype.to_text(rrset.rdtype)
            if rdtype in MANAGED_TYPES:
                records.append(_record_set(rrset))
            elif rdtype not in _DNSSEC_TYPES:
                other_types.append(rdtype)
        marker = next((_record_set(rrset) for rrset in self._ask(marker_name(name), "TXT").answer), None)
        return NameState(name, tuple(records), tuple(other_types), marker)

    def nameservers(self) -> list[str]:
        response = self._ask(self.zone, "NS")
        return sorted(r.target.to_text().lower() for rrset in response.answer for r in rrset if rrset.rdtype == dns.rdatatype.NS)

    # --- writes ----------------------------------------------------------------------------------

    def _message(self, change: Change) -> dns.update.UpdateMessage | None:
        before, after = change.before, change.after
        name, marker = dns.name.from_text(before.name), dns.name.from_text(marker_name(before.name))
        pairs = [(name, t, before.record(t), after.record(t)) for t in MANAGED_TYPES]
        pairs.append((marker, "TXT", before.marker, after.marker))
        if all(was == will for _, _, was, will in pairs):
            return None
        update = dns.update.UpdateMessage(self.zone, keyring=self._keyring, keyname=self._key_name)
        if before.is_empty:
            update.absent(name)  # nothing at all at the name, as we read it
        for owner, rdtype, was, _ in pairs:
            if was is not None:
                update.present(owner, _rdataset(was, ttl=0))  # RFC 2136 3.2.3: prerequisites carry TTL 0
            elif not (before.is_empty and owner == name):
                update.absent(owner, rdtype)
        # Deletes first: a CNAME must be gone before an A record may join the name.
        for owner, rdtype, was, will in pairs:
            if was is not None and was != will:
                update.delete(owner, rdtype)
        for owner, _, was, will in pairs:
            if will is not None and was != will:
                update.add(owner, _rdataset(will))
        return update

    def apply(self, change: Change) -> None:
        update = self._message(change)
        if update is None:
            return
        try:
            response = send(update, self.primary, self.timeout, tcp=True)
        except (dns.tsig.PeerBadKey, dns.tsig.PeerBadSignature, dns.tsig.PeerBadTime, dns.tsig.PeerBadTruncation) as exc:
            raise BadInput(
                f"The DNS primary {self.primary} rejected our TSIG signature ({exc}). Check the key name, "
                "algorithm and secret under dns.rfc2136.tsig against the primary's key (and this machine's "
                f"clock); nothing was changed at {change.name}."
            ) from None
        except TRANSIENT as exc:
            raise TemporaryError(
                f"The DNS primary {self.primary} did not confirm the update of {change.name} "
                f"({exc or type(exc).__name__}); it will be read again and retried.",
                delay=5.0,
            ) from None
        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        if rcode in _PREREQUISITE_FAILED:
            raise ConcurrentChange(
                f"{change.name} changed on {self.primary} since we read it (prerequisite failed: "
                f"{dns.rcode.to_text(rcode)}); nothing was overwritten. It will be read and decided again.",
                delay=1.0,
            )
        if rcode in (dns.rcode.REFUSED, dns.rcode.NOTAUTH, dns.rcode.NOTZONE):
            raise BadInput(
                f"The DNS primary {self.primary} refused the update of {change.name} in zone {self.zone} "
                f"({dns.rcode.to_text(rcode)}). Its zone must allow updates signed with the key "
                f"{self._key_name.to_text()} (allow-update / update-policy), and the name must lie in the "
                "zone; nothing was changed."
            )
        if rcode == dns.rcode.SERVFAIL:
            raise TemporaryError(f"The DNS primary {self.primary} failed the update of {change.name} (SERVFAIL).", delay=5.0)
        raise PermanentError(
            f"The DNS primary {self.primary} answered the update of {change.name} with "
            f"{dns.rcode.to_text(rcode)}; read its log, fix the cause and run again."
        )
