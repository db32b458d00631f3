"""Tracking and syncing: track, sync, untrack, the engine run on each repository and its email."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeVar

from ghsync.config import Settings
from ghsync.engine import (
    NOTHING_SPENT,
    EngineHooks,
    Source,
    first_request,
    job_report,
    next_request,
    rewrite_from,
    seconds_until,
    sync_repository,
)
from ghsync.errors import (
    GhsyncError,
    NotTracked,
    RateLimited,
    RepositoryLocked,
    TransientGitHubError,
    UsageError,
)
from ghsync.models import (
    AccountRateLimit,
    ListedRepository,
    Outcome,
    Owner,
    OwnerFilters,
    PageRequest,
    PullRequestRecord,
    RateLimitBudget,
    Repository,
    RepositoryHead,
    RepositoryIdentity,
    RunPlan,
    Spend,
    SyncKind,
    SyncReport,
    SyncStatus,
)
from ghsync.service.common import (
    EMAIL_NOT_CONFIGURED,
    _check_creatable,
    _database_exists,
    _existing_store,
    _open_store,
    _people,
    _require_tokens,
)
from ghsync.store import SqliteStore
from ghsync.store.lock import owner_lock, repository_lock
from ghsync.timefmt import iso
from ghsync.validate import parse_days, parse_globs, parse_owner, parse_repository_slug

T = TypeVar("T")

if TYPE_CHECKING:
    from ghsync.metrics import PeopleFilter


class PullRequestSource(Source[PullRequestRecord], Protocol):
    """The engine's Source for pull requests, plus what `track` and `sync` ask of GitHub around it."""

    def check_repository(self, first: PageRequest) -> RepositoryIdentity:
        """Fetch (and hold for the engine) a new repository's first page; raise if it is not there under this
        name; else GitHub's name and ids for it."""
        ...

    def expect(self, planned: Sequence[tuple[PageRequest, int]]) -> None: ...

    def list_owner(self, login: str, *, include_forks: bool) -> tuple[str, list[ListedRepository]]: ...

    def repository_heads(self, full_names: Sequence[str]) -> dict[str, RepositoryHead] | None: ...


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


def _open_source(settings: Settings, hooks: SyncHooks) -> PullRequestSource:
    from ghsync.github.pulls import open_source  # imports PyGithub: only commands that talk to GitHub pay for it

    # A bad mail setting is bad usage (exit 2), said before anything is fetched: found only when the sync
    # is done, it would have to be a warning (see _notify_run).
    settings.smtp()

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


def _recipients(addresses: Sequence[str], flag: str = "--notify") -> list[str]:
    """Addresses given on the command line, checked before anything is done: a bad one is bad usage (exit 2)."""
    from ghsync.notify.settings import parse_recipients

    try:
        return list(parse_recipients(list(addresses)))
    except ValueError as error:
        raise UsageError(f"{flag}: {error}") from None


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
    # Without a database the repository is new for sure: it is checked before the file is created, so that
    # a mistyped name leaves nothing behind. (With one, the check waits for the lock and the lookup.)
    check = None
    if not _database_exists(settings):
        _check_creatable(settings)  # a path that cannot be created fails before a request is spent
        check = _check_new(settings, full_name, days_back, hooks)
    # Everything happens under the repository's lock: a running sync's window and job must not
    # change under it, and a second `track` (even of a new repository) hears that one is running.
    with _open_store(settings, create=True) as store, repository_lock(settings.db, full_name):
        existing = store.find_repository(full_name)
        if existing is None:
            check = check or _check_new(settings, full_name, days_back, hooks)
            if check.put_off is not None:
                store.add_repository(full_name, days_back=days_back, now=iso(hooks.clock()), notify_to=recipients)
                raise check.put_off
            identity = check.identity
            repository = store.add_repository(
                full_name,
                days_back=days_back,
                now=iso(hooks.clock()),
                notify_to=recipients,
                node_id=identity.node_id if identity else None,
                database_id=identity.database_id if identity else None,
            )
            report = _sync_one(
                settings,
                store,
                check.source,
                repository,
                hooks,
                spent_before=check.spent,
                planned_at=check.planned_at,
            )
            return TrackResult(full_name, report)

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


@dataclass(frozen=True)
class _NewRepositoryCheck:
    """A new repository's first page, fetched as the check that it exists under its name (and held for the
    engine, so the check is no request of its own)."""

    source: PullRequestSource
    planned_at: float
    spent: Spend  # the check's cost, counted in the first sync, whose first page it is
    identity: RepositoryIdentity | None  # None at the threshold: the engine stops at once, after recording it
    put_off: TransientGitHubError | None = None  # a fault that outlasted the retries: recorded, then raised


def _check_new(settings: Settings, full_name: str, days_back: int | None, hooks: SyncHooks) -> _NewRepositoryCheck:
    """The first page is the check: a clear error before anything is written. When GitHub cannot answer now
    (the threshold, a fault that outlasted the retries) the repository is recorded all the same, `pending`,
    and the command exits 75: `sync` checks and syncs it later."""
    source = _open_source(settings, hooks)
    before = source.spent()
    planned_at = hooks.clock()
    try:
        identity = source.check_repository(first_request(full_name, days_back, planned_at=planned_at))
    except RateLimited:
        return _NewRepositoryCheck(source, planned_at, source.spent() - before, None)
    except TransientGitHubError as error:
        return _NewRepositoryCheck(source, planned_at, source.spent() - before, None, put_off=error)
    return _NewRepositoryCheck(source, planned_at, source.spent() - before, identity)


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
        repository = store.widen(
            existing,
            days_back=days_back,
            notify_to=recipients or None,
            since=start,
            started_at=iso(hooks.clock()),
            cursor=coverage.cursor,
        )
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
    # GitHub's cheap check did not find it (deleted, renamed, access lost): it is synced on its own, so that
    # its error is its own and never fails a request it would share with other repositories.
    gone: bool = False


def sync_tracked(settings: Settings, slugs: Sequence[str] = (), *, hooks: SyncHooks | None = None) -> SyncRun:
    """Re-list remembered owners, check every tracked repository's head cheaply, and sync those that
    changed (resuming interrupted ones); every repository is tried, each outcome reported."""
    hooks = hooks or SyncHooks()
    names = [parse_repository_slug(slug, settings.github_host()) for slug in slugs]
    store = _open_store(settings) if names else _existing_store(settings)
    if store is None:
        return SyncRun()  # nothing tracked, and no database created by asking
    with store:
        run = SyncRun()
        if names:
            named = {name: store.find_repository(name) for name in names}
            repositories = [r for r in named.values() if r is not None]
            owners: list[Owner] = []
            # Named, one not tracked (never, untracked, purged) is not "nothing to do" (cron would never sync it,
            # without a word): its own usage error, the others synced all the same.
            run.outcomes += [
                SyncOutcome(name, None, _not_tracked_error(name) if r is None else _untracked_error(r))
                for name, r in named.items()
                if r is None or r.sync_status == SyncStatus.UNTRACKED
            ]
        else:
            repositories = store.list_repositories()
            owners = store.list_owners()
        repositories = [r for r in repositories if r.sync_status != SyncStatus.UNTRACKED]
        if not repositories and not owners:
            # Nothing to do is not a failure: cron must not mail on every run before the first `track`.
            return run
        source = _open_source(settings, hooks)
        candidates: list[_Candidate] = []
        owner_ids = {owner.id for owner in owners}
        for owner in owners:
            try:
                login, listed = _waiting_out(
                    hooks, partial(source.list_owner, owner.login, include_forks=owner.filters.include_forks)
                )
            except RateLimited as error:
                # Past the threshold (without --wait) nothing else can be asked either: the run stops here,
                # before any job starts (they would all stop at once, and say `rate_limited` of unchanged ones).
                run.outcomes.append(SyncOutcome(owner.login, None, error))
                return run
            except GhsyncError as error:
                run.outcomes.append(SyncOutcome(owner.login, None, error))
                owner_ids.discard(owner.id)  # its repositories are still synced, unchecked
                continue
            try:
                found, untracked = _refresh_owner(settings, store, owner, login, listed, hooks, adopt_untracked=False)
            except RepositoryLocked as error:  # `untrack ORG` or another run is changing this owner
                run.outcomes.append(SyncOutcome(owner.login, None, error))
                owner_ids.discard(owner.id)
                continue
            candidates += found
            run.untracked += untracked
        # Read before the owners were re-listed: one an owner adopted just now is its candidate already.
        owned = {candidate.repository.id for candidate in candidates}
        by_hand = [r for r in repositories if r.owner_id not in owner_ids and r.id not in owned]
        try:
            candidates += _check_heads(source, by_hand, hooks)
        except RateLimited as error:
            run.outcomes.append(SyncOutcome(f"the check of {len(by_hand)} repositories", None, error))
            return run
        return _run(settings, store, source, candidates, hooks, run)


def _not_tracked_error(name: str) -> NotTracked:
    return NotTracked(f"{name} is not tracked in this database: run `ghsync track {name}`")


def _untracked_error(repository: Repository) -> NotTracked:
    reason = f" ({repository.last_error})" if repository.last_error else ""
    return NotTracked(
        f"{repository.full_name} is untracked{reason}: `ghsync track {repository.full_name}` tracks it again"
    )


def _waiting_out(hooks: SyncHooks, call: Callable[[], T]) -> T:
    """The call; at the rate-limit threshold, with --wait (`on_wait`), wait for the reset and call again.
    Without it RateLimited goes on: the run stops there, as the engine's pages do."""
    while True:
        try:
            return call()
        except RateLimited as error:
            if hooks.on_wait is None or error.reset_at is None:
                raise
            budget = RateLimitBudget(resource="graphql", remaining=error.remaining or 0, reset_at=error.reset_at)
            hooks.on_wait(seconds_until(error.reset_at, hooks.clock()), budget)


def _check_heads(source: PullRequestSource, repositories: list[Repository], hooks: SyncHooks) -> list[_Candidate]:
    """Repositories tracked one by one: one aliased 1-point request reads 100 heads. For a single
    repository the check does not pay (its incremental page reads the head too). RateLimited at the
    threshold without --wait."""
    if len(repositories) < 2:
        return [_Candidate(r) for r in repositories]
    heads = _waiting_out(hooks, lambda: source.repository_heads([r.full_name for r in repositories]))
    if heads is None:
        return [_Candidate(r) for r in repositories]
    return [
        _Candidate(r, heads[r.full_name].head_updated_at, heads[r.full_name].prs_total)
        if r.full_name in heads
        else _Candidate(r, gone=True)
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
    those gone or filtered out untracked with the reason (data kept). Under the owner's lock."""
    with owner_lock(settings.db, owner.login):
        current = store.find_owner(owner.login)
        if current is None or current.id != owner.id:
            # `untrack OWNER` finished while it was being listed: nothing of it is to be tracked any more.
            return [], []
        now = iso(hooks.clock())
        stored = {r.full_name.lower(): r for r in store.owner_repositories(owner)}
        listed_names = set()
        candidates, untracked = [], []

        def untrack(repository: Repository, reason: str) -> None:
            try:
                if _untrack_locked(settings, store, repository, reason):
                    untracked.append(Untracked(repository.full_name, reason))
            except RepositoryLocked:
                return  # a live sync holds it: the next run untracks it

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
                adopted = _adopt(settings, store, existing, owner, hooks)
                if adopted is None:
                    continue
                repository = adopted
            else:
                repository = existing
            candidates.append(_Candidate(repository, item.head_updated_at, item.prs_total))
        # Forks are left out by GitHub itself (isFork: false) unless asked for: a tracked fork is then unlisted too.
        causes = "deleted, transferred or made private" + ("" if owner.filters.include_forks else ", or a fork")
        for key, repository in stored.items():
            if key not in listed_names:
                untrack(repository, f"no longer listed under {login} on GitHub ({causes})")
        store.owner_listed(owner, now=now)
        return candidates, untracked


def _adopt(
    settings: Settings, store: SqliteStore, repository: Repository, owner: Owner, hooks: SyncHooks
) -> Repository | None:
    """The owner takes the repository over with its window, under the repository's lock: a running sync
    of it must not have its window (or its restart) change underneath. None while one runs."""
    try:
        with repository_lock(settings.db, repository.full_name):
            current = store.repository(repository.id)  # as the sync that just ended (if any) left it
            return store.adopt(
                current, owner, days_back=owner.days_back, restart=_window_widens(current.days_back, owner.days_back)
            )
    except RepositoryLocked:
        hooks.on_warning(
            f"{repository.full_name} is being synced by another process: {owner.login}'s window applies to it "
            "on the next run"
        )
        return None


def _needs_sync(store: SqliteStore, candidate: _Candidate) -> bool:
    repository = candidate.repository
    if candidate.head == _UNKNOWN or repository.sync_status != SyncStatus.COMPLETE:
        return True
    if repository.last_synced_at is None or store.current_job(repository) is not None:
        return True
    # An equal head proves nothing when it was updated about when the last sync read it (engine.rewrite_from).
    since = rewrite_from(store.top_read_started(repository.id))
    if since is not None and repository.sync_watermark is not None and repository.sync_watermark >= since:
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
        if expected is not None and not candidate.gone:
            planned.append((request, expected))
    source.expect(planned)
    if len(to_sync) > 1:
        hooks.on_run(RunPlan({c.repository.full_name: c.prs_total or 0 for c in to_sync}))
    emails: list[tuple[Repository, SyncReport]] = []
    try:
        for candidate in to_sync:
            repository = candidate.repository
            try:
                with repository_lock(settings.db, repository.full_name):
                    # Re-read under the lock: another process may have finished or advanced this job meanwhile.
                    current = store.repository(repository.id)
                    report = _sync_one(settings, store, source, current, hooks, planned_at=planned_at, emails=emails)
                    run.outcomes.append(SyncOutcome(repository.full_name, report))
            except GhsyncError as error:
                run.outcomes.append(SyncOutcome(repository.full_name, None, error))
    finally:
        # Also when the run is stopped (Ctrl-C, SIGTERM): what finished before is reported.
        _notify_run(settings, store, emails, hooks)
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
    # A remembered owner keeps its window and filters unless they are given again (as a repository keeps its
    # window): read before listing, which must see the forks the filters keep.
    remembered = _remembered_owner(settings, login)
    if remembered is not None:
        days_back = remembered.days_back if days is None else days_back
        filters = filters if filters != OwnerFilters() else remembered.filters
    _check_creatable(settings)  # a path that cannot be created fails before a request is spent
    source = _open_source(settings, hooks)
    # Listed before the database is even opened: an unknown owner leaves it as it was (or absent).
    login, listed = _waiting_out(hooks, partial(source.list_owner, login, include_forks=filters.include_forks))
    with _open_store(settings, create=True) as store:
        remembered = store.find_owner(login)
        owner = store.save_owner(login, days_back=days_back, filters=filters, now=iso(hooks.clock()))
        run = SyncRun()
        run.message = _owner_changes(remembered, owner)
        # Only a first `track OWNER` (or one after `untrack OWNER`) takes back repositories untracked by hand.
        candidates, run.untracked = _refresh_owner(
            settings, store, owner, login, listed, hooks, adopt_untracked=remembered is None
        )
        if not candidates:
            nothing = (
                f"{login}: no repositories to track after filters ({len(listed)} listed); "
                "it is remembered: `ghsync sync` tracks new ones that match"
            )
            run.message = "\n".join(filter(None, [run.message, nothing]))
            return run
        return _run(settings, store, source, candidates, hooks, run)


def _remembered_owner(settings: Settings, login: str) -> Owner | None:
    store = _existing_store(settings)
    if store is None:
        return None
    with store:
        return store.find_owner(login)


def _owner_changes(before: Owner | None, after: Owner) -> str:
    """What tracking a remembered owner again changed, said in a line each (nothing when nothing changed)."""
    if before is None:
        return ""
    lines = []
    if before.days_back != after.days_back:
        how = (
            "its repositories fetch the older PRs"
            if _window_widens(before.days_back, after.days_back)
            else "stored PRs are kept"
        )
        lines.append(
            f"{after.login}: window changed from {_window_words(before.days_back)} to "
            f"{_window_words(after.days_back)}; {how}"
        )
    if before.filters != after.filters:
        lines.append(f"{after.login}: filters changed to {_filter_words(after.filters)}")
    return "\n".join(lines)


def _filter_words(filters: OwnerFilters) -> str:
    words = [f"--match {glob}" for glob in filters.match] + [f"--exclude {glob}" for glob in filters.exclude]
    words += ["--include-archived"] * filters.include_archived + ["--include-forks"] * filters.include_forks
    return " ".join(words) or "none (every repository but archived ones and forks)"


def untrack_owner(settings: Settings, login: str) -> tuple[str, int]:
    """Forget an owner: its repositories keep their data and are untracked; new ones are no longer picked up."""
    with _open_store(settings) as store:
        owner = store.find_owner(login)
        if owner is None:
            raise NotTracked(f"owner {login} is not tracked in this database: run `ghsync track {login}`")
        reason = f"owner {owner.login} untracked"
        # Each repository under its own lock (a running sync would otherwise finish as `complete` over the
        # `untracked` written here), one at a time (an owner may have thousands); the owner's lock keeps a
        # `sync` from adopting them again meanwhile. One being synced keeps the owner, and exit 75 says so.
        with owner_lock(settings.db, owner.login):
            untracked, busy = 0, []
            for repository in store.owner_repositories(owner):
                try:
                    untracked += _untrack_locked(settings, store, repository, reason)
                except RepositoryLocked as error:
                    busy.append(error)
            if busy:
                raise RepositoryLocked(
                    f"{busy[0]}; the owner's other repositories are untracked: run `ghsync untrack {owner.login}` "
                    "again then"
                )
            store.remove_owner(owner)
        return owner.login, untracked


def _untrack_locked(settings: Settings, store: SqliteStore, repository: Repository, reason: str) -> bool:
    """Untrack a repository of an owner under its lock (a running sync would otherwise finish as `complete`
    over it); False when it already was. RepositoryLocked while another process syncs it."""
    if repository.sync_status == SyncStatus.UNTRACKED:
        return False
    with repository_lock(settings.db, repository.full_name):
        store.mark_untracked(store.repository(repository.id), reason)
    return True


def _sync_one(
    settings: Settings,
    store: SqliteStore,
    source: PullRequestSource,
    repository: Repository,
    hooks: SyncHooks,
    *,
    spent_before: Spend = NOTHING_SPENT,
    planned_at: float | None = None,
    emails: list[tuple[Repository, SyncReport]] | None = None,
) -> SyncReport:
    """Run the engine on one repository (its lock held), then refresh metrics and email as policy says.

    `emails`: a run over several repositories collects the outcomes here and mails them together
    (`_notify_run`) rather than once per repository; without it, this repository's outcome is mailed here."""
    outcomes: list[tuple[Repository, SyncReport]] = [] if emails is None else emails
    engine_hooks = EngineHooks(clock=hooks.clock, on_progress=hooks.on_progress, on_wait=hooks.on_wait)
    try:
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
                outcomes.append((failed, error_report))
            raise
        if report.outcome == Outcome.COMPLETE:
            # Every complete sync: the stored weeks carry `complete` (the week in progress moves on) and
            # the bots filter of the current settings, so they are recomputed even when no PR changed.
            refresh_weekly_metrics(
                store, repository.id, people=_people(settings, include_bots=False), today=_today(hooks)
            )
        outcomes.append((store.repository(repository.id), report))
        return report
    finally:
        if emails is None and outcomes:
            _notify_run(settings, store, outcomes, hooks)


def refresh_weekly_metrics(
    store: SqliteStore, repository_id: int, *, people: PeopleFilter | None = None, today: date | None = None
) -> int:
    """Recompute the stored weekly metrics (`weekly_metrics`, for SQL users) from every stored PR, only of
    the weeks the stored data covers, as `metrics` shows them; returns the number of weeks."""
    from ghsync.metrics import compute_weekly_metrics, covered_rows

    rows = compute_weekly_metrics(store.metric_pull_requests([repository_id]), people=people, today=today)
    repository = store.repository(repository_id)
    if not repository.whole_history_stored:
        rows, _ = covered_rows(rows, repository.coverage_start)
    store.replace_weekly_metrics(repository_id, rows)
    return len(rows)


def _today(hooks: SyncHooks) -> date:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(hooks.clock(), UTC).date()


def _notify_run(
    settings: Settings, store: SqliteStore, outcomes: Sequence[tuple[Repository, SyncReport]], hooks: SyncHooks
) -> None:
    """Email the outcomes policy says to, one message per set of recipients: an owner's 300 repositories
    synced in one run make one email, not 300. Each job records whether its outcome went out."""
    from ghsync.notify.message import should_notify
    from ghsync.notify.smtp import notify_run_result

    events = settings.notify_events()
    due = [
        (repository, report) for repository, report in outcomes if should_notify(report.outcome, report.kind, events)
    ]
    if not due:
        return
    smtp = settings.smtp()  # checked before anything was fetched (_open_source)
    by_recipients: dict[tuple[str, ...], list[tuple[Repository, SyncReport]]] = {}
    for repository, report in due:
        recipients = tuple(repository.notify_to) or tuple(smtp.default_recipients)
        if recipients:
            by_recipients.setdefault(recipients, []).append((repository, report))
    for recipients, group in by_recipients.items():
        jobs = [r.current_sync_id for r, _ in group if r.current_sync_id is not None]
        if not smtp.enabled:
            # Someone asked for mail: the job says why none came (the warning was given at `track`).
            for job in jobs:
                store.record_email_status(job, f"not sent: {EMAIL_NOT_CONFIGURED}")
            continue
        reports = [report for _, report in group]
        warning = notify_run_result(smtp, reports, recipients=list(recipients), db_path=str(settings.db))
        for job in jobs:
            store.record_email_status(job, warning or f"sent to {', '.join(recipients)}")
        if warning:
            about = reports[0].full_name if len(reports) == 1 else f"{len(reports)} repositories"
            hooks.on_warning(f"{about}: {warning}")


def untrack_repository(settings: Settings, slug: str, *, purge: bool) -> str:
    with _open_store(settings) as store:
        repository = store.get_repository(parse_repository_slug(slug, settings.github_host()))
        with repository_lock(settings.db, repository.full_name):
            store.untrack(repository, purge=purge)  # also unlinks it from its owner: a re-listing leaves it alone
        return repository.full_name


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
    from ghsync.notify.smtp import send_test_email

    smtp = settings.smtp()
    # Missing or bad settings are bad usage (exit 2), as for `digest --to` and `track --notify`.
    if not smtp.enabled:
        raise UsageError("notify-test needs an SMTP server: set GHSYNC_SMTP_HOST (smtp_host in the config file)")
    recipients = _recipients(to, "--to") or list(smtp.default_recipients)
    if not recipients:
        raise UsageError("no recipient: pass --to ADDRESS or set GHSYNC_NOTIFY_TO")
    send_test_email(smtp, to=recipients)
    return recipients
