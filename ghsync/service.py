"""What each command does: the only composer of settings, store, GitHub source, engine and notifier.

Every function takes Settings and returns typed results; nothing here prints, prompts or exits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple, Protocol

from ghsync.config import Settings, default_db_path
from ghsync.engine import NOTHING_SPENT, EngineHooks, Source, job_report, sync_repository
from ghsync.errors import GhsyncError, UsageError
from ghsync.models import (
    AccountRateLimit,
    Outcome,
    RateLimitBudget,
    Repository,
    RepositoryStatus,
    Spend,
    SyncKind,
    SyncReport,
    SyncStatus,
    WeeklyMetrics,
)
from ghsync.store import SqliteStore, open_store
from ghsync.store.lock import is_locked, repository_lock
from ghsync.timefmt import iso
from ghsync.validate import parse_days, parse_repository_slug


class PullRequestSource(Source["PullRequestRecord"], Protocol):
    """The engine's Source for pull requests, plus the one REST check `track` makes first."""

    def check_repository(self, full_name: str) -> tuple[str | None, int | None]:
        """Raise if the repository cannot be read; else GitHub's (node_id, database id) for it."""
        ...


@dataclass(frozen=True)
class SyncHooks:
    """The seams a caller drives a sync through: progress, waiting, warnings, clock and sleep."""

    on_progress: Callable[[Repository], None] = field(default=lambda repository: None)
    # None: a rate-limit stop ends the run; otherwise called with the seconds to wait and the budget.
    on_wait: Callable[[float, RateLimitBudget], None] | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    on_warning: Callable[[str], None] = field(default=lambda message: None)


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


@dataclass(frozen=True)
class MetricsResult:
    full_name: str
    rows: list[WeeklyMetrics]


def _require_tokens(settings: Settings) -> list[str]:
    tokens = settings.github_tokens()
    if not tokens:
        raise UsageError(
            "no GitHub token: run `gh auth login` (ghsync asks `gh auth token`), set GH_TOKEN or GITHUB_TOKEN, "
            "or pass --token"
        )
    return tokens


def _open_source(settings: Settings, hooks: SyncHooks) -> PullRequestSource:
    from ghsync.source import open_source  # imports PyGithub: only commands that talk to GitHub pay for it

    inner = open_source(
        _require_tokens(settings), api_url=settings.api_url, threshold=settings.min_remaining, sleep=hooks.sleep
    )
    source = _LegacySource(inner, sleep=hooks.sleep)
    _check_threshold(settings, source.budget())
    return source


def _check_threshold(settings: Settings, budget: RateLimitBudget) -> None:
    """A threshold above the bucket's size could never be met: every run would stop (or wait) forever."""
    if budget.limit is not None and settings.min_remaining > budget.limit:
        raise UsageError(
            f"--min-remaining {settings.min_remaining} is above the GraphQL budget's limit ({budget.limit} points "
            "an hour): choose a smaller threshold"
        )


class _LegacySource:
    """Throwaway adapter from today's source to the engine's Source port (replaced by ghsync.github)."""

    def __init__(self, inner, *, sleep):
        from ghsync.queries import MAX_PAGE_SIZE

        self.inner, self.sleep, self.size_limit = inner, sleep, MAX_PAGE_SIZE

    def budget(self) -> RateLimitBudget:
        return self.inner.budget()

    def spent(self):
        from ghsync.models import Spend

        return Spend(self.inner.points_spent, self.inner.rest_calls)

    def check_repository(self, full_name: str) -> tuple[str | None, int | None]:
        from ghsync.errors import GitHubError, RepositoryNotFound
        from ghsync.ratelimit import retry_transient

        client = self.inner.pool.any_client()
        try:
            _, body = retry_transient(lambda: client.rest_get(f"/repos/{full_name}"), sleep=self.sleep)
        except GitHubError as error:
            if getattr(error, "status", None) == 404:
                raise RepositoryNotFound(
                    f"repository {full_name} not found on {client.api_url} (or the token cannot see it)"
                ) from None
            raise
        body = body if isinstance(body, dict) else {}
        node_id, database_id = body.get("node_id"), body.get("id")
        return (
            node_id if isinstance(node_id, str) else None,
            database_id if isinstance(database_id, int) and not isinstance(database_id, bool) else None,
        )

    def fetch_page(self, request, *, wanted):
        from ghsync.errors import TransientGitHubError
        from ghsync.models import Page, Version
        from ghsync.queries import PageRequest, cheapest_page_size
        from ghsync.ratelimit import retry_transient

        old = PageRequest(request.owner, request.name, page_size=1, after=request.after, count=request.count)
        size = cheapest_page_size(extra_connections=old.extra_connections, limit=self.size_limit)

        def fetch():
            nonlocal size
            try:
                return self.inner.fetch_page(
                    PageRequest(old.owner, old.name, page_size=size, after=old.after, count=old.count),
                    wanted=lambda number, updated_at: number in wanted([Version(number, updated_at)]),
                )
            except TransientGitHubError as error:
                if error.timed_out and size > 1:
                    size = max(1, size // 2)
                raise

        page = retry_transient(fetch, sleep=self.sleep)
        self.size_limit = min(self.size_limit, size)
        return Page(
            records=tuple(page.records),
            has_next_page=page.has_next_page,
            end_cursor=page.end_cursor,
            total_count=page.total_count,
            head_updated_at=page.head_updated_at,
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
            source = _open_source(settings, hooks)
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
        return TrackResult(name, _sync_one(settings, store, _open_source(settings, hooks), repository, hooks))

    start = window_start(days_back, hooks.clock())
    if settled and coverage is not None and coverage.covers(start):
        store.retrack(existing, days_back=days_back, notify_to=recipients or None, restart=False)
        return TrackResult(
            name,
            None,
            f"{name}: window widened to {_window_words(days_back)}; its PRs are already stored, nothing to fetch",
        )
    source = _open_source(settings, hooks)
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


def sync_tracked(settings: Settings, slugs: Sequence[str] = (), *, hooks: SyncHooks | None = None) -> list[SyncOutcome]:
    """Resume or update tracked repositories; every repository is tried, each outcome reported."""
    hooks = hooks or SyncHooks()
    names = [parse_repository_slug(slug, settings.github_host()) for slug in slugs]
    store = _open_store(settings) if names else _existing_store(settings)
    if store is None:
        return []
    repositories = [store.get_repository(name) for name in names] if names else store.list_repositories()
    repositories = [r for r in repositories if r.sync_status != SyncStatus.UNTRACKED]
    if not repositories:
        # Nothing to do is not a failure: cron must not mail on every run before the first `track`.
        return []
    source = _open_source(settings, hooks)
    outcomes = []
    for repository in repositories:
        try:
            with repository_lock(settings.db, repository.full_name):
                # Re-read under the lock: another process may have finished or advanced this job meanwhile.
                current = store.repository(repository.id)
                outcomes.append(SyncOutcome(repository.full_name, _sync_one(settings, store, source, current, hooks)))
        except GhsyncError as error:
            outcomes.append(SyncOutcome(repository.full_name, None, error))
    return outcomes


def _sync_one(
    settings: Settings,
    store: SqliteStore,
    source: PullRequestSource,
    repository: Repository,
    hooks: SyncHooks,
    *,
    spent_before: Spend = NOTHING_SPENT,
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
        )
    except GhsyncError as error:
        failed = store.repository(repository.id)
        if failed.sync_status == SyncStatus.ERROR and failed.current_sync_id is not None:
            error_report = job_report(
                store, failed.current_sync_id, outcome=Outcome.ERROR, finished=hooks.clock(), error=str(error)
            )
            _notify(settings, store, failed, error_report, hooks)
        raise
    if report.outcome == Outcome.COMPLETE and (report.prs_synced or not store.weekly_metrics_rows(repository.id)):
        # Recomputing reads every stored PR: only worth it when this sync changed some.
        refresh_weekly_metrics(store, repository.id)
    _notify(settings, store, store.repository(repository.id), report, hooks)
    return report


def refresh_weekly_metrics(store: SqliteStore, repository_id: int) -> int:
    """Recompute the stored weekly metrics from every stored PR; returns the number of weeks."""
    from ghsync.metrics import compute_weekly_metrics

    rows = compute_weekly_metrics(store.iter_pull_requests(repository_id))
    store.replace_weekly_metrics(repository_id, rows)
    return len(rows)


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
    if slug is not None:
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
        store.untrack(repository, purge=purge)
    return repository.full_name


def weekly_metrics(
    settings: Settings,
    slug: str,
    *,
    weeks: int | None,
    since: date | None,
    until: date | None,
    by_author: bool,
    today: date,
) -> MetricsResult:
    """Stored weekly metrics (or, by author, computed from the stored PRs) within the asked window."""
    from ghsync.metrics import compute_weekly_metrics, weekly_metrics_window

    store = _open_store(settings)
    repository = store.get_repository(parse_repository_slug(slug, settings.github_host()))
    if by_author:
        rows = compute_weekly_metrics(store.iter_pull_requests(repository.id), by_author=True)
    else:
        rows = store.weekly_metrics_rows(repository.id)
        if not rows and repository.last_synced_at:
            refresh_weekly_metrics(store, repository.id)
            rows = store.weekly_metrics_rows(repository.id)
    if since is None and weeks is None:
        weeks = 12
    window = weekly_metrics_window(rows, weeks=weeks, since=since, until=until, today=today)
    return MetricsResult(repository.full_name, window)


def rate_limit_report(settings: Settings) -> list[AccountRateLimit]:
    """Each token's buckets, by account login — never the token itself."""
    from ghsync.github import GitHubClient
    from ghsync.timefmt import iso as to_iso

    report = []
    for index, token in enumerate(_require_tokens(settings), start=1):
        client = GitHubClient(token, api_url=settings.api_url)
        states = client.rate_limits()
        try:
            _, user = client.rest_get("/user")
            account = (user or {}).get("login") or f"token #{index}"
        except GhsyncError:
            account = f"token #{index}"
        if states is None:
            report.append(AccountRateLimit(account, "all", None, None, None, None))
            continue
        for state in states.values():
            report.append(
                AccountRateLimit(
                    account, state.resource, state.limit, state.remaining, state.used, to_iso(state.reset_at)
                )
            )
    return report


def send_test_notification(settings: Settings, to: Sequence[str]) -> list[str]:
    from ghsync.notify import send_test_email

    smtp = settings.smtp()
    recipients = list(to) or list(smtp.default_recipients)
    if not recipients:
        raise UsageError("no recipient: pass --to ADDRESS or set GHSYNC_NOTIFY_TO")
    send_test_email(smtp, to=recipients)
    return recipients
