"""Frozen records and enums that cross module borders, and the one declaration of every PR field."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict


class SyncStatus(StrEnum):
    """A repository's `sync_status`: what `status` shows and scripts read."""

    PENDING = "pending"
    SYNCING = "syncing"
    COMPLETE = "complete"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"
    UNTRACKED = "untracked"


class Outcome(StrEnum):
    """How one run of a sync job ended (a subset of SyncStatus, stored in `syncs.outcome`)."""

    COMPLETE = "complete"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"


class SyncKind(StrEnum):
    """An initial sync reads a window; an incremental one reads what changed since the watermark."""

    INITIAL = "initial"
    INCREMENTAL = "incremental"


class Phase(StrEnum):
    """The main pass reads the window; a catch-up pass re-reads what changed while it paged."""

    MAIN = "main"
    CATCHUP = "catchup"


PullRequestState = Literal["OPEN", "CLOSED", "MERGED"]


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the field registry ----------------------------------------------------------------------
# A stored field is declared once, on its record, with where GraphQL has it. The GraphQL
# selection, the parser, the store's column list and its converters all derive from these.


@dataclass(frozen=True)
class GraphQL:
    """Where a record field comes from in a GraphQL node: the selection and the path to the value."""

    selection: str
    path: tuple[str, ...] = ()

    def value_in(self, node: dict[str, Any]) -> Any:
        value: Any = node
        for key in self.path or (self.selection,):
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value


@dataclass(frozen=True)
class FieldSpec:
    """One stored scalar field of a record: its column name, SQLite type and GraphQL source."""

    name: str
    column_type: type
    nullable: bool
    source: GraphQL


def field_specs(model: type[BaseModel]) -> tuple[FieldSpec, ...]:
    """The record's fields that carry a GraphQL source, in declaration order."""
    specs = []
    for name, info in model.model_fields.items():
        source = next((m for m in info.metadata if isinstance(m, GraphQL)), None)
        if source is None:
            continue
        annotation = info.annotation
        nullable = False
        if get_origin(annotation) is not None and type(None) in get_args(annotation):
            nullable = True
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        column_type = {bool: int, int: int, float: float}.get(annotation, str)  # type: ignore[arg-type]
        specs.append(FieldSpec(name=name, column_type=column_type, nullable=nullable, source=source))
    return tuple(specs)


class ReviewRecord(Record):
    """One submitted (or pending) review; `author` is None for a deleted ("ghost") account."""

    author: Annotated[str | None, GraphQL("author { login }", ("author", "login"))]
    state: Annotated[str, GraphQL("state")]
    submitted_at: Annotated[str | None, GraphQL("submittedAt")]


class PullRequestRecord(Record):
    """A pull request with every field ghsync stores; times are GitHub's ISO-8601 UTC text."""

    number: Annotated[int, GraphQL("number")]
    title: Annotated[str, GraphQL("title")]
    state: Annotated[PullRequestState, GraphQL("state")]
    is_draft: Annotated[bool, GraphQL("isDraft")]
    author: Annotated[str | None, GraphQL("author { login }", ("author", "login"))]
    created_at: Annotated[str, GraphQL("createdAt")]
    updated_at: Annotated[str, GraphQL("updatedAt")]
    closed_at: Annotated[str | None, GraphQL("closedAt")]
    merged_at: Annotated[str | None, GraphQL("mergedAt")]
    merged_by: Annotated[str | None, GraphQL("mergedBy { login }", ("mergedBy", "login"))]
    # Nullable although GitHub's schema says Int!: recorded datasets lack them (see shared/github/real).
    additions: Annotated[int | None, GraphQL("additions")]
    deletions: Annotated[int | None, GraphQL("deletions")]
    changed_files: Annotated[int | None, GraphQL("changedFiles")]
    commits: Annotated[int | None, GraphQL("commits { totalCount }", ("commits", "totalCount"))]
    base_ref: Annotated[str, GraphQL("baseRefName")]
    head_ref: Annotated[str, GraphQL("headRefName")]
    url: Annotated[str | None, GraphQL("url")] = None
    # Connections: read with their own pagination, stored as JSON (labels) and a table (reviews).
    labels: tuple[str, ...] = ()
    reviews: tuple[ReviewRecord, ...] = ()

    @property
    def key(self) -> int:
        """What identifies the record within its repository (the engine's view of it)."""
        return self.number


PULL_REQUEST_FIELDS = field_specs(PullRequestRecord)
REVIEW_FIELDS = field_specs(ReviewRecord)


# --- what the sync engine reads and writes ---------------------------------------------------


class RateLimitState(Record):
    """What one bucket (`graphql` or `core`) of one token has left; reset_at is epoch seconds."""

    resource: str
    limit: int
    remaining: int
    used: int
    reset_at: int


@dataclass(frozen=True)
class RateLimitBudget:
    """What is left in one bucket across the token pool; remaining None means "no limit" (GHES)."""

    resource: str
    remaining: int | None
    reset_at: int | None = None
    limit: int | None = None

    @classmethod
    def unlimited(cls, resource: str = "graphql") -> RateLimitBudget:
        return cls(resource=resource, remaining=None)

    def below(self, threshold: int) -> bool:
        return self.remaining is not None and self.remaining < threshold

    def reset_iso(self) -> str | None:
        from ghsync.timefmt import iso

        return iso(self.reset_at) if self.reset_at is not None else None


@dataclass(frozen=True)
class Spend:
    """API budget spent: GraphQL points (as GitHub's `rateLimit { cost }` reports) and REST calls."""

    points: int = 0
    rest_calls: int = 0

    def __add__(self, other: Spend) -> Spend:
        return Spend(self.points + other.points, self.rest_calls + other.rest_calls)

    def __sub__(self, other: Spend) -> Spend:
        return Spend(self.points - other.points, self.rest_calls - other.rest_calls)


@dataclass(frozen=True)
class PageRequest:
    """One page of a repository's records, newest-updated first; the source picks the page size.

    count: None → no count; "all" → count every record; an ISO time → count those updated since.
    """

    owner: str
    name: str
    after: str | None = None
    count: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class Version:
    """A record's key and updated_at: enough to tell whether the stored copy is current."""

    key: int
    updated_at: str


R = TypeVar("R")


@dataclass(frozen=True)
class Page(Generic[R]):
    """A page whose records are complete (nested connections followed to their end)."""

    records: tuple[R, ...]
    has_next_page: bool
    end_cursor: str | None
    total_count: int | None
    # The newest updatedAt in the whole repository when the page was read (catch-up detection).
    head_updated_at: str | None


@dataclass(frozen=True)
class PageProgress:
    """What the engine writes with a page, in the same transaction: where to resume and how far we are."""

    cursor: str | None
    prs_total: int
    spent: Spend
    budget: RateLimitBudget


@dataclass(frozen=True)
class Repository:
    """A tracked repository as stored: its window, its sync state and the progress fields."""

    id: int
    full_name: str
    owner: str
    name: str
    days_back: int | None
    sync_status: SyncStatus
    sync_progress: int
    sync_prs_total: int
    sync_prs_completed: int
    sync_started_at: str | None
    sync_finished_at: str | None
    rate_limit_remaining: int | None
    rate_limit_reset_at: str | None
    last_synced_at: str | None
    last_error: str | None
    created_at: str
    sync_watermark: str | None
    current_sync_id: int | None
    notify_to: tuple[str, ...]
    # The remembered owner (organisation or user) that tracks it; None when tracked by hand.
    owner_id: int | None = None


@dataclass(frozen=True)
class OwnerFilters:
    """Which of an owner's repositories are tracked: archived and forks left out unless asked; globs on names."""

    include_archived: bool = False
    include_forks: bool = False
    match: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Owner:
    """A remembered organisation or user: each `sync` re-lists it and tracks new repositories with its window."""

    id: int
    login: str
    days_back: int | None
    filters: OwnerFilters
    created_at: str
    listed_at: str | None


@dataclass(frozen=True)
class ListedRepository:
    """One repository of an owner's listing, with its PR count and newest PR `updatedAt` (its head)."""

    owner: str
    name: str
    is_archived: bool
    is_fork: bool
    prs_total: int
    head_updated_at: str | None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class RepositoryHead:
    """A repository's PR count and newest PR `updatedAt`, as one cheap check read them (None: not found)."""

    full_name: str
    prs_total: int
    head_updated_at: str | None


@dataclass(frozen=True)
class RunPlan:
    """What a run over several repositories is about to sync: each one's expected PRs (0 when unknown)."""

    expected_prs: dict[str, int]


# What `status --json` prints of a repository, in this order.
STATUS_FIELDS = (
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


@dataclass(frozen=True)
class RepositoryStatus:
    """A repository's stored status plus what only the moment can tell (a live process, rows held)."""

    repository: Repository
    process_alive: bool
    prs_stored: int

    @property
    def label(self) -> str:
        """The status a person reads: a `syncing` row with no live process was interrupted."""
        if self.repository.sync_status == SyncStatus.SYNCING and not self.process_alive:
            return "interrupted"
        return str(self.repository.sync_status)

    def as_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {name: getattr(self.repository, name) for name in STATUS_FIELDS}
        row["sync_status"] = str(self.repository.sync_status)
        row["process_alive"] = self.process_alive
        row["prs_stored"] = self.prs_stored
        return row


@dataclass(frozen=True)
class SyncJob:
    """The stored state of one sync job: enough to resume it exactly after any stop."""

    id: int
    repository_id: int
    kind: SyncKind
    since: str | None
    pass_since: str | None
    phase: Phase
    cursor: str | None
    head_updated_at: str | None
    started_at: str
    prs_total: int
    spent: Spend
    runs: int


class SyncReport(Record):
    """What one sync run did; rendered by the CLI and the email notifier."""

    full_name: str
    kind: SyncKind
    outcome: Outcome
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


@dataclass(frozen=True)
class AccountRateLimit:
    """One bucket of one account, for `ghsync rate-limit` (the account's login, never its token)."""

    account: str
    resource: str
    limit: int | None
    remaining: int | None
    used: int | None
    reset_at: str | None


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
