"""The facade names of one migration in one zone. Every write goes through here, so every write is
ownership-checked, conditional on what was read, and leaves a value to go back to.

`repoint(name, targets)` is THE operation: creating a facade name is repointing a free name, and each
later phase shifts traffic by repointing. It returns the state it replaced; `restore(before)` puts that
state back (a name that was free is removed again, marker included).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from migrator.dns.config import absolute_name
from migrator.dns.ownership import is_ours, marker_record
from migrator.dns.provider import DnsProvider
from migrator.dns.records import Change, NameState, Resolver, resolve_host, target_records


def _same(a: NameState, b: NameState) -> bool:
    return a.records == b.records and a.marker == b.marker


class Facade:
    def __init__(self, provider: DnsProvider, migration_id: str, ttl: int, resolve: Resolver = resolve_host) -> None:
        self.provider = provider
        self.migration_id = migration_id
        self.ttl = ttl
        self._resolve = resolve

    def read(self, name: str) -> NameState:
        return self.provider.read(absolute_name(name))

    def desired(self, name: str, targets: Iterable[str]) -> NameState:
        """What `name` holds once it points at `targets`: the records and our marker."""
        return NameState(
            name,
            target_records(name, targets, self.ttl, self._resolve),
            marker=marker_record(name, self.migration_id, self.ttl),
        )

    def _change(self, name: str, targets: Iterable[str]) -> Change:
        before = self.read(name)
        is_ours(before, self.migration_id)
        want = self.desired(name, targets)
        return Change(before, NameState(name, want.records, before.other_types, want.marker))

    def change_to(self, name: str, targets: Iterable[str]) -> Change | None:
        """The change that would point `name` at `targets`, None if it already does. Read-only; raises
        NotOurs when the name belongs to someone else."""
        change = self._change(name, targets)
        return None if _same(change.before, change.after) else change

    def repoint(self, name: str, targets: Iterable[str]) -> NameState:
        """Point `name` at `targets` (creating it, with our marker, if free); returns what it replaced."""
        return self.repoint_all({name: targets})[absolute_name(name)]

    def repoint_all(self, targets: Mapping[str, Iterable[str]]) -> dict[str, NameState]:
        """Repoint several names, checking that every one is free or ours before changing any; returns
        what each held before."""
        changes = [self._change(name, hosts) for name, hosts in targets.items()]
        for change in changes:
            if not _same(change.before, change.after):
                self.provider.apply(change)
        return {change.name: change.before for change in changes}

    def restore(self, before: NameState) -> None:
        """Put `name` back as it was in `before` (a state that was free, or ours). Records of others
        at the name are never touched; a name someone else took meanwhile raises NotOurs."""
        current = self.read(before.name)
        is_ours(current, self.migration_id)
        target = NameState(before.name, before.records, current.other_types, before.marker)
        if not _same(current, target):
            self.provider.apply(Change(current, target))

    def remove(self, name: str) -> None:
        """Delete our records and marker at `name`; a free name stays free."""
        self.restore(NameState(name))
