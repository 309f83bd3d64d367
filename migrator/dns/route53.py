"""Route 53 with boto3: one change batch per name, then GetChange until INSYNC (bounded).

Route 53 has no prerequisites, but a DELETE must match the stored record exactly (TTL and values) and a
CREATE fails on an existing record. So a batch is DELETE <exactly what we read> + UPSERT <what we want>,
and a name that was free is written with CREATE: if another writer changed or took the name since our
read, AWS rejects the whole batch and nothing of theirs is lost. Our marker goes through DELETE +
UPSERT as well, so a batch also fails if someone removed the marker meanwhile.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

from migrator.clients import aws
from migrator.dns.config import DnsConfig, absolute_name
from migrator.dns.ownership import marker_name
from migrator.dns.provider import ConcurrentChange, DnsProvider
from migrator.dns.records import MANAGED_TYPES, Change, NameState, RecordSet
from migrator.errors import BadInput, TemporaryError

#: How AWS words a batch that no longer matches the zone (InvalidChangeBatch).
_STALE_BATCH = re.compile(r"not found|already exists|do not match", re.IGNORECASE)


def _record_set(data: dict[str, Any]) -> RecordSet:
    return RecordSet(data["Name"], data["Type"], int(data["TTL"]), tuple(r["Value"] for r in data["ResourceRecords"]))


def _change(action: str, records: RecordSet) -> dict[str, Any]:
    return {
        "Action": action,
        "ResourceRecordSet": {
            "Name": records.name,
            "Type": records.rdtype,
            "TTL": records.ttl,
            "ResourceRecords": [{"Value": v} for v in records.values],
        },
    }


class Route53Provider(DnsProvider):
    def __init__(
        self,
        zone: str,
        hosted_zone_id: str,
        aws_client: Any,
        *,
        insync_timeout: float = 300.0,
        poll_interval: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.zone = zone
        self.hosted_zone_id = hosted_zone_id
        self.insync_timeout = insync_timeout
        self.poll_interval = poll_interval
        self._client = aws_client
        self._sleep = sleep
        self._clock = clock

    @classmethod
    def from_config(cls, dns_config: DnsConfig) -> Route53Provider:
        section = dns_config.route53
        assert section is not None  # DnsConfig guarantees it for provider route53
        return cls(
            dns_config.zone,
            section.hosted_zone_id,
            aws.client("route53", section.region, section.endpoint_url),
            insync_timeout=section.insync_timeout_seconds,
            poll_interval=section.poll_interval_seconds,
        )

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            return aws.call(self._client, operation, **params)
        except (NoCredentialsError, PartialCredentialsError):
            raise BadInput(
                "No usable AWS credentials were found for Route 53. Provide them the standard way (AWS_PROFILE, "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance/pod role); nothing was changed."
            ) from None
        except aws.CONNECTION_ERRORS as exc:
            raise BadInput(
                f"Route 53 cannot be reached ({exc}). Check the network and dns.route53.endpoint_url "
                "(leave it unset for AWS itself); nothing was changed."
            ) from None
        except ClientError as exc:
            code, message = aws.error_code(exc), exc.response.get("Error", {}).get("Message", "")
            if code == "NoSuchHostedZone":
                raise BadInput(
                    f"Route 53 has no hosted zone {self.hosted_zone_id} ({message}). Set dns.route53.hosted_zone_id "
                    f"to the id of the zone {self.zone} (aws route53 list-hosted-zones-by-name); nothing was changed."
                ) from None
            if code in ("AccessDenied", "AccessDeniedException"):
                raise BadInput(
                    f"AWS denied route53:{operation} on hosted zone {self.hosted_zone_id} ({message}). Grant the "
                    "identity running migrator route53:GetHostedZone, ListResourceRecordSets, "
                    "ChangeResourceRecordSets and GetChange on that zone; nothing was changed."
                ) from None
            if code == "InvalidChangeBatch" and _STALE_BATCH.search(message):
                raise ConcurrentChange(
                    f"Route 53 rejected the change because the records changed since we read them ({message}); "
                    "nothing was overwritten. They will be read and decided again.",
                    delay=2.0,
                ) from None
            if code in ("InvalidChangeBatch", "InvalidInput"):
                raise BadInput(f"Route 53 refused the request {operation}: {message}. Nothing was changed.") from None
            raise

    def check_zone(self) -> None:
        zone = self._call("get_hosted_zone", Id=self.hosted_zone_id)["HostedZone"]
        if absolute_name(zone["Name"]) != self.zone:
            raise BadInput(
                f"The Route 53 hosted zone {self.hosted_zone_id} is {zone['Name']}, not dns.zone {self.zone}. "
                "Fix dns.zone or dns.route53.hosted_zone_id in migration.yaml; nothing was changed."
            )

    def _record_sets(self, name: str) -> list[dict[str, Any]]:
        """Every record set whose name is exactly `name` (the listing is sorted by name)."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"HostedZoneId": self.hosted_zone_id, "StartRecordName": name, "MaxItems": "100"}
        while True:
            page = self._call("list_resource_record_sets", **params)
            here = [r for r in page["ResourceRecordSets"] if absolute_name(r["Name"]) == name]
            found += here
            if not page.get("IsTruncated") or absolute_name(page.get("NextRecordName", "")) != name:
                return found
            params.update(StartRecordName=page["NextRecordName"], StartRecordType=page["NextRecordType"])

    def read(self, name: str) -> NameState:
        records, other_types = [], []
        for data in self._record_sets(name):
            # Alias, weighted, latency... sets are someone's routing policy, never plain records of ours.
            if data["Type"] in MANAGED_TYPES and "ResourceRecords" in data and "SetIdentifier" not in data:
                records.append(_record_set(data))
            else:
                other_types.append(data["Type"] + (" (alias)" if "AliasTarget" in data else ""))
        markers = [_record_set(d) for d in self._record_sets(marker_name(name)) if d["Type"] == "TXT" and "ResourceRecords" in d]
        return NameState(name, tuple(records), tuple(other_types), markers[0] if markers else None)

    def nameservers(self) -> list[str]:
        ns = [d for d in self._record_sets(self.zone) if d["Type"] == "NS"]
        return sorted(absolute_name(r["Value"]) for d in ns for r in d["ResourceRecords"])

    def _batch(self, change: Change) -> list[dict[str, Any]]:
        before, after = change.before, change.after
        pairs = [(before.record(t), after.record(t)) for t in MANAGED_TYPES if before.record(t) != after.record(t)]
        if not pairs and before.marker == after.marker:
            return []
        pairs.append((before.marker, after.marker))
        write = "CREATE" if before.is_empty else "UPSERT"
        deletes = [_change("DELETE", was) for was, _ in pairs if was is not None]
        return deletes + [_change(write, will) for _, will in pairs if will is not None]

    def apply(self, change: Change) -> None:
        batch = self._batch(change)
        if not batch:
            return
        response = self._call(
            "change_resource_record_sets",
            HostedZoneId=self.hosted_zone_id,
            ChangeBatch={"Comment": f"kafka-k8s-migrator facade {change.name}", "Changes": batch},
        )
        self.wait_insync(response["ChangeInfo"]["Id"])

    def wait_insync(self, change_id: str) -> None:
        """Poll GetChange until Route 53 reports the change on all its servers, for at most
        insync_timeout seconds. INSYNC is necessary, not sufficient: the verifier still asks them."""
        deadline = self._clock() + self.insync_timeout
        while True:
            status = self._call("get_change", Id=change_id)["ChangeInfo"]["Status"]
            if status == "INSYNC":
                return
            if self._clock() >= deadline:
                raise TemporaryError(
                    f"Route 53 change {change_id} is still {status} after {self.insync_timeout:.0f} s. It was "
                    "accepted and will reach all Route 53 servers; the step reads the records again before retrying.",
                    delay=self.poll_interval,
                )
            self._sleep(self.poll_interval)
