"""The command line: parse options, call one service function, render. The only module that exits."""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ghsync import __version__
from ghsync.errors import EXIT_FAILED, EXIT_TEMPFAIL, EXIT_USAGE, GhsyncError

EPILOG = (
    "Exit codes: 0 done, 1 failed, 2 bad usage or input, "
    "75 try again later (rate-limited, or another process holds the repository)."
)

app = typer.Typer(
    name="ghsync",
    help="Keep a local SQLite copy of GitHub pull-request history and turn it into weekly team metrics.",
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # tracebacks with locals could print the token
    add_completion=True,
    rich_markup_mode=None,
)

DbOption = Annotated[
    Optional[Path], typer.Option("--db", metavar="PATH", help="SQLite file [env GHSYNC_DB; default: ghsync.db in the user data dir]")
]
TokenOption = Annotated[
    Optional[list[str]],
    typer.Option("--token", metavar="TOKEN", help="GitHub token; repeat for a pool [env GITHUB_TOKEN, GH_TOKEN, GHSYNC_TOKENS]"),
]
ApiUrlOption = Annotated[
    Optional[str], typer.Option("--api-url", metavar="URL", help="GitHub API URL [env GITHUB_API_URL; default https://api.github.com]")
]
InsecureHttpOption = Annotated[
    bool,
    typer.Option("--allow-insecure-http", help="Allow a plain http:// API URL on another host (the token travels unencrypted) [env GHSYNC_ALLOW_INSECURE_HTTP]."),
]
MinRemainingOption = Annotated[
    Optional[int],
    typer.Option("--min-remaining", min=0, metavar="N", help="Stop when fewer GraphQL points remain [env GHSYNC_MIN_REMAINING; 100]"),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")]
NotifyOnOption = Annotated[
    Optional[str],
    typer.Option("--notify-on", metavar="EVENTS", help="Also email on: update, rate_limited, error (comma-separated) [env GHSYNC_NOTIFY_ON]"),
]


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
    """Keep a local SQLite copy of GitHub pull-request history and turn it into weekly team metrics."""


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


def handles_errors(command):
    """Map ghsync's errors to one line on stderr and an exit code; tracebacks only with --debug."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = kwargs.get("debug", False)
        try:
            return command(*args, **kwargs)
        except GhsyncError as error:
            if debug:
                raise
            raise _fail(str(error), error.exit_code) from None
        except KeyboardInterrupt:
            raise _fail("interrupted; committed pages are kept and `ghsync sync` resumes", 130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as error:
            if debug:
                raise
            raise _fail(f"unexpected {type(error).__name__}: {error} (run with --debug for details)", EXIT_FAILED) from None

    return wrapper


def _settings(
    db: Path | None,
    token: list[str] | None,
    api_url: str | None,
    min_remaining: int | None = None,
    notify_on: str | None = None,
    allow_insecure_http: bool = False,
):
    from ghsync.config import load_settings

    return load_settings(
        db=db, tokens=token or None, api_url=api_url, min_remaining=min_remaining, notify_on=notify_on,
        allow_insecure_http=allow_insecure_http or None,
    )


def _hooks(display, *, wait: bool):
    from ghsync.service import SyncHooks

    def wait_for_reset(seconds: float, budget) -> None:
        display.wait(seconds, budget.reset_iso())

    def warn(message: str) -> None:
        typer.echo(f"Warning: {message}", err=True)

    # Without --wait a rate-limit stop ends the command (exit 75) so cron can try again later.
    return SyncHooks(on_progress=display.update, on_wait=wait_for_reset if wait else None, on_warning=warn)


def combined_exit_code(codes: list[int]) -> int:
    """Several repositories, one exit code: a failure outranks bad input, which outranks "try later"."""
    for code in (EXIT_FAILED, EXIT_USAGE, EXIT_TEMPFAIL):
        if code in codes:
            return code
    return max(codes, default=0)


@app.command(epilog=EPILOG)
@handles_errors
def track(
    repository: Annotated[str, typer.Argument(metavar="OWNER/REPO", help="e.g. octocat/hello-world")],
    days: Annotated[
        Optional[str],
        typer.Option("--days", metavar="DAYS", help="Window: PRs updated in the last N days, or 'all' [default: 30 for a new repository, unchanged for a tracked one]."),
    ] = None,
    notify: Annotated[Optional[list[str]], typer.Option("--notify", metavar="EMAIL", help="Email this address when the sync completes; repeatable.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="At the rate-limit threshold, sleep until the reset and carry on.")] = False,
    db: DbOption = None,
    token: TokenOption = None,
    api_url: ApiUrlOption = None,
    allow_insecure_http: InsecureHttpOption = False,
    min_remaining: MinRemainingOption = None,
    notify_on: NotifyOnOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Track a repository and sync its pull-request history now, in the foreground.

    Example: ghsync track octocat/hello-world --days 60
    """
    from ghsync.render import SyncProgressDisplay, is_interactive, report_line, stderr_console
    from ghsync.service import raise_for_report, track_repository

    settings = _settings(db, token, api_url, min_remaining, notify_on, allow_insecure_http)
    with SyncProgressDisplay(stderr_console(), interactive=is_interactive(), quiet=quiet) as display:
        result = track_repository(settings, repository, days=days, notify_to=notify or (), hooks=_hooks(display, wait=wait))
    if result.already_tracked:
        if not quiet:
            typer.echo(result.message, err=True)
        return
    assert result.report is not None
    if not quiet:
        typer.echo(report_line(result.report), err=True)
    raise_for_report(result.report)


@app.command(epilog=EPILOG)
@handles_errors
def sync(
    repositories: Annotated[Optional[list[str]], typer.Argument(metavar="OWNER/REPO", help="Default: every tracked repository.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="At the rate-limit threshold, sleep until the reset and carry on.")] = False,
    db: DbOption = None,
    token: TokenOption = None,
    api_url: ApiUrlOption = None,
    allow_insecure_http: InsecureHttpOption = False,
    min_remaining: MinRemainingOption = None,
    notify_on: NotifyOnOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Resume interrupted syncs and fetch what changed since the last one.

    Example (crontab): */30 * * * * ghsync sync --quiet
    """
    from ghsync.render import SyncProgressDisplay, is_interactive, report_line, stderr_console
    from ghsync.service import sync_tracked

    settings = _settings(db, token, api_url, min_remaining, notify_on, allow_insecure_http)
    with SyncProgressDisplay(stderr_console(), interactive=is_interactive(), quiet=quiet) as display:
        hooks = _hooks(display, wait=wait)
        outcomes = sync_tracked(settings, repositories or (), hooks=hooks)
    codes = []
    for name, report, error in outcomes:
        if error is not None:
            typer.echo(f"Error: {name}: {error}", err=True)
            codes.append(error.exit_code)
        elif report is not None:
            codes.append(EXIT_TEMPFAIL if report.outcome == "rate_limited" else 0)
            if not quiet or report.outcome != "complete":
                typer.echo(report_line(report), err=True)
    code = combined_exit_code(codes)
    if code:
        raise typer.Exit(code)


@app.command(epilog=EPILOG)
@handles_errors
def status(
    repository: Annotated[Optional[str], typer.Argument(metavar="OWNER/REPO", help="Default: every tracked repository.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of the stored status fields.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Redraw from the database until no sync is running.")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.1, metavar="SECONDS", help="Seconds between redraws with --watch.")] = 1.0,
    db: DbOption = None,
    debug: DebugOption = False,
) -> None:
    """Show every tracked repository's sync status, progress and rate limit.

    Example: ghsync status --json | jq '.[].sync_progress'
    """
    from ghsync.render import status_table, stdout_console
    from ghsync.service import repository_statuses

    settings = _settings(db, None, None)
    if as_json:
        typer.echo(json.dumps(repository_statuses(settings, repository), indent=2))
        return
    console = stdout_console()
    if not watch:
        console.print(status_table(repository_statuses(settings, repository), now=time.time(), width=console.width))
        return
    if not console.is_terminal:
        # Piped or logged: one plain line per repository per redraw instead of an animated table.
        from ghsync.render import status_line

        while True:
            rows = repository_statuses(settings, repository)
            for row in rows:
                typer.echo(status_line(row))
            if not any(r["sync_status"] == "syncing" and r["process_alive"] for r in rows):
                return
            time.sleep(interval)
    from rich.live import Live

    with Live(console=console, auto_refresh=False) as live:
        while True:
            rows = repository_statuses(settings, repository)
            live.update(status_table(rows, now=time.time(), width=console.width), refresh=True)
            if not any(r["sync_status"] == "syncing" and r["process_alive"] for r in rows):
                break
            time.sleep(interval)


@app.command(epilog=EPILOG)
@handles_errors
def demo(
    prs: Annotated[int, typer.Option("--prs", min=1, max=100000, metavar="N", help="Pull requests in the demo repository.")] = 500,
    db: Annotated[Optional[Path], typer.Option("--db", metavar="PATH", help="Where to write the demo database; default: a new temporary directory.")] = None,
    debug: DebugOption = False,
) -> None:
    """Sync a generated repository from the bundled fake GitHub: no token, no network.

    Example: ghsync demo --prs 2000
    """
    from ghsync.demo import run_demo
    from ghsync.render import SyncProgressDisplay, is_interactive, report_line, status_table, stderr_console, stdout_console

    with SyncProgressDisplay(stderr_console(), interactive=is_interactive()) as display:
        outcome = run_demo(prs=prs, db=db, hooks=_hooks(display, wait=True))
    typer.echo(report_line(outcome.report), err=True)
    console = stdout_console()
    console.print(status_table(outcome.statuses, now=time.time(), width=console.width))
    typer.echo(f"Database: {outcome.db_path}")
    typer.echo(f"Try: ghsync status --db {outcome.db_path}")


@app.command(epilog=EPILOG)
@handles_errors
def metrics(
    repository: Annotated[str, typer.Argument(metavar="OWNER/REPO", help="The repository.")],
    weeks: Annotated[Optional[int], typer.Option("--weeks", min=1, metavar="N", help="The last N weeks [default 12].")] = None,
    since: Annotated[Optional[str], typer.Option("--since", metavar="YYYY-MM-DD", help="First week to show: YYYY-MM-DD.")] = None,
    until: Annotated[Optional[str], typer.Option("--until", metavar="YYYY-MM-DD", help="Last week to show: YYYY-MM-DD (with --since).")] = None,
    by: Annotated[Optional[str], typer.Option("--by", metavar="author", help="Break down by: author.")] = None,
    output_format: Annotated[str, typer.Option("--format", metavar="FORMAT", help="table, csv or json.")] = "table",
    chart: Annotated[bool, typer.Option("--chart", help="Draw merged PRs and median cycle time per week.")] = False,
    db: DbOption = None,
    debug: DebugOption = False,
) -> None:
    """Weekly team metrics (UTC weeks from Monday) from the stored pull requests.

    Example: ghsync metrics octocat/hello-world --weeks 8 --format csv > weeks.csv
    """
    from datetime import UTC, datetime

    from ghsync.errors import UsageError
    from ghsync.metrics_render import metrics_chart, metrics_table, metrics_to_csv, metrics_to_json
    from ghsync.render import stdout_console
    from ghsync.service import weekly_metrics

    if output_format not in ("table", "csv", "json"):
        raise UsageError(f"--format must be table, csv or json, not '{output_format}'")
    if by not in (None, "author"):
        raise UsageError(f"--by can only be 'author', not '{by}'")
    if until is not None and since is None:
        raise UsageError("--until needs --since")
    if weeks is not None and since is not None:
        raise UsageError("use --weeks or --since, not both")
    by_author = by == "author"
    settings = _settings(db, None, None)
    full_name, rows = weekly_metrics(
        settings, repository, weeks=weeks, since=since, until=until, by_author=by_author,
        today=datetime.now(UTC).date(),
    )
    if output_format == "json":
        typer.echo(metrics_to_json(rows, by_author=by_author), nl=False)
    elif output_format == "csv":
        typer.echo(metrics_to_csv(rows, by_author=by_author), nl=False)
    else:
        console = stdout_console()
        console.print(metrics_table(rows, title=f"{full_name}: weekly metrics", by_author=by_author))
        if chart and not by_author:
            console.print(metrics_chart(rows, title=f"{full_name}: merged PRs and median cycle time"))


@app.command(epilog=EPILOG)
@handles_errors
def untrack(
    repository: Annotated[str, typer.Argument(metavar="OWNER/REPO", help="The repository.")],
    purge: Annotated[bool, typer.Option("--purge", help="Also delete its stored PRs, reviews and metrics.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
    debug: DebugOption = False,
) -> None:
    """Stop tracking a repository (keeping its data unless --purge).

    Example: ghsync untrack octocat/hello-world --purge --yes
    """
    from ghsync.errors import UsageError
    from ghsync.render import is_interactive
    from ghsync.service import untrack_repository

    if purge and not yes:
        if not is_interactive(sys.stdin):
            raise UsageError("--purge deletes data: pass --yes to confirm when there is no terminal")
        typer.confirm(f"Delete every stored pull request and review of {repository}?", abort=True, err=True)
    name = untrack_repository(_settings(db, None, None), repository, purge=purge)
    typer.echo(f"{name}: no longer tracked" + (" and its data deleted" if purge else " (data kept)"), err=True)


@app.command("rate-limit", epilog=EPILOG)
@handles_errors
def rate_limit(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    token: TokenOption = None,
    api_url: ApiUrlOption = None,
    allow_insecure_http: InsecureHttpOption = False,
    debug: DebugOption = False,
) -> None:
    """Each token's remaining budget per bucket, shown by account (never the token).

    Example: ghsync rate-limit --json
    """
    from rich.table import Table

    from ghsync.render import local_time, relative, stdout_console
    from ghsync.service import rate_limit_report

    rows = rate_limit_report(_settings(None, token, api_url, allow_insecure_http=allow_insecure_http))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="GitHub rate limits", title_justify="left")
    for header in ("Account", "Bucket", "Remaining", "Limit", "Resets"):
        table.add_column(header)
    now = time.time()
    for row in rows:
        resets = f"{local_time(row['reset_at'])} ({relative(row['reset_at'], now)})" if row["reset_at"] else "no limit"
        table.add_row(row["account"], row["resource"], str(row["remaining"] if row["remaining"] is not None else "∞"),
                      str(row["limit"] or "—"), resets)
    stdout_console().print(table)


@app.command("notify-test", epilog=EPILOG)
@handles_errors
def notify_test(
    to: Annotated[Optional[list[str]], typer.Option("--to", metavar="ADDRESS", help="Recipient; repeatable [default GHSYNC_NOTIFY_TO].")] = None,
    debug: DebugOption = False,
) -> None:
    """Send a test email with the current SMTP settings and say exactly what failed, if anything.

    Example: GHSYNC_SMTP_HOST=smtp.example.com ghsync notify-test --to me@example.com
    """
    from ghsync.service import send_test_notification

    recipients = send_test_notification(_settings(None, None, None), to or [])
    typer.echo(f"test email sent to {', '.join(recipients)}", err=True)


def main() -> None:
    try:
        app()
    except GhsyncError as error:  # raised outside a command body (should not happen): still one line
        typer.echo(f"Error: {error}", err=True)
        sys.exit(error.exit_code)


if __name__ == "__main__":
    main()
