"""What the service modules share: the database a command opens, its GitHub tokens, teams and bots filter."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from ghsync.config import Settings, default_db_path
from ghsync.errors import UsageError
from ghsync.models import Team
from ghsync.store import SqliteStore, check_creatable, open_store

if TYPE_CHECKING:
    from ghsync.metrics import PeopleFilter


def _require_tokens(settings: Settings) -> list[str]:
    tokens = settings.github_tokens()
    if not tokens:
        raise UsageError(
            "no GitHub token: run `gh auth login` (ghsync asks `gh auth token`), set GH_TOKEN or GITHUB_TOKEN, "
            "or pass --token"
        )
    return tokens


def _open_store(settings: Settings, *, create: bool = False) -> SqliteStore:
    return open_store(settings.db, create=create, create_parent=create and settings.db == default_db_path())


def _check_creatable(settings: Settings) -> None:
    """Raise now what creating the database would raise later (a mistyped --db directory); nothing for one
    that exists. Commands that create it call this before they spend a request."""
    check_creatable(settings.db, create_parent=settings.db == default_db_path())


def _database_exists(settings: Settings) -> bool:
    return str(settings.db) == ":memory:" or settings.db.exists()


def _existing_store(settings: Settings) -> SqliteStore | None:
    """The database for a command that only reads (or has nothing to do without one): None if absent.

    Nothing tracked yet is an empty state, not an error, and a read must not create the file."""
    return _open_store(settings) if _database_exists(settings) else None


EMAIL_NOT_CONFIGURED = (
    "email is not configured: set GHSYNC_SMTP_HOST (and GHSYNC_SMTP_FROM, ...; see `ghsync notify-test`)"
)
NOTHING_TRACKED = "No repositories tracked yet. Start with: ghsync track OWNER/REPO"


def _people(settings: Settings, *, include_bots: bool) -> PeopleFilter | None:
    from ghsync.metrics import PeopleFilter

    return None if include_bots else PeopleFilter(tuple(settings.exclude_authors))


def _members(team: Team) -> frozenset[str] | None:
    return None if team.members is None else frozenset(login.lower() for login in team.members)


def _all_teams(settings: Settings, store: SqliteStore | None, *, using: Collection[str] | None = None) -> list[Team]:
    """Config-file teams and imported ones. The same name in both is an error naming both where that name is
    used (`using`: the names a command counts by; None for everyone, as `--by team` does); listing them
    (`team list`, `using=()`) shows both, their sources telling them apart."""
    configured = [
        Team(name=name, source="config", members=team.members, repos=team.repos)
        for name, team in sorted(settings.teams.items())
    ]
    imported = store.imported_teams() if store is not None else []
    clash = sorted(
        {t.name for t in configured}
        & {t.name for t in imported}
        & (set(using) if using is not None else {t.name for t in configured})
    )
    if clash:
        source = next(t.source for t in imported if t.name == clash[0])
        raise UsageError(
            f"team {clash[0]!r} is defined twice: in the config file ({default_config_path_text()}) and imported "
            f"from {source.removeprefix('github ')}; rename the config file's team (the imported one stays in the "
            "database, and `ghsync team import ... --as OTHER` would add a third)"
        )
    return sorted([*configured, *imported], key=lambda t: t.name.casefold())


def default_config_path_text() -> str:
    from ghsync.config import default_config_path

    return str(default_config_path())
