"""Which environment a broker runs in: the VMs the migration leaves, or Kubernetes it moves to.

The target platform assigns the Kubernetes brokers' IDs, and mixed-cluster-join records the IDs it
verified in its checkpointed state. Until that record exists no broker is on Kubernetes: a
configured ID range is only a wish (Strimzi falls back to other IDs when it cannot use it), and the
broker-ID shift may give VM brokers high IDs of their own.
"""

from __future__ import annotations

from migrator.engine.checkpoint import Checkpoint

VM = "vm"
KUBERNETES = "kubernetes"
ENVIRONMENTS = (VM, KUBERNETES)

#: Where mixed-cluster-join keeps the node IDs the target assigned (phases.mixed_cluster_join PHASE
#: and NODE_IDS; tests/unit/test_metrics_exporter.py keeps the two in step).
JOIN_PHASE = "mixed-cluster-join"
JOIN_NODE_IDS = "node_ids"


def kubernetes_broker_ids(checkpoint: Checkpoint | None) -> frozenset[int]:
    record = checkpoint.phases.get(JOIN_PHASE) if checkpoint else None
    if record is None:
        return frozenset()
    return frozenset(int(i) for i in record.state.get(JOIN_NODE_IDS) or ())


def environment(broker_id: int, kubernetes_ids: frozenset[int]) -> str:
    return KUBERNETES if broker_id in kubernetes_ids else VM
