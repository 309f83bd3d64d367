"""The mixed-cluster join's pure checks: whether the node IDs Strimzi hands (or handed) the pool are safe,
the digest that ties an apply to the reviewed manifests, and the client settings that reach the
new brokers through the shared listener. Nothing here talks to a cluster."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from migrator.clients.connection import ClusterConfig
from migrator.platforms.target.config import TargetConfig
from migrator.text import id_list

PHASE = "mixed-cluster-join"


def node_id_problems(assigned: Iterable[int], target: TargetConfig, vm_ids: Iterable[int]) -> str | None:
    """Why the assigned IDs must not take data (one paragraph), or None when they are safe: every ID is
    from the configured range, and none is a VM broker's (live, or holding replicas while down)."""
    ids, vm = sorted(assigned), set(vm_ids)
    colliding = [i for i in ids if i in vm]
    outside = [i for i in ids if i not in set(target.node_id_candidates)]
    if not colliding and not outside:
        return None
    found = []
    if colliding:
        found.append(
            f"ID(s) {id_list(colliding)} belong to VM broker(s): a new broker with a live broker's ID cannot register "
            "(NodeExistsException), and one with the ID of a broker that is down would take over its replicas"
        )
    if outside:
        found.append(
            f"ID(s) {id_list(outside)} are outside target.node_ids {target.node_ids}, so Strimzi did not use the "
            "strimzi.io/next-node-ids range (it falls back to the lowest free IDs from 0 when the annotation is "
            "malformed or the range is exhausted)"
        )
    return (
        f"KafkaNodePool {target.node_pool} was given node IDs {id_list(ids)}: {'; '.join(found)}. No data has been put "
        f"on the new brokers. Roll the phase back (`migrator rollback {PHASE}`: it deletes the Kafka CR and node "
        f"pool), then fix the range: the pool's strimzi.io/next-node-ids annotation must read like \"[1000-1999]\" "
        f"and hold at least {target.replicas} free IDs clear of the VM brokers' ({id_list(vm)}), and no other node "
        "pool of the cluster may already hold them. Then run the phase again."
    )


def predicted_collisions(target: TargetConfig, vm_ids: Iterable[int]) -> list[int]:
    """VM broker IDs among those Strimzi will hand the pool: the first `replicas` of the range."""
    return sorted(set(target.node_id_candidates[: target.replicas]) & set(vm_ids))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def shared_cluster(cluster: ClusterConfig, endpoints: dict[int, str]) -> ClusterConfig:
    """Admin settings that reach every broker: through the shared listener (plain text), the only one
    both sides are sure to have."""
    return cluster.model_copy(
        update={
            "bootstrap_servers": ",".join(endpoints[b] for b in sorted(endpoints)),
            "security_protocol": "PLAINTEXT",
            "sasl_mechanism": None,
            "sasl_username": None,
            "sasl_password": None,
            "ssl_ca_location": None,
        }
    )
