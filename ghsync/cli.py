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
from ghsync.errors import EXIT_FAILED, EXIT_TEMPFAIL, GhsyncError

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
    Optional[Path], typer.Option("--db", help="SQLite file [env GHSYNC_DB; default: ghsync.db in the user data dir]")
]
TokenOption = Annotated[
    Optional[list[str]],
    typer.Option("--token", help="GitHub token; repeat for a pool [env GITHUB_TOKEN, GH_TOKEN, GHSYNC_TOKENS]"),
]
ApiUrlOption = Annotated[
    Optional[str], typer.Option("--api-url", help="GitHub API URL [env GITHUB_API_URL; default https://api.github.com]")
]
MinRemainingOption = Annotated[
    Optional[int],
    typer.Option("--min-remaining", min=0, help="Stop when fewer GraphQL points remain [env GHSYNC_MIN_REMAINING; 100]"),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")]


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


def _settings(db: Path | None, token: list[str] | None, api_url: str | None, min_remaining: int | None = None):
    from ghsync.config import load_settings

    return load_settings(db=db, tokens=token or None, api_url=api_url, min_remaining=min_remaining)


def _hooks(display):
    from ghsync.service import SyncHooks

    def wait(seconds: float, budget) -> None:
        display.wait(seconds, budget.reset_iso())

    return SyncHooks(on_progress=display.update, on_wait=wait)


@app.command(epilog=EPILOG)
@handles_errors
def track(
    repository: Annotated[str, typer.Argument(help="OWNER/REPO, e.g. octocat/hello-world")],
    days: Annotated[str, typer.Option("--days", help="Window: PRs updated in the last N days, or 'all'.")] = "30",
    notify: Annotated[Optional[list[str]], typer.Option("--notify", help="Email this address when the sync completes; repeatable.")] = None,
    db: DbOption = None,
    token: TokenOption = None,
    api_url: ApiUrlOption = None,
    min_remaining: MinRemainingOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Track a repository and sync its pull-request history now, in the foreground.

    Example: ghsync track octocat/hello-world --days 60
    """
    from ghsync.render import SyncProgressDisplay, is_interactive, report_line, stderr_console
    from ghsync.service import raise_for_report, track_repository

    settings = _settings(db, token, api_url, min_remaining)
    with SyncProgressDisplay(stderr_console(), interactive=is_interactive(), quiet=quiet) as display:
        result = track_repository(settings, repository, days=days, notify_to=notify or (), hooks=_hooks(display))
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
    repositories: Annotated[Optional[list[str]], typer.Argument(help="OWNER/REPO ...; default: every tracked repository")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="At the rate-limit threshold, sleep until the reset and carry on.")] = False,
    db: DbOption = None,
    token: TokenOption = None,
    api_url: ApiUrlOption = None,
    min_remaining: MinRemainingOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Resume interrupted syncs and fetch what changed since the last one.

    Example (crontab): */30 * * * * ghsync sync --quiet
    """
    from ghsync.render import SyncProgressDisplay, is_interactive, report_line, stderr_console
    from ghsync.service import sync_tracked

    settings = _settings(db, token, api_url, min_remaining)
    with SyncProgressDisplay(stderr_console(), interactive=is_interactive(), quiet=quiet) as display:
        hooks = _hooks(display)
        if not wait:
            hooks.on_wait = None
        outcomes = sync_tracked(settings, repositories or (), hooks=hooks)
    code = 0
    for name, report, error in outcomes:
        if error is not None:
            typer.echo(f"Error: {name}: {error}", err=True)
            code = max(code, error.exit_code) if code != EXIT_FAILED else code
            if error.exit_code == EXIT_FAILED:
                code = EXIT_FAILED
        elif report is not None:
            if report.outcome == "rate_limited":
                code = EXIT_TEMPFAIL if code == 0 else code
            if not quiet or report.outcome != "complete":
                typer.echo(report_line(report), err=True)
    if code:
        raise typer.Exit(code)


@app.command(epilog=EPILOG)
@handles_errors
def status(
    repository: Annotated[Optional[str], typer.Argument(help="OWNER/REPO; default: every tracked repository")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of the stored status fields.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Redraw from the database until no sync is running.")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.1, help="Seconds between redraws with --watch.")] = 1.0,
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
    prs: Annotated[int, typer.Option("--prs", min=1, max=100000, help="Pull requests in the demo repository.")] = 500,
    db: Annotated[Optional[Path], typer.Option("--db", help="Where to write the demo database; default: a new temporary directory.")] = None,
    debug: DebugOption = False,
) -> None:
    """Sync a generated repository from the bundled fake GitHub: no token, no network.

    Example: ghsync demo --prs 2000
    """
    from ghsync.demo import run_demo
    from ghsync.render import SyncProgressDisplay, is_interactive, report_line, status_table, stderr_console, stdout_console

    with SyncProgressDisplay(stderr_console(), interactive=is_interactive()) as display:
        outcome = run_demo(prs=prs, db=db, hooks=_hooks(display))
    typer.echo(report_line(outcome.report), err=True)
    console = stdout_console()
    console.print(status_table(outcome.statuses, now=time.time(), width=console.width))
    typer.echo(f"Database: {outcome.db_path}")
    typer.echo(f"Try: ghsync status --db {outcome.db_path}")


def main() -> None:
    try:
        app()
    except GhsyncError as error:  # raised outside a command body (should not happen): still one line
        typer.echo(f"Error: {error}", err=True)
        sys.exit(error.exit_code)


if __name__ == "__main__":
    main()
