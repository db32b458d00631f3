"""Where the command line ends: errors to one printable line and an exit code, sync outcomes to exit codes."""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from ghsync.cli.text import printable
from ghsync.errors import EXIT_FAILED, EXIT_TEMPFAIL, EXIT_USAGE, GhsyncError

if TYPE_CHECKING:
    from ghsync.models import SyncReport

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM (a service manager, `timeout`, cron's kill) unwinds like Ctrl-C: locks released,
    the open page transaction rolled back, committed pages kept."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def stop_cleanly_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, _raise_terminated)


def say(message: str) -> None:
    """A line for people, on stderr; whatever it quotes is made printable."""
    typer.echo(printable(message), err=True)


def error_text(error: GhsyncError) -> str:
    """What an error says: a stop at the rate-limit threshold also says when the budget resets and what then."""
    from ghsync.errors import RateLimited

    text = str(error)
    if isinstance(error, RateLimited) and error.reset_at is not None:
        from datetime import datetime

        at = datetime.fromtimestamp(error.reset_at).astimezone().strftime("%Y-%m-%d %H:%M")
        text += f"; it resets at {at}: run the command again then (or with --wait now)"
    return text


def fail(message: str, code: int) -> typer.Exit:
    say(f"Error: {message}")
    return typer.Exit(code)


@contextmanager
def reported_errors(*, debug: bool, interrupted: str = "interrupted") -> Iterator[None]:
    """Map ghsync's errors to one line on stderr and an exit code; with --debug, the traceback first."""
    try:
        yield
    except GhsyncError as error:
        _traceback_if(debug)
        raise fail(error_text(error), error.exit_code) from None
    except Terminated:
        raise fail(interrupted.replace("interrupted", "terminated (SIGTERM)", 1), EXIT_TERMINATED) from None
    except KeyboardInterrupt:
        raise fail(interrupted, EXIT_INTERRUPTED) from None
    except (typer.Exit, typer.Abort, typer.BadParameter):
        raise
    except BrokenPipeError:
        # Whoever read stdout went away (`| head`): nothing to tell them, and the interpreter's last flush must
        # not fail again on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_FAILED) from None
    except Exception as error:  # noqa: BLE001 - the edge: anything unforeseen still ends in one line
        _traceback_if(debug)
        hint = "" if debug else " (run with --debug for details)"
        raise fail(f"unexpected {type(error).__name__}: {error}{hint}", EXIT_FAILED) from None


def _traceback_if(debug: bool) -> None:
    # The frames only, never their locals: a local may hold a token.
    if debug:
        traceback.print_exc(file=sys.stderr)


def exit_code(results: Iterable[SyncReport | GhsyncError | None]) -> int:
    """The one mapping from sync results to an exit code, for one repository or several.

    A stop at the rate-limit threshold is 75 (cron retries later); an error is its own code; with
    several repositories a failure outranks bad input, which outranks "try again later".
    """
    from ghsync.models import Outcome

    codes = []
    for result in results:
        if isinstance(result, GhsyncError):
            codes.append(result.exit_code)
        elif result is not None and result.outcome == Outcome.RATE_LIMITED:
            codes.append(EXIT_TEMPFAIL)
    for code in (EXIT_FAILED, EXIT_USAGE, EXIT_TEMPFAIL):
        if code in codes:
            return code
    return max(codes, default=0)
