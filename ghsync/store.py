"""The SQLite store: schema migrations, upserts by key, sync progress and the resume cursor."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlite_utils

from ghsync.errors import NotTracked, StoreError
from ghsync.models import PullRequestRecord, ReviewRecord, WeeklyMetrics

BUSY_TIMEOUT_SECONDS = 30.0

REPOSITORY_STATUS_FIELDS = (
    "full_name",
    "owner",
    "name",
    "days_back",
    "sync_status",
    "sync_progress",
    "sync_prs_total",
    "sync_prs_completed",
    "sync_started_at",
    "sync_finished_at",
    "rate_limit_remaining",
    "rate_limit_reset_at",
    "last_synced_at",
    "last_error",
    "created_at",
)


# --- migrations -------------------------------------------------------------------------------
# Append-only: a released migration is never edited; a schema change is a new function at the end.


def m001_create_tables(db: sqlite_utils.Database) -> None:
    db["repositories"].create(
        {
            "id": int,
            "full_name": str,
            "owner": str,
            "name": str,
            "days_back": int,
            "sync_status": str,
            "sync_progress": int,
            "sync_prs_total": int,
            "sync_prs_completed": int,
            "sync_started_at": str,
            "sync_finished_at": str,
            "rate_limit_remaining": int,
            "rate_limit_reset_at": str,
            "last_synced_at": str,
            "last_error": str,
            "created_at": str,
            # Newest updatedAt GitHub showed at the last complete sync: where the next incremental starts.
            "sync_watermark": str,
            "current_sync_id": int,
            "notify_to": str,
        },
        pk="id",
        not_null={"full_name", "owner", "name", "sync_status", "created_at"},
        defaults={"sync_status": "pending", "sync_progress": 0, "sync_prs_total": 0, "sync_prs_completed": 0},
    )
    db["repositories"].create_index(["full_name"], unique=True)

    # One row per sync job: an initial or incremental sync from its start to `complete`, however many
    # process runs (rate-limit stops, crashes) it takes. The cursor lives here.
    db["syncs"].create(
        {
            "id": int,
            "repository_id": int,
            "kind": str,
            "since": str,
            # The current pass reads PRs updated at or after pass_since: the window for the main pass,
            # the head seen when the previous pass began for a catch-up pass.
            "pass_since": str,
            "phase": str,
            "cursor": str,
            "head_updated_at": str,
            "started_at": str,
            "finished_at": str,
            "outcome": str,
            "runs": int,
            "graphql_points": int,
            "rest_calls": int,
            "prs_total": int,
            "error": str,
            "email_status": str,
        },
        pk="id",
        foreign_keys=[("repository_id", "repositories", "id")],
        defaults={"runs": 0, "graphql_points": 0, "rest_calls": 0, "prs_total": 0},
    )
    db["syncs"].create_index(["repository_id"])

    db["pull_requests"].create(
        {
            "id": int,
            "repository_id": int,
            "number": int,
            "title": str,
            "state": str,
            "is_draft": int,
            "author": str,
            "created_at": str,
            "updated_at": str,
            "closed_at": str,
            "merged_at": str,
            "merged_by": str,
            "additions": int,
            "deletions": int,
            "changed_files": int,
            "commits": int,
            "base_ref": str,
            "head_ref": str,
            "labels": str,
            "url": str,
            # The sync job that last wrote this row: counts a job's progress exactly across resumes.
            "sync_id": int,
        },
        pk="id",
        foreign_keys=[("repository_id", "repositories", "id"), ("sync_id", "syncs", "id")],
        not_null={"repository_id", "number", "title", "state", "created_at", "updated_at"},
    )
    db["pull_requests"].create_index(["repository_id", "number"], unique=True)
    db["pull_requests"].create_index(["repository_id", "updated_at"])
    db["pull_requests"].create_index(["repository_id", "sync_id"])
    db["pull_requests"].enable_fts(["title"], create_triggers=True, tokenize="unicode61")

    db["reviews"].create(
        {"id": int, "pull_request_id": int, "author": str, "state": str, "submitted_at": str},
        pk="id",
        foreign_keys=[("pull_request_id", "pull_requests", "id")],
        not_null={"pull_request_id", "state"},
    )
    db["reviews"].create_index(["pull_request_id"])


def m002_weekly_metrics(db: sqlite_utils.Database) -> None:
    db["weekly_metrics"].create(
        {
            "repository_id": int,
            "week": str,
            "prs_opened": int,
            "authors_active": int,
            "prs_merged": int,
            "prs_closed_unmerged": int,
            "cycle_time_p50_hours": float,
            "cycle_time_p75_hours": float,
            "time_to_first_review_p50_hours": float,
            "review_to_merge_p50_hours": float,
            "reviews_submitted": int,
            "reviewers_active": int,
            "pr_size_p50": float,
        },
        pk=("repository_id", "week"),
        foreign_keys=[("repository_id", "repositories", "id")],
    )


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (m001_create_tables, m002_weekly_metrics)


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration this database lacks, all in one write transaction; return their names.

    The transaction makes two processes opening a new file at once safe: the second waits, then
    finds the migrations applied.
    """
    if not _pending_migrations(db):
        return []  # the common case reads only, so `status` never queues behind a sync's writes
    with transaction(db):
        pending = _pending_migrations(db)
        if not db["_ghsync_migrations"].exists():
            db["_ghsync_migrations"].create({"name": str, "applied_at": str}, pk="name")
        for migration in pending:
            migration(db)
            db["_ghsync_migrations"].insert({"name": migration.__name__, "applied_at": utc_now_iso()})
    return [migration.__name__ for migration in pending]


def _pending_migrations(db: sqlite_utils.Database) -> list[Callable[[sqlite_utils.Database], None]]:
    known = {migration.__name__ for migration in MIGRATIONS}
    applied = set()
    if db["_ghsync_migrations"].exists():
        applied = {row[0] for row in db.execute("SELECT name FROM _ghsync_migrations")}
    newer = sorted(applied - known)
    if newer:
        raise StoreError(
            f"{db_path_of(db)} was written by a newer ghsync (migration {newer[-1]}); upgrade ghsync to use it"
        )
    return [migration for migration in MIGRATIONS if migration.__name__ not in applied]


# --- opening ----------------------------------------------------------------------------------


def db_path_of(db: sqlite_utils.Database) -> str:
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] if row and row[2] else ":memory:"


def open_store(path: Path | str, *, create: bool = True, create_parent: bool = False) -> sqlite_utils.Database:
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
            return _connect_and_migrate(path)
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
        if str(path) != ":memory:":
            # WAL lets `status` read while a sync writes, and syncs of different repos share the file.
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"cannot use write-ahead logging on {path} (journal mode {mode})")
            # FULL: a committed page survives power loss, not only a killed process.
            db.execute("PRAGMA synchronous = FULL")
        migrate(db)
        return db
    except BaseException:
        conn.close()
        raise


def _describe_sqlite_error(path: Path, error: sqlite3.Error) -> str:
    text = str(error)
    if "file is not a database" in text or "malformed" in text:
        return f"{path} is not a ghsync database (or it is corrupt): {text}"
    if "locked" in text or "busy" in text:
        return f"database {path} is locked by another program: {text}"
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
    """One atomic write: everything inside commits together or not at all (kill -9 included)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def utc_now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- repositories -----------------------------------------------------------------------------


def find_repository(db: sqlite_utils.Database, full_name: str) -> dict[str, Any] | None:
    rows = list(db["repositories"].rows_where("lower(full_name) = lower(?)", [full_name], limit=1))
    return rows[0] if rows else None


def get_repository(db: sqlite_utils.Database, full_name: str) -> dict[str, Any]:
    row = find_repository(db, full_name)
    if row is None:
        raise NotTracked(f"{full_name} is not tracked in this database: run `ghsync track {full_name}`")
    return row


def repository_by_id(db: sqlite_utils.Database, repository_id: int) -> dict[str, Any]:
    return db["repositories"].get(repository_id)


def list_repositories(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(db["repositories"].rows_where(order_by="full_name"))


def add_repository(
    db: sqlite_utils.Database,
    full_name: str,
    *,
    days_back: int | None,
    now: str,
    notify_to: Sequence[str] = (),
) -> dict[str, Any]:
    owner, name = full_name.split("/")
    with transaction(db):
        db["repositories"].insert(
            {
                "full_name": full_name,
                "owner": owner,
                "name": name,
                "days_back": days_back,
                "sync_status": "pending",
                "sync_progress": 0,
                "sync_prs_total": 0,
                "sync_prs_completed": 0,
                "created_at": now,
                "notify_to": json.dumps(list(notify_to)),
            }
        )
    return get_repository(db, full_name)


def update_repository(db: sqlite_utils.Database, repository_id: int, **fields: Any) -> None:
    with transaction(db):
        db["repositories"].update(repository_id, fields)


def delete_repository(db: sqlite_utils.Database, repository_id: int, *, purge: bool) -> None:
    with transaction(db):
        if purge:
            db.execute(
                "DELETE FROM reviews WHERE pull_request_id IN (SELECT id FROM pull_requests WHERE repository_id = ?)",
                [repository_id],
            )
            db.execute("DELETE FROM pull_requests WHERE repository_id = ?", [repository_id])
            db.execute("DELETE FROM weekly_metrics WHERE repository_id = ?", [repository_id])
            db.execute("DELETE FROM syncs WHERE repository_id = ?", [repository_id])
            db.execute("DELETE FROM repositories WHERE id = ?", [repository_id])
        else:
            db["repositories"].update(repository_id, {"sync_status": "untracked"})


# --- sync jobs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncJob:
    """The stored state of one sync job: enough to resume it exactly after any stop."""

    id: int
    repository_id: int
    kind: str
    since: str | None
    pass_since: str | None
    phase: str
    cursor: str | None
    head_updated_at: str | None
    started_at: str
    prs_total: int
    graphql_points: int
    rest_calls: int
    runs: int


def _job_from_row(row: dict[str, Any]) -> SyncJob:
    return SyncJob(
        id=row["id"],
        repository_id=row["repository_id"],
        kind=row["kind"],
        since=row["since"],
        pass_since=row["pass_since"],
        phase=row["phase"],
        cursor=row["cursor"],
        head_updated_at=row["head_updated_at"],
        started_at=row["started_at"],
        prs_total=row["prs_total"] or 0,
        graphql_points=row["graphql_points"] or 0,
        rest_calls=row["rest_calls"] or 0,
        runs=row["runs"] or 0,
    )


def job_by_id(db: sqlite_utils.Database, job_id: int) -> SyncJob:
    return _job_from_row(db["syncs"].get(job_id))


def current_job(db: sqlite_utils.Database, repository: dict[str, Any]) -> SyncJob | None:
    """The unfinished job of this repository, if a previous run left one."""
    job_id = repository.get("current_sync_id")
    if job_id is None:
        return None
    row = db["syncs"].get(job_id)
    if row["finished_at"] is not None:
        return None
    return _job_from_row(row)


def start_job(
    db: sqlite_utils.Database, repository_id: int, *, kind: str, since: str | None, started_at: str
) -> SyncJob:
    with transaction(db):
        job_id = db["syncs"].insert(
            {
                "repository_id": repository_id,
                "kind": kind,
                "since": since,
                "pass_since": since,
                "phase": "main",
                "started_at": started_at,
                "runs": 0,
            }
        ).last_pk
        db["repositories"].update(
            repository_id,
            {
                "current_sync_id": job_id,
                "sync_status": "syncing",
                "sync_started_at": started_at,
                "sync_finished_at": None,
                "sync_progress": 0,
                "sync_prs_total": 0,
                "sync_prs_completed": 0,
                "last_error": None,
            },
        )
    return _job_from_row(db["syncs"].get(job_id))


def mark_job_running(db: sqlite_utils.Database, job: SyncJob) -> SyncJob:
    """A process (re)starts the job: count the run and show it as syncing."""
    with transaction(db):
        db["syncs"].update(job.id, {"runs": job.runs + 1})
        db["repositories"].update(job.repository_id, {"sync_status": "syncing", "last_error": None})
    return _job_from_row(db["syncs"].get(job.id))


def update_job(db: sqlite_utils.Database, job: SyncJob, **fields: Any) -> SyncJob:
    with transaction(db):
        db["syncs"].update(job.id, fields)
    return _job_from_row(db["syncs"].get(job.id))


def job_completed_count(db: sqlite_utils.Database, job: SyncJob) -> int:
    return db.execute(
        "SELECT count(*) FROM pull_requests WHERE repository_id = ? AND sync_id = ?", [job.repository_id, job.id]
    ).fetchone()[0]


def job_reviews_count(db: sqlite_utils.Database, job: SyncJob) -> int:
    return db.execute(
        "SELECT count(*) FROM reviews JOIN pull_requests ON pull_requests.id = reviews.pull_request_id "
        "WHERE pull_requests.repository_id = ? AND pull_requests.sync_id = ?",
        [job.repository_id, job.id],
    ).fetchone()[0]


def sync_progress_percent(completed: int, total: int, *, finished: bool) -> int:
    """0–100; 100 is reserved for a finished job so that 100 always means `complete`."""
    if finished:
        return 100
    if total <= 0:
        return 0
    return min(99, completed * 100 // total)


_PR_COLUMNS = (
    "title",
    "state",
    "is_draft",
    "author",
    "created_at",
    "updated_at",
    "closed_at",
    "merged_at",
    "merged_by",
    "additions",
    "deletions",
    "changed_files",
    "commits",
    "base_ref",
    "head_ref",
    "labels",
    "url",
    "sync_id",
)
_UPSERT_PR_SQL = (
    "INSERT INTO pull_requests (repository_id, number, {cols}) VALUES (?, ?, {marks}) "
    "ON CONFLICT (repository_id, number) DO UPDATE SET {sets} RETURNING id"
).format(
    cols=", ".join(_PR_COLUMNS),
    marks=", ".join("?" for _ in _PR_COLUMNS),
    sets=", ".join(f"{col} = excluded.{col}" for col in _PR_COLUMNS),
)


def _pull_request_values(record: PullRequestRecord, sync_id: int | None) -> list[Any]:
    return [
        record.title,
        record.state,
        int(record.is_draft),
        record.author,
        record.created_at,
        record.updated_at,
        record.closed_at,
        record.merged_at,
        record.merged_by,
        record.additions,
        record.deletions,
        record.changed_files,
        record.commits,
        record.base_ref,
        record.head_ref,
        json.dumps(list(record.labels), ensure_ascii=False),
        record.url,
        sync_id,
    ]


def _upsert_pull_request(db: sqlite_utils.Database, repository_id: int, record: PullRequestRecord, sync_id: int | None) -> None:
    pull_request_id = db.execute(
        _UPSERT_PR_SQL, [repository_id, record.number, *_pull_request_values(record, sync_id)]
    ).fetchone()[0]
    # A PR's reviews arrive complete every time it is fetched: replace them, so a deleted or
    # dismissed-and-removed review does not linger and a re-fetch never duplicates one.
    db.execute("DELETE FROM reviews WHERE pull_request_id = ?", [pull_request_id])
    if record.reviews:
        db.conn.executemany(
            "INSERT INTO reviews (pull_request_id, author, state, submitted_at) VALUES (?, ?, ?, ?)",
            [(pull_request_id, r.author, r.state, r.submitted_at) for r in record.reviews],
        )


def save_page(
    db: sqlite_utils.Database,
    job: SyncJob,
    records: Iterable[PullRequestRecord],
    *,
    cursor: str | None,
    phase: str,
    prs_total: int,
    graphql_points: int,
    rest_calls: int,
    rate_limit_remaining: int | None,
    rate_limit_reset_at: str | None,
    skip_unchanged: bool = False,
) -> SyncJob:
    """Write one page with the cursor and progress fields in a single transaction.

    With skip_unchanged (incremental syncs), PRs whose stored updated_at equals GitHub's are left
    alone: they are the overlap re-read for safety, not changes.
    """
    records = list(records)
    with transaction(db):
        if skip_unchanged and records:
            stored = _stored_updated_at(db, job.repository_id, [r.number for r in records])
            records = [r for r in records if stored.get(r.number) != r.updated_at]
        for record in records:
            _upsert_pull_request(db, job.repository_id, record, job.id)
        completed = job_completed_count(db, job)
        total = max(prs_total, completed)
        # Plain UPDATEs: this runs once per page, and sqlite-utils' update() reads each row back.
        db.execute(
            "UPDATE syncs SET cursor = ?, phase = ?, prs_total = ?, graphql_points = ?, rest_calls = ? WHERE id = ?",
            [cursor, phase, total, graphql_points, rest_calls, job.id],
        )
        db.execute(
            "UPDATE repositories SET sync_prs_total = ?, sync_prs_completed = ?, sync_progress = ?, "
            "rate_limit_remaining = ?, rate_limit_reset_at = ? WHERE id = ?",
            [
                total,
                completed,
                sync_progress_percent(completed, total, finished=False),
                rate_limit_remaining,
                rate_limit_reset_at,
                job.repository_id,
            ],
        )
    return replace(job, cursor=cursor, phase=phase, prs_total=total, graphql_points=graphql_points, rest_calls=rest_calls)


def _stored_updated_at(db: sqlite_utils.Database, repository_id: int, numbers: list[int]) -> dict[int, str]:
    marks = ", ".join("?" for _ in numbers)
    rows = db.execute(
        f"SELECT number, updated_at FROM pull_requests WHERE repository_id = ? AND number IN ({marks})",
        [repository_id, *numbers],
    )
    return dict(rows.fetchall())


def stored_pull_request_count(db: sqlite_utils.Database, repository_id: int) -> int:
    return db.execute("SELECT count(*) FROM pull_requests WHERE repository_id = ?", [repository_id]).fetchone()[0]


def stored_updated_at(db: sqlite_utils.Database, repository_id: int, number: int) -> str | None:
    return _stored_updated_at(db, repository_id, [number]).get(number)


def finish_job(
    db: sqlite_utils.Database,
    job: SyncJob,
    *,
    finished_at: str,
    watermark: str | None,
    rate_limit_remaining: int | None,
    rate_limit_reset_at: str | None,
) -> None:
    with transaction(db):
        completed = job_completed_count(db, job)
        db["syncs"].update(
            job.id, {"finished_at": finished_at, "outcome": "complete", "prs_total": completed, "cursor": None}
        )
        repository = db["repositories"].get(job.repository_id)
        db["repositories"].update(
            job.repository_id,
            {
                "sync_status": "complete",
                "sync_progress": 100,
                "sync_prs_total": completed,
                "sync_prs_completed": completed,
                "sync_finished_at": finished_at,
                "last_synced_at": finished_at,
                "last_error": None,
                "sync_watermark": watermark or repository["sync_watermark"],
                "rate_limit_remaining": rate_limit_remaining,
                "rate_limit_reset_at": rate_limit_reset_at,
            },
        )


def stop_job(
    db: sqlite_utils.Database,
    job: SyncJob,
    *,
    status: str,
    error: str | None,
    graphql_points: int,
    rest_calls: int,
    rate_limit_remaining: int | None,
    rate_limit_reset_at: str | None,
) -> None:
    """Record a stop (rate_limited or error) that keeps the cursor for the next run."""
    with transaction(db):
        db["syncs"].update(
            job.id, {"outcome": status, "error": error, "graphql_points": graphql_points, "rest_calls": rest_calls}
        )
        db["repositories"].update(
            job.repository_id,
            {
                "sync_status": status,
                "last_error": error,
                "rate_limit_remaining": rate_limit_remaining,
                "rate_limit_reset_at": rate_limit_reset_at,
            },
        )


def record_email_status(db: sqlite_utils.Database, job_id: int, status: str) -> None:
    with transaction(db):
        db["syncs"].update(job_id, {"email_status": status})


# --- reading back -----------------------------------------------------------------------------


def iter_pull_requests(db: sqlite_utils.Database, repository_id: int) -> Iterator[PullRequestRecord]:
    """Stream a repository's PRs with their reviews, ordered by number, without loading them all."""
    reviews_sql = (
        "SELECT r.author, r.state, r.submitted_at, r.pull_request_id FROM reviews r "
        "JOIN pull_requests p ON p.id = r.pull_request_id WHERE p.repository_id = ? ORDER BY p.number, r.id"
    )
    prs_sql = (
        "SELECT id, number, " + ", ".join(c for c in _PR_COLUMNS if c != "sync_id")
        + " FROM pull_requests WHERE repository_id = ? ORDER BY number"
    )
    reviews = db.conn.execute(reviews_sql, [repository_id])
    pending = reviews.fetchone()
    for row in db.conn.execute(prs_sql, [repository_id]):
        pr_id = row[0]
        own: list[ReviewRecord] = []
        while pending is not None and pending[3] == pr_id:
            # model_construct: these rows were validated on the way in; re-validating 50,000 costs seconds.
            own.append(ReviewRecord.model_construct(author=pending[0], state=pending[1], submitted_at=pending[2]))
            pending = reviews.fetchone()
        yield _record_from_row(row, tuple(own))


def _record_from_row(row: Sequence[Any], reviews: tuple[ReviewRecord, ...]) -> PullRequestRecord:
    (_, number, title, state, is_draft, author, created_at, updated_at, closed_at, merged_at, merged_by,
     additions, deletions, changed_files, commits, base_ref, head_ref, labels, url) = row
    return PullRequestRecord.model_construct(
        number=number,
        title=title,
        state=state,
        is_draft=bool(is_draft),
        author=author,
        created_at=created_at,
        updated_at=updated_at,
        closed_at=closed_at,
        merged_at=merged_at,
        merged_by=merged_by,
        additions=additions,
        deletions=deletions,
        changed_files=changed_files,
        commits=commits,
        base_ref=base_ref,
        head_ref=head_ref,
        labels=tuple(json.loads(labels or "[]")),
        url=url,
        reviews=reviews,
    )


def replace_weekly_metrics(db: sqlite_utils.Database, repository_id: int, rows: Iterable[WeeklyMetrics]) -> None:
    with transaction(db):
        db.execute("DELETE FROM weekly_metrics WHERE repository_id = ?", [repository_id])
        db["weekly_metrics"].insert_all(
            ({"repository_id": repository_id, **row.model_dump(exclude={"author"})} for row in rows),
            batch_size=500,
        )


def weekly_metrics_rows(db: sqlite_utils.Database, repository_id: int) -> list[WeeklyMetrics]:
    rows = db["weekly_metrics"].rows_where("repository_id = ?", [repository_id], order_by="week")
    return [WeeklyMetrics(**{k: v for k, v in row.items() if k != "repository_id"}) for row in rows]
