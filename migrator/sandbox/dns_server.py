"""BIND (`named` from Debian's bind9 package) serving one zone on 127.0.0.1, as a foreground child.

A primary accepts RFC 2136 updates signed with its TSIG key (an unsigned one is REFUSED). A secondary
transfers the zone from a primary. The primary sends no NOTIFY, so a secondary lags behind every
update until `refresh()` notifies it: that is how the rig shows a server that "has not received the
change yet", and why the verifier must ask every server. The NS records name every server
(ns1, ns2, ... all at 127.0.0.1); NS records carry no port, so the `dns:` section this writes maps each
NS name to its port (`authoritative_servers`).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype

from migrator.dns import wire
from migrator.dns.config import Address, absolute_name
from migrator.errors import BadInput, MigratorError
from migrator.sandbox.ports import HOST, free_port
from migrator.sandbox.process_group import stop_group

#: The zone's SOA: serial, refresh, retry, expire, negative-caching TTL. A long refresh keeps a
#: secondary behind until it is notified; a short negative TTL keeps "wait one TTL" short in the demo.
SOA_TIMERS = "1 3600 600 86400 5"


@dataclass(frozen=True)
class TsigKey:
    name: str
    secret: str  # base64, as tsig-keygen prints it
    algorithm: str = "hmac-sha256"

    @classmethod
    def generate(cls, name: str = "migrator-sandbox") -> TsigKey:
        return cls(name, base64.b64encode(os.urandom(32)).decode())


def named_binary() -> str:
    found = shutil.which("named") or next((p for p in ("/usr/sbin/named", "/usr/bin/named") if os.access(p, os.X_OK)), None)
    if found is None:
        raise BadInput(
            "BIND's `named` is not installed, and the sandbox needs it as its DNS server. Install it with "
            "`apt-get install -y bind9 bind9-utils` (Debian/Ubuntu) and run again."
        )
    return found


class DnsServer:
    """One `named` process. Use `up()`/`down()` or a `with` block."""

    def __init__(
        self,
        workdir: Path,
        zone: str,
        *,
        nameservers: Sequence[str] = ("ns1",),
        key: TsigKey | None = None,
        primary: DnsServer | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.zone = absolute_name(zone)
        self.primary = primary
        self.nameservers = tuple(primary.nameservers if primary else nameservers)
        self.key = primary.key if primary else (key or TsigKey.generate())
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "named.log"

    # --- configuration ----------------------------------------------------------------------------

    def _zone_statement(self) -> str:
        if self.primary is None:
            return (
                f'zone "{self.zone}" {{ type primary; file "zone.db"; notify no; '
                f'allow-update {{ key "{self.key.name}"; }}; allow-transfer {{ {HOST}; }}; }};'
            )
        return (
            f'zone "{self.zone}" {{ type secondary; file "zone.db"; '
            f"primaries {{ {HOST} port {self.primary.port}; }}; allow-notify {{ {HOST}; }}; }};"
        )

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for stale in [*self.workdir.glob("zone.db*"), *self.workdir.glob("*.jnl")]:
            stale.unlink()
        if self.primary is None:
            ns_lines = "".join(f"@ IN NS {ns}.{self.zone}\n{ns} IN A {HOST}\n" for ns in self.nameservers)
            (self.workdir / "zone.db").write_text(
                f"$TTL 60\n@ IN SOA {self.nameservers[0]}.{self.zone} hostmaster.{self.zone} {SOA_TIMERS}\n{ns_lines}"
            )
        conf = self.workdir / "named.conf"
        conf.write_text(
            f"""options {{
  directory "{self.workdir}";
  pid-file "{self.workdir}/named.pid";
  session-keyfile "{self.workdir}/session.key";
  managed-keys-directory "{self.workdir}";
  listen-on port {self.port} {{ {HOST}; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
}};
controls {{ }};
key "{self.key.name}" {{ algorithm {self.key.algorithm}; secret "{self.key.secret}"; }};
{self._zone_statement()}
"""
        )
        return conf

    # --- lifecycle -------------------------------------------------------------------------------

    def up(self, timeout: float = 20.0) -> DnsServer:
        """Start named and wait until it answers for the zone with authority (a secondary: once it
        has transferred the zone). A port taken between choosing and binding it gets one more try."""
        named = named_binary()
        for _ in range(3):
            self.port = free_port()
            conf = self._write_config()
            with open(self.log_path, "ab") as log:
                self._process = subprocess.Popen(
                    [named, "-g", "-c", str(conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    start_new_session=True,
                )
            if self._wait_authoritative(timeout):
                return self
            self.down()
            if "address in use" not in self.log_path.read_text(errors="replace"):
                break
        raise MigratorError(
            f"named did not come up serving {self.zone} on {self.address} within {timeout:.0f} s. "
            f"Its log, {self.log_path}, says why:\n{self._log_tail()}"
        )

    def _wait_authoritative(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            if self.serial() is not None:
                return True
            time.sleep(0.05)
        return False

    def down(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop_group(process, grace=10)

    def __enter__(self) -> DnsServer:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    def _log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # --- zone state ------------------------------------------------------------------------------

    def serial(self) -> int | None:
        """The zone's SOA serial as this server answers it with authority, None while it does not."""
        try:
            response = wire.ask(Address(HOST, self.port), self.zone, "SOA", 1.0, tcp=True)
        except wire.TRANSIENT:
            return None
        if response.rcode() != dns.rcode.NOERROR or not response.flags & dns.flags.AA:
            return None
        soa = [r for rrset in response.answer if rrset.rdtype == dns.rdatatype.SOA for r in rrset]
        return soa[0].serial if soa else None

    def refresh(self, timeout: float = 10.0) -> None:
        """Secondary only: send the NOTIFY the primary held back and wait until the zone is current."""
        if self.primary is None:
            raise ValueError("refresh() is for a secondary; a primary is always current")
        notify = dns.message.make_query(self.zone, "SOA")
        notify.flags = dns.flags.AA  # before set_opcode: the opcode lives in the same flags word
        notify.set_opcode(dns.opcode.NOTIFY)
        wire.send(notify, Address(HOST, self.port), 2.0)
        want = self.primary.serial()
        deadline = time.monotonic() + timeout
        while self.serial() != want:
            if time.monotonic() > deadline:
                raise MigratorError(f"The secondary {self.address} did not reach serial {want} within {timeout:.0f} s:\n{self._log_tail()}")
            time.sleep(0.05)

    # --- what the migrator needs to know --------------------------------------------------------

    def write_key_file(self, path: Path | None = None) -> Path:
        """The TSIG secret in a file only its owner reads, for `secret: {file: ...}` in the config."""
        path = path or self.workdir / "tsig.secret"
        path.write_text(self.key.secret + "\n")
        path.chmod(0o600)
        return path

    def config_section(self, servers: Sequence[DnsServer] = (), ttl_seconds: int = 60) -> dict[str, Any]:
        """A `dns:` section of migration.yaml for this primary; `servers` are the zone's authoritative
        servers in NS order (ns1, ns2, ...), this primary first when it is one of them."""
        servers = list(servers) or [self]
        return {
            "provider": "rfc2136",
            "zone": self.zone,
            "ttl_seconds": ttl_seconds,
            "rfc2136": {
                "primary": self.address,
                "tsig": {"name": self.key.name, "algorithm": self.key.algorithm, "secret": {"file": str(self.write_key_file())}},
            },
            "authoritative_servers": {f"{ns}.{self.zone}": s.address for ns, s in zip(self.nameservers, servers)},
        }
