"""The binaries of the Kubernetes test rig: kube-apiserver built from the Go module proxy, and etcd.

kube-apiserver is packaged nowhere these machines can reach, so it is built once per machine from
the rig's own go.mod (kube_build/go.mod) and cached under <cache>/kube/<version>/, next to a stamp
of the go.mod and flags it came from. The build runs under a file lock and writes to a temporary
name that is renamed into place, so a killed or concurrent build never leaves a half binary behind. Go's own
module and build caches (~/go/pkg/mod, ~/.cache/go-build) make a rebuild after a go.mod edit cheap.

    python -m migrator.sandbox.kube_binaries     # pre-build (setup scripts, CI), prints the paths
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from migrator.errors import BadInput
from migrator.sandbox.jars import cache_root

GO_MOD = Path(__file__).with_name("kube_build") / "go.mod"
APISERVER_PACKAGE = "k8s.io/kubernetes/cmd/kube-apiserver"
# The CI machines have 2 cores; more parallel compile jobs only raise the peak memory of the build.
BUILD_JOBS = "2"
# Where the official tarball installs Go, often not on PATH in non-login shells.
_GO_FALLBACK = Path("/usr/local/go/bin/go")


@dataclass(frozen=True)
class KubeBinaries:
    apiserver: Path
    etcd: Path


def kubernetes_version(go_mod: Path = GO_MOD) -> str:
    """The k8s.io/kubernetes version the rig's go.mod requires, e.g. "v1.32.13"."""
    found = re.search(r"^require\s+k8s\.io/kubernetes\s+(v\S+)", go_mod.read_text(), re.MULTILINE)
    if found is None:
        raise ValueError(f"{go_mod} has no `require k8s.io/kubernetes vX.Y.Z` line")
    return found.group(1)


def kube_cache_dir() -> Path:
    return cache_root() / "kube" / kubernetes_version()


def apiserver_path() -> Path:
    return kube_cache_dir() / "kube-apiserver"


def is_apiserver_cached() -> bool:
    binary = apiserver_path()
    return binary.is_file() and _stamp_of(binary) == _cache_key()


def ensure_binaries() -> KubeBinaries:
    """Paths of kube-apiserver and etcd, building kube-apiserver first if it is not cached.

    Raises BadInput when the Go toolchain or etcd is missing, saying how to install them."""
    etcd = find_etcd()  # first: a missing etcd should not cost a long build before it is reported
    return KubeBinaries(apiserver=ensure_apiserver(), etcd=etcd)


def ensure_apiserver() -> Path:
    binary = apiserver_path()
    if is_apiserver_cached():
        return binary
    go = find_go()
    binary.parent.mkdir(parents=True, exist_ok=True)
    with open(binary.parent / ".build.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not is_apiserver_cached():  # another process may have built it while we waited
            _build(go, binary)
    return binary


def find_go() -> str:
    found = shutil.which("go") or (str(_GO_FALLBACK) if _GO_FALLBACK.is_file() else None)
    if found is None:
        raise BadInput(
            f"The Go toolchain is not on PATH, and the Kubernetes test rig builds kube-apiserver "
            f"{kubernetes_version()} with it from the Go module proxy (once; later runs use the cache under "
            f"{kube_cache_dir()}). Install Go 1.23 or newer (https://go.dev/dl/, or Debian's golang-go if "
            "recent enough), make sure `go` is on PATH, and run `python -m migrator.sandbox.kube_binaries`."
        )
    return found


def find_etcd() -> Path:
    found = shutil.which("etcd")
    if found is None:
        raise BadInput(
            "etcd is not on PATH, and the Kubernetes test rig stores its API objects in it. Install "
            "Debian's etcd-server (`apt-get install etcd-server`; the rig starts its own etcd, so the "
            "system service may stay stopped) and run the tests again."
        )
    return Path(found)


def _build(go: str, binary: Path) -> None:
    work = binary.parent / "build"
    work.mkdir(exist_ok=True)
    shutil.copyfile(GO_MOD, work / "go.mod")  # go.sum is written next to it, outside the repository
    partial = binary.with_name(binary.name + ".partial")
    log = binary.with_name("build.log")
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    command = [go, "build", "-p", BUILD_JOBS, "-trimpath", "-ldflags", _ldflags(), "-o", str(partial)]
    command.append(APISERVER_PACKAGE)
    with open(log, "w") as out:
        result = subprocess.run(command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = "\n".join(log.read_text().strip().splitlines()[-15:])
        raise BadInput(
            f"Building kube-apiserver {kubernetes_version()} failed (exit code {result.returncode}). Check "
            "network access to the Go module proxy (GOPROXY) and that Go is 1.23 or newer, then run "
            f"`python -m migrator.sandbox.kube_binaries` again; the full log is {log}. Go said:\n{tail}"
        )
    os.replace(partial, binary)
    _stamp_path(binary).write_text(_cache_key() + "\n")


def _ldflags() -> str:
    return " ".join(["-s", "-w", *_version_flags(kubernetes_version())])


def _version_flags(version: str) -> list[str]:
    # What Kubernetes' own release build stamps in (hack/lib/version.sh); without it /version reports
    # v0.0.0-master and clients that check the server version misjudge the rig.
    major, minor = version.removeprefix("v").split(".")[:2]
    values = {"gitVersion": version, "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean"}
    return [
        f"-X {package}.{key}={value}"
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for key, value in values.items()
    ]


def _cache_key() -> str:
    """Changes with the go.mod and with how it is built, so either one triggers a rebuild."""
    return hashlib.sha256(GO_MOD.read_bytes() + _ldflags().encode()).hexdigest()


def _stamp_path(binary: Path) -> Path:
    return binary.with_name(binary.name + ".cache-key")


def _stamp_of(binary: Path) -> str | None:
    stamp = _stamp_path(binary)
    return stamp.read_text().strip() if stamp.is_file() else None


if __name__ == "__main__":
    try:
        binaries = ensure_binaries()
    except BadInput as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None
    print(f"kube-apiserver {binaries.apiserver}\netcd {binaries.etcd}")
