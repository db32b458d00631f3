"""The SQLite store: opening and migrating the file, the engine's JobStore, typed reads for the rest.

The only module that runs SQL; it hands out records from ghsync.models, never rows.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from operator import attrgetter
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from ghsync.errors import DatabaseBusy, NoDatabase, NotTracked, StoreError
from ghsync.models import (
    PULL_REQUEST_FIELDS,
    REVIEW_FIELDS,
    DeliveryStatus,
    DigestDelivery,
    MetricPullRequest,
    MetricReview,
    Outcome,
    Owner,
    OwnerFilters,
    PageProgress,
    Phase,
    PullRequestRecord,
    RateLimitBudget,
    Repository,
    ReviewRecord,
    Spend,
    SyncJob,
    SyncKind,
    SyncStatus,
    Team,
    WeeklyMetrics,
    WindowCoverage,
)
from ghsync.store.migrations import APPLICATION_ID, apply_migrations, db_path_of, pending_migrations
from ghsync.timefmt import parse_iso

BUSY_TIMEOUT_SECONDS = 30.0

# Columns written for a PR besides (repository_id, number): the registry's fields, then the JSON
# labels and the job that last wrote the row (which counts a job's progress exactly across resumes).
_PR_SCALARS = tuple(spec.name for spec in PULL_REQUEST_FIELDS if spec.name != "number")
_PR_COLUMNS = (*_PR_SCALARS, "labels", "sync_id")
_pr_scalars_of = attrgetter(*_PR_SCALARS)  # one C call per PR, not a getattr per field
_UPSERT_PR_SQL = (
    "INSERT INTO pull_requests (repository_id, number, {cols}) VALUES (?, ?, {marks}) "
    "ON CONFLICT (repository_id, number) DO UPDATE SET {sets} WHERE {differs}"
).format(
    cols=", ".join(_PR_COLUMNS),
    marks=", ".join("?" for _ in _PR_COLUMNS),
    sets=", ".join(f"{col} = excluded.{col}" for col in _PR_COLUMNS),
    # A PR read again exactly as stored (the overlap an incremental sync re-checks) keeps its row and its
    # sync: it is not counted as updated. Its reviews are replaced all the same: a review submitted in the
    # same second leaves the PR's own fields as they were.
    differs=" OR ".join(f"{col} IS NOT excluded.{col}" for col in ("labels", *_PR_SCALARS)),
)
# Rows per batched statement: well under SQLite's 32,766 bound variables for the IN lists.
_ROWS_PER_STATEMENT = 500
_SELECT_PRS_SQL = f"SELECT id, number, {', '.join((*_PR_SCALARS, 'labels'))} FROM pull_requests WHERE repository_id = ? ORDER BY number"
# A review's columns besides pull_request_id: its registry fields, in declaration order.
_REVIEW_COLUMNS = tuple(spec.name for spec in REVIEW_FIELDS)
_review_values_of = attrgetter(*_REVIEW_COLUMNS)
_INSERT_REVIEW_SQL = (
    f"INSERT INTO reviews (pull_request_id, {', '.join(_REVIEW_COLUMNS)}) "
    f"VALUES (?, {', '.join('?' for _ in _REVIEW_COLUMNS)})"
)
_SELECT_REVIEWS_SQL = (
    f"SELECT r.pull_request_id, {', '.join('r.' + c for c in _REVIEW_COLUMNS)} FROM reviews r "
    "JOIN pull_requests p ON p.id = r.pull_request_id WHERE p.repository_id = ? ORDER BY p.number, r.id"
)


def tracked_names(path: Path | str, prefix: str = "") -> list[str]:
    """Tracked repository names starting with `prefix`, for shell completion: read-only (no file created,
    no migration, no WAL switch), a short busy wait, and [] on any failure."""
    try:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=0.2)
        try:
            rows = conn.execute(
                "SELECT full_name FROM repositories WHERE sync_status != 'untracked' AND full_name LIKE ? "
                "ESCAPE '\\' ORDER BY full_name",
                [prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"],
            ).fetchall()
        finally:
            conn.close()
    except (sqlite3.Error, OSError, ValueError):
        return []
    return [row[0] for row in rows if isinstance(row[0], str)]


def check_creatable(path: Path | str, *, create_parent: bool = False) -> None:
    """The StoreError open_store(create=True) would raise for a database that does not exist yet, without
    creating anything: a command can check the path before it spends a request (and creates the file after)."""
    path = Path(path)
    if str(path) == ":memory:" or path.exists():
        return
    parent = next((p for p in path.parents if p.exists()), None) if create_parent else path.parent
    if parent is not None and parent.exists() and not parent.is_dir():
        raise StoreError(f"cannot create database {path}: {parent} is not a directory")
    if parent is None or not parent.is_dir():
        raise StoreError(f"cannot create database {path}: directory {path.parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"cannot create database {path}: directory {parent} is not writable")


def open_store(path: Path | str, *, create: bool = True, create_parent: bool = False) -> SqliteStore:
    """Open (and if needed create and migrate) the database; every failure becomes a StoreError.

    Only the default location's directory is created (create_parent): a mistyped --db directory
    should be an error, not a database nobody will find.
    """
    path = Path(path)
    if str(path) != ":memory:":
        if not path.exists():
            if not create:
                raise NoDatabase(f"no database at {path}: run `ghsync track OWNER/REPO` first")
            if create_parent:
                _make_private_parent(path)
            elif not path.parent.is_dir():
                raise StoreError(f"cannot create database {path}: directory {path.parent} does not exist")
            _create_private_file(path)
        elif path.is_dir():
            raise StoreError(f"{path} is a directory, not a database file")
        else:
            _refuse_hard_links(path)
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            return SqliteStore(_connect_and_migrate(path), path)
        except sqlite3.OperationalError as error:
            # Switching a brand-new file to WAL while another process does the same answers "locked"
            # at once, without waiting on the busy timeout: back off and try again for a while.
            if "locked" in str(error) and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            raise _store_error(path, error) from error
        except StoreError:
            raise
        except sqlite3.DatabaseError as error:
            raise _store_error(path, error) from error
        except OSError as error:
            raise StoreError(f"cannot open database {path}: {error.strerror or error}") from error


def _connect_and_migrate(path: Path) -> sqlite_utils.Database:
    # Autocommit mode: ghsync opens every transaction itself (see `transaction`).
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
    try:
        # No sqlite-utils plugins: ghsync's SQL uses none of their functions, a plugin installed in the same
        # environment would otherwise run its code on this connection, and discovering them (reading every
        # installed package's entry points) cost 35 ms at each start.
        db = sqlite_utils.Database(conn, execute_plugins=False)
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        _refuse_foreign(db, path)  # before anything writes, the journal mode included
        if str(path) != ":memory:":
            # WAL lets `status` read while a sync writes, and syncs of different repos share the file.
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"cannot use write-ahead logging on {path} (journal mode {mode})")
            # FULL: a committed page survives power loss, not only a killed process.
            db.execute("PRAGMA synchronous = FULL")
        # Migrations run with foreign keys off (SQLite's way to rebuild a table that others reference,
        # m004); every later transaction checks them.
        _migrate(db)
        db.execute("PRAGMA foreign_keys = ON")
        return db
    except BaseException:
        conn.close()
        raise


def _refuse_hard_links(path: Path) -> None:
    """Two names for one database file: SQLite names its write-ahead log after the name it was opened by,
    so writers through each name would keep separate logs of one file (a documented way to corrupt it), and
    the per-repository locks, kept beside the name, would not see each other. A symbolic link is fine."""
    try:
        links = path.stat().st_nlink
    except OSError:
        return  # opening it says what is wrong
    if links > 1:
        raise StoreError(
            f"{path} has {links} hard links: SQLite's write-ahead log and ghsync's locks follow one name, so "
            "open it by one path only (remove the other links; a symbolic link is fine)"
        )


def _refuse_foreign(db: sqlite_utils.Database, path: Path) -> None:
    """A file that is neither empty nor ghsync's (by its application_id or, before m003, its migrations
    table) belongs to another program: refuse it before changing a byte."""
    application_id = db.execute("PRAGMA application_id").fetchone()[0]
    if application_id == APPLICATION_ID:
        return
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    if application_id == 0 and (not tables or "_ghsync_migrations" in tables):
        return
    what = (
        f"tables {', '.join(tables[:3])}" + (", …" if len(tables) > 3 else "") if tables else "another application id"
    )
    raise StoreError(f"{path} is not a ghsync database (it holds {what}); refusing to change it")


def _migrate(db: sqlite_utils.Database) -> None:
    """Apply what this database lacks in one write transaction: two first runs at once are safe."""
    if not pending_migrations(db):
        return  # the common case reads only, so `status` never queues behind a sync's writes
    with transaction(db):
        apply_migrations(db, pending_migrations(db))


def _store_error(path: Path, error: sqlite3.Error) -> StoreError:
    """The error family's form of an SQLite error: busy or locked past the busy timeout is temporary (exit 75,
    cron tries again later); anything else is a failure."""
    text = str(error)
    busy = "locked" in text or "busy" in text
    return (DatabaseBusy if busy else StoreError)(_describe_sqlite_error(path, error))


def _describe_sqlite_error(path: Path, error: sqlite3.Error) -> str:
    text = str(error)
    if "file is not a database" in text or "malformed" in text:
        return f"{path} is not a ghsync database (or it is corrupt): {text}"
    if "locked" in text or "busy" in text:
        return f"database {path} is locked by another program: {text}"
    if "full" in text:
        return f"cannot write database {path}: the disk (or the database's size limit) is full"
    if "readonly" in text or "unable to open" in text:
        return f"cannot write database {path}: {text} (check the directory exists and is writable)"
    return f"database {path}: {text}"


def _make_private_parent(path: Path) -> None:
    parent = path.parent
    if parent.exists():
        return
    try:
        parent.mkdir(mode=0o700, parents=True)
    except OSError as error:
        raise StoreError(f"cannot create directory {parent}: {error.strerror or error}") from error


def _create_private_file(path: Path) -> None:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
    except FileExistsError:
        pass
    except OSError as error:
        raise StoreError(f"cannot create database {path}: {error.strerror or error}") from error


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """One atomic write: everything inside commits together or not at all (kill -9 included).

    A write the file system refuses (disk full, I/O error, read-only) becomes a StoreError naming
    the file, so the sync ends as an error with `last_error` set rather than as a crash.
    """
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    except (sqlite3.OperationalError, sqlite3.IntegrityError) as error:
        # IntegrityError: a constraint the code should have kept; the run ends as an error, not a crash.
        raise _store_error(Path(db_path_of(db)), error) from error


def sync_progress_percent(completed: int, total: int, *, finished: bool) -> int:
    """0–100; 100 is reserved for a finished job so that 100 always means `complete`."""
    if finished:
        return 100
    if total <= 0:
        return 0
    return min(99, completed * 100 // total)


# The reason an untracked repository's last_error gives when it was untracked with `ghsync untrack`.
UNTRACKED_BY_HAND = "by hand, with `ghsync untrack`"


def _repository(row: dict[str, Any]) -> Repository:
    return Repository(
        id=row["id"],
        full_name=row["full_name"],
        owner=row["owner"],
        name=row["name"],
        days_back=row["days_back"],
        sync_status=SyncStatus(row["sync_status"]),
        sync_progress=row["sync_progress"] or 0,
        sync_prs_total=row["sync_prs_total"] or 0,
        sync_prs_completed=row["sync_prs_completed"] or 0,
        sync_started_at=row["sync_started_at"],
        sync_finished_at=row["sync_finished_at"],
        rate_limit_remaining=row["rate_limit_remaining"],
        rate_limit_reset_at=row["rate_limit_reset_at"],
        last_synced_at=row["last_synced_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        sync_watermark=row["sync_watermark"],
        current_sync_id=row["current_sync_id"],
        notify_to=tuple(json.loads(row["notify_to"] or "[]")),
        coverage=_coverage(row),
        coverage_start=row.get("coverage_start"),
        owner_id=row.get("owner_id"),
        node_id=row.get("node_id"),
        database_id=row.get("database_id"),
    )


def _owner(row: dict[str, Any]) -> Owner:
    return Owner(
        id=row["id"],
        login=row["login"],
        days_back=row["days_back"],
        filters=OwnerFilters(
            include_archived=bool(row["include_archived"]),
            include_forks=bool(row["include_forks"]),
            match=tuple(json.loads(row["match"] or "[]")),
            exclude=tuple(json.loads(row["exclude"] or "[]")),
        ),
        created_at=row["created_at"],
        listed_at=row["listed_at"],
    )


def _coverage(row: dict[str, Any]) -> WindowCoverage | None:
    if row.get("coverage_whole_history"):
        return WindowCoverage(whole_history=True)
    if row.get("coverage_since") is not None and row.get("coverage_cursor") is not None:
        return WindowCoverage(whole_history=False, since=row["coverage_since"], cursor=row["coverage_cursor"])
    return None


def _job(row: dict[str, Any]) -> SyncJob:
    return SyncJob(
        id=row["id"],
        repository_id=row["repository_id"],
        kind=SyncKind(row["kind"]),
        since=row["since"],
        pass_since=row["pass_since"],
        phase=Phase(row["phase"]),
        cursor=row["cursor"],
        head_updated_at=row["head_updated_at"],
        started_at=row["started_at"],
        prs_total=row["prs_total"] or 0,
        spent=Spend(points=row["graphql_points"] or 0, rest_calls=row["rest_calls"] or 0),
        runs=row["runs"] or 0,
        from_window_cursor=bool(row.get("from_window_cursor")),
        rewrite_from=row.get("rewrite_from"),
    )


def _marks(values: Sequence[Any]) -> str:
    """The `?, ?, …` of an IN list of these values."""
    return ", ".join("?" * len(values))


def _pull_request_values(record: PullRequestRecord, sync_id: int) -> list[Any]:
    labels = json.dumps(list(record.labels), ensure_ascii=False) if record.labels else "[]"
    return [*_pr_scalars_of(record), labels, sync_id]


def _record_from_row(row: Sequence[Any], reviews: tuple[ReviewRecord, ...]) -> PullRequestRecord:
    fields = dict(zip(("number", *_PR_SCALARS), row[1:-1], strict=True))
    fields["is_draft"] = bool(fields["is_draft"])
    # model_construct: these rows were validated on the way in; re-validating 50,000 costs seconds.
    return PullRequestRecord.model_construct(**fields, labels=tuple(json.loads(row[-1] or "[]")), reviews=reviews)


class SqliteStore:
    """One open ghsync database: the engine's JobStore for pull requests, and everything else ghsync keeps."""

    def __init__(self, db: sqlite_utils.Database, path: Path):
        self.db = db
        self.path = path

    def close(self) -> None:
        self.db.conn.close()

    # A `with` block closes the connection when the command is done with it, rather than whenever
    # the garbage collector reaches it: sqlite3's statement cache holds the connection in a reference
    # cycle, so only a collection would close it (and checkpoint the WAL into the file).
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- repositories -----------------------------------------------------------------------

    def find_repository(self, full_name: str) -> Repository | None:
        rows = list(self.db.table("repositories").rows_where("lower(full_name) = lower(?)", [full_name], limit=1))
        return _repository(rows[0]) if rows else None

    def get_repository(self, full_name: str) -> Repository:
        repository = self.find_repository(full_name)
        if repository is None:
            raise NotTracked(f"{full_name} is not tracked in this database: run `ghsync track {full_name}`")
        return repository

    def repository(self, repository_id: int) -> Repository:
        return _repository(self.db.table("repositories").get(repository_id))

    def list_repositories(self) -> list[Repository]:
        return [_repository(row) for row in self.db.table("repositories").rows_where(order_by="full_name")]

    def add_repository(
        self,
        full_name: str,
        *,
        days_back: int | None,
        now: str,
        notify_to: Sequence[str] = (),
        node_id: str | None = None,
        database_id: int | None = None,
        owner_id: int | None = None,
    ) -> Repository:
        owner, name = full_name.split("/")
        with transaction(self.db):
            self.db.table("repositories").insert(
                {
                    "node_id": node_id,
                    "database_id": database_id,
                    "full_name": full_name,
                    "owner": owner,
                    "name": name,
                    "days_back": days_back,
                    "sync_status": SyncStatus.PENDING,
                    "sync_progress": 0,
                    "sync_prs_total": 0,
                    "sync_prs_completed": 0,
                    "created_at": now,
                    "notify_to": json.dumps(list(notify_to)),
                    "owner_id": owner_id,
                }
            )
        return self.get_repository(full_name)

    # --- owners -------------------------------------------------------------------------------

    def find_owner(self, login: str) -> Owner | None:
        rows = list(self.db.table("owners").rows_where("lower(login) = lower(?)", [login], limit=1))
        return _owner(rows[0]) if rows else None

    def list_owners(self) -> list[Owner]:
        return [_owner(row) for row in self.db.table("owners").rows_where(order_by="login")]

    def save_owner(self, login: str, *, days_back: int | None, filters: OwnerFilters, now: str) -> Owner:
        """Remember an owner (or change a remembered owner's window and filters)."""
        fields = {
            "days_back": days_back,
            "include_archived": int(filters.include_archived),
            "include_forks": int(filters.include_forks),
            "match": json.dumps(list(filters.match)),
            "exclude": json.dumps(list(filters.exclude)),
        }
        existing = self.find_owner(login)
        with transaction(self.db):
            if existing is None:
                self.db.table("owners").insert({"login": login, "created_at": now, **fields})
            else:
                self.db.table("owners").update(existing.id, fields)
        owner = self.find_owner(login)
        assert owner is not None
        return owner

    def owner_listed(self, owner: Owner, *, now: str) -> None:
        with transaction(self.db):
            self.db.execute("UPDATE owners SET listed_at = ? WHERE id = ?", [now, owner.id])

    def owner_repositories(self, owner: Owner) -> list[Repository]:
        """Every repository the owner tracks or tracked (untracked ones included), by name."""
        rows = self.db.table("repositories").rows_where("owner_id = ?", [owner.id], order_by="full_name")
        return [_repository(row) for row in rows]

    def adopt(self, repository: Repository, owner: Owner, *, days_back: int | None, restart: bool) -> Repository:
        """An owner (re)tracks a repository: pending again if untracked, a new initial sync if `restart`."""
        fields: dict[str, Any] = {"owner_id": owner.id, "days_back": days_back}
        if repository.sync_status == SyncStatus.UNTRACKED:
            fields.update(sync_status=SyncStatus.PENDING, last_error=None)
        if restart:
            fields.update(
                sync_watermark=None, last_synced_at=None, current_sync_id=None, sync_status=SyncStatus.PENDING
            )
        with transaction(self.db):
            self.db.table("repositories").update(repository.id, fields)
        return self.repository(repository.id)

    def mark_untracked(self, repository: Repository, reason: str) -> None:
        """Stop syncing a repository, keeping its data; `last_error` says why (it is not an error)."""
        with transaction(self.db):
            self.db.execute(
                "UPDATE repositories SET sync_status = ?, last_error = ? WHERE id = ?",
                [SyncStatus.UNTRACKED, reason, repository.id],
            )

    def mark_current(self, repository_ids: Sequence[int], *, now: str, budget: RateLimitBudget) -> None:
        """Repositories a cheap check found unchanged since their watermark: current as of `now`, one write."""
        if not repository_ids:
            return
        with transaction(self.db):
            self.db.conn.executemany(
                "UPDATE repositories SET last_synced_at = ?, rate_limit_remaining = ?, rate_limit_reset_at = ? "
                "WHERE id = ?",
                [(now, budget.remaining, budget.reset_iso(), repository_id) for repository_id in repository_ids],
            )

    def remove_owner(self, owner: Owner) -> None:
        """Forget an owner whose repositories are untracked (each under its lock, by the caller): they keep
        their data and are no longer its."""
        with transaction(self.db):
            self.db.execute("UPDATE repositories SET owner_id = NULL WHERE owner_id = ?", [owner.id])
            self.db.execute("DELETE FROM owners WHERE id = ?", [owner.id])

    def retrack(
        self, repository: Repository, *, days_back: int | None, notify_to: Sequence[str] | None, restart: bool
    ) -> Repository:
        """Track again with a (new) window and recipients; restart: the next sync is an initial one."""
        with transaction(self.db):
            self._retrack(repository, days_back=days_back, notify_to=notify_to, restart=restart)
        return self.repository(repository.id)

    def widen(
        self,
        repository: Repository,
        *,
        days_back: int | None,
        notify_to: Sequence[str] | None,
        since: str | None,
        started_at: str,
        cursor: str,
    ) -> Repository:
        """A wider window and the job that fetches its older part (from the stored window's `cursor`), in one
        transaction: with the window written alone, a failure before the job would leave the repository
        `complete` under the wider window with its older PRs never fetched."""
        with transaction(self.db):
            self._retrack(repository, days_back=days_back, notify_to=notify_to, restart=False)
            self._insert_job(repository, kind=SyncKind.INITIAL, since=since, started_at=started_at, cursor=cursor)
        return self.repository(repository.id)

    def _retrack(
        self, repository: Repository, *, days_back: int | None, notify_to: Sequence[str] | None, restart: bool
    ) -> None:
        fields: dict[str, Any] = {"days_back": days_back}
        if repository.sync_status == SyncStatus.UNTRACKED:
            fields["sync_status"] = SyncStatus.PENDING
        if notify_to is not None:
            fields["notify_to"] = json.dumps(list(notify_to))
        if restart:
            # The stored rows cover a narrower window: the next sync is an initial one again.
            fields.update(
                sync_watermark=None, last_synced_at=None, current_sync_id=None, sync_status=SyncStatus.PENDING
            )
        self.db.table("repositories").update(repository.id, fields)

    def untrack(self, repository: Repository, *, purge: bool) -> None:
        with transaction(self.db):
            if not purge:
                # last_error of an untracked repository says why (as an owner's reasons do), not an old fault.
                self.db.table("repositories").update(
                    repository.id,
                    {"sync_status": SyncStatus.UNTRACKED, "owner_id": None, "last_error": UNTRACKED_BY_HAND},
                )
                return
            for sql in (
                # repositories.current_sync_id references syncs (m004): let go of the job first.
                "UPDATE repositories SET current_sync_id = NULL WHERE id = ?",
                "DELETE FROM reviews WHERE pull_request_id IN (SELECT id FROM pull_requests WHERE repository_id = ?)",
                "DELETE FROM pull_requests WHERE repository_id = ?",
                "DELETE FROM weekly_metrics WHERE repository_id = ?",
                "DELETE FROM syncs WHERE repository_id = ?",
                "DELETE FROM repositories WHERE id = ?",
            ):
                self.db.execute(sql, [repository.id])

    def top_read_started(self, repository_id: int) -> str | None:
        """When the last job that read the newest PRs began (any but a wider window's, which reads older ones)."""
        row = self.db.execute(
            "SELECT started_at FROM syncs WHERE repository_id = ? AND from_window_cursor IS NULL "
            "ORDER BY id DESC LIMIT 1",
            [repository_id],
        ).fetchone()
        return row[0] if row is not None else None

    def stored_updated_since(self, repository_id: int, updated_at: str) -> int:
        """PRs stored that were updated at or after this instant."""
        sql = "SELECT count(*) FROM pull_requests WHERE repository_id = ? AND updated_at >= ?"
        return int(self.db.execute(sql, [repository_id, updated_at]).fetchone()[0])

    def stored_pull_request_count(self, repository_id: int) -> int:
        sql = "SELECT count(*) FROM pull_requests WHERE repository_id = ?"
        return int(self.db.execute(sql, [repository_id]).fetchone()[0])

    # --- sync jobs: the engine's JobStore --------------------------------------------------
    # A job's state lives in `syncs`; what `status` shows lives in `repositories.sync_*`.
    # `_write_state` is the one place that writes both, inside the caller's transaction.

    def _write_state(self, job: SyncJob, job_fields: dict[str, Any], repository_fields: dict[str, Any]) -> None:
        for table, key, fields in (
            ("syncs", job.id, job_fields),
            ("repositories", job.repository_id, repository_fields),
        ):
            if fields:
                # Plain UPDATEs: this runs once per page, and sqlite-utils' update() reads each row back.
                assignments = ", ".join(f"{column} = ?" for column in fields)
                self.db.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", [*fields.values(), key])

    def job(self, job_id: int) -> SyncJob:
        return _job(self.db.table("syncs").get(job_id))

    def current_job(self, repository: Repository) -> SyncJob | None:
        """The unfinished job of this repository, if a previous run left one."""
        if repository.current_sync_id is None:
            return None
        row = self.db.table("syncs").get(repository.current_sync_id)
        return None if row["finished_at"] is not None else _job(row)

    def start_job(
        self,
        repository: Repository,
        *,
        kind: SyncKind,
        since: str | None,
        started_at: str,
        cursor: str | None = None,
        rewrite_from: str | None = None,
    ) -> SyncJob:
        """A new job; `cursor` starts its main pass there instead of at the newest PR (a wider window's
        job resumes where the previous window's pass stopped)."""
        with transaction(self.db):
            job_id = self._insert_job(
                repository, kind=kind, since=since, started_at=started_at, cursor=cursor, rewrite_from=rewrite_from
            )
        return self.job(job_id)

    def _insert_job(
        self,
        repository: Repository,
        *,
        kind: SyncKind,
        since: str | None,
        started_at: str,
        cursor: str | None,
        rewrite_from: str | None = None,
    ) -> int:
        inserted = self.db.table("syncs").insert(
            {
                "repository_id": repository.id,
                "kind": kind,
                "since": since,
                "pass_since": since,
                "phase": Phase.MAIN,
                "cursor": cursor or None,
                "from_window_cursor": 1 if cursor else None,
                "rewrite_from": rewrite_from,
                "started_at": started_at,
                "runs": 0,
            }
        )
        job_id = int(inserted.last_pk or 0)
        self.db.table("repositories").update(
            repository.id,
            {
                "current_sync_id": job_id,
                "sync_status": SyncStatus.SYNCING,
                "sync_started_at": started_at,
                "sync_finished_at": None,
                "sync_progress": 0,
                "sync_prs_total": 0,
                "sync_prs_completed": 0,
                "last_error": None,
            },
        )
        return job_id

    def resume_job(self, job: SyncJob) -> SyncJob:
        """A process (re)starts the job: count the run and show it as syncing."""
        with transaction(self.db):
            self._write_state(job, {"runs": job.runs + 1}, {"sync_status": SyncStatus.SYNCING, "last_error": None})
        return replace(job, runs=job.runs + 1)

    def set_head(self, job: SyncJob, head_updated_at: str) -> SyncJob:
        with transaction(self.db):
            self._write_state(job, {"head_updated_at": head_updated_at}, {})
        return replace(job, head_updated_at=head_updated_at)

    def begin_catchup(self, job: SyncJob, *, pass_since: str | None) -> SyncJob:
        fields = {"phase": Phase.CATCHUP, "pass_since": pass_since, "head_updated_at": None, "cursor": None}
        with transaction(self.db):
            self._write_state(job, fields, {})
        return replace(job, phase=Phase.CATCHUP, pass_since=pass_since, head_updated_at=None, cursor=None)

    def stored_versions(self, repository_id: int, keys: Sequence[int]) -> dict[int, str]:
        if not keys:
            return {}
        rows = self.db.execute(
            f"SELECT number, updated_at FROM pull_requests WHERE repository_id = ? AND number IN ({_marks(keys)})",
            [repository_id, *keys],
        )
        return dict(rows.fetchall())

    def save_page(self, job: SyncJob, records: Sequence[PullRequestRecord], progress: PageProgress) -> SyncJob:
        """Write one page with the cursor and progress fields in a single transaction."""
        with transaction(self.db):
            completed = self._completed_so_far(job) + self._upsert_pull_requests(job, records)
            total = max(progress.prs_total, completed)
            self._write_state(
                job,
                {
                    "cursor": progress.cursor,
                    "prs_total": total,
                    "graphql_points": progress.spent.points,
                    "rest_calls": progress.spent.rest_calls,
                },
                {
                    "sync_prs_total": total,
                    "sync_prs_completed": completed,
                    "sync_progress": sync_progress_percent(completed, total, finished=False),
                    **_budget_fields(progress.budget),
                },
            )
            if progress.window_boundary is not None:
                # The first page to reach the window's start is the boundary: a page read again after a
                # resume (only older PRs) reaches it too, and must not move it past the PRs on that first one.
                self.db.execute(
                    "UPDATE syncs SET window_boundary = ? WHERE id = ? AND window_boundary IS NULL",
                    [progress.window_boundary, job.id],
                )
            if progress.node_id is not None or progress.database_id is not None:
                # GitHub's ids, from the page, where the row has none yet (a repository an owner's listing
                # brought, or one tracked before they were read): no write once they are there. Ids another
                # row holds (the same repository under its name before a rename) stay with that row.
                self.db.execute(
                    "UPDATE repositories SET "
                    "node_id = coalesce(node_id, (SELECT ? WHERE NOT EXISTS "
                    "(SELECT 1 FROM repositories WHERE node_id = ?))), "
                    "database_id = coalesce(database_id, (SELECT ? WHERE NOT EXISTS "
                    "(SELECT 1 FROM repositories WHERE database_id = ?))) "
                    "WHERE id = ? AND (node_id IS NULL OR database_id IS NULL)",
                    [progress.node_id, progress.node_id, progress.database_id, progress.database_id, job.repository_id],
                )
        return replace(job, cursor=progress.cursor, prs_total=total, spent=progress.spent)

    def _upsert_pull_requests(self, job: SyncJob, records: Sequence[PullRequestRecord]) -> int:
        """Upsert a page's PRs and replace their reviews: a handful of statements per page, not three per PR
        (statement overhead was most of the store's CPU per PR). Returns how many of them are new to the job."""
        conn = self.db.conn
        # The last copy of a PR wins, as when rows were written one by one (its reviews only once).
        records = list({r.number: r for r in records}.values())
        new_to_job = 0
        for start in range(0, len(records), _ROWS_PER_STATEMENT):
            chunk = records[start : start + _ROWS_PER_STATEMENT]
            numbers = [r.number for r in chunk]
            # `+sync_id`: look the page's PRs up by number; SQLite otherwise chose the (repository_id,
            # sync_id) index and read every row the job had written, on every page.
            in_job = (
                f"SELECT count(*) FROM pull_requests WHERE repository_id = ? AND number IN ({_marks(numbers)}) "
                "AND +sync_id = ?"
            )
            before = conn.execute(in_job, [job.repository_id, *numbers, job.id]).fetchone()[0]
            conn.executemany(
                _UPSERT_PR_SQL, [[job.repository_id, r.number, *_pull_request_values(r, job.id)] for r in chunk]
            )
            # New to the job: inserted, or changed from another job's copy (an identical copy keeps its job).
            new_to_job += conn.execute(in_job, [job.repository_id, *numbers, job.id]).fetchone()[0] - before
            ids: dict[int, int] = dict(
                conn.execute(
                    f"SELECT number, id FROM pull_requests WHERE repository_id = ? AND number IN ({_marks(numbers)})",
                    [job.repository_id, *numbers],
                ).fetchall()
            )
            # A PR's reviews arrive complete every time it is fetched: replace them, so a deleted or
            # dismissed-and-removed review does not linger and a re-fetch never duplicates one.
            conn.execute(f"DELETE FROM reviews WHERE pull_request_id IN ({_marks(numbers)})", [ids[n] for n in numbers])
            conn.executemany(
                _INSERT_REVIEW_SQL,
                [(ids[r.number], *_review_values_of(review)) for r in chunk for review in r.reviews],
            )
        return new_to_job

    def _completed_so_far(self, job: SyncJob) -> int:
        """PRs the job wrote before this page: the count its last page stored on the repository. Counting
        the job's rows on every page instead grew with the repository (25 million index entries read over a
        50,000-PR sync); the exact count is taken again when the job finishes."""
        row = self.db.execute(
            "SELECT sync_prs_completed FROM repositories WHERE id = ? AND current_sync_id = ?",
            [job.repository_id, job.id],
        ).fetchone()
        return int(row[0] or 0) if row is not None else self._completed(job)

    def _completed(self, job: SyncJob) -> int:
        sql = "SELECT count(*) FROM pull_requests WHERE repository_id = ? AND sync_id = ?"
        return int(self.db.execute(sql, [job.repository_id, job.id]).fetchone()[0])

    def job_counts(self, job: SyncJob) -> tuple[int, int]:
        """PRs and reviews this job wrote (across every run of it)."""
        reviews = self.db.execute(
            "SELECT count(*) FROM reviews JOIN pull_requests ON pull_requests.id = reviews.pull_request_id "
            "WHERE pull_requests.repository_id = ? AND pull_requests.sync_id = ?",
            [job.repository_id, job.id],
        ).fetchone()[0]
        return self._completed(job), int(reviews)

    def finish_job(self, job: SyncJob, *, finished_at: str, spent: Spend, budget: RateLimitBudget) -> None:
        with transaction(self.db):
            completed = self._completed(job)
            repository = self.repository(job.repository_id)
            watermark = job.head_updated_at or repository.sync_watermark
            boundary, from_window_cursor = self.db.execute(
                "SELECT window_boundary, from_window_cursor FROM syncs WHERE id = ?", [job.id]
            ).fetchone()
            # A job that started at a stored window's cursor read only older PRs: the data is as fresh as
            # the sync before it, whatever the clock says now.
            synced_at = repository.last_synced_at if from_window_cursor else finished_at
            coverage: dict[str, Any] = {}
            if job.kind == SyncKind.INITIAL:
                # The window's PRs are all stored now: the whole history when the pass ran out of PRs
                # (or had no window), else every PR updated since the window's start.
                whole = job.since is None or boundary is None
                coverage = {
                    "coverage_whole_history": 1 if whole else 0,
                    "coverage_since": None if whole else job.since,
                    "coverage_cursor": None if whole else boundary,
                    "coverage_start": self._coverage_after(repository, job),
                }
            self._write_state(
                job,
                {
                    "finished_at": finished_at,
                    "outcome": Outcome.COMPLETE,
                    "prs_total": completed,
                    "cursor": None,
                    "graphql_points": spent.points,
                    "rest_calls": spent.rest_calls,
                },
                {
                    "sync_status": SyncStatus.COMPLETE,
                    "sync_progress": 100,
                    "sync_prs_total": completed,
                    "sync_prs_completed": completed,
                    "sync_finished_at": finished_at,
                    "last_synced_at": synced_at,
                    "last_error": None,
                    "sync_watermark": watermark,
                    **coverage,
                    **_budget_fields(budget),
                },
            )

    def _coverage_after(self, repository: Repository, job: SyncJob) -> str:
        """Where the data is complete once this initial job completed: its window's start (now − N days
        when it started), or with the whole history the oldest stored PR's creation. A wider window
        moves it back; a narrower one never forward (the older rows are still complete)."""
        start = job.since
        if start is None:
            sql = "SELECT min(created_at) FROM pull_requests WHERE repository_id = ?"
            start = self.db.execute(sql, [repository.id]).fetchone()[0] or job.started_at
        if repository.coverage_start is not None and _instant(repository.coverage_start) < _instant(start):
            return repository.coverage_start
        return start

    def stop_job(
        self, job: SyncJob, *, outcome: Outcome, error: str | None, spent: Spend, budget: RateLimitBudget
    ) -> None:
        """Record a stop (rate_limited or error) that keeps the cursor for the next run."""
        with transaction(self.db):
            self._write_state(
                job,
                {"outcome": outcome, "error": error, "graphql_points": spent.points, "rest_calls": spent.rest_calls},
                {"sync_status": SyncStatus(outcome), "last_error": error, **_budget_fields(budget)},
            )

    def record_email_status(self, job_id: int, status: str) -> None:
        with transaction(self.db):
            self.db.execute("UPDATE syncs SET email_status = ? WHERE id = ?", [status, job_id])

    # --- reading back -------------------------------------------------------------------------

    def iter_pull_requests(self, repository_id: int) -> Iterator[PullRequestRecord]:
        """Stream a repository's PRs with their reviews, ordered by number, without loading them all."""
        reviews = self.db.conn.execute(_SELECT_REVIEWS_SQL, [repository_id])
        pending = reviews.fetchone()
        for row in self.db.conn.execute(_SELECT_PRS_SQL, [repository_id]):
            pr_id = row[0]
            own: list[ReviewRecord] = []
            while pending is not None and pending[0] == pr_id:
                # model_construct: validated on the way in; re-validating 50,000 PRs' reviews costs seconds.
                own.append(ReviewRecord.model_construct(**dict(zip(_REVIEW_COLUMNS, pending[1:], strict=True))))
                pending = reviews.fetchone()
            yield _record_from_row(row, tuple(own))

    def replace_weekly_metrics(self, repository_id: int, rows: Iterable[WeeklyMetrics]) -> None:
        with transaction(self.db):
            self.db.execute("DELETE FROM weekly_metrics WHERE repository_id = ?", [repository_id])
            self.db.table("weekly_metrics").insert_all(
                (
                    {"repository_id": repository_id, **row.model_dump(exclude={"author", "repository", "team"})}
                    for row in rows
                ),
                batch_size=500,
            )

    def weekly_metrics_rows(self, repository_id: int) -> list[WeeklyMetrics]:
        rows = self.db.table("weekly_metrics").rows_where("repository_id = ?", [repository_id], order_by="week")
        # Rows written before m005 have NULL in the new columns that have defaults.
        return [
            WeeklyMetrics(
                **{k: v for k, v in row.items() if k != "repository_id" and not (v is None and k in _DEFAULTED)}
            )
            for row in rows
        ]

    def metric_pull_requests(
        self, repository_ids: Sequence[int], *, updated_since: str | None = None
    ) -> Iterator[MetricPullRequest]:
        """What metrics read of these repositories' PRs and submitted reviews, times as epoch seconds
        (SQLite converts them): two streamed queries and plain tuples, no records (fast on 50,000 PRs).

        updated_since: only PRs updated at or after it. Creating, merging, closing and reviewing a PR
        all move its updated_at, so every PR with an event from then on is included, with all its reviews.
        """
        if not repository_ids:
            return
        scope = f"p.repository_id IN ({_marks(repository_ids)})" + (
            " AND p.updated_at >= ?" if updated_since is not None else ""
        )
        parameters = [*repository_ids, *([updated_since] if updated_since is not None else [])]
        # Both streams in the order of the (repository_id, number) index, which the join walks as it is:
        # ordered by the PRs' ids instead, SQLite sorted every PR and review of the scope in memory
        # first (11 MB at the end of a 50,000-PR sync, its peak).
        names = dict(
            self.db.conn.execute(
                f"SELECT id, full_name FROM repositories WHERE id IN ({_marks(repository_ids)})", list(repository_ids)
            ).fetchall()
        )
        reviews = self.db.conn.execute(
            f"SELECT r.pull_request_id, r.author, r.author_type, {_EPOCH.format('r.submitted_at')} FROM reviews r "
            f"JOIN pull_requests p ON p.id = r.pull_request_id WHERE {scope} "
            "AND r.state != 'PENDING' AND r.submitted_at IS NOT NULL ORDER BY p.repository_id, p.number, r.id",
            parameters,
        )
        prs = self.db.conn.execute(
            f"SELECT p.id, p.repository_id, p.number, p.author, p.author_type, p.state, "
            f"{_EPOCH.format('p.created_at')}, {_EPOCH.format('p.closed_at')}, {_EPOCH.format('p.merged_at')}, "
            f"p.additions, p.deletions, {_EPOCH.format('p.first_commit_at')} FROM pull_requests p "
            f"WHERE {scope} ORDER BY p.repository_id, p.number",
            parameters,
        )
        pending = reviews.fetchone()
        make_review = MetricReview._make
        make = MetricPullRequest._make
        for row in prs:
            # Every review's PR is in `prs` (the same scope), in the same order: its reviews come next.
            pr_id = row[0]
            own = []
            while pending is not None and pending[0] == pr_id:
                own.append(make_review(pending[1:]))
                pending = reviews.fetchone()
            yield make((names[row[1]], *row[2:], tuple(own)))

    # --- teams imported from GitHub -------------------------------------------------------------

    def save_team(self, team: Team, *, organization: str, slug: str) -> None:
        """Store (or refresh) an imported team's members under its name."""
        with transaction(self.db):
            self.db.table("teams").upsert(
                {
                    "name": team.name,
                    "organization": organization,
                    "slug": slug,
                    "members": json.dumps(list(team.members or ())),
                    "imported_at": team.imported_at,
                },
                pk="name",
            )

    def imported_team(self, name: str) -> Team | None:
        return next((team for team in self.imported_teams() if team.name == name), None)

    def remove_team(self, name: str) -> bool:
        """Forget an imported team; False when there is none of that name."""
        with transaction(self.db):
            return self.db.execute("DELETE FROM teams WHERE name = ?", [name]).rowcount > 0

    def imported_teams(self) -> list[Team]:
        return [
            Team(
                name=row["name"],
                source=f"github {row['organization']}/{row['slug']}",
                members=tuple(json.loads(row["members"])),
                imported_at=row["imported_at"],
            )
            for row in self.db.table("teams").rows_where(order_by="name")
        ]

    # --- digests ----------------------------------------------------------------------------

    def digest_sent(self, scope: str, week: str, channel: str) -> bool:
        """Whether this scope's digest of this week already reached this channel."""
        sql = "SELECT 1 FROM digests WHERE scope = ? AND week = ? AND channel = ? AND status = ? LIMIT 1"
        return self.db.execute(sql, [scope, week, channel, DeliveryStatus.SENT]).fetchone() is not None

    def record_digest(self, delivery: DigestDelivery) -> int:
        """Record a delivery attempt; its row id, for settle_digest."""
        with transaction(self.db):
            cursor = self.db.execute(
                "INSERT INTO digests (scope, week, channel, sent_at, status, detail) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    delivery.scope,
                    delivery.week,
                    delivery.channel,
                    delivery.sent_at,
                    str(delivery.status),
                    delivery.detail,
                ],
            )
            return int(cursor.lastrowid or 0)

    def settle_digest(self, attempt: int, status: DeliveryStatus, detail: str | None) -> None:
        """How an attempt recorded as `sending` ended."""
        with transaction(self.db):
            self.db.execute("UPDATE digests SET status = ?, detail = ? WHERE id = ?", [str(status), detail, attempt])

    def digest_deliveries(self, scope: str | None = None) -> list[DigestDelivery]:
        """Every recorded delivery (of one scope), oldest first."""
        where, params = ("WHERE scope = ?", [scope]) if scope is not None else ("", [])
        rows = self.db.execute(
            f"SELECT scope, week, channel, sent_at, status, detail FROM digests {where} ORDER BY id", params
        ).fetchall()
        return [
            DigestDelivery(scope=r[0], week=r[1], channel=r[2], sent_at=r[3], status=DeliveryStatus(r[4]), detail=r[5])
            for r in rows
        ]


_DEFAULTED = frozenset({"complete", "merged_without_review"})
# An ISO-8601 column as whole epoch seconds (NULL stays NULL): SQLite parses `Z` and `±HH:MM` offsets
# itself. Integers, so a Monday 00:00:00 never rounds into the week before. unixepoch() (SQLite 3.38+)
# takes two thirds of strftime('%s')'s time (0.15 against 0.22 s for four times of 50,000 PRs).
_EPOCH_BEFORE_3_38 = "CAST(strftime('%s', {0}) AS INTEGER)"
_EPOCH = "unixepoch({0})" if sqlite3.sqlite_version_info >= (3, 38) else _EPOCH_BEFORE_3_38


def _instant(text: str) -> float:
    return parse_iso(text).timestamp()


def _budget_fields(budget: RateLimitBudget) -> dict[str, Any]:
    return {"rate_limit_remaining": budget.remaining, "rate_limit_reset_at": budget.reset_iso()}
