"""A lock file that stops two processes from driving the same migration.

The lock names its holder (user, host, pid, start time, command) so a refused process can say who
to ask. A holder that died on this host leaves a stale lock behind; breaking it needs an explicit
flag, because a pid that merely looks dead from here may belong to another host's process.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from migrator.engine.files import fsync_dir, write_synced
from migrator.errors import BadInput

#: The CLI flag that lets a run break a stale lock; error messages name it.
BREAK_STALE_FLAG = "--break-stale-lock"


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        # No login name in the environment nor in the password database (e.g. a bare container).
        return str(os.getuid())


@dataclass(frozen=True)
class Identity:
    """Who does something: recorded in the lock and in every journal line."""

    user: str
    host: str
    pid: int

    @classmethod
    def current(cls) -> "Identity":
        return cls(user=current_user(), host=socket.gethostname(), pid=os.getpid())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


@dataclass(frozen=True)
class LockInfo:
    pid: int
    host: str
    user: str
    started_at: str
    command: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def for_this_process(cls) -> "LockInfo":
        me = Identity.current()
        return cls(
            pid=me.pid,
            host=me.host,
            user=me.user,
            started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            command=" ".join(sys.argv),
        )

    def describe(self) -> str:
        return f"{self.user}@{self.host} (pid {self.pid}, since {self.started_at}, command `{self.command}`)"

    def is_stale(self) -> bool:
        """True only when we can prove it: the holder ran on this host and its pid is gone."""
        return self.host == socket.gethostname() and not pid_alive(self.pid)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class FileLock:
    """An exclusive lock file, created atomically with its full content.

    The content is written to a private temporary file first and then hard-linked into place: the
    link fails with EEXIST when the lock exists (the same guarantee as O_CREAT|O_EXCL), and a reader
    never sees a half-written lock.
    """

    def __init__(self, path: Path, on_break: Callable[[LockInfo], None] | None = None) -> None:
        self.path = Path(path)
        self._on_break = on_break
        self.held: LockInfo | None = None

    def holder(self) -> LockInfo | None:
        try:
            raw = self.path.read_text()
        except FileNotFoundError:
            return None
        try:
            return LockInfo(**json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise BadInput(
                f"The lock file {self.path} is unreadable ({exc}); migrator never writes it that way, so it "
                "was edited by hand or the disk is damaged. If no migrator process is running for this "
                "migration, delete the file and run again."
            ) from None

    def acquire(self, break_stale: bool = False) -> LockInfo:
        mine = LockInfo.for_this_process()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(f".{self.path.name}.{mine.token}")
        write_synced(staging, json.dumps(mine.to_dict(), indent=2).encode())
        try:
            # A round may be lost to a holder releasing, or to breaking a stale lock; then try again.
            for _ in range(3):
                try:
                    os.link(staging, self.path)
                except FileExistsError:
                    holder = self.holder()
                    if holder is not None:
                        self._refuse_or_break(holder, break_stale)
                    continue
                fsync_dir(self.path.parent)
                self.held = mine
                return mine
        finally:
            staging.unlink(missing_ok=True)
        raise BadInput(
            f"The lock {self.path} changed hands several times while this process tried to take it: another "
            "migrator is starting at the same moment. Check `migrator status` and run again."
        )

    def release(self) -> None:
        """Remove the lock if it is still ours; never delete a lock another process holds."""
        if self.held is None:
            return
        try:
            current = self.holder()
        except BadInput:
            current = None
        if current is not None and current.token == self.held.token:
            self.path.unlink(missing_ok=True)
            fsync_dir(self.path.parent)
        self.held = None

    def _refuse_or_break(self, holder: LockInfo, break_stale: bool) -> None:
        if not holder.is_stale():
            raise BadInput(
                f"Another migrator process drives this migration: the lock {self.path} is held by "
                f"{holder.describe()}. Wait for it to finish, or ask {holder.user} to stop it (`migrator "
                f"pause`). If that process is gone on {holder.host}, delete the lock file by hand."
            )
        if not break_stale:
            raise BadInput(
                f"The lock {self.path} looks stale: it was taken by {holder.describe()}, and pid {holder.pid} "
                f"no longer runs on this host. Make sure no migrator is running for this migration, then "
                f"run again with {BREAK_STALE_FLAG} to break the lock; `migrator resume` then carries on from "
                "the checkpoint."
            )
        self._break(holder)

    def _break(self, stale: LockInfo) -> None:
        # Move the lock aside before deleting it, and check it is still the stale one: another
        # process may have broken it and taken a fresh lock in between.
        aside = self.path.with_name(f".{self.path.name}.broken.{stale.token}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        try:
            moved = LockInfo(**json.loads(aside.read_text()))
            if moved.token != stale.token:
                try:
                    os.link(aside, self.path)
                except FileExistsError:
                    pass
                raise BadInput(
                    f"The stale lock {self.path} was broken by another process, which now holds it "
                    f"({moved.describe()}). Check `migrator status` before running again."
                )
        finally:
            aside.unlink(missing_ok=True)
        if self._on_break is not None:
            self._on_break(stale)

