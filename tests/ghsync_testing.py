"""Test helpers shared by the suite: constants, expected records from the fake, stored records."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import sqlite_utils
from click.testing import Result
from typer.testing import CliRunner

from ghsync.fakegithub import FakeGitHub, generate_repository, load_dataset

if TYPE_CHECKING:
    from ghsync.config import Settings
    from ghsync.models import PullRequestRecord, Repository, SyncReport
    from ghsync.service.sync import SyncHooks, TrackResult

TOKEN = "test-token-0123456789"
REPO = "acme/rockets"

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    explicit = os.environ.get("GHSYNC_SHARED_DIR")
    return Path(explicit) if explicit else REPO_ROOT.parent / "shared"


def real_dataset_paths() -> list[Path]:
    return sorted((shared_dir() / "github" / "real").glob("*.json"))


__all__ = [
    "REPO",
    "TOKEN",
    "FakeGitHub",
    "GraphQLRequests",
    "cli_flags",
    "current_job",
    "database",
    "expected_records",
    "generate_repository",
    "invoke",
    "load_dataset",
    "pull_request",
    "real_dataset_paths",
    "repository_record",
    "repository_row",
    "start_ghsync",
    "store_pull_requests",
    "stored_records",
    "sync_report",
    "track",
    "tracked",
]


def invoke(*args: object, env: dict[str, str] | None = None) -> Result:
    """Run the ghsync command line in-process (CliRunner), stdout and stderr apart."""
    from ghsync.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], env=env or {}, catch_exceptions=False)


def cli_flags(fake: FakeGitHub, db_path: Path, token: str = TOKEN) -> list[str]:
    """The options that point a command at the fake GitHub and a test database."""
    return ["--db", str(db_path), "--api-url", fake.url, "--token", token]


def tracked(fake: FakeGitHub, db_path: Path, *args: object) -> Path:
    """`ghsync track REPO --days all` through the command line; fails the test if it does not succeed."""
    result = invoke("track", REPO, "--days", "all", *args, *cli_flags(fake, db_path))
    assert result.exit_code == 0, result.stderr
    return db_path


def track(settings: Settings, *, days: str = "all", hooks: SyncHooks | None = None) -> TrackResult:
    """`track_repository` for REPO through the service, never sleeping for real."""
    from ghsync.service.sync import SyncHooks, track_repository

    return track_repository(settings, REPO, days=days, hooks=hooks or SyncHooks(sleep=lambda seconds: None))


SYNC_SCRIPT = Path(__file__).with_name("sync_subprocess.py")


def start_ghsync(fake: FakeGitHub, db: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """ghsync in a child process (tests/sync_subprocess.py), pointed at the fake and `db`; kill it at will."""
    environment = {**os.environ, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url, "GHSYNC_DB": str(db), **(env or {})}
    return subprocess.Popen(
        [sys.executable, str(SYNC_SCRIPT), *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def repository_record(full_name: str = REPO, **changes: object) -> Repository:
    """A Repository record as the store would hand it out (pending, nothing synced), with `changes`."""
    from ghsync.models import Repository, SyncStatus

    owner, name = full_name.split("/")
    fields: dict[str, object] = {
        "id": 1,
        "full_name": full_name,
        "owner": owner,
        "name": name,
        "days_back": None,
        "sync_status": SyncStatus.PENDING,
        "sync_progress": 0,
        "sync_prs_total": 0,
        "sync_prs_completed": 0,
        "sync_started_at": None,
        "sync_finished_at": None,
        "rate_limit_remaining": None,
        "rate_limit_reset_at": None,
        "last_synced_at": None,
        "last_error": None,
        "created_at": "2026-01-01T00:00:00Z",
        "sync_watermark": None,
        "current_sync_id": None,
        "notify_to": (),
    }
    fields.update(changes)
    return Repository(**fields)  # type: ignore[arg-type]


def sync_report(**changes: object) -> SyncReport:
    """A SyncReport of a completed initial sync of REPO that did nothing, with `changes`."""
    from ghsync.models import Outcome, SyncKind, SyncReport

    fields: dict[str, object] = {
        "full_name": REPO,
        "kind": SyncKind.INITIAL,
        "outcome": Outcome.COMPLETE,
        "days_back": None,
        "prs_synced": 0,
        "reviews_synced": 0,
        "prs_total": 0,
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T00:00:00Z",
        "duration_seconds": 0.0,
        "graphql_points_spent": 0,
        "rest_calls_spent": 0,
    }
    fields.update(changes)
    return SyncReport(**fields)  # type: ignore[arg-type]


def database(db_path: Path) -> sqlite_utils.Database:
    """The database file as an analyst opens it: plain SQLite, no ghsync code in between."""
    return sqlite_utils.Database(db_path)


def repository_row(db_path: Path, full_name: str = REPO) -> dict:
    rows = list(database(db_path)["repositories"].rows_where("full_name = ?", [full_name]))
    assert rows, f"{full_name} is not in {db_path}"
    return rows[0]


def current_job(db_path: Path, full_name: str = REPO) -> dict:
    """The repository's current (or last) row in `syncs`."""
    return database(db_path)["syncs"].get(repository_row(db_path, full_name)["current_sync_id"])


def expected_records(repository) -> dict[int, PullRequestRecord]:
    """What GitHub's GraphQL would hand ghsync for each of the fake's PRs, as records."""
    from ghsync.fakegithub.graphql_api import node_id
    from ghsync.models import PullRequestRecord, ReviewRecord

    owner, name = repository.owner, repository.name
    return {
        pr.number: PullRequestRecord(
            number=pr.number,
            title=pr.title,
            state=pr.state,
            is_draft=pr.is_draft,
            author=pr.author,
            author_type=None if pr.author is None else "Bot" if pr.author_is_bot else "User",
            created_at=pr.created_at,
            updated_at=pr.updated_at,
            closed_at=pr.closed_at,
            merged_at=pr.merged_at,
            merged_by=pr.merged_by,
            additions=pr.additions,
            deletions=pr.deletions,
            changed_files=pr.changed_files,
            commits=pr.commits,
            first_commit_at=(pr.first_commit_at or pr.created_at) if pr.commits else None,
            base_ref=pr.base_ref,
            head_ref=pr.head_ref,
            labels=tuple(pr.labels),
            url=f"https://github.com/{owner}/{name}/pull/{pr.number}",
            node_id=node_id("PR", repository.database_id, pr.database_id),
            database_id=pr.database_id,
            reviews=tuple(
                ReviewRecord(
                    author=r.author,
                    author_type=None if r.author is None else "Bot" if r.author_is_bot else "User",
                    state=r.state,
                    submitted_at=r.submitted_at,
                    node_id=node_id("PRR", repository.database_id, r.database_id),
                    database_id=r.database_id,
                )
                for r in pr.reviews
            ),
        )
        for pr in repository.pull_requests
    }


def stored_records(db_path, full_name=REPO):
    """What ghsync reads back for a repository, as records keyed by PR number."""
    from ghsync.store import open_store

    store = open_store(db_path, create=False)
    repository = store.get_repository(full_name)
    return {record.number: record for record in store.iter_pull_requests(repository.id)}


class GraphQLRequests:
    """The fake's before_request hook: records GraphQL requests and runs actions at the N-th one."""

    def __init__(self, fake: FakeGitHub):
        self._lock = threading.Lock()
        self.payloads: list[dict] = []
        self._actions: dict[int, list] = {}
        fake.before_request = self

    def at(self, n: int, action) -> GraphQLRequests:
        self._actions.setdefault(n, []).append(action)
        return self

    def __call__(self, path: str, payload: dict | None) -> None:
        if path != "/graphql":
            return
        with self._lock:
            self.payloads.append(payload or {})
            actions = self._actions.pop(len(self.payloads), [])
        for action in actions:
            action()

    @property
    def pages(self) -> list[dict]:
        """Requests for a page of the repository's PR list (not follow-ups for one PR's reviews)."""
        return [p for p in self.payloads if "pullRequests(" in (p.get("query") or "")]


def pull_request(number: int, *, created_at: str, **changes) -> PullRequestRecord:
    """A PR record for hand-computed tests: open, not a draft, by alice, no reviews, unless told otherwise.

    `reviews` may be given as (author, submitted_at) pairs (state APPROVED) or as ReviewRecords.
    """
    from ghsync.models import PullRequestRecord, ReviewRecord

    reviews = tuple(
        r if isinstance(r, ReviewRecord) else ReviewRecord(author=r[0], state="APPROVED", submitted_at=r[1])
        for r in changes.pop("reviews", ())
    )
    merged_at = changes.get("merged_at")
    fields = {
        "number": number,
        "title": f"PR {number}",
        "state": "MERGED" if merged_at else "OPEN",
        "is_draft": False,
        "author": "alice",
        "created_at": created_at,
        "updated_at": merged_at or created_at,
        "closed_at": merged_at,
        "merged_at": None,
        "merged_by": "bob" if merged_at else None,
        "additions": None,
        "deletions": None,
        "changed_files": None,
        "commits": None,
        "base_ref": "main",
        "head_ref": f"topic-{number}",
        "url": f"https://github.com/acme/rockets/pull/{number}",
    }
    fields.update(changes)
    return PullRequestRecord(**fields, reviews=reviews)


def store_pull_requests(db_path, full_name: str, records, *, synced_at: str | None, days_back: int | None = None):
    """Write a repository and its PRs into a real ghsync database, as a sync that finished at `synced_at`
    (None: a sync that never finished)."""
    from ghsync.models import PageProgress, RateLimitBudget, Spend, SyncKind
    from ghsync.store import open_store
    from ghsync.timefmt import iso, parse_iso

    store = open_store(db_path)
    started = synced_at or "2026-01-01T00:00:00Z"
    repository = store.add_repository(full_name, days_back=days_back, now=started)
    # A window's pass that reached the window's start (as the engine records it), else the whole history.
    since = None if days_back is None else iso(parse_iso(started).timestamp() - days_back * 86400)
    job = store.start_job(repository, kind=SyncKind.INITIAL, since=since, started_at=started)
    budget = RateLimitBudget.unlimited()
    progress = PageProgress(
        cursor=None, prs_total=0, spent=Spend(), budget=budget, window_boundary=None if since is None else ""
    )
    job = store.save_page(job, list(records), progress)
    if synced_at is not None:
        store.finish_job(job, finished_at=synced_at, spent=Spend(), budget=budget)
    store.close()
