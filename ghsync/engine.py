"""The sync loop, over the two ports it defines: a Source of pages and a JobStore that keeps them.

Fetch a page from the Source, write it with the cursor and progress through the JobStore in one
transaction, decide whether to go on, stop or wait.

It knows records only as things with a `key` and an `updated_at`: pull requests today, issues or
deployments tomorrow. It never retries (the Source does), never sleeps (the caller's `on_wait`
does) and reads time only through `clock`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Generic, Protocol, TypeVar

from ghsync.errors import GhsyncError, RateLimited, RepositoryNotFound
from ghsync.models import (
    Outcome,
    Page,
    PageProgress,
    PageRequest,
    Phase,
    RateLimitBudget,
    Repository,
    RepositoryIdentity,
    Spend,
    SyncJob,
    SyncKind,
    SyncReport,
    Version,
)
from ghsync.timefmt import epoch, iso

# The next incremental sync re-reads this much before the watermark: GitHub's updatedAt ordering
# can lag a moment behind a write, and re-reading a few records is cheap and idempotent.
WATERMARK_OVERLAP = timedelta(minutes=2)
# updatedAt has whole seconds: a PR edited again in the second a sync read it keeps its updatedAt, so an
# equal stored copy proves nothing for a PR updated about when the last sync began. Such PRs are written
# again; the margin also covers this machine's clock being ahead of GitHub's.
SAME_SECOND_MARGIN = timedelta(minutes=1)
NOTHING_SPENT = Spend()


def rewrite_from(top_read_at: str | None) -> str | None:
    """From when a stored copy with an equal updatedAt may still be stale: read in its update's second, which
    only a PR updated after the last job that read the newest PRs began can have been (`top_read_at`, the
    store's `top_read_started`; a wider window's job reads only older ones). None: never read."""
    if top_read_at is None:
        return None
    return iso(epoch(top_read_at) - SAME_SECOND_MARGIN.total_seconds())


class Versioned(Protocol):
    @property
    def key(self) -> int: ...

    @property
    def updated_at(self) -> str: ...


R = TypeVar("R", bound=Versioned)
R_contra = TypeVar("R_contra", bound=Versioned, contravariant=True)

# Given a page's (key, updated_at) pairs, the keys that will be written: the Source completes
# only those (follow-up queries for more reviews cost points).
Wanted = Callable[[Sequence[Version]], Collection[int]]


class Source(Protocol[R]):
    """Where records come from. Retries transient faults itself; raises RateLimited to stop."""

    def budget(self) -> RateLimitBudget: ...

    def spent(self) -> Spend: ...

    def fetch_page(self, request: PageRequest, *, wanted: Wanted) -> Page[R]: ...

    def holds(self, request: PageRequest) -> bool: ...


class JobStore(Protocol[R_contra]):
    """Where jobs, their progress and their records are kept; each call is one transaction."""

    def repository(self, repository_id: int) -> Repository: ...

    def current_job(self, repository: Repository) -> SyncJob | None: ...

    def start_job(
        self,
        repository: Repository,
        *,
        kind: SyncKind,
        since: str | None,
        started_at: str,
        cursor: str | None = None,
        rewrite_from: str | None = None,
    ) -> SyncJob: ...

    def resume_job(self, job: SyncJob) -> SyncJob: ...

    def stored_versions(self, repository_id: int, keys: Sequence[int]) -> dict[int, str]: ...

    def save_page(self, job: SyncJob, records: Sequence[R_contra], progress: PageProgress) -> SyncJob: ...

    def set_head(self, job: SyncJob, head_updated_at: str) -> SyncJob: ...

    def begin_catchup(self, job: SyncJob, *, pass_since: str | None) -> SyncJob: ...

    def finish_job(self, job: SyncJob, *, finished_at: str, spent: Spend, budget: RateLimitBudget) -> None: ...

    def stop_job(
        self, job: SyncJob, *, outcome: Outcome, error: str | None, spent: Spend, budget: RateLimitBudget
    ) -> None: ...

    def job(self, job_id: int) -> SyncJob: ...

    def job_counts(self, job: SyncJob) -> tuple[int, int]: ...

    def stored_pull_request_count(self, repository_id: int) -> int: ...

    def stored_updated_since(self, repository_id: int, updated_at: str) -> int: ...

    def top_read_started(self, repository_id: int) -> str | None: ...


ProgressCallback = Callable[[Repository], None]
WaitCallback = Callable[[float, RateLimitBudget], None]


@dataclass(frozen=True)
class EngineHooks:
    """How the engine reaches the outside: time, progress display, waiting for a reset."""

    clock: Callable[[], float]
    on_progress: ProgressCallback = field(default=lambda repository: None)
    # None: a rate-limit stop ends the run (exit 75); otherwise called to wait for the reset.
    on_wait: WaitCallback | None = None


def window_start(days_back: int | None, now: float) -> str | None:
    """`--days N` means records updated in the last N days; None means the whole history."""
    if days_back is None:
        return None
    return iso(now - days_back * 86400)


def plan_job(repository: Repository, *, now: float) -> tuple[SyncKind, str | None]:
    """Initial sync of the window, or incremental from the watermark once a sync has completed."""
    watermark = repository.sync_watermark
    if repository.last_synced_at and watermark:
        return SyncKind.INCREMENTAL, iso(epoch(watermark) - WATERMARK_OVERLAP.total_seconds())
    return SyncKind.INITIAL, window_start(repository.days_back, now)


def page_request(repository: Repository, job: SyncJob) -> PageRequest:
    """The job's next page: from its cursor; the first page of the main pass also counts the pass (a wider
    window's job, which starts at a stored cursor, counts on its first page too)."""
    first = job.cursor is None or (job.from_window_cursor and job.prs_total == 0)
    counting = first and job.phase == Phase.MAIN
    return PageRequest(
        owner=repository.owner,
        name=repository.name,
        after=job.cursor,
        count=(job.pass_since or "all") if counting else None,
    )


def next_request(store: JobStore[R], repository: Repository, *, planned_at: float) -> PageRequest:
    """The page `sync_repository(..., planned_at=planned_at)` will ask for first (it writes nothing):
    a caller fetching many repositories uses it to fetch their pages together."""
    job = store.current_job(repository)
    if job is not None:
        return page_request(repository, job)
    _, since = plan_job(repository, now=planned_at)
    return PageRequest(owner=repository.owner, name=repository.name, count=since or "all")  # as first_request


def first_request(full_name: str, days_back: int | None, *, planned_at: float) -> PageRequest:
    """The page a repository not yet stored will ask for first, its initial sync planned at `planned_at`:
    what `next_request` gives once it is stored with this window."""
    owner, name = full_name.split("/")
    return PageRequest(owner=owner, name=name, count=window_start(days_back, planned_at) or "all")


def seconds_until(reset_at: int, now: float) -> float:
    # One second of margin: GitHub's reset epoch is whole seconds.
    return max(0.0, reset_at - now + 1)


class _Run(Generic[R]):
    """One process's run of a job: what it spent, and the stop/finish bookkeeping."""

    def __init__(
        self,
        store: JobStore[R],
        source: Source[R],
        job: SyncJob,
        hooks: EngineHooks,
        spent_before: Spend = NOTHING_SPENT,
    ):
        self.store, self.source, self.job, self.hooks = store, source, job, hooks
        # What earlier runs of this job spent (or, for a new job, the caller's checks for it), and
        # where the source's own counter stood.
        self._spent_earlier = job.spent + spent_before
        self._source_before = source.spent()

    def spent(self) -> Spend:
        """What earlier runs of this job spent, plus what this run has spent so far."""
        return self._spent_earlier + (self.source.spent() - self._source_before)

    def show(self) -> None:
        self.hooks.on_progress(self.store.repository(self.job.repository_id))

    def wanted(self) -> Wanted:
        """Which records of a page will be written: in the pass, and (incremental) not already stored."""
        job, store = self.job, self.store
        memo: dict[tuple[Version, ...], frozenset[int]] = {}

        def wanted(versions: Sequence[Version]) -> Collection[int]:
            key = tuple(versions)
            if key not in memo:
                chosen = [v for v in versions if job.pass_since is None or v.updated_at >= job.pass_since]
                if job.kind == SyncKind.INCREMENTAL and chosen:
                    stored = store.stored_versions(job.repository_id, [v.key for v in chosen])
                    since = job.rewrite_from
                    chosen = [
                        v for v in chosen if stored.get(v.key) != v.updated_at or (since and v.updated_at >= since)
                    ]
                memo[key] = frozenset(v.key for v in chosen)
            return memo[key]

        return wanted

    def stop(self, outcome: Outcome, budget: RateLimitBudget, error: GhsyncError | None = None) -> SyncReport:
        """A stop that keeps the cursor, so `ghsync sync` resumes exactly here."""
        message = str(error) if error is not None else None
        self.store.stop_job(self.job, outcome=outcome, error=message, spent=self.spent(), budget=budget)
        self.show()
        return job_report(self.store, self.job.id, outcome=outcome, finished=self.hooks.clock(), budget=budget)

    def stop_after(self, error: GhsyncError, budget: RateLimitBudget) -> None:
        """Record an error the store itself raised, if the store can still write at all."""
        try:
            self.stop(Outcome.ERROR, budget, error)
        except GhsyncError:
            pass  # the original error is the one to report; the row stays as the last commit left it

    def finish(self) -> SyncReport:
        finished = self.hooks.clock()
        budget = self.source.budget()
        self.store.finish_job(self.job, finished_at=iso(finished), spent=self.spent(), budget=budget)
        self.show()
        return job_report(self.store, self.job.id, outcome=Outcome.COMPLETE, finished=finished, budget=budget)


def sync_repository(
    store: JobStore[R],
    source: Source[R],
    repository: Repository,
    *,
    threshold: int,
    hooks: EngineHooks,
    spent_before: Spend = NOTHING_SPENT,
    planned_at: float | None = None,
) -> SyncReport:
    """Sync one repository until complete or a rate-limit stop; raise GhsyncError after recording an error.

    Resumes the repository's unfinished job from its stored cursor; otherwise starts a new one whose
    window ends at `planned_at` (default: now) — a run over many repositories gives them all one moment.
    `spent_before`: what the caller spent for a new job before it started (track's repository check),
    counted in that job.
    """
    job = store.current_job(repository)
    if job is None:
        kind, since = plan_job(repository, now=hooks.clock() if planned_at is None else planned_at)
        job = store.start_job(
            repository,
            kind=kind,
            since=since,
            started_at=iso(hooks.clock()),
            rewrite_from=rewrite_from(store.top_read_started(repository.id)) if kind == SyncKind.INCREMENTAL else None,
        )
    else:
        spent_before = NOTHING_SPENT
    run = _Run(store, source, store.resume_job(job), hooks, spent_before)
    run.show()
    while True:
        try:
            budget = source.budget()  # may re-read /rate_limit after a reset
        except GhsyncError as error:
            run.stop(Outcome.ERROR, RateLimitBudget.unlimited(), error)
            raise
        job = run.job
        request = page_request(repository, job)
        # A page fetched already (track's check of a new repository) is served whatever the budget now.
        if budget.below(threshold) and not source.holds(request):
            if _waited(hooks, budget):
                continue
            return run.stop(Outcome.RATE_LIMITED, budget)

        wanted = run.wanted()
        try:
            page = source.fetch_page(request, wanted=wanted)
        except RateLimited as error:
            stop_budget = RateLimitBudget(
                resource="graphql", remaining=error.remaining or 0, reset_at=error.reset_at or budget.reset_at
            )
            if _waited(hooks, stop_budget):
                continue
            return run.stop(Outcome.RATE_LIMITED, stop_budget)
        except GhsyncError as error:
            run.stop(Outcome.ERROR, budget, error)
            raise

        identity = page.identity
        if identity is not None and _another_repository(identity, repository):
            # Another repository took the name: its PRs would be stored as this one's (numbers over the old ones).
            replaced = RepositoryNotFound.replaced(repository.full_name)
            run.stop(Outcome.ERROR, budget, replaced)
            raise replaced
        never_synced = request.after is None and repository.last_synced_at is None
        if never_synced and identity is not None and identity.full_name.lower() != repository.full_name.lower():
            # Never synced under this name (track's check was put off by the rate limit or a fault): GitHub
            # follows a renamed repository's old name, and its PRs must not be stored under that name.
            renamed = RepositoryNotFound.renamed(repository.full_name, identity.full_name)
            run.stop(Outcome.ERROR, budget, renamed)
            raise renamed
        if job.cursor is None and page.head_updated_at is not None:
            job = run.job = store.set_head(job, page.head_updated_at)
        keys = wanted([Version(r.key, r.updated_at) for r in page.records])
        in_pass = [r for r in page.records if job.pass_since is None or r.updated_at >= job.pass_since]
        pass_ended = not page.has_next_page or len(in_pass) < len(page.records)
        # Only a counting page's total is the window's; later pages carry the whole repository's.
        total = page.total_count if request.count is not None and page.total_count is not None else job.prs_total
        if request.count is not None and request.after is not None and page.records:
            # A wider window's first page, deep in the order: the window's PRs above it, and those of this
            # page, are stored already (read again as stored, they are not written: see save_page).
            total = max(0, total - store.stored_updated_since(repository.id, page.records[-1].updated_at))
        # What the job reads but will not write (unchanged since stored) is not part of what it has to do.
        total = max(0, total - sum(1 for r in in_pass if r.key not in keys))
        reached_window_start = job.phase == Phase.MAIN and len(in_pass) < len(page.records)
        progress = PageProgress(
            # Kept at the end of a pass too: it is cleared in the same transaction that starts the
            # catch-up or finishes the job, so a crash in between re-reads one page, not the history.
            cursor=page.end_cursor or job.cursor,
            prs_total=total,
            spent=run.spent(),
            budget=source.budget(),
            # Where a wider window's job will start: this page, asked again.
            window_boundary=(request.after or "") if reached_window_start else None,
            # GitHub's ids, where the row has none yet: a pass's first page is enough.
            node_id=identity.node_id if identity and request.after is None else None,
            database_id=identity.database_id if identity and request.after is None else None,
        )
        try:
            job = run.job = store.save_page(job, [r for r in in_pass if r.key in keys], progress)
        except GhsyncError as error:  # the store could not write (a full disk): the page is not committed
            run.stop_after(error, budget)
            raise
        run.show()
        if not pass_ended:
            continue

        # Pages are ordered by updatedAt, so a record updated while we paged jumped ahead of our
        # cursor. The head read with each page tells whether that happened; if so, read what changed.
        if page.head_updated_at and job.head_updated_at and page.head_updated_at > job.head_updated_at:
            run.job = store.begin_catchup(job, pass_since=job.head_updated_at)
            continue
        return run.finish()


def _another_repository(identity: RepositoryIdentity, repository: Repository) -> bool:
    """Whether the page came from another repository than the one stored under this name. By GitHub's number
    when both are known: a node id can change format for the same repository (the legacy `MDEw…` ids)."""
    if identity.database_id is not None and repository.database_id is not None:
        return identity.database_id != repository.database_id
    return None not in (identity.node_id, repository.node_id) and identity.node_id != repository.node_id


def _waited(hooks: EngineHooks, budget: RateLimitBudget) -> bool:
    """With an on_wait hook and a known reset, wait for it (then go on) instead of stopping."""
    if hooks.on_wait is None or budget.reset_at is None:
        return False
    hooks.on_wait(seconds_until(budget.reset_at, hooks.clock()), budget)
    return True


def job_report(
    store: JobStore[R],
    job_id: int,
    *,
    outcome: Outcome,
    finished: float,
    budget: RateLimitBudget | None = None,
    error: str | None = None,
) -> SyncReport:
    """The report of a stored job, from what its stop or finish recorded (spend included)."""
    job = store.job(job_id)
    repository = store.repository(job.repository_id)
    prs, reviews = store.job_counts(job)
    return SyncReport(
        full_name=repository.full_name,
        kind=job.kind,
        outcome=outcome,
        days_back=repository.days_back,
        prs_synced=prs,
        reviews_synced=reviews,
        prs_total=repository.sync_prs_total,
        started_at=job.started_at,
        finished_at=iso(finished),
        duration_seconds=round(max(0.0, finished - epoch(job.started_at)), 3),
        graphql_points_spent=job.spent.points,
        rest_calls_spent=job.spent.rest_calls,
        rate_limit_remaining=budget.remaining if budget else None,
        rate_limit_reset_at=budget.reset_iso() if budget else None,
        error=error,
        prs_stored=store.stored_pull_request_count(repository.id),
    )
