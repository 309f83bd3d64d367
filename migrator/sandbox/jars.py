"""Apache Kafka's jars from Maven Central, cached once per machine for the local sandbox.

Maven resolves `kafka_2.13` and its runtime dependencies (ZooKeeper included) plus a log4j binding,
which Kafka's Maven artifacts do not bundle. The cache is filled under a file lock into a temporary
folder that is renamed into place and only then marked complete, so a failed or concurrent download
never leaves a half cache behind.

    python -m migrator.sandbox.jars     # pre-fetch (setup scripts), prints the lib folder
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from migrator.errors import BadInput

KAFKA_VERSION = "3.9.1"
SCALA_VERSION = "2.13"
# Kafka's Maven artifacts leave the logging backend to the application; these match Kafka's own tarball.
SLF4J_RELOAD4J_VERSION = "1.7.36"
RELOAD4J_VERSION = "1.2.25"
# Pinned so every Maven version resolves the same goal behaviour.
DEPENDENCY_PLUGIN_VERSION = "3.6.1"

CACHE_ENV = "MIGRATOR_CACHE_DIR"
_MARKER = ".complete"

_POM = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by kafka-k8s-migrator to fetch the sandbox's jars; safe to delete with the cache. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.kafka-k8s-migrator</groupId>
  <artifactId>sandbox-kafka-jars</artifactId>
  <version>{kafka}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{scala}</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>{slf4j}</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>{reload4j}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{plugin}</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


def cache_root() -> Path:
    """~/.cache/kafka-k8s-migrator, or $MIGRATOR_CACHE_DIR."""
    override = os.environ.get(CACHE_ENV)
    return Path(override).expanduser() if override else Path.home() / ".cache" / "kafka-k8s-migrator"


def kafka_home(version: str = KAFKA_VERSION) -> Path:
    return cache_root() / f"kafka-{version}"


def lib_dir(version: str = KAFKA_VERSION) -> Path:
    return kafka_home(version) / "lib"


def is_cached(version: str = KAFKA_VERSION) -> bool:
    return (kafka_home(version) / _MARKER).is_file()


def require_tool(name: str, install_hint: str) -> str:
    """The absolute path of an executable on PATH, or BadInput saying how to install it."""
    found = shutil.which(name)
    if found is None:
        raise BadInput(
            f"`{name}` is not on PATH, and the local sandbox needs it. {install_hint} "
            "Then run the command again; nothing was changed."
        )
    return found


def require_java() -> str:
    return require_tool(
        "java", "Install a Java 17 runtime (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`)."
    )


def ensure_jars(version: str = KAFKA_VERSION) -> Path:
    """Fetch Kafka `version` and its runtime dependencies once; return the folder holding the jars.

    A second call (in this or any other process) only checks the completion marker."""
    home = kafka_home(version)
    if is_cached(version):
        return home / "lib"
    require_java()
    mvn = require_tool("mvn", "Install Apache Maven (Debian/Ubuntu: `apt-get install maven`).")
    home.mkdir(parents=True, exist_ok=True)
    with _exclusive(home.with_name(home.name + ".lock")):
        if not is_cached(version):  # another process may have filled it while we waited for the lock
            _download(mvn, home, version)
    return home / "lib"


def classpath(version: str = KAFKA_VERSION) -> str:
    """A java -cp value covering every cached jar (fetching them first if needed)."""
    return str(ensure_jars(version) / "*")


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _download(mvn: str, home: Path, version: str) -> None:
    pom = home / "pom.xml"
    pom.write_text(
        _POM.format(
            kafka=version,
            scala=SCALA_VERSION,
            slf4j=SLF4J_RELOAD4J_VERSION,
            reload4j=RELOAD4J_VERSION,
            plugin=DEPENDENCY_PLUGIN_VERSION,
        )
    )
    for leftover in home.glob("lib.partial-*"):  # from a run that was killed mid-download
        shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix="lib.partial-", dir=home))
    try:
        result = subprocess.run(
            [
                mvn, "-q", "-B", "-f", str(pom),
                f"org.apache.maven.plugins:maven-dependency-plugin:{DEPENDENCY_PLUGIN_VERSION}:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
            ],
            cwd=home,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise BadInput(
                f"Maven could not fetch Apache Kafka {version} from Maven Central (exit code "
                f"{result.returncode}). Check network access to repo.maven.apache.org, or a mirror/proxy "
                f"in ~/.m2/settings.xml, and run `python -m migrator.sandbox.jars` again; the cache at "
                f"{home} was left empty. Maven said:\n{tail}"
            )
        _check_complete(staging, version)
        target = home / "lib"
        if target.exists():  # a lib folder without marker is the leftover of an older, interrupted run
            shutil.rmtree(target)
        staging.rename(target)
        (home / _MARKER).write_text("\n".join(sorted(p.name for p in target.glob("*.jar"))) + "\n")
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _check_complete(folder: Path, version: str) -> None:
    jars = {p.name for p in folder.glob("*.jar")}
    wanted = [f"kafka_{SCALA_VERSION}-{version}.jar", f"reload4j-{RELOAD4J_VERSION}.jar"]
    missing = [name for name in wanted if name not in jars]
    if not any(name.startswith("zookeeper-") for name in jars):
        missing.append("zookeeper-*.jar")
    if missing:
        raise BadInput(
            f"Maven finished but the jars {', '.join(missing)} are missing from its output; the cache was "
            "left empty. A mirror in ~/.m2/settings.xml may serve an incomplete Kafka; check it and retry."
        )


if __name__ == "__main__":
    try:
        print(ensure_jars())
    except BadInput as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None
