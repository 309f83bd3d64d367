"""The Kubernetes checkpoint store (store: kubernetes): checkpoint, journal and lock as ConfigMaps and a
Lease, compare-and-swap on resourceVersion. Kept out of migrator/engine, which imports no Kubernetes library."""
