"""The jar cache's bookkeeping (lock, marker, clean failure), with a scripted stand-in for `mvn`.

The real Maven download is exercised by every cluster test (and tests/cluster/test_sandbox.py checks a
warm cache needs no Maven at all)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from migrator.errors import BadInput
from migrator.sandbox import jars

REPO = Path(__file__).resolve().parents[2]

# Behaves like `mvn dependency:copy-dependencies` as far as the cache can tell: logs its call, writes
# jars into -DoutputDirectory, and fails when FAKE_MVN_FAIL is set (after writing a partial jar).
FAKE_MVN = """#!{python}
import os, sys, time
from pathlib import Path
with open(os.environ["FAKE_MVN_CALLS"], "a") as calls:
    calls.write(" ".join(sys.argv[1:]) + "\\n")
out = Path(next(a.split("=", 1)[1] for a in sys.argv if a.startswith("-DoutputDirectory=")))
time.sleep(float(os.environ.get("FAKE_MVN_SLEEP", "0")))
jars = os.environ.get("FAKE_MVN_JARS", "kafka_2.13-{version}.jar zookeeper-3.8.4.jar reload4j-1.2.25.jar")
for name in jars.split():
    (out / name).write_bytes(b"PK")
if os.environ.get("FAKE_MVN_FAIL"):
    print("[ERROR] Failed to execute goal: Could not transfer artifact ... Connection reset")
    sys.exit(1)
"""


@pytest.fixture
def fake_mvn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH with a scripted `mvn` first (java stays the real one); returns the file logging its calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mvn = bin_dir / "mvn"
    mvn.write_text(FAKE_MVN.format(python=sys.executable, version=jars.KAFKA_VERSION))
    mvn.chmod(0o755)
    calls = tmp_path / "mvn-calls.log"
    calls.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_MVN_CALLS", str(calls))
    monkeypatch.setenv(jars.CACHE_ENV, str(tmp_path / "cache"))
    return calls


def test_a_download_runs_maven_once_and_marks_the_cache(fake_mvn: Path):
    lib = jars.ensure_jars()

    assert lib == jars.lib_dir() and jars.is_cached()
    assert (lib / f"kafka_2.13-{jars.KAFKA_VERSION}.jar").is_file()
    call = fake_mvn.read_text()
    assert "copy-dependencies" in call and "-DincludeScope=runtime" in call
    pom = (jars.kafka_home() / "pom.xml").read_text()
    assert f"<artifactId>kafka_2.13</artifactId>\n      <version>{jars.KAFKA_VERSION}</version>" in pom
    assert "slf4j-reload4j" in pom and "reload4j" in pom

    assert jars.ensure_jars() == lib
    assert len(fake_mvn.read_text().splitlines()) == 1
    assert jars.classpath() == f"{lib}/*"


def test_a_failed_download_leaves_no_half_cache(fake_mvn: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FAKE_MVN_FAIL", "1")

    with pytest.raises(BadInput, match=r"(?s)Maven could not fetch Apache Kafka.*Connection reset"):
        jars.ensure_jars()

    assert not jars.is_cached()
    assert sorted(p.name for p in jars.kafka_home().iterdir()) == ["pom.xml"]


def test_an_incomplete_download_is_not_cached(fake_mvn: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FAKE_MVN_JARS", f"kafka_2.13-{jars.KAFKA_VERSION}.jar")

    with pytest.raises(BadInput, match=r"zookeeper-\*\.jar"):
        jars.ensure_jars()

    assert not jars.is_cached()
    assert not jars.lib_dir().exists()


def test_two_processes_fetching_at_once_run_maven_once(fake_mvn: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FAKE_MVN_SLEEP", "3")
    fetch = [sys.executable, "-c", "from migrator.sandbox.jars import ensure_jars; print(ensure_jars())"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [subprocess.Popen(fetch, stdout=subprocess.PIPE, text=True, cwd=REPO, env=env) for _ in range(2)]
    outputs = [run.communicate(timeout=60)[0].strip() for run in runs]

    assert [run.returncode for run in runs] == [0, 0]
    assert outputs == [str(jars.lib_dir())] * 2
    assert len(fake_mvn.read_text().splitlines()) == 1


def test_missing_maven_is_bad_input_that_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(jars.CACHE_ENV, str(tmp_path / "cache"))
    java_only = tmp_path / "bin"
    java_only.mkdir()
    (java_only / "java").symlink_to("/bin/true")
    monkeypatch.setenv("PATH", str(java_only))

    with pytest.raises(BadInput, match="`mvn` is not on PATH.*apt-get install maven"):
        jars.ensure_jars()
    assert not jars.is_cached()


def test_missing_java_is_bad_input_that_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(jars.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(BadInput, match="`java` is not on PATH.*openjdk-17-jre-headless"):
        jars.ensure_jars()
