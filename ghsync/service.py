"""What each command does: the only composer of settings, store, GitHub source, engine and notifier.

Every function takes Settings and returns typed results; nothing here prints, prompts or exits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

from ghsync.config import Settings, default_db_path
from ghsync.engine import EngineHooks, Source, job_report, sync_repository
from ghsync.errors import GhsyncError, UsageError
from ghsync.models import (
    AccountRateLimit,
    Outcome,
    RateLimitBudget,
    Repository,
    RepositoryStatus,
    SyncReport,
    SyncStatus,
    Team,
    WeeklyMetrics,
)
from ghsync.store import SqliteStore, open_store
from ghsync.store.lock import is_locked, repository_lock
from ghsync.timefmt import iso
from ghsync.validate import parse_days, parse_repository_slug

if TYPE_CHECKING:
    from ghsync.metrics import Grouping, PeopleFilter
    from ghsync.models import MetricPullRequest


class PullRequestSource(Source["PullRequestRecord"], Protocol):
    """The engine's Source for pull requests, plus the one REST check `track` makes first."""

    def check_repository(self, full_name: str) -> None: ...


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
        raise UsageError("no GitHub token: set GITHUB_TOKEN (or GH_TOKEN) or pass --token")
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
    full_name = parse_repository_slug(slug)
    days_back = parse_days(days)
    recipients = _recipients(notify_to)
    _require_tokens(settings)
    store = _open_store(settings, create=True)
    # Everything happens under the repository's lock: a running sync's window and job must not
    # change under it, and a second `track` (even of a new repository) hears that one is running.
    with repository_lock(settings.db, full_name):
        existing = store.find_repository(full_name)
        if existing is None:
            source = _open_source(settings, hooks)
            # One REST call (the core bucket, not GraphQL points): a clear error before anything is written.
            source.check_repository(full_name)
            repository = store.add_repository(
                full_name, days_back=days_back, now=iso(hooks.clock()), notify_to=recipients
            )
            return TrackResult(full_name, _sync_one(settings, store, source, repository, hooks))

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
        source = _open_source(settings, hooks)
        repository = store.retrack(
            existing,
            days_back=days_back,
            notify_to=recipients or None,
            restart=_window_widens(existing.days_back, days_back),
        )
        return TrackResult(existing.full_name, _sync_one(settings, store, source, repository, hooks))


def sync_tracked(settings: Settings, slugs: Sequence[str] = (), *, hooks: SyncHooks | None = None) -> list[SyncOutcome]:
    """Resume or update tracked repositories; every repository is tried, each outcome reported."""
    hooks = hooks or SyncHooks()
    names = [parse_repository_slug(slug) for slug in slugs]
    store = _open_store(settings)
    repositories = [store.get_repository(name) for name in names] if names else store.list_repositories()
    repositories = [r for r in repositories if r.sync_status != SyncStatus.UNTRACKED]
    if not repositories:
        raise UsageError("no repositories are tracked: run `ghsync track OWNER/REPO` first")
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
) -> SyncReport:
    """Run the engine on one repository (its lock held), then refresh metrics and email as policy says."""
    engine_hooks = EngineHooks(clock=hooks.clock, on_progress=hooks.on_progress, on_wait=hooks.on_wait)
    try:
        report = sync_repository(store, source, repository, threshold=settings.min_remaining, hooks=engine_hooks)
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
    if not smtp.enabled or not recipients:
        return
    warning = notify_sync_result(smtp, report, recipients=recipients, db_path=str(settings.db))
    if repository.current_sync_id is not None:
        store.record_email_status(repository.current_sync_id, warning or f"sent to {', '.join(recipients)}")
    if warning:
        hooks.on_warning(f"{report.full_name}: {warning}")


def repository_statuses(settings: Settings, slug: str | None = None) -> list[RepositoryStatus]:
    """The stored status of every tracked repository (or one), for `status` and its --json."""
    store = _open_store(settings)
    if slug is not None:
        repositories = [store.get_repository(parse_repository_slug(slug))]
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
    repository = store.get_repository(parse_repository_slug(slug))
    with repository_lock(settings.db, repository.full_name):
        store.untrack(repository, purge=purge)
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
    repositories = _scope(store, slugs, owner=owner, team=chosen)
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


def _scope(store: SqliteStore, slugs: Sequence[str], *, owner: str | None, team: Team | None) -> list[Repository]:
    """The repositories metrics cover: those named, else every tracked one; narrowed by owner and team."""
    if slugs:
        repositories = [store.get_repository(parse_repository_slug(slug)) for slug in slugs]
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
