"""The EC2 user data script, executed by bash as cloud-init would run it.

The instance metadata service and systemd do not exist here, so `curl` and `systemctl` are small
stand-ins on PATH that answer like IMDSv2 and record the command; everything else (bash, sed,
install, the heredoc, the empty-storage guard) is the real thing.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from migrator.errors import BadInput
from migrator.platforms.model import NewBroker
from migrator.platforms.properties import PropertiesTemplate
from migrator.platforms.source.user_data import HOST_MARK, MAX_BYTES, broker_script

HOSTNAME = "ip-10-0-1-17.eu-west-1.compute.internal"


def _shims(bin_dir: Path, calls: Path) -> None:
    bin_dir.mkdir()
    scripts = {
        # IMDSv2: PUT /api/token returns a token, GET .../local-hostname requires it.
        "curl": f"""#!/bin/bash
case "$*" in
  *"-X PUT"*api/token*) echo -n token-123 ;;
  *"X-aws-ec2-metadata-token: token-123"*local-hostname*) echo -n {HOSTNAME} ;;
  *) echo "unexpected curl $*" >&2; exit 22 ;;
esac
""",
        "systemctl": f'#!/bin/bash\necho "systemctl $*" >> {calls}\n',
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _script(tmp_path: Path, log_dirs: str) -> tuple[str, Path]:
    properties_path = tmp_path / "kafka config" / "server.properties"  # a space, to test the quoting
    template = PropertiesTemplate(
        "10.0.0.5:2181,10.0.0.6:2181/kafka",
        {"listeners": "PLAINTEXT://0.0.0.0:9092", "advertised.listeners": "PLAINTEXT://{host}:9092", "log.dirs": log_dirs},
    )
    broker = NewBroker(100, "eu-west-1a")
    script = broker_script(
        migration_id="m1",
        broker_id=broker.id,
        rack=broker.rack,
        properties=template.render(broker, HOST_MARK),
        properties_path=str(properties_path),
        start_command="systemctl enable --now kafka.service",
    )
    return script, properties_path


def _run(tmp_path: Path, script: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    calls = tmp_path / "systemctl.calls"
    _shims(tmp_path / "bin", calls)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    return done, calls


def test_script_writes_the_properties_and_starts_kafka(tmp_path: Path) -> None:
    data = tmp_path / "data"
    script, properties_path = _script(tmp_path, f"{data}/a,{data}/b")
    assert script.startswith("#!/bin/bash\n")
    done, calls = _run(tmp_path, script)
    assert done.returncode == 0, done.stderr
    assert properties_path.read_text() == (
        "broker.id=100\n"
        "broker.rack=eu-west-1a\n"
        "zookeeper.connect=10.0.0.5:2181,10.0.0.6:2181/kafka\n"
        "listeners=PLAINTEXT://0.0.0.0:9092\n"
        f"advertised.listeners=PLAINTEXT://{HOSTNAME}:9092\n"
        f"log.dirs={data}/a,{data}/b\n"
    )
    assert calls.read_text() == "systemctl enable --now kafka.service\n"


def test_script_refuses_a_log_dir_holding_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "b").mkdir(parents=True)
    (data / "b" / "meta.properties").write_text("broker.id=3\n")
    script, properties_path = _script(tmp_path, f"{data}/a,{data}/b")
    done, calls = _run(tmp_path, script)
    assert done.returncode != 0
    assert f"log dir {data}/b is not empty" in done.stderr
    assert not properties_path.exists()
    assert not calls.exists()  # Kafka was not started


def test_script_without_host_placeholder_needs_no_metadata_service(tmp_path: Path) -> None:
    script = broker_script(
        migration_id="m1",
        broker_id=7,
        rack=None,
        properties={"broker.id": "7", "log.dirs": str(tmp_path / "d")},
        properties_path=str(tmp_path / "server.properties"),
        start_command="systemctl start kafka",
    )
    assert "169.254.169.254" not in script
    done, _ = _run(tmp_path, script)
    assert done.returncode == 0, done.stderr


def test_oversized_user_data_is_bad_input() -> None:
    with pytest.raises(BadInput, match="at most"):
        broker_script(
            migration_id="m1",
            broker_id=1,
            rack=None,
            properties={"broker.id": "1", "huge": "x" * MAX_BYTES},
            properties_path="/opt/kafka/config/server.properties",
            start_command="systemctl start kafka",
        )
