"""A wrong SASL password is reported as refused credentials, not as "no broker answered": a real
broker with a SASL/PLAIN listener beside its plaintext one."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.clients.kafka import KafkaAdmin
from migrator.config import ClusterConfig, SecretRef
from migrator.errors import BadInput
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster
from migrator.sandbox.ports import broker_host, free_shared_port

pytestmark = pytest.mark.cluster

JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret";'


def test_a_wrong_sasl_password_says_the_credentials_were_refused(sandbox_factory, tmp_path: Path) -> None:
    port = free_shared_port([broker_host(0)])
    config = {
        "listeners": f"PLAINTEXT://{{host}}:{{port}},SASL_PLAINTEXT://{{host}}:{port}",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
    }
    cluster: SandboxCluster = sandbox_factory(brokers=[BrokerSpec(0, "a", config)])
    (tmp_path / "right").write_text("admin-secret\n")
    (tmp_path / "wrong").write_text("not-the-password\n")

    def cluster_config(password: str) -> ClusterConfig:
        return ClusterConfig(
            zookeeper_connect=cluster.zookeeper_connect,
            bootstrap_servers=f"{broker_host(0)}:{port}",
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_username="admin",
            sasl_password=SecretRef(file=tmp_path / password),
            timeout_seconds=5,
        )

    with KafkaAdmin(cluster_config("right")) as admin:
        assert admin.cluster_id() == cluster.cluster_id
    with pytest.raises(BadInput) as refused, KafkaAdmin(cluster_config("wrong")) as admin:
        admin.cluster_id()
    message = str(refused.value)
    assert "refused the credentials of user admin" in message and "sasl_password" in message
    assert "No Kafka broker" not in message and "not-the-password" not in message
