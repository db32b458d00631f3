"""The records only syncing and GitHub calls exchange: pages, listings, rate-limit readings, sync reports."""

# Re-exported by ghsync.models and loaded on first use there: every command imports ghsync.models, and
# `status` needs none of these (a frozen dataclass costs ~0.7 ms to create at each start).
# No `from __future__ import annotations`, as in ghsync.models.
from dataclasses import dataclass
from typing import Generic, TypeVar

from ghsync.models import Outcome, Record, SyncKind


class RateLimitState(Record):
    """What one bucket (`graphql` or `core`) of one token has left; reset_at is epoch seconds."""

    resource: str
    limit: int
    remaining: int
    used: int
    reset_at: int


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
class RepositoryIdentity:
    """The repository a page came from, as GitHub names and numbers it: `full_name` differs from the name
    asked for when GitHub followed a rename or a transfer; the ids are None when GitHub gave none usable."""

    full_name: str
    node_id: str | None = None
    database_id: int | None = None


@dataclass(frozen=True)
class Page(Generic[R]):
    """A page whose records are complete (nested connections followed to their end)."""

    records: tuple[R, ...]
    has_next_page: bool
    end_cursor: str | None
    total_count: int | None
    # The newest updatedAt in the whole repository when the page was read (catch-up detection).
    head_updated_at: str | None
    identity: RepositoryIdentity | None = None


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


class SyncReport(Record):
    """What one sync run did; rendered by the CLI and the email notifier."""

    full_name: str
    kind: SyncKind
    outcome: Outcome
    days_back: int | None
    prs_synced: int
    reviews_synced: int
    prs_total: int  # the job's: the PRs its pass counted (a window's, an incremental's changed ones)
    started_at: str
    finished_at: str
    duration_seconds: float
    graphql_points_spent: int
    rest_calls_spent: int
    rate_limit_remaining: int | None = None
    rate_limit_reset_at: str | None = None
    error: str | None = None
    # The repository's PRs in the database once the job ended (what an email calls "in the database").
    prs_stored: int | None = None

    @property
    def prs_in_database(self) -> int:
        return self.prs_total if self.prs_stored is None else self.prs_stored


@dataclass(frozen=True)
class AccountRateLimit:
    """One bucket of one account, for `ghsync rate-limit` (the account's login, never its token)."""

    account: str
    resource: str
    limit: int | None
    remaining: int | None
    used: int | None
    reset_at: str | None
    # GitHub refused this token (401): no budget to show. (Numbers None otherwise mean "no limit", GHES.)
    rejected: bool = False
