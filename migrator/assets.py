"""Where the non-Python folders (strimzi-overrides/, runbooks/, deploy/rbac/) are at run time.

In a checkout they sit at the top of the repository; in an installed wheel they ship as the data
packages `migrator.assets.*` (see pyproject.toml). Callers never need to know which.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

FOLDERS = {
    "strimzi-overrides": "strimzi_overrides",
    "runbooks": "runbooks",
    "deploy/rbac": "rbac",
}


def asset_dir(folder: str) -> Path:
    """The directory of `folder` (one of FOLDERS), from the checkout or from the installed package."""
    if folder not in FOLDERS:
        raise KeyError(f"unknown asset folder {folder!r}; known: {sorted(FOLDERS)}")
    checkout = Path(__file__).resolve().parent.parent / folder
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files(f"migrator.assets.{FOLDERS[folder]}")))
