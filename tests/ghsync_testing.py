"""Test helpers shared by the suite: constants, expected records from the fake, stored records."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import sqlite_utils
from click.testing import Result
from typer.testing import CliRunner

from ghsync.fakegithub import FakeGitHub, generate_repository, load_dataset

if TYPE_CHECKING:
    from ghsync.models import PullRequestRecord

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
    "real_dataset_paths",
    "repository_row",
    "stored_records",
]


def invoke(*args: object, env: dict[str, str] | None = None) -> Result:
    """Run the ghsync command line in-process (CliRunner), stdout and stderr apart."""
    from ghsync.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], env=env or {}, catch_exceptions=False)


def cli_flags(fake: FakeGitHub, db_path: Path, token: str = TOKEN) -> list[str]:
    """The options that point a command at the fake GitHub and a test database."""
    return ["--db", str(db_path), "--api-url", fake.url, "--token", token]


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
    from ghsync.models import PullRequestRecord, ReviewRecord

    owner, name = repository.owner, repository.name
    return {
        pr.number: PullRequestRecord(
            number=pr.number,
            title=pr.title,
            state=pr.state,
            is_draft=pr.is_draft,
            author=pr.author,
            created_at=pr.created_at,
            updated_at=pr.updated_at,
            closed_at=pr.closed_at,
            merged_at=pr.merged_at,
            merged_by=pr.merged_by,
            additions=pr.additions,
            deletions=pr.deletions,
            changed_files=pr.changed_files,
            commits=pr.commits,
            base_ref=pr.base_ref,
            head_ref=pr.head_ref,
            labels=tuple(pr.labels),
            url=f"https://github.com/{owner}/{name}/pull/{pr.number}",
            reviews=tuple(
                ReviewRecord(author=r.author, state=r.state, submitted_at=r.submitted_at) for r in pr.reviews
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
