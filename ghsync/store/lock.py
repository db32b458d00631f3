"""One sync per repository at a time: an advisory file lock that dies with its process (kill -9 too)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ghsync.errors import RepositoryLocked, StoreError


def lock_path(db_path: Path, full_name: str) -> Path:
    safe = full_name.lower().replace("/", "__")
    return Path(f"{db_path}.locks") / f"{safe}.lock"


@contextmanager
def repository_lock(db_path: Path, full_name: str) -> Iterator[None]:
    path = lock_path(db_path, full_name)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise StoreError(f"cannot create lock file {path}: {error.strerror or error}") from error
    try:
        if not _try_lock(fd):
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            raise RepositoryLocked(
                f"{full_name} is being synced by process {holder}; try again when it finishes"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_lock(fd: int, *, attempts: int = 10, pause: float = 0.02) -> bool:
    # `status` peeks with a brief shared lock (is_locked); a few quick retries tell that apart from
    # a sync that really holds the repository.
    for attempt in range(attempts):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < attempts:
                time.sleep(pause)
    return False


def is_locked(db_path: Path, full_name: str) -> bool:
    """True while a live process holds the repository's lock (status tells syncing from interrupted)."""
    path = lock_path(db_path, full_name)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
