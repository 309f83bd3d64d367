"""The `cruise_control:` section of migration.yaml: where Cruise Control is and how long to wait for it.

How fast and how much at once data moves stays in `movement:` (throttle, moves per broker), shared
with the native mover; the cruise-control mover passes those to Cruise Control as
`replication_throttle` and `concurrent_partition_movements_per_broker`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from migrator.config_base import ConfigModel, SecretRef


class CruiseControlConfig(ConfigModel):
    url: str = Field(description="scheme://host:port of Cruise Control's web server, without /kafkacruisecontrol")
    username: str | None = Field(default=None, description="HTTP basic auth user (BasicSecurityProvider)")
    password: SecretRef | None = None
    ca_file: Path | None = Field(default=None, description="CA bundle for an https url")
    #: webserver.two.step.verification.enabled on the Cruise Control side: executions then wait for a
    #: reviewer to approve them on Cruise Control's review board.
    two_step_verification: bool = False
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    #: How long a proposal may take (Cruise Control answers 202 while it computes).
    proposal_timeout_seconds: float = Field(default=900.0, gt=0)
    #: A freshly (re)started Cruise Control has no valid metric windows and refuses proposals; the
    #: move waits this long for them, then pauses with that reason.
    metric_windows_timeout_seconds: float = Field(default=3600.0, gt=0)
    poll_interval_seconds: float = Field(default=5.0, gt=0)
    #: Cruise Control's own progress check (its default is 10 s; the API refuses less than 5 s).
    execution_progress_check_interval_ms: int | None = Field(default=None, ge=5000)
    concurrent_leader_movements: int | None = Field(default=None, ge=1)
    #: Executions to submit at most for one move: a restarted Cruise Control forgets its executor,
    #: and the move resubmits what is left each time.
    max_submissions: int = Field(default=5, ge=1)
    #: Stop an execution someone else started in Cruise Control before ours; never without this.
    stop_foreign_executions: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or "/kafkacruisecontrol" in value:
            raise ValueError("must be http(s)://host:port of Cruise Control, without the /kafkacruisecontrol prefix")
        return value.rstrip("/")

    def auth(self) -> tuple[str, str] | None:
        if self.username is None:
            return None
        return (self.username, self.password.read() if self.password else "")
