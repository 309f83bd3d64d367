"""The cloud-init user data of a new EC2 broker: a shell script run once, as root, at first boot.

The launch template's AMI carries Kafka and a systemd unit; the script only makes the instance THIS
broker: it refuses to start over a non-empty log dir (a broker must join with empty storage), writes
server.properties (identity, the cluster's zookeeper.connect with its chroot, the configured
template) and starts the service. `{host}` in the template becomes the instance's private DNS name,
which only the instance knows at boot (IMDSv2). Its output lands in /var/log/cloud-init-output.log.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from migrator.errors import BadInput
from migrator.platforms.properties import to_text

#: Stands for the instance's host name in the properties until the script fills it in at boot.
HOST_MARK = "@KAFKA_K8S_MIGRATOR_HOST@"
_END = "KAFKA_K8S_MIGRATOR_PROPERTIES"
#: RunInstances accepts at most 16 KB of user data before base64.
MAX_BYTES = 16 * 1024

_IMDS = "http://169.254.169.254/latest"
_HOST_LOOKUP = f"""\
# The name other brokers and clients reach this one at, from the instance metadata service (IMDSv2).
token=$(curl -fsS --retry 5 -X PUT {_IMDS}/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
host=$(curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $token" {_IMDS}/meta-data/local-hostname)
"""


def broker_script(
    *,
    migration_id: str,
    broker_id: int,
    rack: str | None,
    properties: Mapping[str, str],
    properties_path: str,
    start_command: str,
) -> str:
    """The script for one broker. `properties` were rendered with HOST_MARK for {host}."""
    text = to_text(properties)
    log_dirs = [d.strip() for d in properties.get("log.dirs", "").split(",") if d.strip()]
    path = shlex.quote(properties_path)
    uses_host = HOST_MARK in text
    script = "".join(
        [
            "#!/bin/bash\n",
            f"# kafka-k8s-migrator, migration {migration_id}: makes this instance Kafka broker {broker_id}"
            + (f" (rack {rack})" if rack else "")
            + ".\n",
            "set -euo pipefail\n",
            _storage_guard(log_dirs, broker_id),
            _HOST_LOOKUP if uses_host else "",
            f"install -d -m 0755 \"$(dirname {path})\"\n",
            f"cat > {path}.new <<'{_END}'\n",
            text,
            f"{_END}\n",
            f'sed -i "s/{HOST_MARK}/$host/g" {path}.new\n' if uses_host else "",
            f"chmod 0644 {path}.new\n",
            f"mv {path}.new {path}\n",
            f"{start_command}\n",
        ]
    )
    if len(script.encode()) > MAX_BYTES:
        raise BadInput(
            f"The user data for broker {broker_id} is {len(script.encode())} bytes; EC2 accepts at most {MAX_BYTES}. "
            "Move bulky settings from source_platform.server_properties into the AMI's own configuration."
        )
    return script


def _storage_guard(log_dirs: list[str], broker_id: int) -> str:
    if not log_dirs:
        return ""
    return (
        f"for dir in {' '.join(shlex.quote(d) for d in log_dirs)}; do\n"
        '  if [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then\n'
        f'    echo "log dir $dir is not empty: broker {broker_id} must start with empty storage" >&2\n'
        "    exit 1\n"
        "  fi\n"
        "done\n"
    )
