"""Another migrator process, for the lock tests: takes a migration's lock in the Kubernetes store, says
"locked", and holds it (renewing it) until a line arrives on stdin or it is killed.

    python -m tests.k8s.hold_lock <kubeconfig> <namespace> <migration_id> [lease_seconds]
"""

from __future__ import annotations

import sys
from pathlib import Path

from migrator.clients.k8s import api_client
from migrator.k8s_checkpoint.store import KubernetesStore


def main(kubeconfig: str, namespace: str, migration_id: str, lease_seconds: str = "60") -> None:
    store = KubernetesStore(
        api_client(Path(kubeconfig)), namespace, migration_id, lease_seconds=int(lease_seconds)
    )
    with store.locked():
        print("locked", flush=True)
        sys.stdin.readline()


if __name__ == "__main__":
    main(*sys.argv[1:])
