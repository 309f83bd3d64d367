"""Real DNS servers for the DNS tests: BIND (`named`) and moto's server, on 127.0.0.1, torn down after.

Import the fixtures a test module needs by name (`from tests.dns_fixtures import bind_primary`).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrator.dns.config import DnsConfig
from migrator.sandbox.dns_server import DnsServer
from migrator.sandbox.ports import HOST, free_port
from migrator.sandbox.process_group import stop_group

ZONE = "sandbox.test."
#: The zone publishes two name servers; a test with one server maps both NS names to it.
NAMESERVERS = ("ns1", "ns2")


@pytest.fixture
def bind_primary(tmp_path: Path) -> Iterator[DnsServer]:
    with DnsServer(tmp_path / "ns1", ZONE, nameservers=NAMESERVERS) as server:
        yield server


@pytest.fixture
def bind_secondary(tmp_path: Path, bind_primary: DnsServer) -> Iterator[DnsServer]:
    """A secondary of bind_primary; it lags behind every update until `refresh()`."""
    with DnsServer(tmp_path / "ns2", ZONE, primary=bind_primary) as server:
        yield server


def rfc2136_config(primary: DnsServer, servers: list[DnsServer] | None = None, **overrides: object) -> DnsConfig:
    """The dns: section for `primary`; with one server, both NS names point at it."""
    section = primary.config_section(servers or [primary, primary])
    section.update(overrides)
    return DnsConfig.model_validate(section)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server (a stand-in for AWS) for the session; each test creates its own hosted zone."""
    binary = shutil.which("moto_server")
    assert binary, "moto_server is not installed (pip install 'moto[server]')"
    port = free_port()
    process = subprocess.Popen(
        [binary, "-H", HOST, "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    endpoint = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"moto_server exited with {process.returncode}"
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto_server did not answer within 30 s"
                time.sleep(0.1)
        yield endpoint
    finally:
        stop_group(process, grace=10)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials through the standard chain (moto accepts any)."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
