"""Where sandbox brokers listen: an address of their own from the broker id, one port for all."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from migrator.sandbox import configs
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster
from migrator.sandbox.ports import HOST, MAX_BROKER_ID, broker_host, free_shared_port, is_free, listening_ports


@pytest.mark.parametrize(
    ("broker_id", "host"),
    [(0, "127.1.0.1"), (1, "127.1.0.2"), (249, "127.1.0.250"), (250, "127.1.1.1"), (1000, "127.1.4.1"),
     (1500, "127.1.6.1"), (1999, "127.1.7.250"), (MAX_BROKER_ID, "127.1.255.250")],
)
def test_broker_host_from_id(broker_id: int, host: str) -> None:
    assert broker_host(broker_id) == host


def test_every_broker_id_gets_a_loopback_address_of_its_own() -> None:
    hosts = [broker_host(i) for i in range(MAX_BROKER_ID + 1)]
    assert len(set(hosts)) == len(hosts)
    assert HOST not in hosts
    assert not [h for h in hosts if h.endswith((".0", ".255"))]


@pytest.mark.parametrize("broker_id", [-1, MAX_BROKER_ID + 1])
def test_an_id_outside_the_scheme_is_refused_before_anything_starts(broker_id: int, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sandbox broker ids run from 0"):
        SandboxCluster(tmp_path, [BrokerSpec(broker_id)])


def test_a_shared_port_is_free_on_every_address_and_its_listeners_are_found_by_owner() -> None:
    hosts = [broker_host(i) for i in (0, 1, 1500)]
    port = free_shared_port(hosts)
    assert port not in listening_ports(os.getpid())
    listeners = []
    try:
        for host in hosts:  # what the brokers do with it
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listeners.append(sock)
            sock.bind((host, port))
            sock.listen()
        assert not [h for h in hosts if is_free(port, h)]
        assert port in listening_ports(os.getpid())
        assert port not in listening_ports(os.getppid())  # a rival holding the port is not the owner
    finally:
        for sock in listeners:
            sock.close()


@pytest.mark.parametrize(
    ("overrides", "listeners"),
    [
        ({}, "PLAINTEXT://127.1.6.1:9092"),
        (
            {"listeners": "PLAINTEXT://{host}:{port},SHARED-9094://{host}:9094"},
            "PLAINTEXT://127.1.6.1:9092,SHARED-9094://127.1.6.1:9094",
        ),
    ],
)
def test_a_broker_listens_on_its_own_address(overrides: dict[str, object], listeners: str) -> None:
    config = configs.broker_config(
        broker_id=1500,
        rack="b",
        host="127.1.6.1",
        port=9092,
        zookeeper_connect="127.0.0.1:2181/kafka",
        data_dir=Path("/data"),
        defaults={},
        overrides=overrides,
    )
    assert config["listeners"] == listeners
    assert "advertised.listeners" not in config  # Kafka advertises `listeners`, overridden or not
