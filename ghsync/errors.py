"""ghsync's one exception family; the CLI maps each class to an exit code and a one-line message."""

from __future__ import annotations

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TEMPFAIL = 75  # sysexits.h EX_TEMPFAIL: cron wrappers retry later


class GhsyncError(Exception):
    """Base class: `str(error)` is the user-facing one-line message."""

    exit_code = EXIT_FAILED


class UsageError(GhsyncError):
    """Bad input from the user: a malformed slug, a bad --days, a missing token."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A setting has a value ghsync cannot use."""


class AuthenticationError(GhsyncError):
    """GitHub rejected the token."""


class RepositoryNotFound(GhsyncError):
    """The repository does not exist or the token cannot see it."""

    @classmethod
    def renamed(cls, asked: str, current: str) -> RepositoryNotFound:
        """GitHub answered the name asked with a repository it now calls otherwise (renamed or transferred)."""
        return cls(
            f"repository {asked} was renamed or moved: GitHub calls it {current} now; "
            f"track it under that name: ghsync track {current}"
        )

    @classmethod
    def replaced(cls, name: str) -> RepositoryNotFound:
        """The name now reaches another repository than the one synced under it: GitHub freed the old name of
        a renamed, transferred or deleted repository, and someone created a new one with it."""
        return cls(
            f"{name} now names another repository on GitHub: the one synced under that name was renamed, "
            "moved or deleted, and its name taken. Nothing of the new one was stored. "
            f"`ghsync untrack {name}` keeps the stored PRs as they are; with --purge they are deleted and "
            "the name can be tracked afresh"
        )


class GitHubError(GhsyncError):
    """GitHub answered with something ghsync cannot use (a permanent fault)."""


class GithubResponseError(GitHubError):
    """GitHub answered with a malformed value (a wrong type, an impossible number or time); nothing is stored."""


class TransientGitHubError(GitHubError):
    """A fault worth retrying: 502/504, connection reset, timeout, secondary rate limit.

    timed_out: the server gave up on the work (retry a smaller page); status: the HTTP status, if any.
    Raised to the caller once the retries are spent: then it is a temporary failure (exit 75), not a broken
    setup, and cron's next run goes on from the last committed page.
    """

    exit_code = EXIT_TEMPFAIL

    def __init__(
        self, message: str, *, retry_after: float | None = None, timed_out: bool = False, status: int | None = None
    ):
        super().__init__(message)
        self.retry_after = retry_after
        self.timed_out = timed_out
        self.status = status


class RateLimited(GhsyncError):
    """The budget is below the threshold (or GitHub said so): stop now, resume after reset_at."""

    exit_code = EXIT_TEMPFAIL

    def __init__(self, message: str, *, reset_at: int | None = None, remaining: int | None = None):
        super().__init__(message)
        self.reset_at = reset_at
        self.remaining = remaining


class RepositoryLocked(GhsyncError):
    """Another live ghsync process is syncing this repository."""

    exit_code = EXIT_TEMPFAIL


class StoreError(GhsyncError):
    """The database file is unreadable, corrupt, locked, or from a newer ghsync."""


class DatabaseBusy(StoreError):
    """Another program held the database past the busy timeout: try again later."""

    exit_code = EXIT_TEMPFAIL


class NoDatabase(StoreError):
    """No database at the path yet: nothing is tracked there, as with a repository not tracked (usage)."""

    exit_code = EXIT_USAGE


class NotTracked(UsageError):
    """The repository is not tracked in this database."""


class NotifyError(GhsyncError):
    """Sending email failed; never allowed to change a sync's outcome."""


class PartlyDelivered(NotifyError):
    """The server took the message for some recipients and refused the others: it is not to be sent again."""


class OwnerNotFound(GhsyncError):
    """The organisation or user does not exist or the token cannot see it."""
