"""The migrator's own Prometheus exporter: `kafka_migration_*` metrics, served by every long-running verb.

Three sources, each read where it is the truth:
- the checkpoint (read at every scrape): phase and step states, the point of no return, pauses;
- the engine's EventBus (subscribed while the verb runs): the replica move's progress (`progress`
  events of the native mover: bytes planned/moved/remaining, rate, ETA, per broker), pauses as they
  happen (`phase.paused`), and the canary (below);
- the cluster itself (a background read every few seconds, never at scrape time): leaders and
  replicas per environment, URP / under-min-ISR / offline partitions, reassignments in flight,
  replication throttles in force per broker, and what the DNS facade names point at.

The engine stays Kafka-free: it only publishes events; this package lives beside it.

Canary events (the canary publishes them on the session's EventBus; `canary.produce` feeds the
produce latency histogram and the error counter):

    events.emit("canary.produce", latency_seconds=0.012)          # one acknowledged canary message
    events.emit("canary.produce", error="KafkaError{...}")        # one that failed (no latency)

Any other `canary.*` kind is ignored. The metric names are listed in `migrator.metrics.names`.
"""
