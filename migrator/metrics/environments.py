"""Which environment a broker runs in: the VMs the migration leaves, or Kubernetes it moves to.

Which IDs are Kubernetes brokers is the mixed-cluster join's to say (it records the IDs the target
assigned once it verified them); the CLI hands its reader to the exporter as `KubernetesIds`.
"""

from __future__ import annotations

from collections.abc import Callable

from migrator.cluster.environments import ENVIRONMENTS
from migrator.engine.checkpoint import Checkpoint

VM, KUBERNETES = ENVIRONMENTS

#: The broker IDs a checkpoint says run on Kubernetes.
KubernetesIds = Callable[[Checkpoint | None], frozenset[int]]


def environment(broker_id: int, kubernetes_ids: frozenset[int]) -> str:
    return KUBERNETES if broker_id in kubernetes_ids else VM
