"""One sync per repository (and one send per digest scope) at a time: advisory file locks that die with their process.

The locks live in a private folder beside the database's real path (`<real db path>.locks/`), so a
symlink or another spelling of the same file finds the same locks. The folder must belong to the
user and be closed to group and others; lock files are opened without following symlinks and are
never truncated, so a planted link cannot make ghsync overwrite another file.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ghsync.errors import RepositoryLocked, StoreError

# Room for a PID and a newline; what follows is left alone (an old ghsync wrote no more either).
_HOLDER_WIDTH = 20


def lock_dir(db_path: Path) -> Path:
    """The lock folder of a database: beside its real path, whatever the spelling or symlink used."""
    return Path(f"{os.path.realpath(db_path)}.locks")


def lock_path(db_path: Path, full_name: str) -> Path:
    return lock_dir(db_path) / _lock_name(full_name)


def _open_lock_dir(db_path: Path, *, create: bool) -> int | None:
    """An fd of the lock folder (created 0700 if asked), refused if another user could plant files in it.

    Checked on the open descriptor, and lock files are opened relative to it, so swapping the
    folder for a symlink after the check changes nothing.
    """
    folder = lock_dir(db_path)
    if create:
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create lock folder {folder}: {error.strerror or error}") from error
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise StoreError(f"lock folder {folder} is not a folder (a symlink or a file): remove it") from error
        raise StoreError(f"cannot read lock folder {folder}: {error.strerror or error}") from error
    info = os.fstat(fd)
    problem = None
    if info.st_uid != os.geteuid():
        problem = f"belongs to another user (uid {info.st_uid}): refusing to use it"
    elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = f"is writable by others (mode {stat.S_IMODE(info.st_mode):o}): run `chmod 700` on it or remove it"
    if problem is not None:
        os.close(fd)
        raise StoreError(f"lock folder {folder} {problem}")
    return fd


def _lock_name(full_name: str) -> str:
    return full_name.lower().replace("/", "__") + ".lock"


@contextmanager
def repository_lock(db_path: Path, full_name: str) -> Iterator[None]:
    with _file_lock(
        db_path,
        _lock_name(full_name),
        lambda holder: f"{full_name} is being synced by process {holder}; try again when it finishes",
    ):
        yield


@contextmanager
def owner_lock(db_path: Path, login: str) -> Iterator[None]:
    """Held while an owner's repositories are brought in line with its listing, or untracked with it: an
    `untrack ORG` never races a `sync` that would adopt them again. (Repository locks hold `__`; this does not.)"""
    with _file_lock(
        db_path,
        f"{login.lower()}.owner.lock",
        lambda holder: f"owner {login} is being changed by process {holder}; try again when it finishes",
    ):
        yield


@contextmanager
def digest_lock(db_path: Path, scope: str) -> Iterator[None]:
    """Held while a scope's digest is checked, sent and recorded: two overlapping cron runs cannot both send."""
    name = "digest--" + hashlib.sha256(scope.encode("utf-8")).hexdigest()[:24] + ".lock"
    with _file_lock(
        db_path, name, lambda holder: f"process {holder} is sending this digest; try again when it finishes"
    ):
        yield


@contextmanager
def _file_lock(db_path: Path, name: str, busy: Callable[[str], str]) -> Iterator[None]:
    folder = _open_lock_dir(db_path, create=True)
    assert folder is not None  # just created
    path = lock_dir(db_path) / name
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise StoreError(f"lock file {path} is a symlink: refusing to follow it (remove it)") from error
        raise StoreError(f"cannot open lock file {path}: {error.strerror or error}") from error
    finally:
        os.close(folder)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise StoreError(f"lock file {path} is not a plain file of its own (a link?): remove it")
        if not _try_lock(fd):
            holder = os.pread(fd, _HOLDER_WIDTH, 0).decode(errors="replace").strip() or "another process"
            raise RepositoryLocked(busy(holder))
        # Overwrite in place (never truncate): the file is ours only while we hold the lock.
        os.pwrite(fd, str(os.getpid()).encode().ljust(_HOLDER_WIDTH), 0)
        try:
            yield
        finally:
            os.pwrite(fd, b" " * _HOLDER_WIDTH, 0)
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
    folder = _open_lock_dir(db_path, create=False)
    if folder is None:
        return False
    try:
        fd = os.open(_lock_name(full_name), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
    except FileNotFoundError:
        return False
    except OSError as error:
        raise StoreError(f"cannot read lock file {lock_path(db_path, full_name)}: {error.strerror or error}") from error
    finally:
        os.close(folder)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
