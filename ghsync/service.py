"""What each command does, composed from the store, the GitHub source, the sync engine and notifier."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ghsync import store
from ghsync.config import Settings
from ghsync.errors import GhsyncError, RateLimited, UsageError
from ghsync.lock import is_locked, repository_lock
from ghsync.models import SyncReport
from ghsync.ratelimit import RateLimitBudget
from ghsync.validate import parse_days, parse_repository_slug


@dataclass
class SyncHooks:
    """The seams a caller drives a sync through: progress, waiting, clock and sleep."""

    on_progress: Callable[[dict[str, Any]], None] = lambda row: None
    on_wait: Callable[[float, RateLimitBudget], None] | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


@dataclass
class TrackResult:
    full_name: str
    already_tracked: bool
    report: SyncReport | None
    message: str
    warnings: list[str] = field(default_factory=list)


def _require_tokens(settings: Settings) -> list[str]:
    tokens = settings.github_tokens()
    if not tokens:
        raise UsageError("no GitHub token: set GITHUB_TOKEN (or GH_TOKEN) or pass --token")
    return tokens


def _open_source(settings: Settings):
    from ghsync.source import open_source  # imports PyGithub: only commands that talk to GitHub pay for it

    return open_source(_require_tokens(settings), api_url=settings.api_url, threshold=settings.min_remaining)


def track_repository(
    settings: Settings,
    slug: str,
    *,
    days: str | int | None,
    notify_to: Sequence[str] = (),
    hooks: SyncHooks | None = None,
) -> TrackResult:
    """Record a repository and run its initial sync in the foreground."""
    hooks = hooks or SyncHooks()
    full_name = parse_repository_slug(slug)
    days_back = parse_days(days)
    _require_tokens(settings)
    db = store.open_store(settings.db)
    existing = store.find_repository(db, full_name)
    if existing is not None and existing["days_back"] == days_back and not notify_to:
        window = "the whole history" if days_back is None else f"the last {days_back} days"
        return TrackResult(
            full_name=existing["full_name"],
            already_tracked=True,
            report=None,
            message=f"{existing['full_name']} is already tracked ({window}, {existing['sync_status']}); "
            "nothing changed. Run `ghsync sync` to update it.",
        )
    source = _open_source(settings)
    if existing is None:
        # One REST call (the core bucket, not GraphQL points): a clear error before anything is written.
        _check_repository_exists(source, full_name)
        existing = store.add_repository(
            db, full_name, days_back=days_back, now=_iso(hooks.clock()), notify_to=_recipients(notify_to)
        )
    else:
        changes: dict[str, Any] = {}
        if notify_to:
            changes["notify_to"] = json.dumps(_recipients(notify_to))
        if existing["days_back"] != days_back:
            changes["days_back"] = days_back
            if _window_widens(existing["days_back"], days_back):
                # The stored rows cover a narrower window: the next sync is an initial one again.
                changes.update(sync_watermark=None, last_synced_at=None, current_sync_id=None, sync_status="pending")
        store.update_repository(db, existing["id"], **changes)
        existing = store.get_repository(db, full_name)
    report = _sync_locked(settings, db, existing, source, hooks)
    return TrackResult(full_name=existing["full_name"], already_tracked=False, report=report, message="")


def _window_widens(old: int | None, new: int | None) -> bool:
    if old is None:
        return False
    return new is None or new > old


def _recipients(addresses: Sequence[str]) -> list[str]:
    return [a.strip() for a in addresses if a.strip()]


def _check_repository_exists(source, full_name: str) -> None:
    from ghsync.errors import GitHubError, RepositoryNotFound

    _, client = source.pool.client()
    try:
        client.rest_get(f"/repos/{full_name}")
    except GitHubError as error:
        if getattr(error, "status", None) == 404:
            raise RepositoryNotFound(
                f"repository {full_name} not found on {client.api_url} (or the token cannot see it)"
            ) from None
        raise


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
    source = _open_source(settings)
    outcomes: list[tuple[str, SyncReport | None, GhsyncError | None]] = []
    for repository in repositories:
        try:
            outcomes.append((repository["full_name"], _sync_locked(settings, db, repository, source, hooks), None))
        except GhsyncError as error:
            outcomes.append((repository["full_name"], None, error))
    return outcomes


def _sync_locked(settings: Settings, db, repository: dict[str, Any], source, hooks: SyncHooks) -> SyncReport:
    from ghsync.sync import sync_repository_history

    with repository_lock(settings.db, repository["full_name"]):
        # Re-read under the lock: another process may have finished or advanced this job meanwhile.
        repository = store.get_repository(db, repository["full_name"])
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
    return report


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
        statuses.append(status)
    return statuses


def _iso(epoch: float) -> str:
    from ghsync.sync import iso

    return iso(epoch)
