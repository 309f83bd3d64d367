"""The pure parts behind the Kubernetes checkpoint store: 403s explained against deploy/rbac, the shape
of that RBAC, the client's retries and error mapping, and the Lease record's rules. The store itself
runs against the real API server in tests/k8s/."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from tenacity import wait_none
from urllib3.exceptions import MaxRetryError, NewConnectionError

from migrator.clients import k8s as k8s_client
from migrator.clients.k8s_rbac import RBAC_FOLDER, Forbidden, shipped_rules
from migrator.k8s_checkpoint.lease import HOLDER_ANNOTATION, _Record, micro_time
from migrator.engine.lock import LockInfo
from migrator.errors import BadInput, TemporaryError

ROOT = Path(__file__).resolve().parents[2]
USER = "system:serviceaccount:kafka-migrator:kafka-k8s-migrator"


def refusal(prefix: str, verb: str, resource: str, group: str, namespace: str | None) -> str:
    """The API server's 403 message (responsewriters.forbiddenMessage), plus the RBAC authorizer's reason."""
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return f'{prefix} is forbidden: User "{USER}" cannot {verb} resource "{resource}" in API group "{group}" {scope}'


# ------------------------------------------------------------------------- 403 -> BadInput


def test_a_refused_checkpoint_write_names_verb_resource_namespace_and_the_granting_role() -> None:
    message = refusal('configmaps "migrator-m1"', "update", "configmaps", "", "kafka-migrator")
    error = Forbidden.parse(message + ": RBAC: clusterrole.rbac.authorization.k8s.io not found").to_bad_input()
    text = str(error)
    assert f'{USER} may not update configmaps (API group "", the core group) named "migrator-m1"' in text
    assert "in namespace kafka-migrator" in text
    assert "The Role kafka-k8s-migrator-checkpoint in deploy/rbac/020-Role-kafka-k8s-migrator-checkpoint.yaml" in text


def test_a_subresource_and_a_list_without_a_name_are_parsed() -> None:
    status = Forbidden.parse(
        refusal('kafkas.kafka.strimzi.io "events"', "get", "kafkas/status", "kafka.strimzi.io", "kafka")
    )
    assert (status.resource, status.group, status.name) == ("kafkas/status", "kafka.strimzi.io", "events")
    assert "The Role kafka-k8s-migrator-strimzi in deploy/rbac/030-" in str(status.to_bad_input())

    listing = Forbidden.parse(refusal("pods", "list", "pods", "", "kafka"))
    assert (listing.verb, listing.name, listing.namespace) == ("list", None, "kafka")


def test_a_request_outside_the_shipped_rbac_is_called_a_bug_not_a_missing_grant() -> None:
    text = str(Forbidden.parse(refusal("secrets", "list", "secrets", "", "kafka")).to_bad_input())
    assert "may not list secrets" in text and "No Role in deploy/rbac grants that" in text

    cluster = str(Forbidden.parse(refusal("namespaces", "list", "namespaces", "", None)).to_bad_input())
    assert "at cluster scope" in cluster and "No Role in deploy/rbac grants that" in cluster


def test_a_deployment_other_than_the_operator_is_outside_the_named_grant() -> None:
    other = refusal('deployments.apps "billing"', "patch", "deployments", "apps", "kafka")
    text = str(Forbidden.parse(other).to_bad_input())
    assert "grants patch on deployments only for strimzi-cluster-operator" in text and "resourceNames" in text

    operator = refusal('deployments.apps "strimzi-cluster-operator"', "patch", "deployments", "apps", "kafka")
    assert "The Role kafka-k8s-migrator-operator in deploy/rbac/040-" in str(Forbidden.parse(operator).to_bad_input())


def test_a_message_that_is_not_the_authorizers_still_reads_as_one_paragraph() -> None:
    text = str(Forbidden.parse("admission webhook denied the request").to_bad_input())
    assert "403 Forbidden: admission webhook denied the request" in text and f"{RBAC_FOLDER}/README.md" in text


# ------------------------------------------------------------------------ the shipped RBAC


def rbac_documents() -> list[tuple[Path, dict]]:
    paths = sorted((ROOT / RBAC_FOLDER).glob("*.yaml"))
    return [(path, doc) for path in paths for doc in yaml.safe_load_all(path.read_text())]


def test_the_rbac_is_namespaced_without_wildcards_secrets_or_escalation() -> None:
    kinds = {doc["kind"] for _, doc in rbac_documents()}
    assert kinds == {"ServiceAccount", "Role", "RoleBinding"}, "no ClusterRole: migrator needs nothing cluster-wide"
    for rule in shipped_rules():
        assert "*" not in rule.verbs | rule.resources | rule.api_groups, rule
        assert not rule.resources & {"secrets", "roles", "rolebindings", "serviceaccounts/token", "pods/exec"}, rule
        assert not rule.verbs & {"escalate", "bind", "impersonate"}, rule
    checkpoint = [r for r in shipped_rules() if r.role == "kafka-k8s-migrator-checkpoint"]
    assert all(r.verbs == {"get", "create", "update"} for r in checkpoint), "the store never lists, patches or deletes"


def test_every_rule_says_why_in_a_comment_above_it() -> None:
    for path in sorted((ROOT / RBAC_FOLDER).glob("*.yaml")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if re.match(r"\s*- apiGroups:", line):
                assert lines[number - 1].strip().startswith("#"), f"{path.name}:{number + 1} has no reason above it"


def test_every_binding_binds_the_migrator_account_to_a_role_of_the_same_file() -> None:
    for path, doc in rbac_documents():
        if doc["kind"] == "RoleBinding":
            roles = [d["metadata"]["name"] for p, d in rbac_documents() if p == path and d["kind"] == "Role"]
            assert doc["roleRef"]["name"] in roles
            account = {"kind": "ServiceAccount", "name": "kafka-k8s-migrator", "namespace": "kafka-migrator"}
            assert doc["subjects"] == [account]


# -------------------------------------------------------------------- the client's retries


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(k8s_client._attempt.retry, "wait", wait_none())


def api_error(status: int, message: str = "") -> ApiException:
    error = ApiException(status=status, reason="Reason")
    error.body = json.dumps({"kind": "Status", "message": message})
    return error


class Flaky:
    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, *args: object, **kwargs: object) -> str:
        self.calls += 1
        assert kwargs["_request_timeout"] == k8s_client.REQUEST_TIMEOUT
        if self.errors:
            raise self.errors.pop(0)
        return "answer"


def test_overload_and_dropped_connections_are_retried() -> None:
    dropped = MaxRetryError(None, "/api", NewConnectionError(None, "refused"))
    flaky = Flaky(api_error(503), api_error(429), dropped)
    assert k8s_client.call(flaky) == "answer" and flaky.calls == 4


def test_what_retrying_cannot_fix_is_reported_once() -> None:
    forbidden = Flaky(api_error(403, refusal("pods", "list", "pods", "", "kafka")))
    with pytest.raises(BadInput, match="may not list pods"):
        k8s_client.call(forbidden)
    assert forbidden.calls == 1

    conflict = Flaky(api_error(409))
    with pytest.raises(ApiException):  # the caller knows what a conflict means there
        k8s_client.call(conflict)
    assert conflict.calls == 1 and k8s_client.get_or_none(Flaky(api_error(404))) is None

    with pytest.raises(BadInput, match="rejected the credentials"):
        k8s_client.call(Flaky(api_error(401)))


def test_an_api_that_stays_down_is_temporary_and_an_unreachable_one_is_bad_input() -> None:
    down = Flaky(*[api_error(503, "etcdserver: leader changed")] * k8s_client.ATTEMPTS)
    with pytest.raises(TemporaryError, match="kept answering 503.*etcdserver: leader changed"):
        k8s_client.call(down)
    assert down.calls == k8s_client.ATTEMPTS

    refused = MaxRetryError(None, "/api", NewConnectionError(None, "Connection refused"))
    with pytest.raises(BadInput, match="Cannot reach the Kubernetes API"):
        k8s_client.call(Flaky(*[refused] * k8s_client.ATTEMPTS))


def test_a_missing_kubeconfig_or_context_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=f"kubeconfig {tmp_path / 'absent'}"):
        k8s_client.api_client(tmp_path / "absent")
    config = tmp_path / "kubeconfig"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "ctx",
            }
        )
    )
    with pytest.raises(BadInput, match="context elsewhere"):
        k8s_client.api_client(config, "elsewhere")
    api = k8s_client.api_client(config)
    assert api.configuration.host == "https://127.0.0.1:1" and api.configuration.retries == 0


# ------------------------------------------------------------------------ the Lease record


NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def test_micro_time_always_has_six_fractional_digits() -> None:
    assert micro_time(NOW) == "2026-03-01T12:00:00.000000Z"
    assert micro_time(NOW.astimezone(timezone(timedelta(hours=2)))) == "2026-03-01T12:00:00.000000Z"


def test_a_lease_expires_a_full_duration_after_its_last_renewal() -> None:
    record = _Record(lease_seconds=60, acquire_time=NOW - timedelta(minutes=5), renew_time=NOW - timedelta(seconds=59))
    assert not record.expired(NOW)
    assert record.expired(NOW + timedelta(seconds=2))
    assert _Record(holder_identity="someone").expired(NOW), "a lease without a duration proves nothing alive"


def test_taking_and_releasing_a_lease_writes_the_holder_twice_and_counts_transitions() -> None:
    mine = LockInfo(pid=7, host="laptop", user="bob", started_at="2026-03-01T12:00:00+00:00", command="migrator run")
    record = _Record(resource_version="41", transitions=2, annotations={"kafka-k8s-migrator/pause-request": "{}"})
    record.take(mine, NOW, 60)
    body = record.body("migrator-m1", "kafka-migrator", {"app": "x"})

    assert body["spec"] == {
        "leaseTransitions": 3,
        "holderIdentity": f"bob@laptop pid 7 {mine.token}",
        "leaseDurationSeconds": 60,
        "acquireTime": "2026-03-01T12:00:00.000000Z",
        "renewTime": "2026-03-01T12:00:00.000000Z",
    }
    assert body["metadata"]["resourceVersion"] == "41"
    assert record.holder("Lease x") == mine

    record.release()
    released = record.body("migrator-m1", "kafka-migrator", {})
    assert "holderIdentity" not in released["spec"] and record.holder("Lease x") is None
    assert HOLDER_ANNOTATION not in released["metadata"]["annotations"], "the pause request stays, the holder goes"


def test_a_holder_without_its_annotation_is_reported_not_guessed() -> None:
    with pytest.raises(BadInput, match="lacks a readable kafka-k8s-migrator/holder annotation"):
        _Record(holder_identity="kube-controller-manager").holder("Lease kafka-migrator/migrator-m1")
