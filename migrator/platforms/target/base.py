"""Where the new brokers run: the interface the mixed-cluster-join phase uses.

    target = target_platform(config)        # by target.kind: strimzi (Kubernetes) or local (sandbox)

    target.review()                  # what the join would create, as text, and a diff against what exists
    target.operator()                # the cluster operator's image and build, or None (no operator)
    target.switch_operator(image, build)
    target.operator_settled(image)   # Verdict: the Deployment runs `image` (rolled out)
    target.existing()                # what `create` would touch, as it is now (the before-snapshot)
    target.create(racks)             # the Kafka CR + node pool / the sandbox brokers
    target.node_ids()                # the broker ids the platform assigned (None: not yet)
    target.reconciled()              # Verdict: the operator has caught up with the spec and is content
    target.remove(before)            # delete what `create` made (and only that)
    target.removed(before)           # Verdict: gone, with their brokers

Everything returned is plain JSON-friendly data, so the phase can keep it in the checkpoint. What is the
same on every platform (the VM brokers' ids, ZooKeeper registrations, the probe topic) is the phase's
business, not the platform's. The operator handback concerns Strimzi only (StrimziTarget).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from migrator.config import MigrationConfig
from migrator.engine.step import Verdict
from migrator.errors import BadInput
from migrator.platforms.target.config import TargetConfig

JSON = dict[str, Any]
Build = Literal["forked", "upstream"]


@dataclass(frozen=True)
class Review:
    """What the join creates, for a person: the objects as text and a unified diff against what the
    platform holds now ("" when they agree)."""

    what: str
    manifests: str
    diff: str


@dataclass(frozen=True)
class OperatorState:
    image: str
    #: forked / upstream as our annotation says, or None when nobody marked the Deployment.
    build: str | None

    def to_dict(self) -> JSON:
        return {"image": self.image, "build": self.build}


class TargetPlatform(ABC):
    kind: ClassVar[str]

    def __init__(self, config: MigrationConfig) -> None:
        self.config = config
        self.target: TargetConfig = require_target(config)

    @abstractmethod
    def review(self) -> Review: ...

    @abstractmethod
    def operator(self) -> OperatorState | None:
        """The cluster operator as it runs now; None on a platform without one."""

    @abstractmethod
    def switch_operator(self, image: str, build: Build | None) -> None: ...

    @abstractmethod
    def operator_settled(self, image: str) -> Verdict: ...

    @abstractmethod
    def existing(self) -> JSON: ...

    @abstractmethod
    def create(self, racks: Sequence[str]) -> None:
        """Create the brokers' platform objects. `racks` are the VM brokers' racks, for a platform that
        has to name them itself."""

    @abstractmethod
    def node_ids(self) -> list[int] | None: ...

    @abstractmethod
    def reconciled(self) -> Verdict: ...

    @abstractmethod
    def remove(self, before: JSON) -> None: ...

    @abstractmethod
    def removed(self, before: JSON) -> Verdict: ...


def require_target(config: MigrationConfig) -> TargetConfig:
    if config.target is None:
        raise BadInput(
            "migration.yaml has no target: section, which says where the new brokers run (kind strimzi or "
            "local), their node-ID range and the shared inter-broker listener. Add one (see "
            "runbooks/03-mixed-cluster-join.md) and run again; nothing was changed."
        )
    return config.target
