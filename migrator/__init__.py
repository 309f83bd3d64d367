"""kafka-k8s-migrator: a checkpointed, phased migration of a ZooKeeper-mode Kafka fleet onto Strimzi."""

__version__ = "0.1.0"
