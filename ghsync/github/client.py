"""The only PyGithub/requests user: one client per token, REST paths as methods, errors → GhsyncError."""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import github
import requests
import urllib3
from github import Auth
from github.Requester import HTTPRequestsConnectionClass, HTTPSRequestsConnectionClass, RequestsResponse

from ghsync.errors import (
    AuthenticationError,
    GitHubError,
    RateLimited,
    RepositoryNotFound,
    TransientGitHubError,
    UsageError,
)
from ghsync.github.graphql import MAX_EPOCH, parse_rest_bucket
from ghsync.github.pool import MAX_RETRY_AFTER_SECONDS
from ghsync.models import RateLimitState

REQUEST_TIMEOUT_SECONDS = 60.0
MAX_RESPONSE_BYTES = 50 * 1024 * 1024
TRANSIENT_STATUSES = {500, 502, 503, 504}
GRAPHQL_RATE_LIMIT_TYPES = {"RATE_LIMITED", "RATE_LIMIT"}
# GitHub's answer when a query ran too long (usually HTTP 200 with this error): retry a smaller page.
TIMEOUT_MESSAGE = "something went wrong while executing your query. this may be the result of a timeout"
# GitHub asks for at least a minute when a secondary limit names no time.
SECONDARY_LIMIT_DEFAULT_WAIT = 60.0
_CHUNK = 64 * 1024


def _quiet_pygithub() -> None:
    # Importing `github` attaches an INFO StreamHandler to stderr; it would tear the progress bar.
    logger = logging.getLogger("github")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.addHandler(logging.NullHandler())
    logger.setLevel(logging.WARNING)
    logger.propagate = False


_quiet_pygithub()


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(api_url: str, *, allow_insecure_http: bool) -> None:
    """Plain HTTP would send the token in clear text: only to this machine, unless explicitly allowed."""
    parts = urlsplit(api_url)
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname or ""):
        raise UsageError(
            f"refusing to send a token over plain HTTP to {parts.hostname}: use https:// "
            "(or --allow-insecure-http / GHSYNC_ALLOW_INSECURE_HTTP=1 if you really mean it)"
        )


def rate_limit_from_headers(headers: dict[str, Any]) -> RateLimitState | None:
    """GitHub sends x-ratelimit-* on every answer; Enterprise with limits off sends none."""
    lowered = {key.lower(): value for key, value in headers.items()}
    try:
        state = RateLimitState(
            resource=lowered.get("x-ratelimit-resource", "core"),
            limit=int(lowered["x-ratelimit-limit"]),
            remaining=int(lowered["x-ratelimit-remaining"]),
            used=int(lowered.get("x-ratelimit-used", 0)),
            reset_at=int(lowered["x-ratelimit-reset"]),
        )
    except (KeyError, ValueError):
        return None
    # Headers are validated where they enter, as the bodies are: a reset past any date would crash whatever
    # prints it (and a negative count means nothing).
    if not 0 <= state.reset_at <= MAX_EPOCH or min(state.limit, state.remaining, state.used) < 0:
        return None
    return state


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """`Retry-After` is delay-seconds or an HTTP-date (RFC 9110); None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(text).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if math.isnan(seconds):
        return None
    return max(1.0, min(seconds, MAX_RETRY_AFTER_SECONDS))


class _Redirected(Exception):
    def __init__(self, status: int, location: str | None):
        super().__init__(f"redirect {status}")
        self.status = status
        self.location = location


class _TooLarge(Exception):
    pass


_TRANSPORT_ERRORS = (requests.exceptions.RequestException, OSError, ValueError, _TooLarge, _Redirected)


@cache
def _environment_settings(root: str, verify: Any) -> tuple[dict[str, str], Any]:
    """The proxies and CA bundle the environment names for this host (HTTPS_PROXY, NO_PROXY,
    REQUESTS_CA_BUNDLE, ...), read once: requests re-reads them on every request by scanning the whole
    environment, which cost more CPU per page than decoding its JSON on a machine with a large environment."""
    with requests.Session() as session:
        merged = session.merge_environment_settings(f"{root}/", {}, None, verify, None)
    # This machine is never reached through a proxy (as Go's clients do): a proxy elsewhere cannot reach its
    # loopback, and a corporate HTTP_PROXY would otherwise break the demo's fake GitHub.
    proxies = {} if is_loopback(urlsplit(root).hostname or "") else dict(merged["proxies"])
    return proxies, merged["verify"]


class _Guarded:
    """Mixed into PyGithub's connection classes: an overall deadline, a size cap, and no redirects."""

    deadline: float = REQUEST_TIMEOUT_SECONDS
    max_bytes: int = MAX_RESPONSE_BYTES
    session: requests.Session
    verb: str
    url: str
    input: Any
    headers: dict[str, str]
    protocol: str
    host: str
    port: int
    verify: Any

    def getresponse(self) -> RequestsResponse:
        started = time.monotonic()
        root = f"{self.protocol}://{self.host}:{self.port}"
        proxies, verify = _environment_settings(root, self.verify)
        # Settled once above, for this process. (Also: no ~/.netrc, whose entry for the host would
        # replace the token's Authorization header.)
        self.session.trust_env = False
        response = self.session.request(
            self.verb,
            f"{root}{self.url}",
            headers=self.headers,
            data=self.input,
            timeout=(self.deadline, self.deadline),
            proxies=proxies,
            verify=verify,
            allow_redirects=False,  # a redirect could carry the token elsewhere: never followed
            stream=True,
        )
        try:
            if 300 <= response.status_code < 400:
                raise _Redirected(response.status_code, response.headers.get("location"))
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise _TooLarge()
            body = bytearray()
            while True:
                try:
                    chunk = _read_some(response)
                except urllib3.exceptions.ReadTimeoutError as error:
                    raise requests.exceptions.ReadTimeout(str(error)) from error
                except urllib3.exceptions.HTTPError as error:  # reset, truncated, bad encoding
                    raise requests.exceptions.ConnectionError(str(error)) from error
                if not chunk:
                    break
                body += chunk
                if len(body) > self.max_bytes:
                    raise _TooLarge()
                if time.monotonic() - started > self.deadline:
                    raise requests.exceptions.ReadTimeout("the answer did not arrive within the deadline")
        finally:
            response.close()
        response._content = bytes(body)
        response._content_consumed = True
        return RequestsResponse(response)


def _read_some(response: requests.Response) -> bytes:
    """What has arrived (read1): a server trickling bytes cannot hold a read past the deadline."""
    try:
        chunk: bytes = response.raw.read1(_CHUNK, decode_content=True)
    except TypeError:  # a replayed (vcrpy) body is a plain buffer
        chunk = response.raw.read(_CHUNK)
    return chunk


@dataclass
class GraphQLAnswer:
    body: dict[str, Any]
    rate_limit: RateLimitState | None


class GitHubClient:
    """One token's connection to GitHub (or a compatible server) through PyGithub."""

    def __init__(
        self,
        token: str | None,
        *,
        api_url: str,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        allow_insecure_http: bool = False,
        clock: Callable[[], float] = time.time,
    ):
        check_api_url(api_url, allow_insecure_http=allow_insecure_http)
        self.api_url = api_url
        self.clock = clock
        self.max_response_bytes = max_response_bytes
        # retry=None: ghsync owns retries (it must stop at its threshold, not sleep until reset, and
        # must not resend a GraphQL POST 10 times). No throttling: GraphQL POSTs are reads, not writes.
        self._github = github.Github(
            auth=Auth.Token(token) if token else None,
            base_url=api_url,
            timeout=int(max(1, timeout)),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            user_agent="ghsync",
        )
        base = HTTPSRequestsConnectionClass if urlsplit(api_url).scheme == "https" else HTTPRequestsConnectionClass
        guarded = type("GuardedConnection", (_Guarded, base), {"deadline": timeout, "max_bytes": max_response_bytes})
        # PyGithub builds its connection lazily from this (private) attribute: ours adds the guards.
        self._github.requester._Requester__connectionClass = guarded  # type: ignore[attr-defined]
        self.rest_calls = 0
        self.last_rate_limit: dict[str, RateLimitState] = {}
        # PyGithub's connection keeps the request being sent in its own attributes: two threads sending
        # through one client (a page fetched ahead, and the pool re-reading a bucket) would mix them up.
        self._one_request_at_a_time = threading.Lock()

    # -- transport ------------------------------------------------------------------------------

    def graphql(self, query: str, variables: dict[str, Any], *, missing_ok: bool = False) -> GraphQLAnswer:
        """The answer; `missing_ok`: an answer whose only errors are NOT_FOUND (repositories asked by alias that
        are gone) is returned with their fields null, as GitHub sends it, rather than raised."""
        try:
            with self._one_request_at_a_time:
                headers, body = self._github.requester.graphql_query(query, variables)
        except github.GithubException as error:
            if missing_ok and _only_not_found(error.data):
                lowered = {key.lower(): value for key, value in (error.headers or {}).items()}
                self._remember(lowered)
                return GraphQLAnswer(body=error.data, rate_limit=rate_limit_from_headers(lowered))
            raise self._translate(error, graphql=True) from None
        except _Redirected as error:
            raise GitHubError(f"{self.api_url} redirected the GraphQL query ({error.status}); not followed") from None
        except _TRANSPORT_ERRORS as error:  # connection errors, timeouts, bad JSON, the size cap
            raise self._translate_transport(error) from None
        if isinstance(body, dict) and isinstance(body.get("data"), str):
            # PyGithub wraps a body that is not JSON (an HTML error page, a proxy's banner) this way.
            raise GitHubError(f"{self.api_url} answered with something that is not JSON: {_snippet(body['data'], 80)}")
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise GitHubError(
                f"{self.api_url} answered the GraphQL query with something that is not GraphQL: {_snippet(body, 80)}"
            )
        self._remember(headers)
        return GraphQLAnswer(body=body, rate_limit=rate_limit_from_headers(headers))

    def _get(self, path: str) -> Any:
        if path != "/rate_limit":  # the one free endpoint
            self.rest_calls += 1
        try:
            with self._one_request_at_a_time:
                headers, body = self._github.requester.requestJsonAndCheck("GET", path)
        except github.GithubException as error:
            raise self._translate(error, graphql=False) from None
        except _TRANSPORT_ERRORS as error:
            raise self._translate_transport(error) from None
        self._remember(headers)
        return body

    def _remember(self, headers: dict[str, Any]) -> None:
        state = rate_limit_from_headers(headers)
        if state is not None:
            self.last_rate_limit[state.resource] = state

    # -- REST paths -----------------------------------------------------------------------------

    def rate_limits(self) -> dict[str, RateLimitState] | None:
        """Every bucket's budget from GET /rate_limit (free); None when the server has no limits."""
        try:
            body = self._get("/rate_limit")
        except _NotFound:
            return None
        except _Redirected as error:
            raise GitHubError(f"{self.api_url}/rate_limit redirected ({error.status}); not followed") from None
        resources = body.get("resources") if isinstance(body, dict) else None
        if not isinstance(resources, dict):
            from ghsync.errors import GithubResponseError

            raise GithubResponseError(f"GitHub answered an invalid /rate_limit: {_snippet(body, 80)}")
        states = {name: parse_rest_bucket(name, resources[name]) for name in ("core", "graphql") if resources.get(name)}
        self.last_rate_limit.update(states)
        return states

    def user_login(self) -> str | None:
        """The token's account login (GET /user); None when the server does not say."""
        try:
            user = self._get("/user")
        except (_NotFound, _Redirected):
            return None
        login = user.get("login") if isinstance(user, dict) else None
        return login if isinstance(login, str) and login else None

    # -- error translation ----------------------------------------------------------------------

    def _translate(self, error: github.GithubException, *, graphql: bool) -> Exception:
        status = error.status
        data = error.data
        headers = {k.lower(): v for k, v in (error.headers or {}).items()}
        self._remember(headers)
        state = rate_limit_from_headers(headers)
        if isinstance(error, github.BadCredentialsException) or status == 401:
            return AuthenticationError(f"GitHub rejected the token (401 {_message(data) or 'Bad credentials'})")
        if isinstance(error, github.UnknownObjectException):
            return RepositoryNotFound(_message(data) or "not found") if graphql else _NotFound()
        errors = data.get("errors") if isinstance(data, dict) else None
        if errors and isinstance(errors, list):
            types = {e.get("type") for e in errors if isinstance(e, dict)}
            if types & GRAPHQL_RATE_LIMIT_TYPES:
                reset = state.reset_at if state else None
                return RateLimited("GitHub's GraphQL rate limit is exhausted", reset_at=reset, remaining=0)
            message = _message(data)
            if status in TRANSIENT_STATUSES:
                return TransientGitHubError(
                    f"GitHub answered {status}: {message}", timed_out=status == 504, status=status
                )
            if message.lower().startswith(TIMEOUT_MESSAGE):
                # HTTP 200 carrying GitHub's timeout error (PyGithub reports it as 400): a smaller page may fit.
                return TransientGitHubError(f"GitHub timed out on the query: {message}", timed_out=True)
            return GitHubError(f"GitHub rejected the query: {message}")
        if status in (403, 429):
            retry_after = retry_after_seconds(headers.get("retry-after"), now=self.clock())
            if retry_after is None and "secondary rate limit" in _message(data).lower():
                retry_after = SECONDARY_LIMIT_DEFAULT_WAIT
            if retry_after is not None:
                return TransientGitHubError(
                    f"GitHub's secondary rate limit ({status}): {_message(data)}",
                    retry_after=retry_after,
                    status=status,
                )
            if state is not None and state.remaining == 0:
                return RateLimited(
                    f"GitHub's {state.resource} rate limit is exhausted", reset_at=state.reset_at, remaining=0
                )
            return GitHubError(f"GitHub refused the request ({status}): {_message(data)}")
        if status in TRANSIENT_STATUSES:
            return TransientGitHubError(
                f"GitHub answered {status}: {_message(data)}", timed_out=status == 504, status=status
            )
        return GitHubError(f"GitHub answered {status}: {_message(data)}")

    def _translate_transport(self, error: Exception) -> Exception:
        api_url = self.api_url
        if isinstance(error, _Redirected):
            return error
        if isinstance(error, _TooLarge):
            return GitHubError(
                f"{api_url} sent an answer larger than the {_size(self.max_response_bytes)} limit; refused"
            )
        if isinstance(error, requests.exceptions.Timeout):
            return TransientGitHubError(f"GitHub at {api_url} did not answer in time", timed_out=True)
        if isinstance(error, requests.exceptions.SSLError):
            # A certificate that does not check out will not check out in 31 seconds either.
            return GitHubError(f"TLS check failed for {api_url}: {_root_cause(error)}")
        if isinstance(error, requests.exceptions.ConnectionError):
            cause = _root_cause(error)
            if cause in ("connection refused", "host name not found"):
                # Nothing listens there (or the name is wrong): retrying for a minute would only delay the news.
                return GitHubError(f"cannot reach {api_url}: {cause}")
            return TransientGitHubError(f"cannot reach {api_url}: {cause}")
        if isinstance(error, ValueError):  # json.JSONDecodeError for a body that starts like JSON but is not
            return GitHubError(f"GitHub at {api_url} answered with malformed JSON")
        return GitHubError(f"talking to {api_url} failed: {type(error).__name__}: {_snippet(error)}")


class _NotFound(Exception):
    """A REST 404, turned into the caller's own error (or 'no limits' for /rate_limit)."""


def _only_not_found(data: Any) -> bool:
    """A GraphQL answer with its data, whose every error is a NOT_FOUND (an aliased repository that is gone)."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
        return False
    errors = data.get("errors")
    return (
        isinstance(errors, list)
        and bool(errors)
        and all(isinstance(e, dict) and e.get("type") == "NOT_FOUND" for e in errors)
    )


def _message(data: Any) -> str:
    if isinstance(data, dict):
        errors = data.get("errors")
        if errors and isinstance(errors, list):
            first = errors[0]
            return str(first.get("message", first)) if isinstance(first, dict) else str(first)
        if data.get("message"):
            return str(data["message"])
        if "data" in data and isinstance(data["data"], str):
            return _snippet(data["data"])
    return _snippet(data)


def _size(limit: int) -> str:
    mb = 1024 * 1024
    return f"{limit // mb} MB" if limit % mb == 0 else f"{limit:,}-byte"


def _snippet(value: Any, limit: int = 120) -> str:
    text = str(value)
    if text.lstrip().startswith("<"):
        # A proxy's or load balancer's HTML page (GitHub's 504): its words, not its markup, in an error line.
        import html
        import re

        text = html.unescape(re.sub(r"<[^>]*>", " ", text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _root_cause(error: BaseException) -> str:
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    text = str(error)
    if "Connection refused" in text:
        return "connection refused"
    if "Temporary failure in name resolution" in text:
        return "name resolution failed (no network, or the DNS server did not answer)"  # EAI_AGAIN: retried
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "host name not found"
    return _snippet(text, 80)
