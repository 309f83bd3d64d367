"""What the local platforms need of the sandbox, for `provide_sandbox` (migrator/platforms/local_sandbox.py)."""

from __future__ import annotations

from migrator.platforms.local_sandbox import SandboxHooks
from migrator.sandbox.cluster import BrokerSpec, SandboxCluster
from migrator.sandbox.ports import broker_host

HOOKS = SandboxHooks(load=SandboxCluster.load, broker_host=broker_host, broker_spec=BrokerSpec)
