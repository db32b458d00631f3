"""Helpers shared by the fake GitHub's tests (imported by absolute name: this folder has no __init__)."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from github import Auth, Github

from ghsync.fakegithub import FakeGitHub

logging.getLogger("github").setLevel(logging.WARNING)

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    env = os.environ.get("GHSYNC_SHARED_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared"


def real_dataset(name: str) -> Path:
    path = shared_dir() / "github" / "real" / name
    if not path.exists():
        pytest.skip(f"recorded dataset not available: {path}")
    return path


class Clock:
    """An injectable clock: starts at NOW, moves only when told."""

    def __init__(self, start: float = NOW.timestamp()):
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def pygithub(fake: FakeGitHub, token: str = "t-alice", base_url: str | None = None) -> Github:
    """PyGithub configured the way ghsync uses it: no retries, no throttling sleeps."""
    return Github(
        auth=Auth.Token(token),
        base_url=base_url or fake.url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


PR_PAGE = """
query($owner: String!, $name: String!, $first: Int!, $cursor: String) {
  rateLimit { cost limit remaining used resetAt nodeCount }
  repository(owner: $owner, name: $name) {
    pullRequests(first: $first, after: $cursor, orderBy: {field: UPDATED_AT, direction: DESC}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        number title state isDraft createdAt updatedAt closedAt mergedAt
        additions deletions changedFiles baseRefName headRefName url
        author { login } mergedBy { login }
        labels(first: 100) { nodes { name } }
        commits { totalCount }
        reviews(first: 100) { totalCount nodes { author { login } state submittedAt } }
      }
    }
  }
}
"""
