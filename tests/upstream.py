"""Upstream data files (../shared/upstream, see its README), read in place, never copied into the repo.

Where they are: $MIGRATOR_UPSTREAM_DIR, else the nearest `shared/upstream` beside the repository or
one level further up (a checkout at /work/main or a worktree at /work/wt/<name>). Missing files skip
the test, or fail it when CI is set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM_ENV = "MIGRATOR_UPSTREAM_DIR"


def upstream_dir() -> Path:
    override = os.environ.get(UPSTREAM_ENV)
    if override:
        return Path(override).expanduser()
    candidates = [ROOT.parent / "shared/upstream", ROOT.parent.parent / "shared/upstream"]
    return next((c for c in candidates if c.is_dir()), candidates[0])


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(message: str) -> NoReturn:
    """Something a test needs from outside the repository (an upstream file, a binary, the Kubernetes
    rig) is not here: skip, or fail when CI is set, because CI must have it rather than quietly pass."""
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def upstream_file(relative: str) -> Path:
    path = upstream_dir() / relative
    if not path.is_file():
        missing(f"{path} not found; set {UPSTREAM_ENV} to the folder holding the upstream files (../shared/upstream)")
    return path
