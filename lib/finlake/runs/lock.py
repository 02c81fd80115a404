"""The lake lock: at most one ``finlake run`` per lake at a time.

The lock is a small JSON file ``<table_root>/_finlake_run.lock`` that lives with the tables it
protects, so two schedulers, two machines or a cluster driver and a laptop pointing at the same
lake see the same lock. It is created atomically (``O_CREAT | O_EXCL``) and names its owner
(host, pid, run id, as_of, start time). A lock is stale when its owner's process is gone (same
host) or it is older than ``settings.run_lock_max_age_hours``; a stale lock is broken only on
request (``finlake run --break-stale-lock``), never silently.

On object stores (``s3://``...) there is no atomic create-if-absent; the lock is then
check-then-create, which protects against the common case (a second nightly run started while
the first is still going) but not against two runs started in the same instant.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import pyarrow.fs as pafs

from finlake.errors import FinlakeError
from finlake.settings import Settings

log = logging.getLogger(__name__)

LOCK_NAME = "_finlake_run.lock"


class RunLockedError(FinlakeError):
    """Another run holds the lake lock (or left a stale one)."""

    exit_code = 6


@dataclass(frozen=True)
class LockOwner:
    run_id: str
    host: str
    pid: int
    as_of: str
    started_at: str  # ISO 8601 UTC

    def describe(self) -> str:
        return f"run {self.run_id} (as_of {self.as_of}) started {self.started_at} by pid {self.pid} on {self.host}"

    def stale_reason(self, max_age_hours: float, now: datetime | None = None) -> str | None:
        """Why this lock is stale, or None while its owner may still be running."""
        now = now or datetime.now(timezone.utc)
        age_hours = (now - datetime.fromisoformat(self.started_at)).total_seconds() / 3600
        if age_hours > max_age_hours:
            return f"it is {age_hours:.1f} hours old, more than run_lock_max_age_hours={max_age_hours:g}"
        if self.host == socket.gethostname() and not _pid_alive(self.pid):
            return f"process {self.pid} is no longer running on {self.host}"
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def lock_path(settings: Settings) -> str:
    return f"{settings.table_root.rstrip('/')}/{LOCK_NAME}"


class RunLock:
    """Acquire with :meth:`acquire`, release with :meth:`release` (or use as a context manager)."""

    def __init__(self, settings: Settings, owner: LockOwner):
        self.settings = settings
        self.owner = owner
        self.path = lock_path(settings)
        self._fs, self._fs_path = _filesystem(self.path)

    @classmethod
    def acquire(cls, settings: Settings, run_id: str, as_of: str, break_stale: bool = False) -> "RunLock":
        """Take the lock for ``run_id`` or raise RunLockedError naming the current owner."""
        owner = LockOwner(run_id=run_id, host=socket.gethostname(), pid=os.getpid(), as_of=as_of,
                          started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        lock = cls(settings, owner)
        if lock._create():
            return lock
        current = lock.read_owner()
        if current is None:  # released between our attempt and the read
            if lock._create():
                return lock
            current = lock.read_owner()
        stale = current.stale_reason(settings.run_lock_max_age_hours) if current else None
        if current is not None and stale is None:
            raise RunLockedError(
                f"the lake at {settings.table_root} is locked by {current.describe()}; wait for it to finish "
                f"(lock file {lock.path})"
            )
        if not break_stale:
            raise RunLockedError(
                f"the lake at {settings.table_root} has a stale lock from {current.describe() if current else 'an unknown owner'}"
                f" ({stale or 'the lock file is unreadable'}); check that run is gone, then rerun with --break-stale-lock"
            )
        log.warning("breaking stale run lock %s: %s", lock.path, stale or "unreadable lock file")
        lock._remove()
        if not lock._create():
            winner = lock.read_owner()
            raise RunLockedError(f"another run took the lake lock first: {winner.describe() if winner else lock.path}")
        return lock

    def read_owner(self) -> LockOwner | None:
        try:
            with self._fs.open_input_stream(self._fs_path) as f:
                return LockOwner(**json.loads(f.read().decode("utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            return LockOwner(run_id="?", host="?", pid=-1, as_of="?", started_at="1970-01-01T00:00:00+00:00")

    def release(self) -> None:
        """Remove the lock if it is still ours (a broken-and-retaken lock is left to its new owner)."""
        current = self.read_owner()
        if current is not None and current.run_id == self.owner.run_id:
            self._remove()

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _create(self) -> bool:
        payload = json.dumps(asdict(self.owner), indent=2).encode("utf-8")
        if isinstance(self._fs, pafs.LocalFileSystem):
            os.makedirs(os.path.dirname(self._fs_path), exist_ok=True)
            try:
                fd = os.open(self._fs_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            return True
        if self._fs.get_file_info(self._fs_path).type != pafs.FileType.NotFound:
            return False
        with self._fs.open_output_stream(self._fs_path) as f:
            f.write(payload)
        return True

    def _remove(self) -> None:
        try:
            self._fs.delete_file(self._fs_path)
        except FileNotFoundError:
            pass


def _filesystem(path: str) -> tuple[pafs.FileSystem, str]:
    if "://" not in path:
        return pafs.LocalFileSystem(), path
    if path.startswith("file://"):
        return pafs.LocalFileSystem(), path[len("file://"):]
    return pafs.FileSystem.from_uri(path)
