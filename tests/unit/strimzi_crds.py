"""Strimzi 0.45.2's CRDs, read in place from the upstream install files (never copied into the repo).

Where they are: $MIGRATOR_STRIMZI_DIR (their install/cluster-operator folder), else
../shared/upstream/strimzi-0.45.2/install/cluster-operator from the repository root, as for the
Kubernetes rig. Missing files skip the test, or fail it when CI is set.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from migrator.sandbox.kube import STRIMZI_DIR_ENV, strimzi_install_dir
from tests.upstream import missing


def install_file(name: str) -> Path:
    path = strimzi_install_dir() / name
    if not path.is_file():
        missing(f"{path} not found; set {STRIMZI_DIR_ENV} to Strimzi 0.45.2's install/cluster-operator folder")
    return path


@cache
def _parse(path: Path) -> Any:
    # The Kafka CRD is ~0.5 MB: libyaml parses it in a fraction of the pure-Python time.
    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_install_file(name: str) -> Any:
    return _parse(install_file(name))


def crd_schema(name: str) -> dict[str, Any]:
    """The openAPIV3Schema of the CRD's storage version."""
    (version,) = [v for v in load_install_file(name)["spec"]["versions"] if v["storage"]]
    return version["schema"]["openAPIV3Schema"]
