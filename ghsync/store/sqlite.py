"""The SQLite store: opening and migrating the file, the engine's JobStore, and typed reads for status
and metrics. The only module that runs SQL; it hands out records from ghsync.models, never rows."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlite_utils

from ghsync.errors import NotTracked, StoreError
from ghsync.models import (
    PULL_REQUEST_FIELDS,
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
    WeeklyMetrics,
)
from ghsync.store.migrations import APPLICATION_ID, apply_migrations, db_path_of, pending_migrations

BUSY_TIMEOUT_SECONDS = 30.0

# Columns written for a PR besides (repository_id, number): the registry's fields, then the JSON
# labels and the job that last wrote the row (which counts a job's progress exactly across resumes).
_PR_SCALARS = tuple(spec.name for spec in PULL_REQUEST_FIELDS if spec.name != "number")
_PR_COLUMNS = (*_PR_SCALARS, "labels", "sync_id")
_UPSERT_PR_SQL = (
    "INSERT INTO pull_requests (repository_id, number, {cols}) VALUES (?, ?, {marks}) "
    "ON CONFLICT (repository_id, number) DO UPDATE SET {sets} RETURNING id"
).format(
    cols=", ".join(_PR_COLUMNS),
    marks=", ".join("?" for _ in _PR_COLUMNS),
    sets=", ".join(f"{col} = excluded.{col}" for col in _PR_COLUMNS),
)
_SELECT_PRS_SQL = f"SELECT id, number, {', '.join((*_PR_SCALARS, 'labels'))} FROM pull_requests WHERE repository_id = ? ORDER BY number"
_SELECT_REVIEWS_SQL = (
    "SELECT r.author, r.state, r.submitted_at, r.pull_request_id FROM reviews r "
    "JOIN pull_requests p ON p.id = r.pull_request_id WHERE p.repository_id = ? ORDER BY p.number, r.id"
)


def open_store(path: Path | str, *, create: bool = True, create_parent: bool = False) -> SqliteStore:
    """Open (and if needed create and migrate) the database; every failure becomes a StoreError.

    Only the default location's directory is created (create_parent): a mistyped --db directory
    should be an error, not a database nobody will find.
    """
    path = Path(path)
    if str(path) != ":memory:":
        if not path.exists():
            if not create:
                raise StoreError(f"no database at {path}: run `ghsync track OWNER/REPO` first")
            if create_parent:
                _make_private_parent(path)
            elif not path.parent.is_dir():
                raise StoreError(f"cannot create database {path}: directory {path.parent} does not exist")
            _create_private_file(path)
        elif path.is_dir():
            raise StoreError(f"{path} is a directory, not a database file")
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
            raise StoreError(_describe_sqlite_error(path, error)) from error
        except StoreError:
            raise
        except sqlite3.DatabaseError as error:
            raise StoreError(_describe_sqlite_error(path, error)) from error
        except OSError as error:
            raise StoreError(f"cannot open database {path}: {error.strerror or error}") from error


def _connect_and_migrate(path: Path) -> sqlite_utils.Database:
    # Autocommit mode: ghsync opens every transaction itself (see `transaction`).
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
    try:
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        _refuse_foreign(db, path)  # before anything writes, the journal mode included
        if str(path) != ":memory:":
            # WAL lets `status` read while a sync writes, and syncs of different repos share the file.
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"cannot use write-ahead logging on {path} (journal mode {mode})")
            # FULL: a committed page survives power loss, not only a killed process.
            db.execute("PRAGMA synchronous = FULL")
        _migrate(db)
        return db
    except BaseException:
        conn.close()
        raise


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
    except sqlite3.OperationalError as error:
        raise StoreError(_describe_sqlite_error(Path(db_path_of(db)), error)) from error


def sync_progress_percent(completed: int, total: int, *, finished: bool) -> int:
    """0–100; 100 is reserved for a finished job so that 100 always means `complete`."""
    if finished:
        return 100
    if total <= 0:
        return 0
    return min(99, completed * 100 // total)


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
        owner_id=row.get("owner_id"),
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
    )


def _pull_request_values(record: PullRequestRecord, sync_id: int) -> list[Any]:
    values: list[Any] = [getattr(record, name) for name in _PR_SCALARS]
    return [*values, json.dumps(list(record.labels), ensure_ascii=False), sync_id]


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
        owner_id: int | None = None,
    ) -> Repository:
        owner, name = full_name.split("/")
        with transaction(self.db):
            self.db.table("repositories").insert(
                {
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

    def api_price(self, api_url: str) -> bool | None:
        """Whether this API host was seen not to charge count-only connections; None: not known yet."""
        row = self.db.execute("SELECT count_only_free FROM api_prices WHERE api_url = ?", [api_url]).fetchone()
        return None if row is None else bool(row[0])

    def remember_api_price(self, api_url: str, *, count_only_free: bool, now: str) -> None:
        with transaction(self.db):
            self.db.execute(
                "INSERT INTO api_prices (api_url, count_only_free, learned_at) VALUES (?, ?, ?) "
                "ON CONFLICT (api_url) DO UPDATE SET count_only_free = excluded.count_only_free, "
                "learned_at = excluded.learned_at",
                [api_url, int(count_only_free), now],
            )

    def remove_owner(self, owner: Owner, reason: str) -> list[Repository]:
        """Forget an owner: its repositories keep their data, become untracked, and are no longer its."""
        repositories = self.owner_repositories(owner)
        with transaction(self.db):
            self.db.execute(
                "UPDATE repositories SET sync_status = ?, last_error = ?, owner_id = NULL "
                "WHERE owner_id = ? AND sync_status != ?",
                [SyncStatus.UNTRACKED, reason, owner.id, SyncStatus.UNTRACKED],
            )
            self.db.execute("UPDATE repositories SET owner_id = NULL WHERE owner_id = ?", [owner.id])
            self.db.execute("DELETE FROM owners WHERE id = ?", [owner.id])
        return repositories

    def retrack(
        self, repository: Repository, *, days_back: int | None, notify_to: Sequence[str] | None, restart: bool
    ) -> Repository:
        """Track again with a (new) window and recipients; restart: the next sync is an initial one."""
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
        with transaction(self.db):
            self.db.table("repositories").update(repository.id, fields)
        return self.repository(repository.id)

    def untrack(self, repository: Repository, *, purge: bool) -> None:
        with transaction(self.db):
            if not purge:
                self.db.table("repositories").update(
                    repository.id, {"sync_status": SyncStatus.UNTRACKED, "owner_id": None}
                )
                return
            for sql in (
                "DELETE FROM reviews WHERE pull_request_id IN (SELECT id FROM pull_requests WHERE repository_id = ?)",
                "DELETE FROM pull_requests WHERE repository_id = ?",
                "DELETE FROM weekly_metrics WHERE repository_id = ?",
                "DELETE FROM syncs WHERE repository_id = ?",
                "DELETE FROM repositories WHERE id = ?",
            ):
                self.db.execute(sql, [repository.id])

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

    def start_job(self, repository: Repository, *, kind: SyncKind, since: str | None, started_at: str) -> SyncJob:
        with transaction(self.db):
            inserted = self.db.table("syncs").insert(
                {
                    "repository_id": repository.id,
                    "kind": kind,
                    "since": since,
                    "pass_since": since,
                    "phase": Phase.MAIN,
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
        return self.job(job_id)

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
        marks = ", ".join("?" for _ in keys)
        rows = self.db.execute(
            f"SELECT number, updated_at FROM pull_requests WHERE repository_id = ? AND number IN ({marks})",
            [repository_id, *keys],
        )
        return dict(rows.fetchall())

    def save_page(self, job: SyncJob, records: Sequence[PullRequestRecord], progress: PageProgress) -> SyncJob:
        """Write one page with the cursor and progress fields in a single transaction."""
        with transaction(self.db):
            for record in records:
                self._upsert_pull_request(job, record)
            completed = self._completed(job)
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
        return replace(job, cursor=progress.cursor, prs_total=total, spent=progress.spent)

    def _upsert_pull_request(self, job: SyncJob, record: PullRequestRecord) -> None:
        values = [job.repository_id, record.number, *_pull_request_values(record, job.id)]
        pull_request_id = self.db.execute(_UPSERT_PR_SQL, values).fetchone()[0]
        # A PR's reviews arrive complete every time it is fetched: replace them, so a deleted or
        # dismissed-and-removed review does not linger and a re-fetch never duplicates one.
        self.db.execute("DELETE FROM reviews WHERE pull_request_id = ?", [pull_request_id])
        if record.reviews:
            self.db.conn.executemany(
                "INSERT INTO reviews (pull_request_id, author, state, submitted_at) VALUES (?, ?, ?, ?)",
                [(pull_request_id, r.author, r.state, r.submitted_at) for r in record.reviews],
            )

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
            watermark = job.head_updated_at or self.repository(job.repository_id).sync_watermark
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
                    "last_synced_at": finished_at,
                    "last_error": None,
                    "sync_watermark": watermark,
                    **_budget_fields(budget),
                },
            )

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
            while pending is not None and pending[3] == pr_id:
                own.append(ReviewRecord.model_construct(author=pending[0], state=pending[1], submitted_at=pending[2]))
                pending = reviews.fetchone()
            yield _record_from_row(row, tuple(own))

    def replace_weekly_metrics(self, repository_id: int, rows: Iterable[WeeklyMetrics]) -> None:
        with transaction(self.db):
            self.db.execute("DELETE FROM weekly_metrics WHERE repository_id = ?", [repository_id])
            self.db.table("weekly_metrics").insert_all(
                ({"repository_id": repository_id, **row.model_dump(exclude={"author"})} for row in rows),
                batch_size=500,
            )

    def weekly_metrics_rows(self, repository_id: int) -> list[WeeklyMetrics]:
        rows = self.db.table("weekly_metrics").rows_where("repository_id = ?", [repository_id], order_by="week")
        return [WeeklyMetrics(**{k: v for k, v in row.items() if k != "repository_id"}) for row in rows]


def _budget_fields(budget: RateLimitBudget) -> dict[str, Any]:
    return {"rate_limit_remaining": budget.remaining, "rate_limit_reset_at": budget.reset_iso()}
