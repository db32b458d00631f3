"""What each command does: the only composer of settings, store, GitHub source, engine and notifier.

Every function takes Settings and returns typed results; nothing here prints, prompts or exits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol

from pydantic import SecretStr

from ghsync.config import Settings, default_db_path
from ghsync.digest.build import DEFAULT_CHART_WEEKS, Digest, ScopeRepository
from ghsync.engine import NOTHING_SPENT, EngineHooks, Source, job_report, sync_repository
from ghsync.errors import GhsyncError, StoreError, UsageError
from ghsync.models import (
    AccountRateLimit,
    DeliveryStatus,
    DigestDelivery,
    Outcome,
    PullRequestRecord,
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
from ghsync.store.lock import digest_lock, is_locked, repository_lock
from ghsync.timefmt import iso, parse_iso_or_none
from ghsync.validate import parse_days, parse_repository_slug


class PullRequestSource(Source[PullRequestRecord], Protocol):
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


_BOT_PREFIXES = ("dependabot", "renovate")


def _is_bot(login: str | None) -> bool:
    """`dependabot*`, `renovate*` and `*[bot]`, case-insensitively (a stand-in until bots are configured)."""
    if not login:
        return False
    folded = login.casefold()
    return folded.startswith(_BOT_PREFIXES) or folded.endswith("[bot]")


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
    """Resolve `digest`'s scope: the named repositories, every tracked repository of `owner`, or (the
    default) every tracked repository; PRs by bots are left out. Teams are not known yet.

    The only place that decides which repositories and PRs a digest covers: replace it, and the
    content, the delivery and the de-duplication follow. Raises UsageError (exit 2) for bad input.
    """
    given = sum(1 for part in (bool(repositories), owner is not None, team is not None) if part)
    if given > 1:
        raise UsageError("give repositories, --owner or --team, not several")
    if team is not None:
        raise UsageError(f"unknown team {team}")
    store = _open_store(settings)
    tracked = [r for r in store.list_repositories() if r.sync_status != SyncStatus.UNTRACKED]
    if repositories:
        chosen: dict[int, Repository] = {}
        for slug in repositories:
            repository = store.get_repository(parse_repository_slug(slug))
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

    def pull_requests() -> Iterator[tuple[str, PullRequestRecord]]:
        for repository in selected:
            for pr in store.iter_pull_requests(repository.id):
                if not _is_bot(pr.author):
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
        digest = build_digest(scope.name, scope.pull_requests(), scope.repositories, now=now, weeks=weeks)
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
