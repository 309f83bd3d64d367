"""The wheel must carry every Python package and the non-Python folders (runbooks, overrides,
dashboards), so that `pip install .` outside the checkout finds them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from migrator.assets import FOLDERS

ROOT = Path(__file__).resolve().parents[2]


def _python_packages() -> set[str]:
    found = set()
    for top in ("migrator", "phases"):
        for init in (ROOT / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_every_package_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert _python_packages() <= listed, f"add to pyproject.toml packages: {_python_packages() - listed}"


def test_every_mapped_folder_exists() -> None:
    """setuptools refuses to build when a mapped folder is missing (git does not keep empty ones)."""
    mapped = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    assert [folder for folder in mapped.values() if not (ROOT / folder).is_dir()] == []
    assert set(mapped.values()) == set(FOLDERS)


def test_wheel_ships_packages_and_asset_folders(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("kafka_k8s_migrator-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in _python_packages():
        assert f"{package.replace('.', '/')}/__init__.py" in names
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in {".md", ".yaml", ".json"}:
                rel = path.relative_to(ROOT / folder).as_posix()
                assert f"migrator/assets/{package}/{rel}" in names, f"{folder}/{rel} missing from the wheel"
