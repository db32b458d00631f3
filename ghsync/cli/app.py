"""The typer app: each command parses its own options, calls one service function and renders the result."""

# No `from __future__ import annotations` here: typer reads every command's annotations at each start,
# and as strings it would compile and evaluate each one twice (~5 ms); the few that name a module
# imported only for type checking are quoted instead.
import dataclasses
import shlex
import sys
import time
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ghsync import __version__
from ghsync.cli.errors import error_text, exit_code, say, stop_cleanly_on_sigterm
from ghsync.cli.options import Command, Group, SyncCommand, settings, shared
from ghsync.cli.text import json_text, printable, printable_lines
from ghsync.errors import GhsyncError, RateLimited, UsageError

if TYPE_CHECKING:
    from ghsync.cli import render
    from ghsync.models import RateLimitBudget
    from ghsync.service.sync import SyncHooks, SyncRun

EPILOG = (
    "Exit codes: 0 done, 1 failed, 2 bad usage or input, "
    "75 try again later (rate-limited, or another process holds the repository)."
)

app = typer.Typer(
    name="ghsync",
    cls=Group,
    help="Keep a local SQLite copy of GitHub pull-request history and turn it into weekly team metrics.",
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # tracebacks with locals could print the token
    add_completion=True,
    rich_markup_mode=None,
)


def _complete_repository(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of OWNER/REPO: the tracked names in the database (--db, GHSYNC_DB or the default)."""
    try:
        from ghsync.cli.options import SharedOptions, _given
        from ghsync.service.status import tracked_repository_names

        root = ctx.find_root()
        options = _given(root) if isinstance(_given(root), SharedOptions) else SharedOptions()
        return tracked_repository_names(options.settings(), incomplete)
    except Exception:  # noqa: BLE001 - completion must never fail or print in the user's shell
        return []


Slug = Annotated[
    str,
    typer.Argument(
        metavar="OWNER/REPO", help="The repository, e.g. octocat/hello-world.", autocompletion=_complete_repository
    ),
]
Slugs = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="OWNER/REPO", help="Default: every tracked repository.", autocompletion=_complete_repository
    ),
]
Wait = Annotated[bool, typer.Option("--wait", help="At the rate-limit threshold, sleep until the reset and carry on.")]


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


class Breakdown(StrEnum):
    REPO = "repo"
    AUTHOR = "author"
    TEAM = "team"


# The JSON/CSV key (a WeeklyMetrics field) each breakdown adds.
_BREAKDOWN_KEY = {Breakdown.REPO: "repository", Breakdown.AUTHOR: "author", Breakdown.TEAM: "team"}


def _choices(enum: type[StrEnum]) -> str:
    return "[" + "|".join(enum) + "]"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ghsync {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Keep a local SQLite copy of GitHub pull-request history and turn it into weekly team metrics.

    The shared options (--db, --token, --api-url, --min-remaining, --notify-on, --quiet, --debug) go before
    or after the command name.
    """


def warn(message: str) -> None:
    say(f"Warning: {message}")


def note(message: str) -> None:
    """A line for people about a success (stderr), silent with --quiet: cron mails whatever a job prints."""
    if not shared().quiet:
        say(message)


def _progress() -> "render.SyncProgressDisplay":
    from ghsync.cli import render

    return render.SyncProgressDisplay(interactive=render.is_interactive(), quiet=shared().quiet)


def _hooks(display: "render.SyncProgressDisplay", *, wait: bool) -> "SyncHooks":
    from ghsync.service.sync import SyncHooks

    def wait_for_reset(seconds: float, budget: "RateLimitBudget") -> None:
        display.wait(seconds, budget.reset_iso())

    # Without --wait a rate-limit stop ends the command (exit 75) so cron can try again later.
    return SyncHooks(
        on_progress=display.update,
        on_wait=wait_for_reset if wait else None,
        on_warning=warn,
        on_run=display.start_run,
    )


@app.command(cls=SyncCommand, epilog=EPILOG)
def track(
    repository: Annotated[
        str,
        typer.Argument(
            metavar="OWNER/REPO|OWNER",
            help="A repository (octocat/hello-world), or an organisation or user (acme, or acme/*) for all its "
            "repositories, remembered so that `sync` picks up new ones.",
        ),
    ],
    days: Annotated[
        str | None,
        typer.Option(
            "--days",
            metavar="DAYS",
            help="Window: PRs updated in the last N days, or 'all' "
            "[default: 30 for a new repository, unchanged for a tracked one].",
        ),
    ] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option("--notify", metavar="EMAIL", help="Email this address when the sync completes; repeatable."),
    ] = None,
    wait: Wait = False,
    include_archived: Annotated[
        bool, typer.Option("--include-archived", help="OWNER: also track archived repositories.")
    ] = False,
    include_forks: Annotated[bool, typer.Option("--include-forks", help="OWNER: also track forks.")] = False,
    match: Annotated[
        list[str] | None,
        typer.Option("--match", metavar="GLOB", help="OWNER: only repositories whose name matches; repeatable."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", metavar="GLOB", help="OWNER: leave out repositories whose name matches; repeatable."),
    ] = None,
) -> None:
    """Track a repository, or every repository of an organisation or user, and sync now, in the foreground.

    Examples: ghsync track octocat/hello-world --days 60;  ghsync track acme --days 90 --exclude 'sandbox-*'
    """
    from ghsync.cli import render
    from ghsync.service.sync import track_owner, track_repository
    from ghsync.validate import parse_owner

    if parse_owner(repository) is not None:
        with _progress() as display:
            run = track_owner(
                settings(),
                repository,
                days=days,
                include_archived=include_archived,
                include_forks=include_forks,
                match=match or (),
                exclude=exclude or (),
                hooks=_hooks(display, wait=wait),
            )
        raise typer.Exit(_report_run(run))
    if include_archived or include_forks or match or exclude:
        raise UsageError(
            "--include-archived, --include-forks, --match and --exclude apply to an owner (ORG), not to OWNER/REPO"
        )
    with _progress() as display:
        result = track_repository(
            settings(), repository, days=days, notify_to=notify or (), hooks=_hooks(display, wait=wait)
        )
    note(result.message if result.report is None else render.report_line(result.report))
    raise typer.Exit(exit_code([result.report]))


@app.command(cls=SyncCommand, epilog=EPILOG)
def sync(repositories: Slugs = None, wait: Wait = False) -> None:
    """Resume interrupted syncs and fetch what changed since the last one.

    Example (crontab): */30 * * * * ghsync sync --quiet
    """
    from ghsync.service.sync import sync_tracked

    with _progress() as display:
        run = sync_tracked(settings(), repositories or (), hooks=_hooks(display, wait=wait))
    raise typer.Exit(_report_run(run))


def _report_run(run: "SyncRun") -> int:
    """One line per synced repository (errors and stops even with --quiet), one for the unchanged and one for
    the repositories an owner no longer tracks (not errors); returns the exit code."""
    from ghsync.cli import render
    from ghsync.models import Outcome
    from ghsync.service.common import NOTHING_TRACKED

    quiet = shared().quiet
    if run.message:
        note(run.message)
    if not (run.message or run.outcomes or run.unchanged or run.untracked):
        note(NOTHING_TRACKED)  # an empty state for people, not an error: cron stays quiet with exit 0
    stopped = [o.report for o in run.outcomes if o.report is not None and o.report.outcome == Outcome.RATE_LIMITED]
    for outcome in run.outcomes:
        if outcome.error is not None:
            message = error_text(outcome.error)
            # Name the repository once (the lock's message already starts with it); a stop at the threshold is
            # not an error (exit 75), and says so as the repositories' stops do.
            prefix = "" if isinstance(outcome.error, RateLimited) else "Error: "
            say(
                f"{prefix}{message}"
                if message.startswith(outcome.full_name)
                else f"{prefix}{outcome.full_name}: {message}"
            )
        elif outcome.report is not None and outcome.report.outcome == Outcome.RATE_LIMITED:
            continue  # one line for all: past the threshold, every repository left stops alike
        elif outcome.report is not None and (not quiet or outcome.report.outcome != Outcome.COMPLETE):
            say(render.report_line(outcome.report))
    if stopped:
        say(render.rate_limited_line(stopped))
    if run.unchanged:
        note(render.unchanged_line(run.unchanged))
    if run.untracked:  # not errors: `status` keeps the reason
        note(render.untracked_line([(u.full_name, u.reason) for u in run.untracked]))
    return exit_code(outcome.error or outcome.report for outcome in run.outcomes)


@app.command(cls=Command, epilog=EPILOG)
def status(
    repository: Annotated[
        str | None,
        typer.Argument(
            metavar="OWNER/REPO|OWNER",
            help="One repository, or every repository of an owner (untracked ones too). Default: every tracked "
            "repository, summarised per owner above 20.",
            autocompletion=_complete_repository,
        ),
    ] = None,
    show_all: Annotated[
        bool,
        typer.Option(
            "--all", help="List every repository, untracked ones too (with why), even when there are more than 20."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of the stored status fields.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Redraw from the database until no sync is running.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, metavar="SECONDS", help="Seconds between redraws with --watch.")
    ] = 1.0,
) -> None:
    """Show every tracked repository's sync status, progress and rate limit.

    Example: ghsync status --json | jq '.[].sync_progress'
    """
    from ghsync.cli import render
    from ghsync.service.common import NOTHING_TRACKED
    from ghsync.service.status import repository_statuses

    config = settings()
    if as_json:
        rows = repository_statuses(config, repository, include_untracked=show_all)
        typer.echo(json_text([row.as_json() for row in rows]))
        return
    console = render.stdout_console()
    if watch:
        render.watch_status(
            console, lambda: repository_statuses(config, repository, include_untracked=show_all), interval=interval
        )
        return
    rows = repository_statuses(config, repository, include_untracked=show_all)
    if not rows:
        note(NOTHING_TRACKED)  # an empty state for people (stderr), not an error
        return
    if repository is None and not show_all and len(rows) > render.SUMMARY_ABOVE:
        console.print(render.owner_summary(rows, now=time.time(), width=console.width))
        return
    console.print(render.status_table(rows, now=time.time(), width=console.width))


@app.command(cls=SyncCommand, epilog=EPILOG)
def demo(
    prs: Annotated[
        int, typer.Option("--prs", min=1, max=100000, metavar="N", help="Pull requests in the demo repository.")
    ] = 500,
) -> None:
    """Sync a generated repository from the bundled fake GitHub: no token, no network.

    Writes to --db if given, else to a new temporary directory. Example: ghsync demo --prs 2000
    """
    from ghsync.cli import render
    from ghsync.demo import run_demo

    with _progress() as display:
        outcome = run_demo(prs=prs, db=shared().db, hooks=_hooks(display, wait=True))
    note(render.report_line(outcome.report))
    if not shared().quiet:  # the tour; quiet, only where the database is (a script's smoke test needs that)
        console = render.stdout_console()
        console.print(render.status_table(outcome.statuses, now=time.time(), width=console.width))
    typer.echo(printable(f"Database: {outcome.db_path}"))
    if not shared().quiet:
        typer.echo(printable(f"Try: {render.command_name()} status --db {shlex.quote(str(outcome.db_path))}"))


class MetricsCommand(Command):
    """`metrics --help` ends with every column's definition, built only when help is asked for
    (the registry imports pydantic, which every other command's start-up would pay for)."""

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        from ghsync.cli.metrics_render import metrics_legend

        self.epilog = "Columns:\n\n" + metrics_legend().replace("\n", "\n\n") + "\n\n" + EPILOG
        super().format_epilog(ctx, formatter)


@app.command(cls=MetricsCommand, epilog=EPILOG)
def metrics(
    repositories: Slugs = None,
    weeks: Annotated[
        int | None, typer.Option("--weeks", min=1, max=5200, metavar="N", help="The last N weeks [default 12].")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", metavar="YYYY-MM-DD", help="First week to show: YYYY-MM-DD.")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="YYYY-MM-DD", help="Last week to show: YYYY-MM-DD (with --since)."),
    ] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", metavar="ORG", help="Only the tracked repositories of this owner.")
    ] = None,
    team: Annotated[
        str | None,
        typer.Option("--team", metavar="NAME", help="Only this team's PRs (config [teams.NAME] or `team import`)."),
    ] = None,
    by: Annotated[
        Breakdown | None,
        typer.Option("--by", metavar=_choices(Breakdown), help="One row per week and repository, author or team."),
    ] = None,
    include_bots: Annotated[
        bool, typer.Option("--include-bots", help="Count bots' PRs and reviews too (left out by default).")
    ] = False,
    output_format: Annotated[
        OutputFormat | None,
        typer.Option("--format", metavar=_choices(OutputFormat), help="Output format [default: table]."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")] = False,
    chart: Annotated[bool, typer.Option("--chart", help="Draw merged PRs and median cycle time per week.")] = False,
) -> None:
    """Weekly team metrics (UTC weeks from Monday) from the stored pull requests of every tracked
    repository, or of those named; only weeks the synced data fully covers.

    Example: ghsync metrics octocat/hello-world --weeks 8 --format csv > weeks.csv
    """
    from datetime import UTC, datetime

    from ghsync.cli import metrics_render, render
    from ghsync.service.weekly import weekly_metrics
    from ghsync.validate import parse_day

    if as_json and output_format not in (None, OutputFormat.JSON):
        raise UsageError(f"--json means --format json, not --format {output_format}")
    if until is not None and since is None:
        raise UsageError("--until needs --since")
    if weeks is not None and since is not None:
        raise UsageError("use --weeks or --since, not both")
    shown = OutputFormat.JSON if as_json else output_format or OutputFormat.TABLE
    key = _BREAKDOWN_KEY[by] if by is not None else None
    result = weekly_metrics(
        settings(),
        repositories or (),
        weeks=weeks,
        since=parse_day(since, "--since"),
        until=parse_day(until, "--until"),
        by=by.value if by is not None else None,
        owner=owner,
        team=team,
        include_bots=include_bots,
        today=datetime.now(UTC).date(),
    )
    if result.weeks_left_out:
        note(
            render.coverage_note(
                result.weeks_left_out, result.coverage_start, result.coverage_repository, result.widen_hint
            )
        )
    for name in result.not_covered:
        warn(f"{name} has not completed a sync yet: its data may be partial")
    if result.weeks_not_synced:
        note(render.not_synced_note(result.weeks_not_synced, result.synced_through, result.synced_through_repository))
    for repository in result.left_out:
        note(repository.note)
    if shown == OutputFormat.JSON:
        typer.echo(metrics_render.metrics_to_json(result.rows, key=key), nl=False)  # type: ignore[arg-type]
    elif shown == OutputFormat.CSV:
        typer.echo(metrics_render.metrics_to_csv(result.rows, key=key), nl=False)  # type: ignore[arg-type]
    else:
        console = render.stdout_console()
        title = f"{result.full_name}: weekly metrics"
        console.print(metrics_render.metrics_table(result.rows, title=title, key=key, width=console.width))  # type: ignore[arg-type]
        if chart and key is None:
            title = f"{result.full_name}: merged PRs and median cycle time"
            console.print(metrics_render.metrics_chart(result.rows, title=title))


team_app = typer.Typer(
    name="team",
    cls=Group,
    help="Teams for `metrics --team` and `--by team`: imported from GitHub or declared in the config file.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(team_app)


@team_app.command("import", cls=Command, epilog=EPILOG)
def team_import(
    team: Annotated[str, typer.Argument(metavar="ORG/TEAM-SLUG", help="The GitHub team, e.g. octo-org/platform.")],
    name: Annotated[
        str | None, typer.Option("--as", metavar="NAME", help="Store it under this name [default: the slug].")
    ] = None,
) -> None:
    """Read a GitHub team's members (GraphQL, one point per 100) and store them; again refreshes them.

    Example: ghsync team import octo-org/platform --as platform
    """
    from ghsync.service.weekly import import_team
    from ghsync.timefmt import plural

    result = import_team(settings(), team, name=name)
    members = plural(len(result.team.members or ()), "member")
    note(f"team {result.team.name}: {members} from {team} ({plural(result.points_spent, 'GraphQL point')})")


@team_app.command("remove", cls=Command, epilog=EPILOG)
def team_remove(
    name: Annotated[str, typer.Argument(metavar="NAME", help="An imported team's name (see `ghsync team list`).")],
) -> None:
    """Forget an imported team's members; its PRs and the digests already sent stay.

    Example: ghsync team remove platform
    """
    from ghsync.service.weekly import remove_team

    team = remove_team(settings(), name)
    note(f"team {team.name} removed (it was imported from {team.source.removeprefix('github ')})")


@team_app.command("list", cls=Command, epilog=EPILOG)
def team_list(as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False) -> None:
    """Every team, where it comes from, its members and repositories.

    Example: ghsync team list --json
    """
    from ghsync.cli import render
    from ghsync.service.weekly import list_teams

    teams = list_teams(settings())
    if as_json:
        typer.echo(json_text([dataclasses.asdict(team) for team in teams]))
        return
    render.stdout_console().print(render.teams_table(teams))


@app.command(cls=Command, epilog=EPILOG)
def untrack(
    repository: Annotated[
        str,
        typer.Argument(
            metavar="OWNER/REPO|OWNER",
            help="A repository, or a tracked owner (its repositories keep their data; new ones are no longer added).",
            autocompletion=_complete_repository,
        ),
    ],
    purge: Annotated[bool, typer.Option("--purge", help="Also delete its stored PRs, reviews and metrics.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Stop tracking a repository (keeping its data unless --purge).

    Example: ghsync untrack octocat/hello-world --purge --yes
    """
    from ghsync.cli import render
    from ghsync.service.sync import untrack_owner, untrack_repository
    from ghsync.validate import parse_owner

    login = parse_owner(repository)
    if login is not None:
        if purge:
            raise UsageError("--purge takes one repository; an owner's repositories keep their data")
        login, count = untrack_owner(settings(), login)
        kept = "its repository keeps its" if count == 1 else f"its {count} repositories keep their"
        note(f"{login}: no longer tracked; {kept} data and new ones are not added")
        return
    if purge and not yes:
        if not render.is_interactive(sys.stdin):
            raise UsageError("--purge deletes data: pass --yes to confirm when there is no terminal")
        typer.confirm(printable(f"Delete every stored pull request and review of {repository}?"), abort=True, err=True)
    name = untrack_repository(settings(), repository, purge=purge)
    note(f"{name}: no longer tracked" + (" and its data deleted" if purge else " (data kept)"))


@app.command("db-path", cls=Command, epilog=EPILOG)
def db_path() -> None:
    """Print the database's location (whether or not it exists yet), for sqlite3, Datasette or a backup.

    Example: datasette "$(ghsync db-path)"
    """
    from ghsync.service.status import database_path

    typer.echo(database_path(settings()))


@app.command("rate-limit", cls=Command, epilog=EPILOG)
def rate_limit(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Each token's remaining budget per bucket, shown by account (never the token).

    Example: ghsync rate-limit --json
    """
    from ghsync.cli import render
    from ghsync.service.sync import rate_limit_report

    rows = rate_limit_report(settings())
    if as_json:
        typer.echo(json_text([dataclasses.asdict(row) for row in rows]))
        return
    render.stdout_console().print(render.rate_limit_table(rows, now=time.time()))


@app.command(cls=Command, epilog=EPILOG)
def digest(
    repositories: Slugs = None,
    owner: Annotated[
        str | None, typer.Option("--owner", metavar="ORG", help="Every tracked repository of this owner.")
    ] = None,
    team: Annotated[str | None, typer.Option("--team", metavar="NAME", help="A team's repositories.")] = None,
    to: Annotated[
        list[str] | None,
        typer.Option("--to", metavar="ADDRESS", help="Email recipient; repeatable [default GHSYNC_NOTIFY_TO]."),
    ] = None,
    slack_webhook: Annotated[
        str | None,
        typer.Option(
            "--slack-webhook",
            metavar="URL",
            help="Slack incoming-webhook URL [env GHSYNC_SLACK_WEBHOOK, which keeps it out of the process list].",
            show_default=False,
        ),
    ] = None,
    weeks: Annotated[int, typer.Option("--weeks", min=1, max=520, metavar="N", help="Weeks in the chart.")] = 8,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plain-text digest; send and record nothing.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Send even to channels that already got this week.")] = False,
) -> None:
    """Send last week's digest (Monday–Sunday UTC against the week before) by email and/or Slack.

    Each channel gets a scope's week once: a retried cron job does not post twice (unless --force).
    Exit 0 when every channel has it, 1 when any failed (the others still get theirs), 2 for bad input.

    Example (crontab): 0 8 * * 1 ghsync sync --quiet && ghsync digest --team platform
    """
    from datetime import UTC, datetime

    from pydantic import SecretStr

    from ghsync.service.digest import ChannelStatus, send_digest

    result = send_digest(
        settings(),
        repositories or (),
        owner=owner,
        team=team,
        to=to or (),
        slack_webhook=SecretStr(slack_webhook) if slack_webhook is not None else None,
        weeks=weeks,
        dry_run=dry_run,
        force=force,
        now=datetime.now(UTC),
    )
    if dry_run:
        typer.echo(printable_lines(result.text), nl=False)
        return
    week = result.digest.week.isoformat()
    for outcome in result.outcomes:
        if outcome.status == ChannelStatus.FAILED:
            say(f"Error: {outcome.channel}: digest not sent: {outcome.detail}")
        elif outcome.status == ChannelStatus.PARTLY_SENT:
            say(f"Error: {outcome.channel}: digest sent, but {outcome.detail}")
        elif shared().quiet:
            continue
        elif outcome.status == ChannelStatus.SKIPPED:
            say(f"{outcome.channel}: the week of {week} was already sent (--force sends it again)")
        else:
            say(
                f"{outcome.channel}: digest of the week of {week} sent"
                + (f" {outcome.detail}" if outcome.detail else "")
            )
    raise typer.Exit(1 if result.failed else 0)


@app.command("notify-test", cls=Command, epilog=EPILOG)
def notify_test(
    to: Annotated[
        list[str] | None,
        typer.Option("--to", metavar="ADDRESS", help="Recipient; repeatable [default GHSYNC_NOTIFY_TO]."),
    ] = None,
) -> None:
    """Send a test email with the current SMTP settings and say exactly what failed, if anything.

    Example: GHSYNC_SMTP_HOST=smtp.example.com ghsync notify-test --to me@example.com
    """
    from ghsync.service.sync import send_test_notification

    recipients = send_test_notification(settings(), to or [])
    note(f"test email sent to {', '.join(recipients)}")


def main() -> None:
    stop_cleanly_on_sigterm()
    try:
        app()
    except GhsyncError as error:  # raised outside a command body (should not happen): still one line
        say(f"Error: {error}")
        sys.exit(error.exit_code)
    finally:
        skip_final_collection()


def skip_final_collection() -> None:
    """Spare the exiting interpreter its last garbage collections (about 0.1 s after a sync).

    By now the command has closed its database, lock and files; what is left are the objects
    PyGithub, pydantic and rich built, and the interpreter would walk all of them once more before
    the operating system frees the memory anyway. Frozen objects are never collected again, so
    only `main()` (a process that is about to end) does this, never a command run in tests.
    """
    import gc

    gc.freeze()
