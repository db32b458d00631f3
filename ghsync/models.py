"""Frozen records that travel between ghsync's layers: GitHub → records → store → metrics/status."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

PullRequestState = Literal["OPEN", "CLOSED", "MERGED"]
SyncStatus = Literal["pending", "syncing", "complete", "rate_limited", "error"]


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReviewRecord(Record):
    """One submitted (or pending) review; `author` is None for a deleted ("ghost") account."""

    author: str | None
    state: str
    submitted_at: str | None


class PullRequestRecord(Record):
    """A pull request with every field ghsync stores; times are GitHub's ISO-8601 UTC text."""

    number: int
    title: str
    state: PullRequestState
    is_draft: bool
    author: str | None
    created_at: str
    updated_at: str
    closed_at: str | None
    merged_at: str | None
    merged_by: str | None
    # Nullable although GitHub's schema says Int!: recorded datasets lack them (see shared/github/real).
    additions: int | None
    deletions: int | None
    changed_files: int | None
    commits: int | None
    base_ref: str
    head_ref: str
    labels: tuple[str, ...] = ()
    url: str | None = None
    reviews: tuple[ReviewRecord, ...] = ()


class RateLimitState(Record):
    """What one bucket (`graphql` or `core`) of one token has left; reset_at is epoch seconds."""

    resource: str
    limit: int
    remaining: int
    used: int
    reset_at: int


class SyncReport(Record):
    """What one sync run did; rendered by the CLI and the email notifier."""

    full_name: str
    kind: Literal["initial", "incremental"]
    outcome: SyncStatus
    days_back: int | None
    prs_synced: int
    reviews_synced: int
    prs_total: int
    started_at: str
    finished_at: str
    duration_seconds: float
    graphql_points_spent: int
    rest_calls_spent: int
    rate_limit_remaining: int | None = None
    rate_limit_reset_at: str | None = None
    error: str | None = None


class WeeklyMetrics(Record):
    """One repository-week (or repository-week-author with `--by author`) of team metrics."""

    week: str
    author: str | None = None
    prs_opened: int
    authors_active: int
    prs_merged: int
    prs_closed_unmerged: int
    cycle_time_p50_hours: float | None
    cycle_time_p75_hours: float | None
    time_to_first_review_p50_hours: float | None
    review_to_merge_p50_hours: float | None
    reviews_submitted: int
    reviewers_active: int
    pr_size_p50: float | None
