"""What `status`, `db-path` and shell completion read: the stored state, never GitHub."""

from __future__ import annotations

from ghsync.config import Settings
from ghsync.errors import NotTracked
from ghsync.models import RepositoryStatus, SyncStatus
from ghsync.service.common import _existing_store, _open_store
from ghsync.store.lock import is_locked
from ghsync.validate import parse_owner, parse_repository_slug


def database_path(settings: Settings) -> str:
    """Where the database is (or would be created), for `ghsync db-path`."""
    return str(settings.db)


def tracked_repository_names(settings: Settings, prefix: str = "") -> list[str]:
    """Tracked repository names for shell completion: read-only, cheap, never failing."""
    from ghsync.store import tracked_names

    return tracked_names(settings.db, prefix)


def repository_statuses(
    settings: Settings, slug: str | None = None, *, include_untracked: bool = False
) -> list[RepositoryStatus]:
    """The stored status of every tracked repository (or one, or an owner's), for `status` and its --json;
    `include_untracked`: every stored repository, untracked ones too (their last_error says why)."""
    store = _open_store(settings) if slug is not None else _existing_store(settings)
    if store is None:
        return []
    with store:
        login = parse_owner(slug) if slug is not None else None
        if login is not None:
            # An owner: every repository it has, untracked ones included (their last_error says why).
            repositories = [r for r in store.list_repositories() if r.owner.lower() == login.lower()]
            if not repositories:
                raise NotTracked(f"no repository of {login} is tracked in this database: run `ghsync track {login}`")
        elif slug is not None:
            repositories = [store.get_repository(parse_repository_slug(slug, settings.github_host()))]
        else:
            repositories = [
                r for r in store.list_repositories() if include_untracked or r.sync_status != SyncStatus.UNTRACKED
            ]
        return [
            RepositoryStatus(
                repository=repository,
                # A `syncing` row with no live process was interrupted (killed); `ghsync sync` resumes it.
                process_alive=is_locked(settings.db, repository.full_name),
                prs_stored=store.stored_pull_request_count(repository.id),
            )
            for repository in repositories
        ]
