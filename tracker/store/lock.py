"""The sweep lock: one sweep at a time per store, recovered when its holder died.

``STORE.sweep.lock`` is created with ``O_CREAT | O_EXCL`` (atomic on local disks and on NFS
v3+) and holds who owns it: host, PID, the process's start time (so a recycled PID is not
mistaken for the owner) and a heartbeat the owner refreshes while it works. A lock is stale
when its owner is on this host and no longer runs, or when its heartbeat is older than
``stale_after`` seconds (the only test possible for an owner on another host). Breaking a
stale lock happens under ``flock`` on a guard file, so two processes that both find it stale
cannot both break it and then both take it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.errors import StoreError

#: Default age of a heartbeat after which a lock held from another host counts as stale.
STALE_AFTER = 3600.0


class LockBusyError(StoreError):
    """Another live sweep holds the store's lock."""


def lock_path(store_path: str | os.PathLike[str]) -> Path:
    """Path of a store's sweep lock."""
    return Path(f"{store_path}.sweep.lock")


def _process_start(pid: int) -> str:
    """Start time of a process in clock ticks since boot ('' where /proc cannot tell)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces; fields after its closing parenthesis don't.
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not started or not _process_start(pid) or _process_start(pid) == started


@dataclass(frozen=True)
class LockOwner:
    """Who holds a lock (as written in the lock file)."""

    host: str
    pid: int
    started: str
    since: float
    heartbeat: float

    @classmethod
    def me(cls) -> LockOwner:
        """Describe the calling process."""
        now = time.time()
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _process_start(pid), now, now)

    def describe(self) -> str:
        """``pid 123 on host since 12:00:01``."""
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"pid {self.pid} on {self.host} since {since}"

    def stale(self, stale_after: float, now: float | None = None) -> str | None:
        """Why this owner's lock is stale, or None while it may still be working."""
        if self.host == socket.gethostname() and not _alive(self.pid, self.started):
            return f"pid {self.pid} is no longer running"
        age = (now or time.time()) - self.heartbeat
        if age > stale_after:
            return f"no heartbeat for {age:.0f}s"
        return None


def read_owner(store_path: str | os.PathLike[str]) -> LockOwner | None:
    """Return who holds the store's sweep lock (None when nobody).

    An unreadable lock file reads as held by an unknown owner (pid -1), so it can be recovered.
    """
    path = lock_path(store_path)
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return LockOwner(str(data["host"]), int(data["pid"]), str(data.get("started", "")),
                         float(data["since"]), float(data["heartbeat"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        # A lock file torn by a kill between create and write: nobody can be holding it
        # usefully, but give a writer that is just now filling it in a moment.
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        return LockOwner("?", -1, "", mtime, mtime)


class SweepLock:
    """Exclusive, stale-recovering lock on one store for the length of a sweep.

    Args:
        store_path: The store (the lock is ``STORE.sweep.lock``).
        stale_after: Seconds without a heartbeat after which a lock counts as stale.
    """

    def __init__(self, store_path: str | os.PathLike[str],
                 stale_after: float = STALE_AFTER) -> None:
        self.store = Path(store_path)
        self.path = lock_path(store_path)
        self.stale_after = stale_after
        self.owner: LockOwner | None = None
        self.recovered: str | None = None

    def acquire(self) -> None:
        """Take the lock, breaking a stale one.

        Raises:
            LockBusyError: If a live sweep holds it.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            if self._try_create():
                return
            with self._guard():
                owner = read_owner(self.store)
                if owner is None:
                    continue
                why = owner.stale(self.stale_after if owner.pid >= 0 else 5.0)
                if why is None:
                    raise LockBusyError(f"{self.path}: another sweep holds it "
                                        f"({owner.describe()})")
                self.path.unlink(missing_ok=True)
                self.recovered = f"recovered a stale lock ({owner.describe()}: {why})"
        raise LockBusyError(f"{self.path}: could not take the lock")

    def _try_create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        self.owner = LockOwner.me()
        with os.fdopen(fd, "w") as fh:
            json.dump(self.owner.__dict__, fh)
            fh.flush()
            os.fsync(fh.fileno())
        return True

    @contextmanager
    def _guard(self) -> Iterator[None]:
        with open(f"{self.path}.guard", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def heartbeat(self) -> None:
        """Refresh the heartbeat (call it as work progresses, at least every ``stale_after``).

        Raises:
            LockBusyError: If the lock was taken from this process (judged stale elsewhere).
        """
        if self.owner is None:
            return
        with self._guard():
            current = read_owner(self.store)
            if current is None or (current.host, current.pid) != (self.owner.host,
                                                                  self.owner.pid):
                raise LockBusyError(f"{self.path}: lost the lock (heartbeat older than "
                                    f"{self.stale_after:.0f}s?)")
            self._beat()

    def _beat(self) -> None:
        assert self.owner is not None
        self.owner = LockOwner(self.owner.host, self.owner.pid, self.owner.started,
                               self.owner.since, time.time())
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(self.owner.__dict__))
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise

    def release(self) -> None:
        """Give the lock up (only if this process still owns it)."""
        if self.owner is None:
            return
        current = read_owner(self.store)
        if current is not None and (current.host, current.pid) == (self.owner.host,
                                                                   self.owner.pid):
            self.path.unlink(missing_ok=True)
        self.owner = None

    def __enter__(self) -> SweepLock:
        self.acquire()
        return self

    def __exit__(self, *_: Any) -> None:
        self.release()
