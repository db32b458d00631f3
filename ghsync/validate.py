"""Pure checks of user input: repository slugs and sync windows."""

from __future__ import annotations

import re
from datetime import date

from ghsync.errors import UsageError

# GitHub: owners are 1–39 alphanumerics or single hyphens; repository names use [A-Za-z0-9._-].
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


# How people paste a repository: a web or clone URL, with or without scheme, `.git` or a trailing slash.
_URL = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/\s]+@)?(?P<host>[^/:\s]+(?::\d+)?)[/:](?P<path>.*)$", re.IGNORECASE
)
_SCP = re.compile(r"^(?:[^@/\s]+@)(?P<host>[^/:\s]+):(?P<path>.*)$")


def _web_hosts(host: str) -> set[str]:
    host = host.lower()
    return {"github.com", "www.github.com"} if host == "github.com" else {host, "www." + host}


def parse_repository_slug(value: str, host: str = "github.com") -> str:
    """`owner/name`, or a URL of `host` (https://HOST/o/r, HOST/o/r, git@HOST:o/r.git) → `owner/name`;
    otherwise a UsageError saying what is wrong. `host` is the web host of the API in use."""
    text = value.strip().rstrip("/")
    if text.count("/") > 1 or "://" in text or "@" in text or ":" in text:
        match = _SCP.match(text) or _URL.match(text)
        # Without a scheme or user, a host is told from an owner by its dot or port (github.com/o/r).
        explicit = "://" in text or "@" in text
        if match is None or not (explicit or "." in match["host"] or ":" in match["host"]):
            raise UsageError(f"'{value}' is not a repository: use OWNER/REPO, e.g. octocat/hello-world")
        given_host = match["host"].lower()
        if given_host not in _web_hosts(host):
            api = (
                "https://api.github.com"
                if given_host in ("github.com", "www.github.com")
                else (f"https://{given_host}/api/v3 if it is a GitHub Enterprise server")
            )
            raise UsageError(
                f"'{value}' is a repository on {given_host}, but ghsync talks to {host}: pass OWNER/REPO, "
                f"or --api-url {api}"
            )
        # A web URL may go on (/pulls, /tree/main): the first two segments name the repository.
        text = "/".join(match["path"].strip("/").split("/")[:2])
    text = text.removesuffix(".git")
    parts = text.split("/")
    if len(parts) != 2 or not all(parts):
        raise UsageError(f"'{value}' is not a repository: use OWNER/REPO (or its URL), e.g. octocat/hello-world")
    owner, name = parts
    if not _OWNER.match(owner):
        raise UsageError(f"'{owner}' is not a valid GitHub owner name (letters, digits and single hyphens)")
    if not _NAME.match(name) or name in {".", ".."}:
        raise UsageError(f"'{name}' is not a valid GitHub repository name (letters, digits, '.', '-', '_')")
    return f"{owner}/{name}"


def is_repository_name(owner: str, name: str) -> bool:
    """Whether GitHub could have named a repository so: what `parse_repository_slug` accepts, checked on
    names that come from GitHub (an owner's listing) before they are stored or become lock file names."""
    return bool(_OWNER.fullmatch(owner)) and bool(_NAME.fullmatch(name)) and name not in {".", ".."}


def is_owner_login(login: str) -> bool:
    return bool(_OWNER.fullmatch(login))


def parse_owner(value: str) -> str | None:
    """`ORG` or `ORG/*` → the owner's login; None when `value` names a single repository."""
    text = value.strip().removesuffix("/*")
    if "/" in text:
        return None
    if not _OWNER.match(text):
        raise UsageError(f"'{value}' is not a valid GitHub owner name (letters, digits and single hyphens)")
    return text


def parse_globs(values: list[str] | tuple[str, ...] | None, flag: str) -> tuple[str, ...]:
    """`--match`/`--exclude` globs on repository names (fnmatch: *, ?, [abc]); no slash, not empty."""
    globs = []
    for value in values or ():
        text = value.strip()
        if not text or "/" in text:
            raise UsageError(f"{flag} takes a pattern for repository names such as 'api-*', not '{value}'")
        globs.append(text)
    return tuple(globs)


def parse_days(value: str | int | None) -> int | None:
    """`--days`: a positive number of days, or `all` (None) for the whole history."""
    if value is None:
        return 30
    if isinstance(value, int):
        text = str(value)
    else:
        text = value.strip().lower()
    if text == "all":
        return None
    try:
        days = int(text)
    except ValueError:
        raise UsageError(f"--days must be a positive number of days or 'all', not '{value}'") from None
    if days <= 0:
        raise UsageError(f"--days must be a positive number of days or 'all', not '{value}'")
    if days > 36500:
        raise UsageError(f"--days {days} is more than a century; use --days all for the whole history")
    return days


def parse_day(value: str | None, flag: str) -> date | None:
    """`--since`/`--until`: a calendar date `YYYY-MM-DD`, or None when not given."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{flag} must be a date like 2026-01-31, not '{value}'") from None
