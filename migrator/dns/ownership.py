"""Which facade names are ours: a TXT marker beside each name we create, naming the migration.

The marker lives at `_migrator.<name>`, not at the name itself, because a facade name is often a CNAME
and a CNAME cannot share its owner name with any other record. A name is ours only when that marker
names our migration; a name that holds anything without it (or with another migration's marker)
belongs to someone else, and we neither modify nor delete it.
"""

from __future__ import annotations

from migrator.dns.config import absolute_name
from migrator.dns.records import NameState, RecordSet
from migrator.errors import BadInput

MARKER_LABEL = "_migrator"
HERITAGE = "kafka-k8s-migrator"


class NotOurs(BadInput):
    """The name exists and carries no marker of this migration: we refuse to touch it."""


def marker_name(name: str) -> str:
    return f"{MARKER_LABEL}.{absolute_name(name)}"


def marker_record(name: str, migration_id: str, ttl: int) -> RecordSet:
    # TXT values are kept in presentation form (quoted), as dnspython and Route 53 both print them.
    return RecordSet(marker_name(name), "TXT", ttl, (f'"heritage={HERITAGE},migration={migration_id}"',))


def marker_owner(marker: RecordSet) -> str | None:
    """The migration a marker names, or None when the TXT record there is not one of our markers."""
    for value in marker.values:
        fields = dict(part.split("=", 1) for part in value.strip('"').split(",") if "=" in part)
        if fields.get("heritage") == HERITAGE and fields.get("migration"):
            return fields["migration"]
    return None


def is_ours(state: NameState, migration_id: str) -> bool:
    """True when the name carries our marker, False when nothing is there at all; raises NotOurs
    when the name (or its marker name) is held by anyone else."""
    if state.marker is not None:
        owner = marker_owner(state.marker)
        if owner == migration_id:
            return True
        who = f"migration {owner!r}" if owner else "someone else (a TXT record that is not our marker)"
        raise NotOurs(
            f"The DNS name {state.name} is marked as owned by {who} at {state.marker.name}, so migration "
            f"{migration_id!r} will not modify or delete it. Choose other facade names in the dns: section "
            "(broker_name_pattern, bootstrap_name), or finish that migration first; nothing was changed."
        )
    if not state.is_empty:
        raise NotOurs(
            f"The DNS name {state.name} already exists ({state.describe()}) and carries no ownership marker "
            f"of migration {migration_id!r} (a TXT record at {marker_name(state.name)}), so migrator will "
            "not modify or delete it. Choose other facade names in the dns: section (broker_name_pattern, "
            "bootstrap_name), or remove that record yourself if it is stale, and run again; nothing was changed."
        )
    return False
