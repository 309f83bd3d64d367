"""How long one full inventory read takes on a real sandbox cluster with a few hundred partitions.

Usage: python bench/inventory_read.py [--topics 50] [--partitions 8] [--rounds 5]

Starts a private 3-broker sandbox (torn down at the end), creates the topics (RF 3), then times
`read_inventory` (ZooKeeper pass + Admin API configs, reassignments and log dirs, new connections
each round, as a CLI call or a safety gate makes them).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from migrator.cluster.inventory import read_inventory  # noqa: E402
from migrator.config import load_config  # noqa: E402
from migrator.sandbox.cluster import SandboxCluster  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-inventory-") as workdir:
        cluster = SandboxCluster(Path(workdir) / "cluster")
        try:
            cluster.up()
            admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
            topics = [NewTopic(f"bench-{i}", args.partitions, 3) for i in range(args.topics)]
            for future in admin.create_topics(topics, operation_timeout=60).values():
                future.result()
            config = load_config(cluster.write_migration_config(Path(workdir) / "migration.yaml"))
            read_inventory(config)  # warm-up: the first read also waits for the last leader elections
            seconds = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                inventory = read_inventory(config)
                seconds.append(time.perf_counter() - start)
        finally:
            cluster.down()
    print(
        f"BENCH inventory_read partitions={inventory.partition_count} brokers={len(inventory.brokers)} "
        f"median_s={statistics.median(seconds):.3f} max_s={max(seconds):.3f} rounds={args.rounds}"
    )


if __name__ == "__main__":
    main()
