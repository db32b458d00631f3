"""The only PyGithub user: one client per token, GraphQL through its requester, errors → GhsyncError."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ghsync.errors import (
    AuthenticationError,
    GitHubError,
    RateLimited,
    RepositoryNotFound,
    TransientGitHubError,
)
from ghsync.models import RateLimitState

REQUEST_TIMEOUT_SECONDS = 60
TRANSIENT_STATUSES = {500, 502, 503, 504}
GRAPHQL_RATE_LIMIT_TYPES = {"RATE_LIMITED", "RATE_LIMIT"}


def _quiet_pygithub() -> None:
    # Importing `github` attaches an INFO StreamHandler to stderr; it would tear the progress bar.
    logger = logging.getLogger("github")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.addHandler(logging.NullHandler())
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def rate_limit_from_headers(headers: dict[str, Any]) -> RateLimitState | None:
    """GitHub sends x-ratelimit-* on every answer; Enterprise with limits off sends none."""
    lowered = {key.lower(): value for key, value in headers.items()}
    try:
        return RateLimitState(
            resource=lowered.get("x-ratelimit-resource", "core"),
            limit=int(lowered["x-ratelimit-limit"]),
            remaining=int(lowered["x-ratelimit-remaining"]),
            used=int(lowered.get("x-ratelimit-used", 0)),
            reset_at=int(lowered["x-ratelimit-reset"]),
        )
    except (KeyError, ValueError):
        return None


@dataclass
class GraphQLAnswer:
    body: dict[str, Any]
    rate_limit: RateLimitState | None


class GitHubClient:
    """One token's connection to GitHub (or a compatible server) through PyGithub."""

    def __init__(self, token: str | None, *, api_url: str, timeout: int = REQUEST_TIMEOUT_SECONDS):
        import github
        from github import Auth

        _quiet_pygithub()
        self.api_url = api_url
        # retry=None: ghsync owns retries (it must stop at its threshold, not sleep until reset, and
        # must not resend a GraphQL POST 10 times). No throttling: GraphQL POSTs are reads, not writes.
        self._github = github.Github(
            auth=Auth.Token(token) if token else None,
            base_url=api_url,
            timeout=timeout,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            user_agent="ghsync",
        )
        self.rest_calls = 0
        self.last_rate_limit: dict[str, RateLimitState] = {}

    # -- transport ------------------------------------------------------------------------------

    def graphql(self, query: str, variables: dict[str, Any]) -> GraphQLAnswer:
        import github

        try:
            headers, body = self._github.requester.graphql_query(query, variables)
        except github.GithubException as error:
            raise self._translate(error, graphql=True) from None
        except Exception as error:  # requests' connection errors, timeouts, bad JSON
            raise _translate_transport(error, self.api_url) from None
        if isinstance(body, dict) and isinstance(body.get("data"), str):
            # PyGithub wraps a body that is not JSON (an HTML error page, a proxy's banner) this way.
            raise GitHubError(f"{self.api_url} answered with something that is not JSON: {_snippet(body['data'], 80)}")
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise GitHubError(
                f"{self.api_url} answered the GraphQL query with something that is not GraphQL: {_snippet(body, 80)}"
            )
        state = rate_limit_from_headers(headers)
        if state is not None:
            self.last_rate_limit[state.resource] = state
        return GraphQLAnswer(body=body, rate_limit=state)

    def rest_get(self, path: str) -> tuple[dict[str, Any], Any]:
        import github

        if path != "/rate_limit":  # the one free endpoint
            self.rest_calls += 1
        try:
            headers, body = self._github.requester.requestJsonAndCheck("GET", path)
        except github.GithubException as error:
            raise self._translate(error, graphql=False) from None
        except Exception as error:
            raise _translate_transport(error, self.api_url) from None
        state = rate_limit_from_headers(headers)
        if state is not None:
            self.last_rate_limit[state.resource] = state
        return headers, body

    def rate_limits(self) -> dict[str, RateLimitState] | None:
        """Every bucket's budget from GET /rate_limit (free); None when the server has no limits."""
        try:
            _, body = self.rest_get("/rate_limit")
        except GitHubError as error:
            if getattr(error, "status", None) == 404:
                return None
            raise
        resources = (body or {}).get("resources") or {}
        states = {}
        for name in ("core", "graphql"):
            bucket = resources.get(name)
            if bucket:
                states[name] = RateLimitState(
                    resource=name,
                    limit=int(bucket["limit"]),
                    remaining=int(bucket["remaining"]),
                    used=int(bucket.get("used", 0)),
                    reset_at=int(bucket["reset"]),
                )
        self.last_rate_limit.update(states)
        return states

    # -- error translation ----------------------------------------------------------------------

    def _translate(self, error: Exception, *, graphql: bool) -> Exception:
        import github

        status = getattr(error, "status", None)
        data = getattr(error, "data", None)
        headers = {k.lower(): v for k, v in (getattr(error, "headers", None) or {}).items()}
        state = rate_limit_from_headers(headers)
        if state is not None:
            self.last_rate_limit[state.resource] = state
        if isinstance(error, github.BadCredentialsException) or status == 401:
            return AuthenticationError(f"GitHub rejected the token (401 {_message(data) or 'Bad credentials'})")
        if isinstance(error, github.UnknownObjectException) and graphql:
            return RepositoryNotFound(_message(data) or "not found")
        errors = data.get("errors") if isinstance(data, dict) else None
        if errors:
            types = {e.get("type") for e in errors if isinstance(e, dict)}
            if types & GRAPHQL_RATE_LIMIT_TYPES:
                reset = state.reset_at if state else None
                return RateLimited("GitHub's GraphQL rate limit is exhausted", reset_at=reset, remaining=0)
            if status in TRANSIENT_STATUSES:
                return TransientGitHubError(f"GitHub answered {status}: {_message(data)}", timed_out=True)
            return GitHubError(f"GitHub rejected the query: {_message(data)}")
        if status in (403, 429):
            retry_after = headers.get("retry-after")
            if retry_after is None and "secondary rate limit" in _message(data).lower():
                retry_after = "60"  # GitHub's advice when it names no time: wait at least a minute
            if retry_after is not None:
                return TransientGitHubError(
                    f"GitHub's secondary rate limit ({status}): {_message(data)}", retry_after=float(retry_after)
                )
            if state is not None and state.remaining == 0:
                return RateLimited(
                    f"GitHub's {state.resource} rate limit is exhausted", reset_at=state.reset_at, remaining=0
                )
            return GitHubError(f"GitHub refused the request ({status}): {_message(data)}")
        if status in TRANSIENT_STATUSES:
            return TransientGitHubError(f"GitHub answered {status}: {_message(data)}", timed_out=status in (502, 504))
        translated = GitHubError(f"GitHub answered {status}: {_message(data)}")
        translated.status = status  # type: ignore[attr-defined]
        return translated


def _message(data: Any) -> str:
    if isinstance(data, dict):
        if data.get("errors"):
            first = data["errors"][0]
            return first.get("message", str(first)) if isinstance(first, dict) else str(first)
        if data.get("message"):
            return str(data["message"])
        if "data" in data and isinstance(data["data"], str):
            return _snippet(data["data"])
    return _snippet(data)


def _snippet(value: Any, limit: int = 120) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _translate_transport(error: Exception, api_url: str) -> Exception:
    import requests

    if isinstance(error, requests.exceptions.Timeout):
        return TransientGitHubError(f"GitHub at {api_url} did not answer in time", timed_out=True)
    if isinstance(error, requests.exceptions.ConnectionError):
        cause = _root_cause(error)
        if cause in ("connection refused", "host name not found"):
            # Nothing listens there (or the name is wrong): retrying for a minute would only delay the news.
            return GitHubError(f"cannot reach {api_url}: {cause}")
        return TransientGitHubError(f"cannot reach {api_url}: {cause}")
    if isinstance(error, ValueError):  # json.JSONDecodeError for a body that starts like JSON but is not
        return GitHubError(f"GitHub at {api_url} answered with malformed JSON")
    return GitHubError(f"talking to {api_url} failed: {type(error).__name__}: {_snippet(error)}")


def _root_cause(error: BaseException) -> str:
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    text = str(error)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text or "Temporary failure" in text:
        return "host name not found"
    return _snippet(text, 80)
