"""The options every command shares (--db, --token, ...): declared once, accepted before or after the command."""

# No `from __future__ import annotations`: typer reads the shared options' annotations at each start,
# and as strings it would compile and evaluate each one twice.
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from ghsync.cli.errors import reported_errors

if TYPE_CHECKING:
    from ghsync.config import Settings


@dataclass
class SharedOptions:
    """The shared options as given on the command line (None/False: not given; config and env decide)."""

    db: Path | None = None
    token: list[str] | None = None
    api_url: str | None = None
    min_remaining: int | None = None
    notify_on: str | None = None
    allow_insecure_http: bool = False
    quiet: bool = False
    debug: bool = False

    def settings(self) -> "Settings":
        from ghsync.config import load_settings

        return load_settings(
            db=self.db,
            tokens=self.token or None,
            api_url=self.api_url,
            min_remaining=self.min_remaining,
            notify_on=self.notify_on,
            allow_insecure_http=self.allow_insecure_http or None,
        )


_META_KEY = "ghsync.cli.options"
_current: ContextVar[SharedOptions] = ContextVar("ghsync_cli_options")


def _given(ctx: Any) -> SharedOptions:
    # ctx.meta is one dict for the root context and the command's: both positions fill one record.
    options: SharedOptions = ctx.meta.setdefault(_META_KEY, SharedOptions())
    return options


def _remember(ctx: Any, param: Any, value: Any) -> Any:
    # Called for every shared option in both positions; an absent one (None, False) must not undo
    # a value given on the other side of the command name. After the command wins over before.
    absent = value is None or value is False or (isinstance(value, (tuple, list)) and not value)
    if param.name and not absent:
        setattr(_given(ctx), param.name, list(value) if isinstance(value, tuple) else value)
    return value


def _declaration(
    db: Annotated[
        Path | None,
        typer.Option(
            "--db",
            metavar="PATH",
            help="SQLite file [env GHSYNC_DB; default: ghsync.db in the user data dir; demo: a new temporary one]",
        ),
    ] = None,
    token: Annotated[
        list[str] | None,
        typer.Option(
            "--token",
            metavar="TOKEN",
            help="GitHub token; repeat for a pool [env GH_TOKEN, GITHUB_TOKEN, GHSYNC_TOKENS; else `gh auth token`]",
        ),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url", metavar="URL", help="GitHub API URL [env GITHUB_API_URL; default https://api.github.com]"
        ),
    ] = None,
    min_remaining: Annotated[
        int | None,
        typer.Option(
            "--min-remaining",
            min=0,
            metavar="N",
            help="Stop when fewer GraphQL points remain [env GHSYNC_MIN_REMAINING; 100]",
        ),
    ] = None,
    notify_on: Annotated[
        str | None,
        typer.Option(
            "--notify-on",
            metavar="EVENTS",
            help="Also email on: update, rate_limited, error (comma-separated) [env GHSYNC_NOTIFY_ON]",
        ),
    ] = None,
    allow_insecure_http: Annotated[
        bool,
        typer.Option(
            "--allow-insecure-http",
            help="Allow a plain http:// API URL on another host: the token travels unencrypted "
            "[env GHSYNC_ALLOW_INSECURE_HTTP].",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and warnings.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """The one declaration of the shared options: typer turns this signature into click options."""


def _shared_parameters() -> list[Any]:
    declaration = typer.Typer(add_completion=False)
    declaration.command()(_declaration)
    parameters = typer.main.get_command(declaration).params
    for parameter in parameters:
        # Not passed to any function: the values go to SharedOptions, whichever side they were given on.
        parameter.expose_value = False
        parameter.callback = _remember
    return parameters


SHARED_PARAMETERS = _shared_parameters()


def _with_shared(own: list[Any], help_option: Any) -> list[Any]:
    return [*own, *SHARED_PARAMETERS, *([help_option] if help_option is not None else [])]


def shared() -> SharedOptions:
    """The shared options of the command being run (only valid inside a command)."""
    return _current.get()


_warned: set[str] = set()


def settings() -> "Settings":
    """Settings from the shared options, the environment and the config file (its unknown keys
    warned about on stderr, once per process)."""
    from ghsync.cli.errors import say
    from ghsync.config import config_file_warnings

    loaded = shared().settings()
    for warning in config_file_warnings():
        if warning not in _warned:
            _warned.add(warning)
            say(f"Warning: {warning}")
    return loaded


class Group(TyperGroup):
    """The root: accepts the shared options before the command name (`ghsync --db X status`)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _with_shared(self.params, self.get_help_option(ctx))


class Command(TyperCommand):
    """A command: accepts the shared options after its name too, and maps errors to one line."""

    interrupted_message = "interrupted"

    def get_params(self, ctx: Any) -> list[Any]:
        return _with_shared(self.params, self.get_help_option(ctx))

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for parameter in self.get_params(ctx):
            record = parameter.get_help_record(ctx)
            if record is None:
                continue
            if parameter.param_type_name == "argument":
                # By the metavar alone: typer would append the Python type (`OWNER/REPO <list[str]>`).
                name = (parameter.metavar or parameter.name or "").upper()
                arguments.append((name + ("..." if parameter.nargs != 1 else ""), record[1]))
            else:
                options.append(record)
        for title, records in (("Arguments", arguments), ("Options", options)):
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except typer.BadParameter as error:
            # typer checks values with pydantic, whose messages start "Value error, ": people need the rest.
            error.message = error.message.replace("Value error, ", "")
            raise

    def invoke(self, ctx: Any) -> Any:
        options = _given(ctx)
        token = _current.set(options)
        try:
            with reported_errors(debug=options.debug, interrupted=self.interrupted_message):
                return super().invoke(ctx)
        finally:
            _current.reset(token)


class SyncCommand(Command):
    """A command that syncs: what it committed is kept, so an interrupted run can be resumed."""

    interrupted_message = "interrupted; committed pages are kept and `ghsync sync` resumes"
