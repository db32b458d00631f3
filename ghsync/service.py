"""What each command does, composed from the store, the GitHub source, the sync engine and notifier."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ghsync import store
from ghsync.config import Settings, default_db_path
from ghsync.errors import GhsyncError, RateLimited, UsageError
from ghsync.lock import is_locked, repository_lock
from ghsync.models import SyncReport
from ghsync.models import RateLimitBudget
from ghsync.validate import parse_days, parse_repository_slug


@dataclass
class SyncHooks:
    """The seams a caller drives a sync through: progress, waiting, clock and sleep."""

    on_progress: Callable[[dict[str, Any]], None] = lambda row: None
    on_wait: Callable[[float, RateLimitBudget], None] | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    on_warning: Callable[[str], None] = lambda message: None


@dataclass
class TrackResult:
    full_name: str
    already_tracked: bool
    report: SyncReport | None
    message: str


def _require_tokens(settings: Settings) -> list[str]:
    tokens = settings.github_tokens()
    if not tokens:
        raise UsageError("no GitHub token: set GITHUB_TOKEN (or GH_TOKEN) or pass --token")
    return tokens


def _open_source(settings: Settings, hooks: SyncHooks):
    from ghsync.github.pulls import open_source  # imports PyGithub: only commands that talk to GitHub pay for it

    return open_source(
        _require_tokens(settings),
        api_url=settings.api_url,
        threshold=settings.min_remaining,
        sleep=hooks.sleep,
        clock=hooks.clock,
        on_warning=hooks.on_warning,
        request_timeout=settings.request_timeout,
        allow_insecure_http=settings.allow_insecure_http,
    )


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
    full_name = parse_repository_slug(slug)
    days_back = parse_days(days)
    _require_tokens(settings)
    db = store.open_store(settings.db, create_parent=settings.db == default_db_path())
    # Everything happens under the repository's lock: a running sync's window and job must not
    # change under it, and a second `track` (even of a new repository) hears that one is running.
    with repository_lock(settings.db, full_name):
        existing = store.find_repository(db, full_name)
        if existing is None:
            source = _open_source(settings, hooks)
            # One REST call (the core bucket, not GraphQL points): a clear error before anything is written.
            source.check_repository(full_name)
            store.add_repository(
                db, full_name, days_back=days_back, now=_iso(hooks.clock()), notify_to=_recipients(notify_to)
            )
            report = _sync_holding_lock(settings, db, store.get_repository(db, full_name), source, hooks)
            return TrackResult(full_name=full_name, already_tracked=False, report=report, message="")

        if days is None:
            days_back = existing["days_back"]
        changes = _track_changes(existing, days_back=days_back, notify_to=notify_to)
        if not changes:
            window = "the whole history" if days_back is None else f"the last {days_back} days"
            return TrackResult(
                full_name=existing["full_name"],
                already_tracked=True,
                report=None,
                message=f"{existing['full_name']} is already tracked ({window}, {existing['sync_status']}); "
                "nothing changed. Run `ghsync sync` to update it.",
            )
        source = _open_source(settings, hooks)
        store.update_repository(db, existing["id"], **changes)
        report = _sync_holding_lock(settings, db, store.get_repository(db, full_name), source, hooks)
    return TrackResult(full_name=existing["full_name"], already_tracked=False, report=report, message="")


def _track_changes(existing: dict[str, Any], *, days_back: int | None, notify_to: Sequence[str]) -> dict[str, Any]:
    """What `track` changes on a tracked repository; empty means "already tracked, nothing to do"."""
    changes: dict[str, Any] = {}
    if existing["sync_status"] == "untracked":
        changes["sync_status"] = "pending"
    if notify_to:
        changes["notify_to"] = json.dumps(_recipients(notify_to))
    if existing["days_back"] != days_back:
        changes["days_back"] = days_back
        if _window_widens(existing["days_back"], days_back):
            # The stored rows cover a narrower window: the next sync is an initial one again.
            changes.update(sync_watermark=None, last_synced_at=None, current_sync_id=None, sync_status="pending")
    return changes


def _window_widens(old: int | None, new: int | None) -> bool:
    if old is None:
        return False
    return new is None or new > old


def _recipients(addresses: Sequence[str]) -> list[str]:
    return [a.strip() for a in addresses if a.strip()]


def sync_tracked(
    settings: Settings, slugs: Sequence[str] = (), *, hooks: SyncHooks | None = None
) -> list[tuple[str, SyncReport | None, GhsyncError | None]]:
    """Resume or update tracked repositories; every repository is tried, each outcome reported."""
    hooks = hooks or SyncHooks()
    names = [parse_repository_slug(slug) for slug in slugs]
    db = store.open_store(settings.db, create=False)
    repositories = [store.get_repository(db, name) for name in names] if names else store.list_repositories(db)
    repositories = [r for r in repositories if r["sync_status"] != "untracked"]
    if not repositories:
        raise UsageError("no repositories are tracked: run `ghsync track OWNER/REPO` first")
    source = _open_source(settings, hooks)
    outcomes: list[tuple[str, SyncReport | None, GhsyncError | None]] = []
    for repository in repositories:
        try:
            outcomes.append((repository["full_name"], _sync_locked(settings, db, repository, source, hooks), None))
        except GhsyncError as error:
            outcomes.append((repository["full_name"], None, error))
    return outcomes


def _sync_locked(settings: Settings, db, repository: dict[str, Any], source, hooks: SyncHooks) -> SyncReport:
    with repository_lock(settings.db, repository["full_name"]):
        # Re-read under the lock: another process may have finished or advanced this job meanwhile.
        return _sync_holding_lock(settings, db, store.get_repository(db, repository["full_name"]), source, hooks)


def _sync_holding_lock(settings: Settings, db, repository: dict[str, Any], source, hooks: SyncHooks) -> SyncReport:
    from ghsync.sync import sync_repository_history

    try:
        report = sync_repository_history(
            db,
            repository,
            source,
            threshold=settings.min_remaining,
            clock=hooks.clock,
            sleep=hooks.sleep,
            on_progress=hooks.on_progress,
            on_wait=hooks.on_wait,
        )
    except GhsyncError as error:
        failed = store.get_repository(db, repository["full_name"])
        if failed["sync_status"] == "error" and failed["current_sync_id"] is not None:
            _notify(settings, db, failed, _error_report(db, failed, error, hooks.clock()), hooks)
        raise
    if report.outcome == "complete" and (report.prs_synced or not store.weekly_metrics_rows(db, repository["id"])):
        # Recomputing reads every stored PR: only worth it when this sync changed some.
        refresh_weekly_metrics(db, repository["id"])
    _notify(settings, db, store.get_repository(db, repository["full_name"]), report, hooks)
    return report


def refresh_weekly_metrics(db, repository_id: int) -> int:
    """Recompute the stored weekly metrics from every stored PR; returns the number of weeks."""
    from ghsync.metrics import compute_weekly_metrics

    rows = compute_weekly_metrics(store.iter_pull_requests(db, repository_id))
    store.replace_weekly_metrics(db, repository_id, rows)
    return len(rows)


def _error_report(db, repository: dict[str, Any], error: GhsyncError, now: float) -> SyncReport:
    from ghsync.sync import job_report

    return job_report(db, repository["current_sync_id"], outcome="error", finished=now, error=str(error))


def _notify(settings: Settings, db, repository: dict[str, Any], report: SyncReport, hooks: SyncHooks) -> None:
    """Email the outcome when policy says so; a failure is a warning recorded with the sync, never an error."""
    from ghsync.notify import notify_sync_result, should_notify

    if not should_notify(report.outcome, report.kind, settings.notify_events()):
        return
    smtp = settings.smtp()
    recipients = json.loads(repository.get("notify_to") or "[]") or list(smtp.default_recipients)
    if not smtp.enabled or not recipients:
        return
    warning = notify_sync_result(smtp, report, recipients=recipients, db_path=str(settings.db))
    job_id = repository.get("current_sync_id")
    if job_id is not None:
        store.record_email_status(db, job_id, warning or f"sent to {', '.join(recipients)}")
    if warning:
        hooks.on_warning(f"{report.full_name}: {warning}")


def raise_for_report(report: SyncReport) -> None:
    """Turn a rate-limited stop into the error the CLI maps to exit 75."""
    if report.outcome == "rate_limited":
        raise RateLimited(
            f"{report.full_name}: stopped at the rate-limit threshold; resumes after {report.rate_limit_reset_at}",
            remaining=report.rate_limit_remaining,
        )


def repository_statuses(settings: Settings, slug: str | None = None) -> list[dict[str, Any]]:
    """The stored status fields of every tracked repository (or one), for `status` and its --json."""
    db = store.open_store(settings.db, create=False)
    if slug is not None:
        rows = [store.get_repository(db, parse_repository_slug(slug))]
    else:
        rows = [r for r in store.list_repositories(db) if r["sync_status"] != "untracked"]
    statuses = []
    for row in rows:
        status = {key: row[key] for key in store.REPOSITORY_STATUS_FIELDS}
        # A `syncing` row with no live process was interrupted (killed); `ghsync sync` resumes it.
        status["process_alive"] = is_locked(settings.db, row["full_name"])
        status["prs_stored"] = store.stored_pull_request_count(db, row["id"])
        statuses.append(status)
    return statuses


def _iso(epoch: float) -> str:
    from ghsync.sync import iso

    return iso(epoch)


def untrack_repository(settings: Settings, slug: str, *, purge: bool) -> str:
    full_name = parse_repository_slug(slug)
    db = store.open_store(settings.db, create=False)
    repository = store.get_repository(db, full_name)
    with repository_lock(settings.db, repository["full_name"]):
        store.delete_repository(db, repository["id"], purge=purge)
    return repository["full_name"]


def weekly_metrics(
    settings: Settings,
    slug: str,
    *,
    weeks: int | None,
    since: str | None,
    until: str | None,
    by_author: bool,
    today,
):
    """Stored weekly metrics (or, by author, computed from the stored PRs) within the asked window."""
    from datetime import date

    from ghsync.metrics import compute_weekly_metrics, weekly_metrics_window

    def day(value: str | None, flag: str):
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise UsageError(f"{flag} must be a date like 2026-01-31, not '{value}'") from None

    full_name = parse_repository_slug(slug)
    db = store.open_store(settings.db, create=False)
    repository = store.get_repository(db, full_name)
    if by_author:
        rows = compute_weekly_metrics(store.iter_pull_requests(db, repository["id"]), by_author=True)
    else:
        rows = store.weekly_metrics_rows(db, repository["id"])
        if not rows and repository["last_synced_at"]:
            refresh_weekly_metrics(db, repository["id"])
            rows = store.weekly_metrics_rows(db, repository["id"])
    since_day, until_day = day(since, "--since"), day(until, "--until")
    if since_day is None and weeks is None:
        weeks = 12
    return repository["full_name"], weekly_metrics_window(rows, weeks=weeks, since=since_day, until=until_day, today=today)


def rate_limit_report(settings: Settings) -> list[dict[str, Any]]:
    """Each token's buckets, by account login — never the token itself."""
    from dataclasses import asdict

    from ghsync.github.pulls import account_rate_limits

    rows = account_rate_limits(
        _require_tokens(settings),
        api_url=settings.api_url,
        request_timeout=settings.request_timeout,
        allow_insecure_http=settings.allow_insecure_http,
    )
    return [asdict(row) for row in rows]


def send_test_notification(settings: Settings, to: Sequence[str]) -> list[str]:
    from ghsync.notify import send_test_email

    smtp = settings.smtp()
    recipients = list(to) or list(smtp.default_recipients)
    if not recipients:
        raise UsageError("no recipient: pass --to ADDRESS or set GHSYNC_NOTIFY_TO")
    send_test_email(smtp, to=recipients)
    return recipients
