"""What each command does: the only composer of settings, store, GitHub source, engine and notifier.

Every function takes Settings and returns typed results; nothing here prints, prompts or exits.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

from pydantic import SecretStr

from ghsync.config import Settings, default_db_path
from ghsync.digest.build import DEFAULT_CHART_WEEKS, Digest, ScopeRepository
from ghsync.engine import NOTHING_SPENT, EngineHooks, Source, job_report, next_request, sync_repository
from ghsync.errors import GhsyncError, NotTracked, RepositoryLocked, StoreError, UsageError
from ghsync.models import (
    AccountRateLimit,
    DeliveryStatus,
    DigestDelivery,
    ListedRepository,
    Outcome,
    Owner,
    OwnerFilters,
    PageRequest,
    PullRequestRecord,
    RateLimitBudget,
    Repository,
    RepositoryHead,
    RepositoryStatus,
    RunPlan,
    Spend,
    SyncKind,
    SyncReport,
    SyncStatus,
    Team,
    WeeklyMetrics,
)
from ghsync.store import SqliteStore, open_store
from ghsync.store.lock import digest_lock, is_locked, repository_lock
from ghsync.timefmt import iso, parse_iso_or_none
from ghsync.validate import parse_days, parse_globs, parse_owner, parse_repository_slug

if TYPE_CHECKING:
    from ghsync.metrics import Grouping, PeopleFilter
    from ghsync.models import MetricPullRequest


class PullRequestSource(Source[PullRequestRecord], Protocol):
    """The engine's Source for pull requests, plus the one REST check `track` makes first."""

    def check_repository(self, full_name: str) -> tuple[str | None, int | None]:
        """Raise if the repository cannot be read; else GitHub's (node_id, database id) for it."""
        ...

    def expect(self, planned: Sequence[tuple[PageRequest, int]]) -> None: ...

    def list_owner(self, login: str, *, include_forks: bool) -> tuple[str, list[ListedRepository]]: ...

    def repository_heads(self, full_names: Sequence[str]) -> dict[str, RepositoryHead] | None: ...

    def use_price(self, count_only_free: bool | None, remember: Callable[[bool], None]) -> None: ...


def _share_prices(settings: Settings, store: SqliteStore, source: PullRequestSource, hooks: SyncHooks) -> None:
    """What earlier runs learned of this API host's prices, and where this run keeps what it learns."""

    def remember(count_only_free: bool) -> None:
        store.remember_api_price(settings.api_url, count_only_free=count_only_free, now=iso(hooks.clock()))

    source.use_price(store.api_price(settings.api_url), remember)


@dataclass(frozen=True)
class SyncHooks:
    """The seams a caller drives a sync through: progress, waiting, warnings, clock and sleep."""

    on_progress: Callable[[Repository], None] = field(default=lambda repository: None)
    # None: a rate-limit stop ends the run; otherwise called with the seconds to wait and the budget.
    on_wait: Callable[[float, RateLimitBudget], None] | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    on_warning: Callable[[str], None] = field(default=lambda message: None)
    # Called once before a run syncs several repositories (a progress display shows one bar for all).
    on_run: Callable[[RunPlan], None] = field(default=lambda plan: None)


@dataclass(frozen=True)
class TrackResult:
    full_name: str
    # None when the repository was already tracked and nothing changed (see `message`).
    report: SyncReport | None
    message: str = ""

    @property
    def already_tracked(self) -> bool:
        return self.report is None


class SyncOutcome(NamedTuple):
    """One repository's result in `ghsync sync`: a report, or the error that stopped it."""

    full_name: str
    report: SyncReport | None
    error: GhsyncError | None = None


Breakdown = Literal["repo", "author", "team"]


@dataclass(frozen=True)
class MetricsResult:
    """Weekly rows of a scope (one or more repositories, maybe one team's PRs), only of covered weeks."""

    # What the rows cover, for a title: "octo/api", "3 repositories", "team platform (2 repositories)".
    full_name: str
    rows: list[WeeklyMetrics]
    repositories: tuple[str, ...] = ()
    # The instant from which every repository in scope has complete data (the latest of theirs), and
    # the repository it is the coverage of.
    coverage_start: str | None = None
    coverage_repository: str | None = None
    # Weeks of the asked window left out because they start before coverage_start, and what widens it.
    weeks_left_out: int = 0
    widen_hint: str | None = None
    # Repositories in scope whose first sync has not completed: their data may be partial.
    not_covered: tuple[str, ...] = ()


@dataclass(frozen=True)
class TeamImportResult:
    team: Team
    points_spent: int


def _require_tokens(settings: Settings) -> list[str]:
    tokens = settings.github_tokens()
    if not tokens:
        raise UsageError(
            "no GitHub token: run `gh auth login` (ghsync asks `gh auth token`), set GH_TOKEN or GITHUB_TOKEN, "
            "or pass --token"
        )
    return tokens


def _open_source(settings: Settings, hooks: SyncHooks, store: SqliteStore | None = None) -> PullRequestSource:
    from ghsync.github.pulls import open_source  # imports PyGithub: only commands that talk to GitHub pay for it

    source = open_source(
        _require_tokens(settings),
        api_url=settings.api_url,
        threshold=settings.min_remaining,
        sleep=hooks.sleep,
        clock=hooks.clock,
        on_warning=hooks.on_warning,
        request_timeout=settings.request_timeout,
        allow_insecure_http=settings.allow_insecure_http,
    )
    _check_threshold(settings, source.budget())
    if store is not None:
        _share_prices(settings, store, source, hooks)
    return source


def _check_threshold(settings: Settings, budget: RateLimitBudget) -> None:
    """A threshold above the bucket's size could never be met: every run would stop (or wait) forever."""
    if budget.limit is not None and settings.min_remaining > budget.limit:
        raise UsageError(
            f"--min-remaining {settings.min_remaining} is above the GraphQL budget's limit ({budget.limit} points "
            "an hour): choose a smaller threshold"
        )


def _open_store(settings: Settings, *, create: bool = False) -> SqliteStore:
    return open_store(settings.db, create=create, create_parent=create and settings.db == default_db_path())


def _existing_store(settings: Settings) -> SqliteStore | None:
    """The database for a command that only reads (or has nothing to do without one): None if absent.

    Nothing tracked yet is an empty state, not an error, and a read must not create the file."""
    if str(settings.db) != ":memory:" and not settings.db.exists():
        return None
    return _open_store(settings)


EMAIL_NOT_CONFIGURED = (
    "email is not configured: set GHSYNC_SMTP_HOST (and GHSYNC_SMTP_FROM, ...; see `ghsync notify-test`)"
)
NOTHING_TRACKED = "No repositories tracked yet. Start with: ghsync track OWNER/REPO"


def _recipients(addresses: Sequence[str]) -> list[str]:
    """`--notify` addresses, checked before anything is stored: a bad one is bad usage (exit 2)."""
    from ghsync.notify import parse_recipients

    try:
        return list(parse_recipients(list(addresses)))
    except ValueError as error:
        raise UsageError(f"--notify: {error}") from None


def _window_widens(old: int | None, new: int | None) -> bool:
    if old is None:
        return False
    return new is None or new > old


def track_repository(
    settings: Settings,
    slug: str,
    *,
    days: str | int | None,
    notify_to: Sequence[str] = (),
    hooks: SyncHooks | None = None,
) -> TrackResult:
    """Record a repository and run its initial sync in the foreground.

    `days` None means "the default (30) for a new repository, unchanged for a tracked one".
    """
    hooks = hooks or SyncHooks()
    full_name = parse_repository_slug(slug, settings.github_host())
    days_back = parse_days(days)
    recipients = _recipients(notify_to)
    _require_tokens(settings)
    if recipients and not settings.smtp().enabled:
        hooks.on_warning(f"--notify {', '.join(recipients)} is kept, but {EMAIL_NOT_CONFIGURED}")
    store = _open_store(settings, create=True)
    # Everything happens under the repository's lock: a running sync's window and job must not
    # change under it, and a second `track` (even of a new repository) hears that one is running.
    with repository_lock(settings.db, full_name):
        existing = store.find_repository(full_name)
        if existing is None:
            source = _open_source(settings, hooks, store)
            before = source.spent()
            # One REST call (the core bucket, not GraphQL points): a clear error before anything is written.
            node_id, database_id = source.check_repository(full_name)
            repository = store.add_repository(
                full_name,
                days_back=days_back,
                now=iso(hooks.clock()),
                notify_to=recipients,
                node_id=node_id,
                database_id=database_id,
            )
            # The check is part of the first sync's cost (`syncs.rest_calls`), as the README says.
            check = source.spent() - before
            return TrackResult(full_name, _sync_one(settings, store, source, repository, hooks, spent_before=check))

        if days is None:
            days_back = existing.days_back
        unchanged = (
            existing.sync_status != SyncStatus.UNTRACKED
            and existing.days_back == days_back
            and (not recipients or tuple(recipients) == existing.notify_to)
        )
        if unchanged:
            window = "the whole history" if days_back is None else f"the last {days_back} days"
            return TrackResult(
                existing.full_name,
                None,
                f"{existing.full_name} is already tracked ({window}, {existing.sync_status}); "
                "nothing changed. Run `ghsync sync` to update it.",
            )
        return _change_window(settings, store, existing, days_back, recipients, hooks)


def _change_window(
    settings: Settings,
    store: SqliteStore,
    existing: Repository,
    days_back: int | None,
    recipients: Sequence[str],
    hooks: SyncHooks,
) -> TrackResult:
    """A tracked repository's new window (or recipients), its lock held.

    Narrowing keeps the stored PRs and fetches nothing. Widening fetches only the older part: a job that
    starts where the stored window's pass stopped and stops at the new window's start, leaving the
    watermark (and so the next incremental sync) alone. Without a recorded coverage (a database from
    before m005, or a sync that never completed) the repository is synced again from the top.
    """
    from ghsync.engine import window_start

    name = existing.full_name
    settled = existing.sync_status == SyncStatus.COMPLETE and store.current_job(existing) is None
    coverage = existing.coverage
    if not _window_widens(existing.days_back, days_back):
        repository = store.retrack(existing, days_back=days_back, notify_to=recipients or None, restart=False)
        if existing.days_back != days_back and settled:
            kept = store.stored_pull_request_count(existing.id)
            return TrackResult(
                name,
                None,
                f"{name}: window narrowed to {_window_words(days_back)}; the {kept:,} stored PRs are kept "
                "(metrics read every stored PR) and nothing was fetched",
            )
        return TrackResult(name, _sync_one(settings, store, _open_source(settings, hooks, store), repository, hooks))

    start = window_start(days_back, hooks.clock())
    if settled and coverage is not None and coverage.covers(start):
        store.retrack(existing, days_back=days_back, notify_to=recipients or None, restart=False)
        return TrackResult(
            name,
            None,
            f"{name}: window widened to {_window_words(days_back)}; its PRs are already stored, nothing to fetch",
        )
    source = _open_source(settings, hooks, store)
    if settled and coverage is not None and coverage.cursor is not None:
        repository = store.retrack(existing, days_back=days_back, notify_to=recipients or None, restart=False)
        store.start_job(
            repository, kind=SyncKind.INITIAL, since=start, started_at=iso(hooks.clock()), cursor=coverage.cursor
        )
        repository = store.repository(existing.id)
    else:
        repository = store.retrack(existing, days_back=days_back, notify_to=recipients or None, restart=True)
    return TrackResult(name, _sync_one(settings, store, source, repository, hooks))


def _window_words(days_back: int | None) -> str:
    return "the whole history" if days_back is None else f"the last {days_back} days"


# Records a changed repository's first incremental page should hold when nothing says how many changed:
# a few changed PRs plus the older one that shows the pass has ended (four records cost 12 requests).
INCREMENTAL_GUESS = 4


@dataclass(frozen=True)
class Untracked:
    """A repository an owner no longer tracks (archived, gone, filtered out): its data is kept."""

    full_name: str
    reason: str


@dataclass
class SyncRun:
    """What `sync` or `track OWNER` did: each synced repository's outcome, the repositories a cheap check
    found unchanged (no pages read), and those an owner stopped tracking. Iterating yields the outcomes."""

    outcomes: list[SyncOutcome] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    untracked: list[Untracked] = field(default_factory=list)
    message: str = ""

    def __iter__(self) -> Iterator[SyncOutcome]:
        return iter(self.outcomes)

    def __len__(self) -> int:
        return len(self.outcomes)


# A candidate's head as a cheap check read it; _UNKNOWN: not checked (sync it).
_UNKNOWN = "?"


@dataclass(frozen=True)
class _Candidate:
    repository: Repository
    head: str | None = _UNKNOWN
    prs_total: int | None = None


def sync_tracked(settings: Settings, slugs: Sequence[str] = (), *, hooks: SyncHooks | None = None) -> SyncRun:
    """Re-list remembered owners, check every tracked repository's head cheaply, and sync those that
    changed (resuming interrupted ones); every repository is tried, each outcome reported."""
    hooks = hooks or SyncHooks()
    names = [parse_repository_slug(slug, settings.github_host()) for slug in slugs]
    store = _open_store(settings) if names else _existing_store(settings)
    if store is None:
        return SyncRun()  # nothing tracked, and no database created by asking
    if names:
        repositories = [store.get_repository(name) for name in names]
        owners: list[Owner] = []
    else:
        repositories = store.list_repositories()
        owners = store.list_owners()
    repositories = [r for r in repositories if r.sync_status != SyncStatus.UNTRACKED]
    if not repositories and not owners:
        # Nothing to do is not a failure: cron must not mail on every run before the first `track`.
        return SyncRun()
    source = _open_source(settings, hooks, store)
    run = SyncRun()
    candidates: list[_Candidate] = []
    owner_ids = {owner.id for owner in owners}
    for owner in owners:
        try:
            login, listed = source.list_owner(owner.login, include_forks=owner.filters.include_forks)
        except GhsyncError as error:
            run.outcomes.append(SyncOutcome(owner.login, None, error))
            owner_ids.discard(owner.id)  # its repositories are still synced, unchecked
            continue
        found, untracked = _refresh_owner(settings, store, owner, login, listed, hooks, adopt_untracked=False)
        candidates += found
        run.untracked += untracked
    by_hand = [r for r in repositories if r.owner_id not in owner_ids]
    candidates += _check_heads(source, by_hand)
    return _run(settings, store, source, candidates, hooks, run)


def _check_heads(source: PullRequestSource, repositories: list[Repository]) -> list[_Candidate]:
    """Repositories tracked one by one: one aliased 1-point request reads 100 heads. For a single
    repository the check does not pay (its incremental page reads the head too)."""
    if len(repositories) < 2:
        return [_Candidate(r) for r in repositories]
    heads = source.repository_heads([r.full_name for r in repositories])
    if heads is None:
        return [_Candidate(r) for r in repositories]
    return [
        _Candidate(r, heads[r.full_name].head_updated_at, heads[r.full_name].prs_total)
        if r.full_name in heads
        else _Candidate(r)
        for r in repositories
    ]


def owner_filter_reason(listed: ListedRepository, filters: OwnerFilters) -> str | None:
    """None when the owner's filters keep this repository; otherwise why they leave it out."""
    if listed.is_archived and not filters.include_archived:
        return "archived on GitHub"
    if listed.is_fork and not filters.include_forks:
        return "a fork"
    name = listed.name.lower()
    if filters.match and not any(fnmatch.fnmatchcase(name, glob.lower()) for glob in filters.match):
        return f"does not match --match {' '.join(filters.match)}"
    excluded = next((glob for glob in filters.exclude if fnmatch.fnmatchcase(name, glob.lower())), None)
    if excluded is not None:
        return f"matches --exclude {excluded}"
    return None


def _refresh_owner(
    settings: Settings,
    store: SqliteStore,
    owner: Owner,
    login: str,
    listed: list[ListedRepository],
    hooks: SyncHooks,
    *,
    adopt_untracked: bool,
) -> tuple[list[_Candidate], list[Untracked]]:
    """Bring the owner's tracked repositories in line with its listing: new ones tracked with its window,
    those gone or filtered out untracked with the reason (data kept)."""
    now = iso(hooks.clock())
    stored = {r.full_name.lower(): r for r in store.owner_repositories(owner)}
    listed_names = set()
    candidates, untracked = [], []

    def untrack(repository: Repository, reason: str) -> None:
        if repository.sync_status == SyncStatus.UNTRACKED:
            return
        try:
            with repository_lock(settings.db, repository.full_name):
                store.mark_untracked(repository, reason)
        except RepositoryLocked:
            return  # a live sync holds it: the next run untracks it
        untracked.append(Untracked(repository.full_name, reason))

    for item in listed:
        key = item.full_name.lower()
        listed_names.add(key)
        existing = stored.get(key) or store.find_repository(item.full_name)
        reason = owner_filter_reason(item, owner.filters)
        if reason is not None:
            if existing is not None and existing.owner_id == owner.id:
                untrack(existing, f"{reason} (owner {login})")
            continue
        if existing is None:
            repository = store.add_repository(item.full_name, days_back=owner.days_back, now=now, owner_id=owner.id)
        elif existing.sync_status == SyncStatus.UNTRACKED and existing.owner_id != owner.id and not adopt_untracked:
            continue  # untracked by hand: only `track OWNER` itself takes it back
        elif (
            existing.owner_id != owner.id
            or existing.sync_status == SyncStatus.UNTRACKED
            or (existing.days_back != owner.days_back)
        ):
            repository = store.adopt(
                existing,
                owner,
                days_back=owner.days_back,
                restart=_window_widens(existing.days_back, owner.days_back),
            )
        else:
            repository = existing
        candidates.append(_Candidate(repository, item.head_updated_at, item.prs_total))
    for key, repository in stored.items():
        if key not in listed_names:
            untrack(repository, f"no longer listed under {login} on GitHub (deleted, transferred or made private)")
    store.owner_listed(owner, now=now)
    return candidates, untracked


def _needs_sync(store: SqliteStore, candidate: _Candidate) -> bool:
    repository = candidate.repository
    if candidate.head == _UNKNOWN or repository.sync_status != SyncStatus.COMPLETE:
        return True
    if repository.last_synced_at is None or store.current_job(repository) is not None:
        return True
    return candidate.head != repository.sync_watermark


def _expected_records(store: SqliteStore, candidate: _Candidate, request: PageRequest) -> int | None:
    """How many records the repository's next page should hold to end its pass, when it can be told."""
    if request.after is not None:
        return None
    repository = candidate.repository
    job = store.current_job(repository)
    if job is not None:
        incremental = job.kind == SyncKind.INCREMENTAL
    else:
        incremental = bool(repository.last_synced_at and repository.sync_watermark)
    if incremental:
        return INCREMENTAL_GUESS
    if candidate.prs_total is None:
        return None
    # The whole history: exactly its PRs; a window: at most its PRs, plus the one that ends the window.
    return candidate.prs_total if request.count == "all" else candidate.prs_total + 1


def _run(
    settings: Settings,
    store: SqliteStore,
    source: PullRequestSource,
    candidates: list[_Candidate],
    hooks: SyncHooks,
    run: SyncRun,
) -> SyncRun:
    """Sync the candidates that changed, their small pages fetched several per request."""
    planned_at = hooks.clock()
    to_sync = [c for c in candidates if _needs_sync(store, c)]
    unchanged = [c.repository for c in candidates if c not in to_sync]
    store.mark_current([r.id for r in unchanged], now=iso(planned_at), budget=source.budget())
    run.unchanged += [r.full_name for r in unchanged]
    planned = []
    for candidate in to_sync:
        request = next_request(store, candidate.repository, planned_at=planned_at)
        expected = _expected_records(store, candidate, request)
        if expected is not None:
            planned.append((request, expected))
    source.expect(planned)
    if len(to_sync) > 1:
        hooks.on_run(RunPlan({c.repository.full_name: c.prs_total or 0 for c in to_sync}))
    for candidate in to_sync:
        repository = candidate.repository
        try:
            with repository_lock(settings.db, repository.full_name):
                # Re-read under the lock: another process may have finished or advanced this job meanwhile.
                current = store.repository(repository.id)
                report = _sync_one(settings, store, source, current, hooks, planned_at=planned_at)
                run.outcomes.append(SyncOutcome(repository.full_name, report))
        except GhsyncError as error:
            run.outcomes.append(SyncOutcome(repository.full_name, None, error))
    return run


def track_owner(
    settings: Settings,
    argument: str,
    *,
    days: str | int | None,
    include_archived: bool = False,
    include_forks: bool = False,
    match: Sequence[str] = (),
    exclude: Sequence[str] = (),
    hooks: SyncHooks | None = None,
) -> SyncRun:
    """Remember an owner (organisation or user), track its repositories that pass the filters with the
    window, and sync them now. `days` None: 30 for a new owner, unchanged for a remembered one."""
    hooks = hooks or SyncHooks()
    login = parse_owner(argument)
    if login is None:
        raise UsageError(f"'{argument}' is a repository, not an owner: use ORG or ORG/*")
    filters = OwnerFilters(
        include_archived=include_archived,
        include_forks=include_forks,
        match=parse_globs(list(match), "--match"),
        exclude=parse_globs(list(exclude), "--exclude"),
    )
    days_back = parse_days(days)
    source = _open_source(settings, hooks)
    # Listed before the database is even opened: an unknown owner leaves it as it was (or absent).
    login, listed = source.list_owner(login, include_forks=include_forks)
    store = _open_store(settings, create=True)
    _share_prices(settings, store, source, hooks)
    remembered = store.find_owner(login)
    if days is None and remembered is not None:
        days_back = remembered.days_back
    owner = store.save_owner(login, days_back=days_back, filters=filters, now=iso(hooks.clock()))
    run = SyncRun()
    candidates, run.untracked = _refresh_owner(settings, store, owner, login, listed, hooks, adopt_untracked=True)
    if not candidates:
        run.message = (
            f"{login}: no repositories to track after filters ({len(listed)} listed); "
            "it is remembered: `ghsync sync` tracks new ones that match"
        )
        return run
    return _run(settings, store, source, candidates, hooks, run)


def untrack_owner(settings: Settings, login: str) -> tuple[str, int]:
    """Forget an owner: its repositories keep their data and are untracked; new ones are no longer picked up."""
    store = _open_store(settings)
    owner = store.find_owner(login)
    if owner is None:
        raise NotTracked(f"owner {login} is not tracked in this database: run `ghsync track {login}`")
    repositories = store.remove_owner(owner, f"owner {owner.login} untracked")
    return owner.login, sum(1 for r in repositories if r.sync_status != SyncStatus.UNTRACKED)


def _sync_one(
    settings: Settings,
    store: SqliteStore,
    source: PullRequestSource,
    repository: Repository,
    hooks: SyncHooks,
    *,
    spent_before: Spend = NOTHING_SPENT,
    planned_at: float | None = None,
) -> SyncReport:
    """Run the engine on one repository (its lock held), then refresh metrics and email as policy says."""
    engine_hooks = EngineHooks(clock=hooks.clock, on_progress=hooks.on_progress, on_wait=hooks.on_wait)
    try:
        report = sync_repository(
            store,
            source,
            repository,
            threshold=settings.min_remaining,
            hooks=engine_hooks,
            spent_before=spent_before,
            planned_at=planned_at,
        )
    except GhsyncError as error:
        failed = store.repository(repository.id)
        if failed.sync_status == SyncStatus.ERROR and failed.current_sync_id is not None:
            error_report = job_report(
                store, failed.current_sync_id, outcome=Outcome.ERROR, finished=hooks.clock(), error=str(error)
            )
            _notify(settings, store, failed, error_report, hooks)
        raise
    if report.outcome == Outcome.COMPLETE:
        # Every complete sync: the stored weeks carry `complete` (the week in progress moves on) and
        # the bots filter of the current settings, so they are recomputed even when no PR changed.
        refresh_weekly_metrics(store, repository.id, people=_people(settings, include_bots=False), today=_today(hooks))
    _notify(settings, store, store.repository(repository.id), report, hooks)
    return report


def refresh_weekly_metrics(
    store: SqliteStore, repository_id: int, *, people: PeopleFilter | None = None, today: date | None = None
) -> int:
    """Recompute the stored weekly metrics (`weekly_metrics`, for SQL users) from every stored PR;
    returns the number of weeks."""
    from ghsync.metrics import compute_weekly_metrics

    rows = compute_weekly_metrics(store.metric_pull_requests([repository_id]), people=people, today=today)
    store.replace_weekly_metrics(repository_id, rows)
    return len(rows)


def _today(hooks: SyncHooks) -> date:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(hooks.clock(), UTC).date()


def _people(settings: Settings, *, include_bots: bool) -> PeopleFilter | None:
    from ghsync.metrics import PeopleFilter

    return None if include_bots else PeopleFilter(tuple(settings.exclude_authors))


def _notify(
    settings: Settings, store: SqliteStore, repository: Repository, report: SyncReport, hooks: SyncHooks
) -> None:
    """Email the outcome when policy says so; a failure is a warning recorded with the sync, never an error."""
    from ghsync.notify import notify_sync_result, should_notify

    if not should_notify(report.outcome, report.kind, settings.notify_events()):
        return
    smtp = settings.smtp()
    recipients = list(repository.notify_to) or list(smtp.default_recipients)
    if not recipients:
        return
    if not smtp.enabled:
        # Someone asked for mail: the job says why none came (the warning was given at `track`).
        if repository.current_sync_id is not None:
            store.record_email_status(repository.current_sync_id, f"not sent: {EMAIL_NOT_CONFIGURED}")
        return
    warning = notify_sync_result(smtp, report, recipients=recipients, db_path=str(settings.db))
    if repository.current_sync_id is not None:
        store.record_email_status(repository.current_sync_id, warning or f"sent to {', '.join(recipients)}")
    if warning:
        hooks.on_warning(f"{report.full_name}: {warning}")


def database_path(settings: Settings) -> str:
    """Where the database is (or would be created), for `ghsync db-path`."""
    return str(settings.db)


def tracked_repository_names(settings: Settings, prefix: str = "") -> list[str]:
    """Tracked repository names for shell completion: read-only, cheap, never failing."""
    from ghsync.store import tracked_names

    return tracked_names(settings.db, prefix)


def repository_statuses(settings: Settings, slug: str | None = None) -> list[RepositoryStatus]:
    """The stored status of every tracked repository (or one), for `status` and its --json."""
    store = _open_store(settings) if slug is not None else _existing_store(settings)
    if store is None:
        return []
    login = parse_owner(slug) if slug is not None else None
    if login is not None:
        # An owner: every repository it has, untracked ones included (their last_error says why).
        repositories = [r for r in store.list_repositories() if r.owner.lower() == login.lower()]
        if not repositories:
            raise NotTracked(f"no repository of {login} is tracked in this database: run `ghsync track {login}`")
    elif slug is not None:
        repositories = [store.get_repository(parse_repository_slug(slug, settings.github_host()))]
    else:
        repositories = [r for r in store.list_repositories() if r.sync_status != SyncStatus.UNTRACKED]
    return [
        RepositoryStatus(
            repository=repository,
            # A `syncing` row with no live process was interrupted (killed); `ghsync sync` resumes it.
            process_alive=is_locked(settings.db, repository.full_name),
            prs_stored=store.stored_pull_request_count(repository.id),
        )
        for repository in repositories
    ]


def untrack_repository(settings: Settings, slug: str, *, purge: bool) -> str:
    store = _open_store(settings)
    repository = store.get_repository(parse_repository_slug(slug, settings.github_host()))
    with repository_lock(settings.db, repository.full_name):
        store.untrack(repository, purge=purge)  # also unlinks it from its owner: a re-listing leaves it alone
    return repository.full_name


def weekly_metrics(
    settings: Settings,
    slugs: Sequence[str] = (),
    *,
    weeks: int | None,
    since: date | None,
    until: date | None,
    by: Breakdown | None = None,
    owner: str | None = None,
    team: str | None = None,
    include_bots: bool = False,
    today: date,
) -> MetricsResult:
    """Weekly metrics of a scope, pooled over its repositories' PRs, within the asked window, and only
    of weeks starting at or after the scope's coverage (the latest coverage_start in it)."""
    from datetime import UTC, datetime

    from ghsync.metrics import compute_weekly_metrics, covered_rows, week_start, weekly_metrics_window

    store = _open_store(settings)
    teams = {t.name: t for t in _all_teams(settings, store)}
    chosen = None
    if team is not None:
        chosen = teams.get(team)
        if chosen is None:
            known = ", ".join(sorted(teams)) or "none"
            raise UsageError(f"no team named {team!r} (teams: {known}); see `ghsync team list`")
    repositories = _scope(store, slugs, owner=owner, team=chosen, host=settings.github_host())
    if since is None and weeks is None:
        weeks = 12
    first_day = since if since is not None else week_start(today) - timedelta(weeks=(weeks or 12) - 1)
    # A week's numbers come only from PRs with an event in it, and every event moves updated_at: the
    # PRs updated since the window began are enough (a day early: stored times may carry an offset).
    updated_since = iso(datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC).timestamp() - 86400)
    rows = compute_weekly_metrics(
        _team_prs(store.metric_pull_requests([r.id for r in repositories], updated_since=updated_since), chosen),
        group=_grouping(by, teams.values()),
        people=_people(settings, include_bots=include_bots),
        today=today,
    )
    window = weekly_metrics_window(rows, weeks=weeks, since=since, until=until, today=today)
    covered = [r for r in repositories if r.coverage_start is not None]
    latest = max(covered, key=lambda r: _instant(r.coverage_start or ""), default=None)
    coverage = latest.coverage_start if latest is not None else None
    kept, left_out = covered_rows(window, coverage)
    hint = None
    if latest is not None and coverage is not None and latest.days_back is not None:
        # A window narrower than the weeks asked: every asked week before coverage was left out,
        # whether or not the partial data had anything in it.
        last_day = until if until is not None else today
        asked = range((week_start(last_day) - week_start(first_day)).days // 7 + 1)
        mondays = (week_start(first_day) + timedelta(weeks=n) for n in asked)
        left_out = sum(1 for monday in mondays if _instant(f"{monday.isoformat()}T00:00:00Z") < _instant(coverage))
    if left_out and latest is not None and latest.days_back is not None:
        days = (today - first_day).days + 1
        hint = f"ghsync track {latest.full_name} --days {days}"
    return MetricsResult(
        full_name=_scope_title(repositories, chosen),
        rows=kept,
        repositories=tuple(r.full_name for r in repositories),
        coverage_start=coverage,
        coverage_repository=latest.full_name if latest is not None else None,
        weeks_left_out=left_out,
        widen_hint=hint,
        not_covered=tuple(r.full_name for r in repositories if r.coverage_start is None),
    )


def _instant(text: str) -> float:
    from ghsync.timefmt import parse_iso

    return parse_iso(text).timestamp()


def _scope(
    store: SqliteStore, slugs: Sequence[str], *, owner: str | None, team: Team | None, host: str
) -> list[Repository]:
    """The repositories metrics cover: those named, else every tracked one; narrowed by owner and team."""
    if slugs:
        repositories = [store.get_repository(parse_repository_slug(slug, host)) for slug in slugs]
    else:
        repositories = [r for r in store.list_repositories() if r.sync_status != SyncStatus.UNTRACKED]
    if owner is not None:
        repositories = [r for r in repositories if r.owner.lower() == owner.lower()]
    if team is not None and team.repos is not None:
        wanted = {name.lower() for name in team.repos}
        untracked = sorted(wanted - {r.full_name.lower() for r in store.list_repositories()})
        if untracked:
            raise UsageError(f"team {team.name}: {', '.join(untracked)} not tracked: run `ghsync track {untracked[0]}`")
        repositories = [r for r in repositories if r.full_name.lower() in wanted]
    if not repositories:
        scope = f" owned by {owner}" if owner else ""
        raise UsageError(f"no tracked repositories{scope} in this scope: run `ghsync track OWNER/REPO` first")
    return repositories


def _scope_title(repositories: Sequence[Repository], team: Team | None) -> str:
    names = repositories[0].full_name if len(repositories) == 1 else f"{len(repositories)} repositories"
    return names if team is None else f"team {team.name} ({names})"


def _members(team: Team) -> frozenset[str] | None:
    return None if team.members is None else frozenset(login.lower() for login in team.members)


def _in_team(pr: MetricPullRequest, team: Team, members: frozenset[str] | None) -> bool:
    if team.repos is not None and pr.repository.lower() not in {name.lower() for name in team.repos}:
        return False
    return members is None or (pr.author is not None and pr.author.lower() in members)


def _team_prs(prs: Iterable[MetricPullRequest], team: Team | None) -> Iterable[MetricPullRequest]:
    """A team's PRs: in its repositories (the scope already is) and authored by its members."""
    if team is None:
        return prs
    members = _members(team)
    return (pr for pr in prs if _in_team(pr, team, members))


def _grouping(by: Breakdown | None, teams: Iterable[Team]) -> Grouping | None:
    from ghsync.metrics import Grouping

    if by is None:
        return None
    if by == "repo":
        return Grouping("repository", lambda pr: (pr.repository,))
    if by == "author":
        return Grouping("author", lambda pr: (pr.author,))
    known = [(t, _members(t)) for t in teams]
    if not known:
        raise UsageError("--by team: no teams defined; add [teams.NAME] to the config file or run `ghsync team import`")
    # A PR of an author in two teams counts in both team rows (and once in a total).
    return Grouping("team", lambda pr: [t.name for t, m in known if _in_team(pr, t, m)])


def _all_teams(settings: Settings, store: SqliteStore | None) -> list[Team]:
    """Config-file teams and imported ones; the same name in both is an error naming both."""
    configured = [
        Team(name=name, source="config", members=team.members, repos=team.repos)
        for name, team in sorted(settings.teams.items())
    ]
    imported = store.imported_teams() if store is not None else []
    clash = sorted({t.name for t in configured} & {t.name for t in imported})
    if clash:
        source = next(t.source for t in imported if t.name == clash[0])
        raise UsageError(
            f"team {clash[0]!r} is defined twice: in the config file ({default_config_path_text()}) and imported "
            f"from {source.removeprefix('github ')}; rename one (`ghsync team import ... --as OTHER`)"
        )
    return sorted([*configured, *imported], key=lambda t: t.name.casefold())


def default_config_path_text() -> str:
    from ghsync.config import default_config_path

    return str(default_config_path())


def list_teams(settings: Settings) -> list[Team]:
    """Every team: from the config file and imported into the database."""
    store = _open_store(settings) if settings.db.exists() else None
    return _all_teams(settings, store)


def import_team(
    settings: Settings, spec: str, *, name: str | None = None, hooks: SyncHooks | None = None
) -> TeamImportResult:
    """Read ORG/TEAM-SLUG's members from GitHub and store them as team NAME (default the slug); again refreshes."""
    hooks = hooks or SyncHooks()
    organization, _, slug = spec.partition("/")
    if not organization or not slug or "/" in slug:
        raise UsageError(f"team must be ORG/TEAM-SLUG, not {spec!r}")
    name = name or slug
    if name in settings.teams:
        raise UsageError(
            f"team {name!r} is defined twice: in the config file ({default_config_path_text()}) and imported "
            f"from {organization}/{slug}; choose another name with --as"
        )
    from ghsync.github.teams import team_members

    source = _open_source(settings, hooks)
    before = source.spent().points
    members = team_members(source, organization, slug)  # type: ignore[arg-type]
    team = Team(name=name, source=f"github {organization}/{slug}", members=members, imported_at=iso(hooks.clock()))
    store = _open_store(settings, create=True)
    store.save_team(team, organization=organization, slug=slug)
    return TeamImportResult(team, source.spent().points - before)


def rate_limit_report(settings: Settings) -> list[AccountRateLimit]:
    """Each token's buckets, by account login — never the token itself."""
    from ghsync.github.pulls import account_rate_limits

    return account_rate_limits(
        _require_tokens(settings),
        api_url=settings.api_url,
        request_timeout=settings.request_timeout,
        allow_insecure_http=settings.allow_insecure_http,
    )


def send_test_notification(settings: Settings, to: Sequence[str]) -> list[str]:
    from ghsync.notify import send_test_email

    smtp = settings.smtp()
    recipients = list(to) or list(smtp.default_recipients)
    if not recipients:
        raise UsageError("no recipient: pass --to ADDRESS or set GHSYNC_NOTIFY_TO")
    send_test_email(smtp, to=recipients)
    return recipients


# --- the weekly digest ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestScope:
    """What a digest covers: the one thing scope resolution hands to everything after it.

    key: stable, for de-duplication (`all`, `owner:acme`, `repos:acme/a,acme/b`, `team:platform`);
    name: what people read (`platform`, `acme`, `acme/rockets`); pull_requests: a fresh stream of
    (repository full name, PR) with bots already left out, each call reading from the start.
    """

    key: str
    name: str
    repository_ids: tuple[int, ...]
    repositories: tuple[ScopeRepository, ...]
    pull_requests: Callable[[], Iterator[tuple[str, PullRequestRecord]]]
    # Who counts as a bot (None with bots included): their PRs are not in the stream, their reviews
    # are left out of the metrics.
    people: PeopleFilter | None = None


def _coverage_start(store: SqliteStore, repository: Repository, now: datetime) -> datetime | None:
    """From when the stored data is complete: the window's start (`now - days_back`), or for the whole
    history the oldest stored PR; None when nothing is stored and there is no window."""
    if repository.days_back is not None:
        return now - timedelta(days=repository.days_back)
    return parse_iso_or_none(store.first_created_at(repository.id))


def digest_scope(
    settings: Settings,
    repositories: Sequence[str],
    owner: str | None,
    team: str | None,
    *,
    now: datetime,
) -> DigestScope:
    """Resolve `digest`'s scope as `metrics` does: the named repositories, every tracked repository of
    `owner`, a team (its repositories and members), or (the default) every tracked repository; PRs by
    bots (by GitHub's __typename or the `exclude_authors` patterns) are left out.

    The only place that decides which repositories and PRs a digest covers: replace it, and the
    content, the delivery and the de-duplication follow. Raises UsageError (exit 2) for bad input.
    """
    given = sum(1 for part in (bool(repositories), owner is not None, team is not None) if part)
    if given > 1:
        raise UsageError("give repositories, --owner or --team, not several")
    store = _open_store(settings)
    tracked = [r for r in store.list_repositories() if r.sync_status != SyncStatus.UNTRACKED]
    chosen_team: Team | None = None
    if team is not None:
        teams = {t.name: t for t in _all_teams(settings, store)}
        chosen_team = teams.get(team)
        if chosen_team is None:
            known = ", ".join(sorted(teams)) or "none"
            raise UsageError(f"unknown team {team} (teams: {known}); see `ghsync team list`")
        selected = _scope(store, (), owner=None, team=chosen_team, host=settings.github_host())
        key, name = f"team:{chosen_team.name}", chosen_team.name
    elif repositories:
        chosen: dict[int, Repository] = {}
        for slug in repositories:
            repository = store.get_repository(parse_repository_slug(slug, settings.github_host()))
            chosen.setdefault(repository.id, repository)
        selected = sorted(chosen.values(), key=lambda r: r.full_name.casefold())
        key = "repos:" + ",".join(r.full_name.casefold() for r in selected)
        name = ", ".join(r.full_name for r in selected)
    elif owner is not None:
        selected = [r for r in tracked if r.owner.casefold() == owner.strip().casefold()]
        if not selected:
            raise UsageError(f"no tracked repository belongs to {owner}: run `ghsync track {owner}/REPO` first")
        key, name = f"owner:{selected[0].owner.casefold()}", selected[0].owner
    else:
        selected = tracked
        if not selected:
            raise UsageError("no repositories are tracked: run `ghsync track OWNER/REPO` first")
        key, name = "all", "all repositories"

    people = _people(settings, include_bots=False)
    members = _members(chosen_team) if chosen_team is not None else None

    def pull_requests() -> Iterator[tuple[str, PullRequestRecord]]:
        for repository in selected:
            for pr in store.iter_pull_requests(repository.id):
                if people is not None and people.is_bot(pr.author, pr.author_type):
                    continue
                if members is not None and (pr.author is None or pr.author.lower() not in members):
                    continue
                yield repository.full_name, pr

    return DigestScope(
        key=key,
        name=name,
        repository_ids=tuple(r.id for r in selected),
        repositories=tuple(
            ScopeRepository(
                full_name=r.full_name,
                coverage_start=_coverage_start(store, r, now),
                last_synced_at=parse_iso_or_none(r.last_synced_at),
            )
            for r in selected
        ),
        pull_requests=pull_requests,
        people=people,
    )


class DigestChannel(StrEnum):
    EMAIL = "email"
    SLACK = "slack"


class ChannelStatus(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # this scope's week already reached the channel
    FAILED = "failed"


@dataclass(frozen=True)
class ChannelOutcome:
    """What happened on one channel; detail: the recipients, or why it failed (secrets never in it)."""

    channel: DigestChannel
    status: ChannelStatus
    detail: str = ""


@dataclass(frozen=True)
class DigestResult:
    scope_key: str
    digest: Digest
    text: str  # the plain-text digest (what --dry-run prints)
    outcomes: tuple[ChannelOutcome, ...] = ()

    @property
    def failed(self) -> bool:
        return any(outcome.status == ChannelStatus.FAILED for outcome in self.outcomes)


@dataclass(frozen=True)
class _Channels:
    recipients: tuple[str, ...]
    webhook: SecretStr | None

    @property
    def empty(self) -> bool:
        return not self.recipients and self.webhook is None


def _digest_channels(settings: Settings, to: Sequence[str], slack_webhook: SecretStr | None) -> _Channels:
    """Where to send: bad or missing configuration is bad usage (exit 2), found before anything is sent."""
    from ghsync.notify import parse_recipients
    from ghsync.notify.slack import check_webhook_url

    smtp = settings.smtp()
    try:
        given = parse_recipients(list(to))
    except ValueError as error:
        raise UsageError(f"--to: {error}") from None
    if given and not smtp.enabled:
        raise UsageError("--to needs an SMTP server: set GHSYNC_SMTP_HOST")
    recipients = given or (smtp.default_recipients if smtp.enabled else ())
    webhook = slack_webhook if slack_webhook is not None else settings.slack_webhook
    if webhook is not None and not webhook.get_secret_value().strip():
        webhook = None
    if webhook is not None:
        check_webhook_url(webhook)
    return _Channels(tuple(recipients), webhook)


def _without_secrets(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def send_digest(
    settings: Settings,
    repositories: Sequence[str] = (),
    *,
    owner: str | None = None,
    team: str | None = None,
    to: Sequence[str] = (),
    slack_webhook: SecretStr | None = None,
    weeks: int = DEFAULT_CHART_WEEKS,
    dry_run: bool = False,
    force: bool = False,
    now: datetime,
) -> DigestResult:
    """Build the scope's digest of the last complete week before `now` and deliver it by email and/or
    Slack, each channel at most once per scope and week unless `force`; every attempt is recorded.

    A failing channel does not stop the others (its outcome says why). `dry_run`: build only —
    nothing is sent or recorded and no channel is needed.
    """
    from ghsync.digest.build import build_digest
    from ghsync.digest.render import digest_blocks, digest_email, digest_text

    if weeks < 1:
        raise UsageError(f"--weeks must be at least 1, not {weeks}")
    channels = _digest_channels(settings, to, slack_webhook)
    if channels.empty and not dry_run:
        raise UsageError(
            "no channel to send the digest to: pass --to ADDRESS (with GHSYNC_SMTP_HOST set) or --slack-webhook URL, "
            "or set GHSYNC_NOTIFY_TO / GHSYNC_SLACK_WEBHOOK"
        )
    scope = digest_scope(settings, repositories, owner, team, now=now)
    try:
        digest = build_digest(
            scope.name, scope.pull_requests(), scope.repositories, now=now, weeks=weeks, people=scope.people
        )
    except ValueError as error:
        raise StoreError(f"cannot build the digest: {error}") from None
    result = DigestResult(scope.key, digest, digest_text(digest))
    if dry_run:
        return result

    smtp = settings.smtp()
    secrets = [
        smtp.password.get_secret_value() if smtp.password is not None else "",
        channels.webhook.get_secret_value() if channels.webhook is not None else "",
    ]
    webhook = channels.webhook

    def send_email_digest() -> str:
        from ghsync.notify import send_email
        from ghsync.notify.smtp import local_hostname

        sender = smtp.from_addr or f"ghsync@{local_hostname()}"
        send_email(smtp, digest_email(digest, recipients=channels.recipients, sender=sender))
        return "to " + ", ".join(channels.recipients)

    def send_slack_digest() -> str:
        from ghsync.notify.slack import post_webhook

        assert webhook is not None
        post_webhook(webhook, digest_blocks(digest), timeout=settings.slack_timeout)
        return ""

    plan: list[tuple[DigestChannel, Callable[[], str]]] = []
    if channels.recipients:
        plan.append((DigestChannel.EMAIL, send_email_digest))
    if webhook is not None:
        plan.append((DigestChannel.SLACK, send_slack_digest))

    store = _open_store(settings)
    week = digest.week.isoformat()
    # Checked, sent and recorded under the scope's lock: an overlapping run waits for nothing and exits 75.
    with digest_lock(settings.db, scope.key):
        outcomes = _deliver(store, scope.key, week, plan, force=force, now=now, secrets=secrets)
    return DigestResult(scope.key, digest, result.text, tuple(outcomes))


def _deliver(
    store: SqliteStore,
    scope_key: str,
    week: str,
    plan: Sequence[tuple[DigestChannel, Callable[[], str]]],
    *,
    force: bool,
    now: datetime,
    secrets: Sequence[str],
) -> list[ChannelOutcome]:
    """Send on each channel that has not had this scope's week (all with `force`), recording every attempt."""
    outcomes = []
    for channel, send in plan:
        if not force and store.digest_sent(scope_key, week, channel):
            outcomes.append(ChannelOutcome(channel, ChannelStatus.SKIPPED))
            continue
        try:
            detail = send()
            status = DeliveryStatus.SENT
        except GhsyncError as error:
            detail, status = _without_secrets(str(error), secrets), DeliveryStatus.FAILED
        except Exception as error:  # noqa: BLE001 - one channel's surprise must not keep the other from its digest
            detail = _without_secrets(f"unexpected {type(error).__name__}: {error}", secrets)
            status = DeliveryStatus.FAILED
        store.record_digest(
            DigestDelivery(
                scope=scope_key,
                week=week,
                channel=channel,
                sent_at=iso(now.timestamp()),
                status=status,
                detail=detail or None,
            )
        )
        outcomes.append(
            ChannelOutcome(
                channel, ChannelStatus.SENT if status == DeliveryStatus.SENT else ChannelStatus.FAILED, detail
            )
        )
    return outcomes
