"""The sync loop: fetch a page → write it with cursor and progress in one transaction → decide → repeat."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlite_utils

from ghsync import store
from ghsync.engine import seconds_until
from ghsync.errors import GhsyncError, RateLimited
from ghsync.models import PageRequest, RateLimitBudget, SyncReport
from ghsync.timefmt import iso as epoch_to_iso

# The next incremental sync re-reads this much before the watermark: GitHub's updatedAt ordering
# can lag a moment behind a write, and re-reading a few PRs is cheap and idempotent.
WATERMARK_OVERLAP = timedelta(minutes=2)


class FetchedPageLike(Protocol):
    records: list
    has_next_page: bool
    end_cursor: str | None
    total_count: int | None
    head_updated_at: str | None


class PullRequestSource(Protocol):
    """Where PRs come from (GitHub through the token pool, or anything a test provides)."""

    def spent(self) -> Any: ...

    def budget(self) -> RateLimitBudget: ...

    def fetch_page(self, request: PageRequest, *, wanted: Callable) -> FetchedPageLike: ...


ProgressCallback = Callable[[dict[str, Any]], None]
WaitCallback = Callable[[float, RateLimitBudget], None]


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_start(days_back: int | None, now: float) -> str | None:
    """`--days N` means PRs updated in the last N days; None means the whole history."""
    if days_back is None:
        return None
    return iso(now - days_back * 86400)


def plan_job(repository: dict[str, Any], *, now: float) -> tuple[str, str | None]:
    """Initial sync of the window, or incremental from the watermark once a sync has completed."""
    watermark = repository.get("sync_watermark")
    if repository.get("last_synced_at") and watermark:
        since = datetime.fromisoformat(watermark.replace("Z", "+00:00")) - WATERMARK_OVERLAP
        return "incremental", since.strftime("%Y-%m-%dT%H:%M:%SZ")
    return "initial", window_start(repository.get("days_back"), now)


def sync_repository_history(
    db: sqlite_utils.Database,
    repository: dict[str, Any],
    source: PullRequestSource,
    *,
    threshold: int,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    on_progress: ProgressCallback = lambda row: None,
    on_wait: WaitCallback | None = None,
    page_size: int | None = None,
) -> SyncReport:
    """Sync one repository until complete, a rate-limit stop, or a permanent error.

    Resumes the repository's unfinished job from its stored cursor; otherwise starts a new one.
    With `on_wait`, a rate-limit stop waits for the reset (calling on_wait) instead of stopping.
    Returns the report for `complete` and `rate_limited`; raises GhsyncError after recording `error`.
    """
    run_started = clock()
    job = store.current_job(db, repository)
    if job is None:
        kind, since = plan_job(repository, now=run_started)
        job = store.start_job(db, repository["id"], kind=kind, since=since, started_at=iso(run_started))
    job = store.mark_job_running(db, job)
    on_progress(store.repository_by_id(db, job.repository_id))

    # What earlier runs of this job spent, plus what this run spends from here on.
    job_points, job_calls = job.graphql_points, job.rest_calls
    before = source.spent()

    def spent() -> tuple[int, int]:
        now = source.spent()
        return (job_points + now.points - before.points, job_calls + now.rest_calls - before.rest_calls)

    while True:
        try:
            budget = source.budget()  # may re-read /rate_limit after a reset
        except GhsyncError as error:
            _stop_with_error(db, job, error, spent(), RateLimitBudget.unlimited("graphql"))
            raise
        if budget.below(threshold):
            if on_wait is not None and budget.reset_at is not None:
                on_wait(seconds_until(budget.reset_at, clock()), budget)
                continue
            return _reported(db, job, on_progress, _stop_rate_limited(db, job, budget, spent(), clock=clock))

        first_page_of_pass = job.cursor is None
        count = None
        if first_page_of_pass and job.phase == "main":
            count = job.pass_since or "all"
        request = PageRequest(owner=repository["owner"], name=repository["name"], after=job.cursor, count=count)
        try:
            page = source.fetch_page(request, wanted=_wanted(db, job))
        except RateLimited as error:
            stop_budget = RateLimitBudget(
                resource="graphql", remaining=error.remaining or 0, reset_at=error.reset_at or budget.reset_at
            )
            if on_wait is not None and stop_budget.reset_at is not None:
                on_wait(seconds_until(stop_budget.reset_at, clock()), stop_budget)
                continue
            return _reported(db, job, on_progress, _stop_rate_limited(db, job, stop_budget, spent(), clock=clock))
        except GhsyncError as error:
            _stop_with_error(db, job, error, spent(), budget)
            on_progress(store.repository_by_id(db, job.repository_id))
            raise

        if first_page_of_pass and page.head_updated_at is not None:
            job = store.update_job(db, job, head_updated_at=page.head_updated_at)
        in_pass = [r for r in page.records if job.pass_since is None or r.updated_at >= job.pass_since]
        pass_ended = not page.has_next_page or len(in_pass) < len(page.records)
        # Only a counting page's total is the window's; later pages carry the whole repository's.
        total = page.total_count if request.count is not None and page.total_count is not None else job.prs_total
        points, calls = spent()
        current = source.budget()
        job = store.save_page(
            db,
            job,
            in_pass,
            # Kept at the end of a pass too: it is cleared in the same transaction that starts the
            # catch-up or finishes the job, so a crash in between re-reads one page, not the history.
            cursor=page.end_cursor or job.cursor,
            phase=job.phase,
            prs_total=total,
            graphql_points=points,
            rest_calls=calls,
            rate_limit_remaining=current.remaining,
            rate_limit_reset_at=current.reset_iso(),
            skip_unchanged=job.kind == "incremental",
        )
        on_progress(store.repository_by_id(db, job.repository_id))
        if not pass_ended:
            continue

        # Pages are ordered by updatedAt, so a PR updated while we paged jumped ahead of our cursor.
        # The head we read with each page tells whether that happened; if so, read what changed.
        if page.head_updated_at and job.head_updated_at and page.head_updated_at > job.head_updated_at:
            job = store.update_job(
                db, job, phase="catchup", pass_since=job.head_updated_at, head_updated_at=None, cursor=None
            )
            continue
        return _reported(db, job, on_progress, _finish(db, job, source, spent(), clock=clock, run_started=run_started))


def _wanted(db, job) -> Callable[[int, str], bool]:
    """Which PRs of a page will be written, so only they get follow-up queries for more reviews."""

    def wanted_one(number: int, updated_at: str) -> bool:
        if job.pass_since is not None and updated_at < job.pass_since:
            return False
        if job.kind == "incremental":
            return store.stored_updated_at(db, job.repository_id, number) != updated_at
        return True

    return lambda versions: {v.key for v in versions if wanted_one(v.key, v.updated_at)}


def _reported(db, job, on_progress: ProgressCallback, report: SyncReport) -> SyncReport:
    """Show the final stored state (complete or rate_limited) before handing back the report."""
    on_progress(store.repository_by_id(db, job.repository_id))
    return report


def _stop_with_error(db, job, error: GhsyncError, spent: tuple[int, int], budget: RateLimitBudget) -> None:
    """A permanent fault: record it with the cursor kept, so `ghsync sync` can resume later."""
    points, calls = spent
    store.stop_job(
        db,
        job,
        status="error",
        error=str(error),
        graphql_points=points,
        rest_calls=calls,
        rate_limit_remaining=budget.remaining,
        rate_limit_reset_at=budget.reset_iso(),
    )


def _stop_rate_limited(db, job, budget: RateLimitBudget, spent: tuple[int, int], *, clock) -> SyncReport:
    points, calls = spent
    store.stop_job(
        db,
        job,
        status="rate_limited",
        error=None,
        graphql_points=points,
        rest_calls=calls,
        rate_limit_remaining=budget.remaining,
        rate_limit_reset_at=budget.reset_iso(),
    )
    return job_report(db, job.id, outcome="rate_limited", finished=clock(), budget=budget)


def _finish(db, job, source: PullRequestSource, spent: tuple[int, int], *, clock, run_started: float) -> SyncReport:
    points, calls = spent
    finished = clock()
    budget = source.budget()
    store.update_job(db, job, graphql_points=points, rest_calls=calls)
    store.finish_job(
        db,
        job,
        finished_at=iso(finished),
        watermark=job.head_updated_at,
        rate_limit_remaining=budget.remaining,
        rate_limit_reset_at=budget.reset_iso(),
    )
    return job_report(db, job.id, outcome="complete", finished=finished, budget=budget)


def job_report(
    db,
    job_id: int,
    *,
    outcome: str,
    finished: float,
    budget: RateLimitBudget | None = None,
    error: str | None = None,
) -> SyncReport:
    """The report of a stored job, from what its stop or finish recorded (spend included)."""
    job = store.job_by_id(db, job_id)
    repository = store.repository_by_id(db, job.repository_id)
    started = datetime.fromisoformat(job.started_at.replace("Z", "+00:00")).timestamp()
    return SyncReport(
        full_name=repository["full_name"],
        kind=job.kind,
        outcome=outcome,
        days_back=repository["days_back"],
        prs_synced=store.job_completed_count(db, job),
        reviews_synced=store.job_reviews_count(db, job),
        prs_total=repository["sync_prs_total"] or 0,
        started_at=job.started_at,
        finished_at=iso(finished),
        duration_seconds=round(max(0.0, finished - started), 3),
        graphql_points_spent=job.graphql_points,
        rest_calls_spent=job.rest_calls,
        rate_limit_remaining=budget.remaining if budget else None,
        rate_limit_reset_at=epoch_to_iso(budget.reset_at) if budget and budget.reset_at else None,
        error=error,
    )
