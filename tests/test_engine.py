"""The sync engine through its two ports, with in-memory fakes: no HTTP, no SQLite, no clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pytest
from ghsync_testing import repository_record

from ghsync.engine import EngineHooks, Wanted, sync_repository
from ghsync.errors import GitHubError
from ghsync.models import (
    Outcome,
    Page,
    PageProgress,
    PageRequest,
    Phase,
    RateLimitBudget,
    Repository,
    Spend,
    SyncJob,
    SyncKind,
    SyncStatus,
    Version,
)

PAGE_SIZE = 3
START = 1_800_000_000.0


@dataclass(frozen=True)
class Item:
    """The least a record needs to be synced: a key and an updated_at."""

    key: int
    updated_at: str


def items(count: int) -> list[Item]:
    return [Item(key=n, updated_at=f"2026-01-01T00:00:{n:02d}Z") for n in range(1, count + 1)]


class ListSource:
    """Pages of PAGE_SIZE items, newest first; each page costs one point of a shrinking budget."""

    def __init__(self, records: list[Item], *, remaining: int = 5000, fail_at_page: int | None = None):
        self.records = sorted(records, key=lambda r: r.updated_at, reverse=True)
        self.remaining = remaining
        self.pages = 0
        self.requests: list[PageRequest] = []
        self.fail_at_page = fail_at_page

    def budget(self) -> RateLimitBudget:
        return RateLimitBudget(resource="graphql", remaining=self.remaining, reset_at=int(START) + 3600)

    def spent(self) -> Spend:
        return Spend(points=self.pages)

    def holds(self, request: PageRequest) -> bool:
        return False

    def fetch_page(self, request: PageRequest, *, wanted: Wanted) -> Page[Item]:
        self.requests.append(request)
        if self.fail_at_page is not None and self.pages + 1 == self.fail_at_page:
            raise GitHubError("GitHub rejected the query: boom")
        start = int(request.after or 0)
        chunk = self.records[start : start + PAGE_SIZE]
        wanted([Version(r.key, r.updated_at) for r in chunk])
        self.pages += 1
        self.remaining -= 1
        end = start + len(chunk)
        return Page(
            records=tuple(chunk),
            has_next_page=end < len(self.records),
            end_cursor=str(end),
            total_count=len(self.records) if request.count is not None else None,
            head_updated_at=self.records[0].updated_at if self.records else None,
        )


def repository(**changes: object) -> Repository:
    return repository_record("o/r", **changes)


class MemoryStore:
    """The JobStore port kept in dictionaries; `saved` holds what a real store would have committed."""

    def __init__(self, repo: Repository):
        self.repo = repo
        self.jobs: dict[int, SyncJob] = {}
        self.saved: dict[int, Item] = {}
        self.written_by: dict[int, int] = {}

    def repository(self, repository_id: int) -> Repository:
        return self.repo

    def current_job(self, repository: Repository) -> SyncJob | None:
        job = self.jobs.get(self.repo.current_sync_id or 0)
        return job if job is not None and self.repo.sync_status != SyncStatus.COMPLETE else None

    def start_job(
        self,
        repository: Repository,
        *,
        kind: SyncKind,
        since: str | None,
        started_at: str,
        rewrite_from: str | None = None,
    ) -> SyncJob:
        job = SyncJob(
            id=len(self.jobs) + 1,
            repository_id=repository.id,
            kind=kind,
            since=since,
            pass_since=since,
            phase=Phase.MAIN,
            cursor=None,
            head_updated_at=None,
            started_at=started_at,
            prs_total=0,
            spent=Spend(),
            runs=0,
            rewrite_from=rewrite_from,
        )
        self.jobs[job.id] = job
        self.repo = replace(self.repo, current_sync_id=job.id, sync_status=SyncStatus.SYNCING)
        return job

    def resume_job(self, job: SyncJob) -> SyncJob:
        return self._keep(replace(job, runs=job.runs + 1))

    def stored_versions(self, repository_id: int, keys: Sequence[int]) -> dict[int, str]:
        return {k: self.saved[k].updated_at for k in keys if k in self.saved}

    def save_page(self, job: SyncJob, records: Sequence[Item], progress: PageProgress) -> SyncJob:
        for record in records:
            self.saved[record.key] = record
            self.written_by[record.key] = job.id
        completed = sum(1 for owner in self.written_by.values() if owner == job.id)
        self.repo = replace(self.repo, sync_prs_completed=completed, sync_prs_total=progress.prs_total)
        return self._keep(replace(job, cursor=progress.cursor, prs_total=progress.prs_total, spent=progress.spent))

    def set_head(self, job: SyncJob, head_updated_at: str) -> SyncJob:
        return self._keep(replace(job, head_updated_at=head_updated_at))

    def begin_catchup(self, job: SyncJob, *, pass_since: str | None) -> SyncJob:
        return self._keep(replace(job, phase=Phase.CATCHUP, pass_since=pass_since, head_updated_at=None, cursor=None))

    def finish_job(self, job: SyncJob, *, finished_at: str, spent: Spend, budget: RateLimitBudget) -> None:
        self._keep(replace(job, cursor=None, spent=spent))
        self.repo = replace(
            self.repo, sync_status=SyncStatus.COMPLETE, last_synced_at=finished_at, sync_watermark=job.head_updated_at
        )

    def stop_job(
        self, job: SyncJob, *, outcome: Outcome, error: str | None, spent: Spend, budget: RateLimitBudget
    ) -> None:
        self._keep(replace(job, spent=spent))
        self.repo = replace(self.repo, sync_status=SyncStatus(outcome), last_error=error)

    def job(self, job_id: int) -> SyncJob:
        return self.jobs[job_id]

    def stored_pull_request_count(self, repository_id: int) -> int:
        return len(self.saved)

    def top_read_started(self, repository_id: int) -> str | None:
        return max((job.started_at for job in self.jobs.values()), default=None)

    def stored_updated_since(self, repository_id: int, updated_at: str) -> int:
        return sum(1 for record in self.saved.values() if record.updated_at >= updated_at)

    def job_counts(self, job: SyncJob) -> tuple[int, int]:
        return sum(1 for owner in self.written_by.values() if owner == job.id), 0

    def _keep(self, job: SyncJob) -> SyncJob:
        self.jobs[job.id] = job
        return job


def run(store: MemoryStore, source: ListSource, *, threshold: int = 100):
    return sync_repository(store, source, store.repo, threshold=threshold, hooks=EngineHooks(clock=lambda: START))


def test_a_whole_history_is_read_page_by_page_and_stored():
    source, store = ListSource(items(10)), MemoryStore(repository())
    report = run(store, source)
    assert report.outcome == Outcome.COMPLETE
    assert store.saved == {item.key: item for item in items(10)}
    assert source.pages == 4 and report.graphql_points_spent == 4


def test_only_the_first_page_of_a_pass_asks_for_the_count():
    source = ListSource(items(10))
    run(MemoryStore(repository()), source)
    assert [request.count for request in source.requests] == ["all", None, None, None]


def test_below_the_threshold_it_stops_with_the_cursor_kept():
    source, store = ListSource(items(10), remaining=102), MemoryStore(repository())
    report = run(store, source, threshold=100)
    assert report.outcome == Outcome.RATE_LIMITED
    assert source.pages == 3, "it stops before the page that would go below the threshold"
    job = store.jobs[1]
    assert job.cursor == "9" and len(store.saved) == 9
    assert store.repo.sync_status == SyncStatus.RATE_LIMITED


def test_a_stopped_job_resumes_from_its_cursor_and_reads_no_page_twice():
    source, store = ListSource(items(10), remaining=102), MemoryStore(repository())
    run(store, source, threshold=100)
    source.remaining = 5000
    report = run(store, source, threshold=100)
    assert report.outcome == Outcome.COMPLETE
    assert [request.after for request in source.requests] == [None, "3", "6", "9"]
    assert store.saved == {item.key: item for item in items(10)}
    assert report.graphql_points_spent == 4 and store.jobs[1].runs == 2


def test_with_on_wait_a_threshold_stop_waits_for_the_reset_then_goes_on():
    source, store = ListSource(items(10), remaining=101), MemoryStore(repository())
    waits: list[float] = []

    def wait(seconds: float, budget: RateLimitBudget) -> None:
        waits.append(seconds)
        source.remaining = 5000

    hooks = EngineHooks(clock=lambda: START, on_wait=wait)
    report = sync_repository(store, source, store.repo, threshold=100, hooks=hooks)
    assert report.outcome == Outcome.COMPLETE and waits == [3601.0]


def test_a_permanent_fault_is_recorded_with_the_cursor_kept_and_raised():
    source, store = ListSource(items(10), fail_at_page=2), MemoryStore(repository())
    with pytest.raises(GitHubError):
        run(store, source)
    assert store.repo.sync_status == SyncStatus.ERROR and "boom" in (store.repo.last_error or "")
    assert store.jobs[1].cursor == "3"


def test_an_incremental_sync_writes_only_what_changed():
    source, store = ListSource(items(10)), MemoryStore(repository())
    run(store, source)
    changed = Item(key=4, updated_at="2026-01-01T00:01:00Z")
    source.records = sorted([*items(10)[:3], changed, *items(10)[4:]], key=lambda r: r.updated_at, reverse=True)
    report = run(store, source)
    assert report.kind == SyncKind.INCREMENTAL and report.prs_synced == 1
    assert store.saved[4] == changed
