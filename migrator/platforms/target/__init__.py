"""Where the new brokers run: the Strimzi target (Kubernetes) and the local target (sandbox brokers)."""
