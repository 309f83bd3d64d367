"""A real Kubernetes API for tests: kube-apiserver + etcd as local processes, with Strimzi's CRDs and
RBAC applied.

    rig = KubeRig(workdir).up()
    client = rig.api_client()                               # admin (system:masters)
    operator = rig.service_account_kubeconfig("kafka", "migrator")   # a kubeconfig acting as that SA
    rig.down()

Only the API runs: no kubelet, scheduler or controller-manager. Objects are validated, stored and
RBAC-checked, but nothing reconciles them. Hence:
- service-account tokens come from the TokenRequest API (there is no token controller);
- a deleted namespace may stay Terminating for ever (no namespace controller): use fresh names;
- Strimzi's operator Deployment is not applied; a test controller plays the operator on CR status.
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import json
import os
import secrets
import signal
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from migrator.errors import MigratorError
from migrator.sandbox.kube_binaries import KubeBinaries, ensure_binaries
from migrator.sandbox.kube_pki import RigPki, write_pki
from migrator.sandbox.ports import HOST, free_port
from migrator.sandbox.process import tail
from migrator.sandbox.process_group import stop_group

STRIMZI_DIR_ENV = "MIGRATOR_STRIMZI_DIR"
# ../shared/upstream from the repository root, where the project keeps unmodified upstream files.
DEFAULT_STRIMZI_DIR = (
    Path(__file__).resolve().parents[3] / "shared/upstream/strimzi-0.45.2/install/cluster-operator"
)
ADMIN_USER = "rig-admin"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
FIELD_MANAGER = "kafka-k8s-migrator-test-rig"
# The first start on a busy 2-core machine runs every post-start hook (RBAC bootstrap roles, ...).
READY_TIMEOUT = 180.0
STOP_GRACE = 15.0
_PR_SET_PDEATHSIG = 1


class KubeRigError(MigratorError):
    """The rig's processes did not come up; the message carries the end of their log."""


def strimzi_install_dir() -> Path:
    override = os.environ.get(STRIMZI_DIR_ENV)
    return Path(override).expanduser() if override else DEFAULT_STRIMZI_DIR


@dataclass
class _Child:
    """A rig process in its own process group, so stopping it also stops anything it spawned."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, command: list[str], log: Path, cwd: Path) -> _Child:
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                command,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return cls(name, popen, log)

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        stop_group(self.popen, STOP_GRACE, kill_wait=None)

    def failure(self, what: str) -> KubeRigError:
        state = "is running" if self.running() else f"exited with code {self.popen.returncode}"
        return KubeRigError(f"{self.name} {what}; it {state}. Log {self.log} ends with:\n{tail(self.log, 20)}")


def _die_with_parent() -> None:
    # Runs in the child before exec: if the test process is killed outright (no atexit), the kernel
    # still stops the rig. Linux-only, which the rig is anyway.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class KubeRig:
    """kube-apiserver + etcd on 127.0.0.1, free ports, files under `workdir`."""

    def __init__(
        self,
        workdir: Path,
        *,
        binaries: KubeBinaries | None = None,
        strimzi_dir: Path | None = None,
        operator_namespace: str = "strimzi",
    ) -> None:
        self.workdir = Path(workdir)
        self.operator_namespace = operator_namespace
        self._binaries = binaries
        self._strimzi_dir = strimzi_dir
        self._admin_token = secrets.token_urlsafe(32)
        self._children: list[_Child] = []
        self._pki: RigPki | None = None
        self._server: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def up(self) -> KubeRig:
        binaries = self._binaries or ensure_binaries()
        self.workdir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.down)
        try:
            etcd_url = self._start_etcd(binaries.etcd)
            self._pki = write_pki(self.workdir / "pki")
            self._server = self._start_apiserver(binaries.apiserver, etcd_url, self._pki)
            self._write_kubeconfig(
                self.kubeconfig, token=self._admin_token, user=ADMIN_USER, namespace="default"
            )
            self.apply_strimzi()
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> None:
        """Stop the apiserver, then etcd. Safe to call twice, and registered with atexit by up()."""
        while self._children:
            self._children.pop().stop()
        atexit.unregister(self.down)

    def __enter__(self) -> KubeRig:
        return self.up()

    def __exit__(self, *exc_info: object) -> None:
        self.down()

    # -- access ----------------------------------------------------------------------------------

    @property
    def server(self) -> str:
        if self._server is None:
            raise RuntimeError("the rig is not up")
        return self._server

    @property
    def kubeconfig(self) -> Path:
        """An admin kubeconfig (static token, group system:masters)."""
        return self.workdir / "admin.kubeconfig"

    @property
    def process_ids(self) -> list[int]:
        return [child.popen.pid for child in self._children if child.running()]

    def api_client(self, kubeconfig: Path | None = None) -> k8s.ApiClient:
        """A client for the admin kubeconfig, or for `kubeconfig` (e.g. a service account's)."""
        return k8s_config.new_client_from_config(config_file=str(kubeconfig or self.kubeconfig))

    def service_account_kubeconfig(self, namespace: str, name: str, expiration_seconds: int = 86400) -> Path:
        """Create namespace and service account if missing, request a token for it (TokenRequest API),
        and write a kubeconfig that acts as that service account; returns its path."""
        with self.api_client() as api:
            core = k8s.CoreV1Api(api)
            _ensure_namespace(core, namespace)
            _create_if_absent(
                lambda: core.create_namespaced_service_account(
                    namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name=name))
                )
            )
            # No audiences: the token gets the apiserver's own, which is what a client needs.
            request = k8s.AuthenticationV1TokenRequest(
                spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=expiration_seconds)
            )
            token = core.create_namespaced_service_account_token(name, namespace, request).status.token
        path = self.workdir / f"sa-{namespace}-{name}.kubeconfig"
        user = f"system:serviceaccount:{namespace}:{name}"
        self._write_kubeconfig(path, token=token, user=user, namespace=namespace)
        return path

    # -- Strimzi ---------------------------------------------------------------------------------

    def apply_strimzi(self) -> list[str]:
        """Server-side apply Strimzi's CRDs and RBAC (not its Deployment) and wait until the CRDs are
        established; returns the CRD names. Subjects bound to Strimzi's service account point at
        `operator_namespace`, as Strimzi's install guide has users edit them."""
        folder = self._strimzi_dir or strimzi_install_dir()
        files = sorted(folder.glob("*.yaml"))
        if not files:
            raise KubeRigError(
                f"No Strimzi install files in {folder}. Point {STRIMZI_DIR_ENV} at Strimzi 0.45.2's "
                "install/cluster-operator folder."
            )
        documents = [doc for path in files for doc in yaml.safe_load_all(path.read_text()) if doc]
        documents = [doc for doc in documents if doc["kind"] != "Deployment"]  # no kubelet to run it
        with self.api_client() as api:
            _ensure_namespace(k8s.CoreV1Api(api), self.operator_namespace)
            dynamic = DynamicClient(api, cache_file=str(self.workdir / "discovery-cache.json"))
            for doc in documents:
                self._apply(dynamic, doc)
            crds = [doc["metadata"]["name"] for doc in documents if doc["kind"] == "CustomResourceDefinition"]
            extensions = k8s.ApiextensionsV1Api(api)
            for crd in crds:
                _wait_until(partial(_is_established, extensions, crd), 60.0, f"CRD {crd} established")
        return crds

    def _apply(self, dynamic: DynamicClient, doc: dict[str, Any]) -> None:
        for subject in doc.get("subjects", []):
            if subject.get("kind") == "ServiceAccount":
                subject["namespace"] = self.operator_namespace
        resource = dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        namespace = self.operator_namespace if resource.namespaced else None
        dynamic.server_side_apply(
            resource, body=doc, namespace=namespace, field_manager=FIELD_MANAGER, force_conflicts=True
        )

    # -- processes -------------------------------------------------------------------------------

    def _start_etcd(self, etcd: Path) -> str:
        client_port = free_port()
        peer_port = free_port(exclude={client_port})
        client_url, peer_url = f"http://{HOST}:{client_port}", f"http://{HOST}:{peer_port}"
        child = self._spawn(
            "etcd",
            [
                str(etcd),
                # First, so `pgrep -f "etcd --data-dir"` (the CI leak check) finds the rig's etcd.
                f"--data-dir={self.workdir / 'etcd-data'}",
                "--name=rig",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=rig={peer_url}",
                "--initial-cluster-state=new",
                "--logger=zap",  # etcd 3.4's default (capnslog) is deprecated and chatty
                "--log-level=warn",
            ],
        )
        _wait_until(partial(_etcd_healthy, child, client_url), READY_TIMEOUT, "etcd healthy", child)
        return client_url

    def _start_apiserver(self, apiserver: Path, etcd_url: str, pki: RigPki) -> str:
        tokens = self.workdir / "tokens.csv"
        tokens.touch(mode=0o600)
        tokens.write_text(f'{self._admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        port = free_port()
        child = self._spawn(
            "kube-apiserver",
            [
                str(apiserver),
                f"--etcd-servers={etcd_url}",
                f"--bind-address={HOST}",
                f"--advertise-address={HOST}",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki.serving_cert}",
                f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_cert}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                "--anonymous-auth=false",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={pki.service_account_pub}",
                f"--service-account-signing-key-file={pki.service_account_key}",
                "--service-cluster-ip-range=10.96.0.0/16",
                # The `kubernetes` Service's endpoints would point at 127.0.0.1, which Endpoints reject.
                "--endpoint-reconciler-type=none",
                "--profiling=false",
            ],
        )
        server = f"https://{HOST}:{port}"
        context = ssl.create_default_context(cafile=str(pki.ca_cert))
        ready = partial(_apiserver_ready, child, server, self._admin_token, context)
        _wait_until(ready, READY_TIMEOUT, "/readyz ok", child)
        return server

    def _spawn(self, name: str, command: list[str]) -> _Child:
        child = _Child.start(name, command, self.workdir / f"{name}.log", self.workdir)
        self._children.append(child)
        return child

    def _write_kubeconfig(self, path: Path, *, token: str, user: str, namespace: str) -> None:
        assert self._pki is not None
        cluster = {
            "server": self.server,
            "certificate-authority-data": base64.b64encode(self._pki.ca_cert.read_bytes()).decode(),
        }
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "rig", "cluster": cluster}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": user, "context": {"cluster": "rig", "user": user, "namespace": namespace}}],
            "current-context": user,
        }
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(config, sort_keys=False))


def _create_if_absent(create: Callable[[], object]) -> None:
    try:
        create()
    except ApiException as error:
        if error.status != 409:
            raise


def _ensure_namespace(core: k8s.CoreV1Api, name: str) -> None:
    _create_if_absent(lambda: core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name))))


def _is_established(extensions: k8s.ApiextensionsV1Api, name: str) -> bool:
    conditions = extensions.read_custom_resource_definition(name).status.conditions or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


def _etcd_healthy(child: _Child, url: str) -> bool:
    if not child.running():
        raise child.failure("stopped while starting")
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return json.load(response).get("health") == "true"
    except (OSError, ValueError):
        return False


def _apiserver_ready(child: _Child, server: str, token: str, context: ssl.SSLContext) -> bool:
    if not child.running():
        raise child.failure("stopped while starting")
    request = urllib.request.Request(f"{server}/readyz", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status == 200
    except OSError:  # refused, TLS not up yet, or an HTTP error status
        return False


def _wait_until(check: Callable[[], bool], timeout: float, what: str, child: _Child | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            if child is not None:
                raise child.failure(f"was not {what} within {timeout:.0f}s")
            raise KubeRigError(f"Timed out after {timeout:.0f}s waiting for {what}.")
        time.sleep(0.25)
