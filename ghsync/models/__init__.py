"""Frozen records and enums that cross module borders, and the one declaration of every PR field."""

# No `from __future__ import annotations`: every command imports these records, and pydantic would
# compile and evaluate each string annotation at import; the two names used before they exist are quoted.
from dataclasses import dataclass
from enum import StrEnum
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple, get_args, get_origin

from annotated_types import Interval
from pydantic import AliasPath, BaseModel, BeforeValidator, ConfigDict, StringConstraints


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


# SQLite stores integers as signed 64-bit: a larger one would overflow on insert.
SQLITE_INT_MIN, SQLITE_INT_MAX = -(2**63), 2**63 - 1


def _digits_to_int(value: Any) -> Any:
    """GitHub's BigInt arrives as decimal digits: make them an int (anything else is left for strict
    validation to refuse)."""
    if value.__class__ is str and value.isascii() and value.isdigit():
        return int(value)
    return value


class Record(BaseModel):
    # defer_build: a record's validator is built on its first validation, not at import; every command
    # imports these records, most never validate one (status reads, the store constructs unvalidated).
    # A registry field's alias is its GraphQL path (see __pydantic_init_subclass__): the parser validates
    # a PR node into its record with `by_alias=True`; everywhere else, only field names are accepted.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, validate_by_alias=False)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Give each registry field what reading it from a GraphQL node needs, all derived from its
        GraphQL annotation: its path as validation alias (read by `model_validate(node, by_alias=True,
        by_name=False)`), GitHub's BigInt digits as an int, and SQLite's integer bounds. Done before the
        validator exists (defer_build), so it is built with them."""
        super().__pydantic_init_subclass__(**kwargs)
        for info in cls.model_fields.values():
            source = next((m for m in info.metadata if isinstance(m, GraphQL)), None)
            if source is None or info.validation_alias is not None:  # a subclass's copy is done already
                continue
            first, *rest = source.path or (source.selection,)
            info.validation_alias = AliasPath(str(first), *rest)
            if source.big_int:
                info.metadata.append(BeforeValidator(_digits_to_int))
            if bool not in (info.annotation, *get_args(info.annotation)) and int in (
                info.annotation,
                *get_args(info.annotation),
            ):
                info.metadata.append(Interval(ge=SQLITE_INT_MIN, le=SQLITE_INT_MAX))  # what SQLite can store


# --- the field registry ----------------------------------------------------------------------
# A stored field is declared once, on its record, with where GraphQL has it. The GraphQL
# selection, the parser, the store's column list and its converters all derive from these.


@dataclass(frozen=True)
class GraphQL:
    """Where a record field comes from in a GraphQL node: the selection and the path to the value."""

    selection: str
    path: tuple[str | int, ...] = ()
    # GitHub's BigInt scalar arrives as a decimal string; reading it makes it an int.
    big_int: bool = False


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


# An account's login as GitHub gives it: letters, digits, hyphens, and for managed users (EMU) an
# underscore; never a space or a control character, which would then reach terminals, CSV and lock names.
LOGIN_PATTERN = r"^[^\x00-\x20\x7f-\x9f]{1,100}$"
Login = Annotated[str, StringConstraints(pattern=LOGIN_PATTERN)]

# `author { __typename login }`: the login and the kind of actor (User, Bot, Organization, Mannequin).
_AUTHOR = "author { __typename login }"
# ONE `commits` field: its count and the first commit (the connection is oldest first). Two `commits`
# fields with different arguments would conflict in GraphQL; the page's cost is unchanged.
_COMMITS = "commits(first: 1) { totalCount nodes { commit { authoredDate } } }"


class ReviewRecord(Record):
    """One submitted (or pending) review; `author` is None for a deleted ("ghost") account.

    A nullable field defaults to None: GraphQL leaves a path out when a step on it is null
    (`author { login }` of a deleted account)."""

    author: Annotated[Login | None, GraphQL(_AUTHOR, ("author", "login"))] = None
    # GraphQL's __typename of the author: "User", "Bot", "Organization", "Mannequin"; None when deleted.
    author_type: Annotated[str | None, GraphQL(_AUTHOR, ("author", "__typename"))] = None
    state: Annotated[str, GraphQL("state")]
    submitted_at: Annotated[str | None, GraphQL("submittedAt")] = None
    # GitHub's own ids, so rows join with other GitHub data: the node id, and the database id (a BigInt
    # serialized as a string; `databaseId` is deprecated, Int-only). None in data recorded without them.
    node_id: Annotated[str | None, GraphQL("id")] = None
    database_id: Annotated[int | None, GraphQL("fullDatabaseId", big_int=True)] = None


class PullRequestRecord(Record):
    """A pull request with every field ghsync stores; times are GitHub's ISO-8601 UTC text."""

    number: Annotated[int, GraphQL("number")]
    title: Annotated[str, GraphQL("title")]
    state: Annotated[PullRequestState, GraphQL("state")]
    is_draft: Annotated[bool, GraphQL("isDraft")]
    author: Annotated[Login | None, GraphQL(_AUTHOR, ("author", "login"))] = None
    author_type: Annotated[str | None, GraphQL(_AUTHOR, ("author", "__typename"))] = None
    created_at: Annotated[str, GraphQL("createdAt")]
    updated_at: Annotated[str, GraphQL("updatedAt")]
    closed_at: Annotated[str | None, GraphQL("closedAt")] = None
    merged_at: Annotated[str | None, GraphQL("mergedAt")] = None
    merged_by: Annotated[Login | None, GraphQL("mergedBy { login }", ("mergedBy", "login"))] = None
    # Nullable although GitHub's schema says Int!: recorded datasets lack them (see shared/github/real).
    additions: Annotated[int | None, GraphQL("additions")] = None
    deletions: Annotated[int | None, GraphQL("deletions")] = None
    changed_files: Annotated[int | None, GraphQL("changedFiles")] = None
    commits: Annotated[int | None, GraphQL(_COMMITS, ("commits", "totalCount"))] = None
    # The authored date of the PR's first commit (None without commits).
    first_commit_at: Annotated[str | None, GraphQL(_COMMITS, ("commits", "nodes", 0, "commit", "authoredDate"))] = None
    base_ref: Annotated[str, GraphQL("baseRefName")]
    head_ref: Annotated[str, GraphQL("headRefName")]
    url: Annotated[str | None, GraphQL("url")] = None
    node_id: Annotated[str | None, GraphQL("id")] = None
    database_id: Annotated[int | None, GraphQL("fullDatabaseId", big_int=True)] = None
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


@dataclass(frozen=True)
class RateLimitBudget:
    """What is left in one bucket across the token pool; remaining None means "no limit" (GHES)."""

    resource: str
    remaining: int | None
    reset_at: int | None = None
    limit: int | None = None

    @classmethod
    def unlimited(cls, resource: str = "graphql") -> "RateLimitBudget":
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

    def __add__(self, other: "Spend") -> "Spend":
        return Spend(self.points + other.points, self.rest_calls + other.rest_calls)

    def __sub__(self, other: "Spend") -> "Spend":
        return Spend(self.points - other.points, self.rest_calls - other.rest_calls)


@dataclass(frozen=True)
class PageProgress:
    """What the engine writes with a page, in the same transaction: where to resume and how far we are."""

    cursor: str | None
    prs_total: int
    spent: Spend
    budget: RateLimitBudget
    # Set on the page where the main pass reached the window's start: the cursor that page was asked
    # with ("" for the first page). A later, wider window resumes from there (see WindowCoverage).
    window_boundary: str | None = None
    # GitHub's ids of the repository, as the page read them: stored where none are yet.
    node_id: str | None = None
    database_id: int | None = None


@dataclass(frozen=True)
class WindowCoverage:
    """Which PRs the store holds completely (as of the watermark): the whole history, or every PR updated
    since `since`, the pass that read them having stopped at `cursor` ("" = the first page)."""

    whole_history: bool
    since: str | None = None
    cursor: str | None = None

    def covers(self, window_start: str | None) -> bool:
        if self.whole_history:
            return True
        return window_start is not None and self.since is not None and self.since <= window_start


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
    # What the stored PRs cover, for a wider window to fetch only the older part.
    coverage: WindowCoverage | None = None
    # The instant from which the stored data is complete (None until an initial sync completes):
    # metrics show only weeks that start at or after it.
    coverage_start: str | None = None

    # The remembered owner (organisation or user) that tracks it; None when tracked by hand.
    owner_id: int | None = None
    # GitHub's ids of the repository synced under this name (None until a page or the check read them).
    node_id: str | None = None
    database_id: int | None = None

    @property
    def whole_history_stored(self) -> bool:
        """Every PR it ever had is stored (a sync of the whole history, or a window that held them all): no
        PR of it can be missing from any week, so it bounds no week of metrics or digests."""
        return self.coverage is not None and self.coverage.whole_history


@dataclass(frozen=True)
class LeftOutRepository:
    """A repository a team names that is untracked (archived, deleted, untracked by hand): its data stops at
    its last sync, so the team's metrics and digests leave it out, and say so in this one line."""

    full_name: str
    reason: str | None  # as stored when it was untracked (repositories.last_error)

    @property
    def note(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return f"{self.full_name} is untracked{why}, so it is left out: `ghsync track {self.full_name}` counts it again"


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
    "coverage_start",
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
    # It started at a stored window's cursor (a wider window fetching only the older part).
    from_window_cursor: bool = False
    # Incremental: records updated from then on are written even when the stored copy has the same updatedAt
    # (see engine.rewrite_from).
    rewrite_from: str | None = None


class MetricReview(NamedTuple):
    """What metrics read of a submitted (not PENDING) review: its author and when, in epoch seconds."""

    author: str | None
    author_type: str | None
    submitted: float


class MetricPullRequest(NamedTuple):
    """What metrics read of a pull request, times in epoch seconds: only these columns are loaded, as
    plain tuples, so that metrics over 50,000 PRs stay well under a second."""

    repository: str
    number: int
    author: str | None
    author_type: str | None
    state: str
    created: float
    closed: float | None
    merged: float | None
    additions: int | None
    deletions: int | None
    first_commit: float | None
    reviews: tuple[MetricReview, ...]


@dataclass(frozen=True)
class Team:
    """A team: from the config file (members and/or repos) or imported from GitHub (members only).

    members None: anyone; repos None: every tracked repository.
    """

    name: str
    source: str  # "config" or "github ORG/SLUG"
    members: tuple[str, ...] | None
    repos: tuple[str, ...] | None = None
    imported_at: str | None = None


class WeeklyMetrics(Record):
    """One week of team metrics for a scope, or one (week, key) row with `--by repo|author|team`."""

    week: str
    # False for the week in progress (the current one): its numbers will still change.
    complete: bool = True
    repository: str | None = None
    author: str | None = None
    team: str | None = None
    # The metrics, in the order of the METRICS registry (ghsync.metrics), which defines each.
    prs_opened: int
    authors_active: int
    prs_merged: int
    prs_closed_unmerged: int
    cycle_time_p50_hours: float | None
    cycle_time_p75_hours: float | None
    cycle_time_p90_hours: float | None = None
    coding_time_p50_hours: float | None = None
    pr_size_p50: float | None
    time_to_first_review_p50_hours: float | None
    review_to_merge_p50_hours: float | None
    merged_without_review: int = 0
    reviews_submitted: int
    reviewers_active: int
    review_top_share: float | None = None


class DeliveryStatus(StrEnum):
    """How one digest delivery to one channel ended (stored in `digests.status`)."""

    SENT = "sent"
    FAILED = "failed"
    # Recorded before the send, settled after: a database too busy to record the attempt stops the run before
    # anything is sent (a retried cron job then sends once). Left `sending`, it counts as not sent.
    SENDING = "sending"


@dataclass(frozen=True)
class DigestDelivery:
    """One attempt to deliver a scope's weekly digest to one channel (`email` or `slack`).

    scope: the scope's stable key; week: its Monday (YYYY-MM-DD); detail: the recipients, or why it failed.
    """

    scope: str
    week: str
    channel: str
    sent_at: str
    status: DeliveryStatus
    detail: str | None = None


# Declared in ghsync.models.syncing and loaded on first use: `status` and the other commands that only
# read the database need none of them, and each costs its creation at every start.
_SYNCING = frozenset(
    {
        "AccountRateLimit",
        "ListedRepository",
        "Page",
        "PageRequest",
        "RateLimitState",
        "RepositoryHead",
        "RepositoryIdentity",
        "RunPlan",
        "SyncReport",
        "Version",
    }
)


def __getattr__(name: str) -> Any:
    if name in _SYNCING:
        return getattr(import_module("ghsync.models.syncing"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    from ghsync.models.syncing import AccountRateLimit as AccountRateLimit
    from ghsync.models.syncing import ListedRepository as ListedRepository
    from ghsync.models.syncing import Page as Page
    from ghsync.models.syncing import PageRequest as PageRequest
    from ghsync.models.syncing import RateLimitState as RateLimitState
    from ghsync.models.syncing import RepositoryHead as RepositoryHead
    from ghsync.models.syncing import RepositoryIdentity as RepositoryIdentity
    from ghsync.models.syncing import RunPlan as RunPlan
    from ghsync.models.syncing import SyncReport as SyncReport
    from ghsync.models.syncing import Version as Version
