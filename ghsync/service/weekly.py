"""Weekly metrics of a scope (repositories, an owner, a team) and the teams that scope them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal

from ghsync.config import Settings
from ghsync.errors import UsageError
from ghsync.models import LeftOutRepository, Repository, SyncStatus, Team, WeeklyMetrics
from ghsync.service.common import (
    _all_teams,
    _check_creatable,
    _members,
    _open_store,
    _people,
    default_config_path_text,
)
from ghsync.store import SqliteStore
from ghsync.timefmt import iso
from ghsync.validate import parse_repository_slug

if TYPE_CHECKING:
    from ghsync.metrics import Grouping
    from ghsync.models import MetricPullRequest
    from ghsync.service.sync import SyncHooks


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
    # The oldest last sync in scope, and whose it is: weeks ending after it are not complete yet.
    synced_through: str | None = None
    synced_through_repository: str | None = None
    # Past weeks marked not complete because of it (the week in progress never is complete).
    weeks_not_synced: int = 0
    # Repositories a team names that are untracked, left out of the scope.
    left_out: tuple[LeftOutRepository, ...] = ()


@dataclass(frozen=True)
class TeamImportResult:
    team: Team
    points_spent: int


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

    from ghsync.metrics import compute_weekly_metrics, covered_rows, synced_rows, week_start, weekly_metrics_window

    with _open_store(settings) as store:
        # Teams only when a team is asked for: a clash of names must not keep anyone from other metrics.
        wanted_teams = team is not None or by == "team"
        using = None if by == "team" else ([team] if team is not None else [])
        teams = {t.name: t for t in _all_teams(settings, store, using=using)} if wanted_teams else {}
        chosen = None
        if team is not None:
            chosen = teams.get(team)
            if chosen is None:
                known = ", ".join(sorted(teams)) or "none"
                raise UsageError(f"no team named {team!r} (teams: {known}); see `ghsync team list`")
        repositories, untracked = _scope(store, slugs, owner=owner, team=chosen, host=settings.github_host())
        if since is None and weeks is None:
            weeks = 12
        first_day = since if since is not None else week_start(today) - timedelta(weeks=(weeks or 12) - 1)
        # A week's numbers come only from PRs with an event in it, and every event moves updated_at: the
        # PRs updated since the window's first week began are enough (its Monday, whatever day --since names;
        # a day early: stored times may carry an offset).
        monday = week_start(first_day)
        updated_since = iso(datetime(monday.year, monday.month, monday.day, tzinfo=UTC).timestamp() - 86400)
        rows = compute_weekly_metrics(
            _team_prs(store.metric_pull_requests([r.id for r in repositories], updated_since=updated_since), chosen),
            group=_grouping(by, teams.values(), repositories, chosen=chosen),
            people=_people(settings, include_bots=include_bots),
            today=today,
            shown_from=first_day,
        )
        window = weekly_metrics_window(rows, weeks=weeks, since=since, until=until, today=today)
        # A repository whose whole history is stored bounds nothing: no PR of it can be missing from any
        # week, the week of its oldest PR included (its coverage_start, that PR's creation, is only shown).
        covered = [r for r in repositories if r.coverage_start is not None and not r.whole_history_stored]
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
            # From the Monday of --since's week, whatever day it names: that whole week is shown.
            days = (today - week_start(first_day)).days + 1
            hint = f"ghsync track {latest.full_name} --days {days}"
        # What happened after a repository's last sync is not stored: a week that ended after the oldest
        # last sync in scope can still grow, however long ago it was.
        synced = [r for r in repositories if r.last_synced_at is not None]
        stalest = min(synced, key=lambda r: _instant(r.last_synced_at or ""), default=None)
        synced_through = stalest.last_synced_at if stalest is not None else None
        kept, not_synced = synced_rows(kept, synced_through)
        return MetricsResult(
            full_name=_scope_title(repositories, chosen),
            rows=kept,
            repositories=tuple(r.full_name for r in repositories),
            coverage_start=coverage,
            coverage_repository=latest.full_name if latest is not None else None,
            weeks_left_out=left_out,
            widen_hint=hint,
            not_covered=tuple(r.full_name for r in repositories if r.coverage_start is None),
            synced_through=synced_through,
            synced_through_repository=stalest.full_name if stalest is not None else None,
            weeks_not_synced=not_synced,
            left_out=untracked,
        )


def _instant(text: str) -> float:
    from ghsync.timefmt import parse_iso

    return parse_iso(text).timestamp()


def _scope(
    store: SqliteStore, slugs: Sequence[str], *, owner: str | None, team: Team | None, host: str
) -> tuple[list[Repository], tuple[LeftOutRepository, ...]]:
    """The repositories metrics cover: those named, else every tracked one; narrowed by owner and team.

    Also returns the untracked repositories a team names (archived, deleted, untracked by hand): they are
    left out, since their data stops at their last sync, and the caller says so rather than drop them in
    silence. Named on the command line, an untracked repository is in scope like any other."""
    stored = store.list_repositories()
    if slugs:
        repositories = [store.get_repository(parse_repository_slug(slug, host)) for slug in slugs]
    else:
        repositories = [r for r in stored if r.sync_status != SyncStatus.UNTRACKED]
    if owner is not None:
        repositories = [r for r in repositories if r.owner.lower() == owner.lower()]
    left_out: list[Repository] = []
    if team is not None and team.repos is not None:
        wanted = {name.lower() for name in team.repos}
        unknown = sorted(wanted - {r.full_name.lower() for r in stored})
        if unknown:
            raise UsageError(f"team {team.name}: {', '.join(unknown)} not tracked: run `ghsync track {unknown[0]}`")
        if not slugs:
            left_out = [
                r
                for r in stored
                if r.full_name.lower() in wanted
                and r.sync_status == SyncStatus.UNTRACKED
                and (owner is None or r.owner.lower() == owner.lower())
            ]
        repositories = [r for r in repositories if r.full_name.lower() in wanted]
    if not repositories:
        if team is not None and left_out:
            names = ", ".join(r.full_name for r in left_out)
            raise UsageError(
                f"team {team.name}: every repository it names is untracked ({names}): "
                f"run `ghsync track {left_out[0].full_name}` to track one again"
            )
        scope = f" owned by {owner}" if owner else ""
        raise UsageError(f"no tracked repositories{scope} in this scope: run `ghsync track OWNER/REPO` first")
    return repositories, tuple(LeftOutRepository(r.full_name, r.last_error) for r in left_out)


def _scope_title(repositories: Sequence[Repository], team: Team | None) -> str:
    names = repositories[0].full_name if len(repositories) == 1 else f"{len(repositories)} repositories"
    return names if team is None else f"team {team.name} ({names})"


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


def _grouping(
    by: Breakdown | None, teams: Iterable[Team], repositories: Sequence[Repository], *, chosen: Team | None = None
) -> Grouping | None:
    """The breakdown's keys. Repositories and teams in scope (the chosen team, if any) get a row every week, a
    quiet one too (zero counts say something of a team); authors only where they were active (people come and go)."""
    from ghsync.metrics import Grouping

    if by is None:
        return None
    if by == "repo":
        return Grouping("repository", lambda pr: (pr.repository,), every=tuple(r.full_name for r in repositories))
    if by == "author":
        return Grouping("author", lambda pr: (pr.author,))
    known = [(t, _members(t)) for t in teams]
    if not known:
        raise UsageError("--by team: no teams defined; add [teams.NAME] to the config file or run `ghsync team import`")
    # A PR of an author in two teams counts in both team rows (and once in a total).
    return Grouping(
        "team",
        lambda pr: [t.name for t, m in known if _in_team(pr, t, m)],
        every=(chosen.name,) if chosen else tuple(t.name for t, _ in known),
    )


def list_teams(settings: Settings) -> list[Team]:
    """Every team: from the config file and imported into the database."""
    if not settings.db.exists():
        return _all_teams(settings, None, using=())
    with _open_store(settings) as store:
        return _all_teams(settings, store, using=())


def import_team(
    settings: Settings, spec: str, *, name: str | None = None, hooks: SyncHooks | None = None
) -> TeamImportResult:
    """Read ORG/TEAM-SLUG's members from GitHub and store them as team NAME (default the slug); again refreshes."""
    organization, _, slug = spec.partition("/")
    if not organization or not slug or "/" in slug:
        raise UsageError(f"team must be ORG/TEAM-SLUG, not {spec!r}")
    name = name or slug
    if name in settings.teams:
        raise UsageError(
            f"team {name!r} is defined twice: in the config file ({default_config_path_text()}) and imported "
            f"from {organization}/{slug}; choose another name with --as"
        )
    origin = f"github {organization}/{slug}"
    if settings.db.exists():
        with _open_store(settings) as store:
            stored = store.imported_team(name)
        if stored is not None and stored.source.lower() != origin.lower():
            # Refreshing is `team import` again; replacing another team's members without a word is not.
            raise UsageError(
                f"team {name!r} is already imported from {stored.source.removeprefix('github ')}: "
                f"choose another name with --as, or `ghsync team remove {name}` first"
            )
    from ghsync.github.teams import team_members
    from ghsync.service.sync import SyncHooks, _open_source  # the engine and GitHub: only `team import` needs them

    _check_creatable(settings)  # a path that cannot be created fails before a request is spent

    hooks = hooks or SyncHooks()
    source = _open_source(settings, hooks)
    before = source.spent().points
    members = team_members(source, organization, slug)  # type: ignore[arg-type]
    team = Team(name=name, source=origin, members=members, imported_at=iso(hooks.clock()))
    with _open_store(settings, create=True) as store:
        store.save_team(team, organization=organization, slug=slug)
        return TeamImportResult(team, source.spent().points - before)


def remove_team(settings: Settings, name: str) -> Team:
    """Forget an imported team (its members); the PRs and the digests already sent are kept."""
    stored = None
    if settings.db.exists():
        with _open_store(settings) as store:
            stored = store.imported_team(name)
            if stored is not None:
                store.remove_team(name)
    if stored is not None:
        return stored
    if name in settings.teams:
        raise UsageError(
            f"team {name!r} is declared in the config file ({default_config_path_text()}): remove its table there"
        )
    raise UsageError(f"no imported team named {name!r}: `ghsync team list` shows the teams")
