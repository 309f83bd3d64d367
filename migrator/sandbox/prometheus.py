"""Prometheus (Debian's `prometheus` package) as a foreground child on 127.0.0.1, scraping given targets.

For the tests: it scrapes the migrator's exporter and the brokers' JMX exporter agents every second,
keeps its data in the workdir, and answers PromQL through its HTTP API. The command line starts with `prometheus --config.file=`, the pattern `.ci/run`
watches for leftovers.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from migrator.errors import MigratorError
from migrator.sandbox.jars import require_tool
from migrator.sandbox.ports import HOST
from migrator.sandbox.server_process import ServerProcess

#: A PromQL result: one entry per series, {"metric": {labels}, "values": [[t, "v"], ...]} (range) or
#: {"metric": ..., "value": [t, "v"]} (instant).
Series = list[dict[str, Any]]
#: How to get prometheus and promtool.
INSTALL_HINT = "Install Debian's prometheus package (`apt-get install -y prometheus`; scripts/dev.sh setup does it)."


class PrometheusServer(ServerProcess):
    """One Prometheus process. `jobs` maps a job name to the host:port targets it scrapes (/metrics)."""

    port_taken = "address already in use"

    def __init__(self, workdir: Path, jobs: Mapping[str, Sequence[str]], scrape_interval_seconds: int = 1) -> None:
        super().__init__(workdir, "prometheus.log")
        self.jobs = {job: list(targets) for job, targets in jobs.items()}
        self.scrape_interval_seconds = scrape_interval_seconds

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

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

    def command(self, port: int) -> list[str]:
        return [
            require_tool("prometheus", INSTALL_HINT),
            f"--config.file={self._write_config()}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={HOST}:{port}",
            "--storage.tsdb.retention.time=1d",
        ]

    def serving(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1.0) as answer:
                return answer.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def not_serving(self, timeout: float) -> str:
        return f"Prometheus did not become ready on {self.url} within {timeout:.0f} s."

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
