"""Prometheus (Debian's `prometheus` package) as a foreground child on 127.0.0.1, scraping given targets.

For the sandbox (`migrator sandbox up --metrics`) and the tests: it scrapes the migrator's exporter
and the brokers' JMX exporter agents every second, keeps its data in the workdir, and answers PromQL
through its HTTP API. The command line starts with `prometheus --config.file=`, the pattern `.ci/run`
watches for leftovers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from migrator.errors import BadInput, MigratorError
from migrator.sandbox.ports import HOST, free_port
from migrator.sandbox.process import tail
from migrator.sandbox.process_group import stop_group

#: A PromQL result: one entry per series, {"metric": {labels}, "values": [[t, "v"], ...]} (range) or
#: {"metric": ..., "value": [t, "v"]} (instant).
Series = list[dict[str, Any]]


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        raise BadInput(
            "Prometheus is not installed, and the sandbox's metrics need it. Install it with "
            "`apt-get install -y prometheus` (Debian/Ubuntu; scripts/dev.sh setup does it) and run again."
        )
    return found


class PrometheusServer:
    """One Prometheus process. `jobs` maps a job name to the host:port targets it scrapes (/metrics)."""

    def __init__(self, workdir: Path, jobs: Mapping[str, Sequence[str]], scrape_interval_seconds: int = 1) -> None:
        self.workdir = Path(workdir)
        self.jobs = {job: list(targets) for job, targets in jobs.items()}
        self.scrape_interval_seconds = scrape_interval_seconds
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        interval = f"{self.scrape_interval_seconds}s"
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]} for job, targets in self.jobs.items()
            ],
        }
        path = self.workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def up(self, timeout: float = 30.0) -> PrometheusServer:
        """Start Prometheus and wait until it is ready. A port taken between choosing and binding it
        gets one more try."""
        binary = prometheus_binary()
        config = self._write_config()
        for _ in range(3):
            self.port = free_port()
            with open(self.log_path, "ab") as log:
                self._process = subprocess.Popen(
                    [
                        binary,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={self.workdir / 'data'}",
                        f"--web.listen-address={HOST}:{self.port}",
                        "--storage.tsdb.retention.time=1d",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    start_new_session=True,
                )
            if self._wait_ready(timeout):
                return self
            self.down()
            if "address already in use" not in self.log_path.read_text(errors="replace"):
                break
        raise MigratorError(
            f"Prometheus did not become ready on {self.url} within {timeout:.0f} s. Its log, {self.log_path}, "
            f"says why:\n{self._log_tail()}"
        )

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1.0) as answer:
                    if answer.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        return False

    def down(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop_group(process, grace=10)

    def __enter__(self) -> PrometheusServer:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    def _log_tail(self, lines: int = 20) -> str:
        return tail(self.log_path, lines)

    # --- the HTTP API ------------------------------------------------------------------------------

    def _get(self, path: str, **params: str) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10.0) as answer:
                body = json.load(answer)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        if body.get("status") != "success":
            raise MigratorError(f"Prometheus refused {path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> Series:
        return self._get("/api/v1/query", query=expr)["result"]

    def query_range(self, expr: str, start: float, end: float, step: float = 1.0) -> Series:
        return self._get("/api/v1/query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=f"{step:g}")["result"]

    def targets(self) -> list[dict[str, Any]]:
        return self._get("/api/v1/targets")["activeTargets"]

    def wait_for(self, expr: str, timeout: float = 60.0) -> Series:
        """Poll `expr` until it returns a series (an instant query); MigratorError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.query(expr)
            if found:
                return found
            if time.monotonic() > deadline:
                states = [(t["scrapePool"], t["health"], t.get("lastError", "")) for t in self.targets()]
                raise MigratorError(f"Prometheus returned nothing for {expr} within {timeout:.0f} s; targets: {states}")
            time.sleep(0.5)
