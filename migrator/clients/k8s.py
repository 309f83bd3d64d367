"""Thin kubernetes-client adapter: an ApiClient from a kubeconfig (or the pod's service account), calls
retried with tenacity, and the failures a user must act on turned into BadInput.

urllib3's own retries are switched off so that one policy (here) decides how often a dropped connection
or a 5xx/429 answer is tried again. What is left after the retries: 403 becomes BadInput naming the verb,
resource, API group and namespace the account lacks and the Role in deploy/rbac that grants it; 401 and
an unreachable server become BadInput too; every other ApiException (404, 409, 422...) goes to the
caller, which knows what it means there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from migrator.clients.k8s_rbac import Forbidden
from migrator.errors import BadInput, TemporaryError

T = TypeVar("T")

#: Statuses the API server uses for "try again": overload, a restarting server or an unready etcd.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
CONNECTION_ERRORS = (MaxRetryError, NewConnectionError, ProtocolError, Urllib3Timeout, ConnectionError)
ATTEMPTS = 5
#: (connect, read) seconds: a hung server must not hang a migration step for ever.
REQUEST_TIMEOUT = (10, 60)


def api_client(kubeconfig: Path | None = None, context: str | None = None) -> k8s.ApiClient:
    """An ApiClient for `kubeconfig` and `context` (None: $KUBECONFIG or ~/.kube/config and its current
    context; inside a pod with neither, the pod's service account)."""
    configuration = k8s.Configuration()
    where = f"kubeconfig {kubeconfig}" if kubeconfig else "the default kubeconfig ($KUBECONFIG or ~/.kube/config)"
    try:
        if kubeconfig is None and context is None and _in_cluster_only():
            where = "the pod's service account"
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            k8s_config.load_kube_config(
                config_file=str(Path(kubeconfig).expanduser()) if kubeconfig else None,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
    except (ConfigException, OSError, ValueError, KeyError) as exc:
        on_context = f", context {context}" if context else ""
        raise BadInput(
            f"Cannot load Kubernetes credentials from {where}{on_context} ({exc}). Point kubeconfig (and context) "
            "in migration.yaml at a kubeconfig that reaches the cluster; `kubectl --kubeconfig <file> "
            "--context <name> get ns` should work with the same values. Nothing was changed."
        ) from None
    configuration.retries = 0
    return k8s.ApiClient(configuration)


def _in_cluster_only() -> bool:
    default = Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]).expanduser()
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not default.exists()


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, ApiException):
        return exc.status in RETRYABLE_STATUSES
    return isinstance(exc, CONNECTION_ERRORS) and not _tls_failure(exc)


def _tls_failure(exc: BaseException) -> bool:
    # A wrong CA or server name fails the same way every time: report it at once.
    return isinstance(exc, MaxRetryError) and isinstance(exc.reason, SSLError)


@retry(
    retry=retry_if_exception(_retryable),
    stop=stop_after_attempt(ATTEMPTS),
    wait=wait_exponential(0.5, max=8.0),
    reraise=True,
)
def _attempt(operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return operation(*args, **kwargs)


def call(operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`operation(*args, **kwargs)` (a bound kubernetes-client API method), retried on 5xx/429 and dropped
    connections; 401, 403 and an unreachable server raise BadInput."""
    kwargs.setdefault("_request_timeout", REQUEST_TIMEOUT)
    try:
        return _attempt(operation, *args, **kwargs)
    except ApiException as exc:
        if exc.status == 403:
            raise forbidden(exc) from None
        if exc.status == 401:
            raise BadInput(
                f"The Kubernetes API at {_server(operation)} rejected the credentials (401 Unauthorized): the "
                "token or client certificate in the kubeconfig is expired or revoked. Refresh it (for a service "
                "account: `kubectl create token <account>`) and run again."
            ) from None
        if exc.status == 0:  # the client's own wrapper around a TLS failure
            raise _tls_bad_input(operation, exc.reason) from None
        if exc.status in RETRYABLE_STATUSES:
            raise TemporaryError(
                f"The Kubernetes API at {_server(operation)} kept answering {exc.status} {exc.reason} "
                f"({status_message(exc)}) after {ATTEMPTS} attempts: it is overloaded or restarting."
            ) from None
        raise
    except CONNECTION_ERRORS as exc:
        if _tls_failure(exc):
            raise _tls_bad_input(operation, exc) from None
        raise BadInput(
            f"Cannot reach the Kubernetes API at {_server(operation)} ({type(exc).__name__}: {exc}), even after "
            "retrying. Check the server address in the kubeconfig and that this machine can reach it "
            "(VPN, firewall); `kubectl get ns` with the same kubeconfig should work."
        ) from None


def _tls_bad_input(operation: Callable[..., Any], detail: object) -> BadInput:
    return BadInput(
        f"Cannot talk TLS to the Kubernetes API at {_server(operation)} ({str(detail).strip()}). Check the server "
        "address and the certificate authority in the kubeconfig."
    )


def get_or_none(operation: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """call() for a read, with None for 404 Not Found."""
    try:
        return call(operation, *args, **kwargs)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def forbidden(exc: ApiException) -> BadInput:
    """A 403 as one paragraph: what the account may not do, and which Role of deploy/rbac grants it."""
    return Forbidden.parse(status_message(exc)).to_bad_input()


def status_message(exc: ApiException) -> str:
    """The API server's own explanation (the Status object's message), else the HTTP reason."""
    try:
        return str(json.loads(exc.body)["message"])
    except (TypeError, ValueError, KeyError):
        return f"{exc.status} {exc.reason}"


def _server(operation: Callable[..., Any]) -> str:
    api = getattr(getattr(operation, "__self__", None), "api_client", None)
    return api.configuration.host if api is not None else "the configured server"
