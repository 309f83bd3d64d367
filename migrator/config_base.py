"""The leaf every config section builds on: the pydantic base that refuses unknown keys, and
references to secrets. It imports nothing of migrator but the errors, so each section can live next
to the code it configures and `migrator/config.py` can assemble them without an import cycle.

Secrets are never values here: only names of environment variables or files that hold them, so they
never reach the checkpoint, logs, plans or metrics."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from migrator.errors import BadInput


class ConfigModel(BaseModel):
    """Base of every migration.yaml section: a misspelt key is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class SecretRef(ConfigModel):
    """Where a secret lives: an environment variable or a file, never the value itself."""

    env: str | None = None
    file: Path | None = None

    def read(self) -> str:
        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise BadInput(
                    f"The secret is to come from the environment variable {self.env}, which is not set. "
                    f"Export {self.env} in the shell that runs migrator, or point the config at a file."
                )
            return value
        if self.file:
            try:
                return self.file.read_text().strip()
            except OSError as exc:
                raise BadInput(
                    f"The secret file {self.file} cannot be read ({exc.strerror}). "
                    "Check the path and its permissions in migration.yaml."
                ) from exc
        raise BadInput("A secret reference names neither `env` nor `file`; set one of them in migration.yaml.")
