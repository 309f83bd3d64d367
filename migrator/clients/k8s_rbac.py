"""The orchestrator's shipped RBAC (deploy/rbac) as data, and a 403 explained against it.

The API server's refusal names the user, verb, resource, API group and namespace (the authorizer's
`forbiddenMessage`). Looking that up in the Roles we ship turns "forbidden" into what to apply, and
keeps the advice from drifting away from the files: there is no second list of permissions in code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from migrator.errors import BadInput
from migrator.assets import asset_dir

RBAC_FOLDER = "deploy/rbac"

# k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go: `<kind> "<name>" is forbidden: User
# "<user>" cannot <verb> resource "<resource>[/<subresource>]" in API group "<group>" in the namespace
# "<ns>"` (or `at the cluster scope`), then the authorizer's reason. A list has no name.
_FORBIDDEN = re.compile(
    r'^(?:\S+ "(?P<name>[^"]*)"|\S+) is forbidden: User "(?P<user>[^"]*)" cannot (?P<verb>\S+) resource '
    r'"(?P<resource>[^"]+)" in API group "(?P<group>[^"]*)"(?: in the namespace "(?P<namespace>[^"]*)")?'
)


@dataclass(frozen=True)
class Rule:
    """One rule of a Role or ClusterRole in deploy/rbac."""

    role_kind: str
    role: str
    file: str
    api_groups: frozenset[str]
    resources: frozenset[str]
    verbs: frozenset[str]
    resource_names: frozenset[str]

    def covers(self, verb: str, group: str, resource: str) -> bool:
        return (
            (group in self.api_groups or "*" in self.api_groups)
            and (resource in self.resources or "*" in self.resources)
            and (verb in self.verbs or "*" in self.verbs)
        )

    def allows_name(self, name: str | None) -> bool:
        return not self.resource_names or name in self.resource_names


@cache
def shipped_rules(folder: Path | None = None) -> tuple[Rule, ...]:
    """Every rule of every Role/ClusterRole in deploy/rbac, in file order."""
    directory = folder or asset_dir(RBAC_FOLDER)
    rules = []
    for path in sorted(directory.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not document or document.get("kind") not in ("Role", "ClusterRole"):
                continue
            for rule in document.get("rules", []):
                rules.append(
                    Rule(
                        role_kind=document["kind"],
                        role=document["metadata"]["name"],
                        file=f"{RBAC_FOLDER}/{path.name}",
                        api_groups=frozenset(rule.get("apiGroups", [])),
                        resources=frozenset(rule.get("resources", [])),
                        verbs=frozenset(rule.get("verbs", [])),
                        resource_names=frozenset(rule.get("resourceNames", [])),
                    )
                )
    return tuple(rules)


@dataclass(frozen=True)
class Forbidden:
    """A 403 from the API server, parsed; `verb` is None when the message is not the authorizer's."""

    message: str
    user: str | None = None
    verb: str | None = None
    resource: str | None = None
    group: str = ""
    namespace: str | None = None
    name: str | None = None

    @classmethod
    def parse(cls, message: str) -> Forbidden:
        found = _FORBIDDEN.search(message)
        if found is None:
            return cls(message)
        return cls(
            message,
            user=found["user"],
            verb=found["verb"],
            resource=found["resource"],
            group=found["group"],
            namespace=found["namespace"],
            name=found["name"] or None,
        )

    def to_bad_input(self, rules: tuple[Rule, ...] | None = None) -> BadInput:
        if self.verb is None or self.resource is None:
            return BadInput(
                f"The Kubernetes API refused a request (403 Forbidden: {self.message}). Apply the Roles in "
                f"{RBAC_FOLDER} for this migration's namespaces ({RBAC_FOLDER}/README.md) and run again."
            )
        what = f'{self.resource} (API group "{self.group}"{", the core group" if not self.group else ""})'
        if self.name:
            what += f' named "{self.name}"'
        where = f"in namespace {self.namespace}" if self.namespace else "at cluster scope"
        refused = (
            f"The Kubernetes API refused the request (and it changed nothing): {self.user} may not {self.verb} "
            f"{what} {where}."
        )
        return BadInput(f"{refused} {self._advice(shipped_rules() if rules is None else rules)}")

    def _advice(self, rules: tuple[Rule, ...]) -> str:
        assert self.verb is not None and self.resource is not None
        covering = [rule for rule in rules if rule.covers(self.verb, self.group, self.resource)]
        granting = next((rule for rule in covering if rule.allows_name(self.name)), None)
        if granting is not None:
            namespace = f"namespace set to {self.namespace}" if self.namespace else "namespaces set"
            return (
                f"The {granting.role_kind} {granting.role} in {granting.file} grants it: apply that file with its "
                f"{namespace} and its binding's subject set to this account ({RBAC_FOLDER}/README.md shows how), "
                "then run again."
            )
        if covering:
            names = ", ".join(sorted(covering[0].resource_names))
            return (
                f"{covering[0].file} grants {self.verb} on {self.resource} only for {names}. If the object really "
                f"is called {self.name} (a renamed operator Deployment, say), add that name to resourceNames there "
                "and apply the file again; otherwise correct the name in migration.yaml."
            )
        return (
            f"No Role in {RBAC_FOLDER} grants that: migrator's least-privilege RBAC does not cover this request, "
            "which is a bug in migrator. Grant it by hand for now and report it."
        )
