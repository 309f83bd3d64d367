"""Thin boto3 adapter: a client factory on the standard credential chain, and calls retried with tenacity.

botocore's own retries are switched off so that one policy (here) decides how often a throttled or
dropped call is tried again; callers map whatever error is left to BadInput / TemporaryError.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

#: Error codes AWS documents as "slow down / try again"; PriorRequestNotComplete is Route 53's own.
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "PriorRequestNotComplete",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
    }
)
CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        return error_code(exc) in RETRYABLE_CODES
    return isinstance(exc, CONNECTION_ERRORS)


def client(service: str, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A boto3 client for `service`; credentials come from the standard chain (env, profile, role)."""
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)
    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint_url, config=config)


@retry(retry=retry_if_exception(_retryable), stop=stop_after_attempt(5), wait=wait_exponential(0.5, max=8.0), reraise=True)
def call(aws_client: Any, operation: str, **params: Any) -> dict[str, Any]:
    """`aws_client.<operation>(**params)`, retried on throttling and dropped connections."""
    return getattr(aws_client, operation)(**params)
