"""The checkpoint store migration.yaml's checkpoint: section names (a local folder or Kubernetes objects).
The session opens it to run a migration; a phase may open it to read what an earlier phase recorded."""

from __future__ import annotations

from migrator.config import MigrationConfig
from migrator.engine.checkpoint import CheckpointStore, LocalFileStore


def open_store(config: MigrationConfig) -> CheckpointStore:
    checkpoint = config.checkpoint
    if checkpoint.store == "local":
        return LocalFileStore(checkpoint.path)
    # Imported here: the kubernetes client costs a second of start-up that local runs need not pay.
    from migrator.k8s_checkpoint.store import KubernetesStore

    return KubernetesStore.connect(
        config.migration_id,
        checkpoint.namespace,
        name=checkpoint.name,
        kubeconfig=checkpoint.kubeconfig,
        context=checkpoint.context,
    )
