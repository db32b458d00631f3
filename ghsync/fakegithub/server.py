"""`FakeGitHub`: a local HTTP server that answers like api.github.com for what ghsync uses.

* ``POST /graphql`` (and ``/api/graphql``, GitHub Enterprise style) runs the query with graphql-core
  against GitHub's real schema subset (``schema.graphql``), with GitHub's cost formula charged to the
  account's ``graphql`` bucket *before* execution, GitHub-shaped errors, keyset cursors and search.
* REST (also under ``/api/v3``): ``GET /rate_limit`` (free), ``GET /user``, ``GET /users/{login}``,
  ``GET /repos/{owner}/{repo}``; everything else is a 404 in GitHub's JSON shape. Each call costs 1
  from the ``core`` bucket (unauthenticated: a 60/hour bucket per client address).
* Rate limits per account (tokens sharing a login share quotas), with GitHub's ``x-ratelimit-*``
  headers on every response; a bucket's window starts at its first use and refills an hour later
  (per the injectable ``clock``).
* Faults: random (``fault_rate``, seeded; ``fault_statuses`` picks which) 502/504/secondary-rate-limit
  answers, big-page timeouts (``timeout_page_size``), a programmable queue (`FakeGitHub.inject`),
  malformed answers (`FakeGitHub.tamper`: edit the next real JSON answer) and slow ones
  (`FakeGitHub.trickle`: the next answer's body one byte at a time).

One deliberate deviation from GitHub, off by default: ``relax_nullability=True`` makes
``PullRequest.additions/deletions/changedFiles`` and ``PullRequest.commits.totalCount`` nullable so
recorded datasets (which lack those values) can be served as recorded. See ``graphql_api.RELAXED_FIELDS``.
"""

from __future__ import annotations

import dataclasses
import json
import random
import socket
import sys
import threading
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    VariableNode,
    execute_sync,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from . import graphql_api
from .cost import QueryCost, calculate_cost
from .data import FakePullRequest, FakeRepository, FakeReview, FakeTeam, iso, stable_id

__all__ = ["FakeGitHub"]

DOCS = "https://docs.github.com/rest"
ANONYMOUS_CORE_LIMIT = 60
_PR_FIELDS = set(FakePullRequest.__dataclass_fields__)


def _now_iso(clock: Callable[[], float]) -> str:
    return iso(clock())


# ------------------------------------------------------------------------------------------------
# per-repository state


class _RepoState:
    """A repository plus the indexes the server keeps over it (rebuilt when the data changes)."""

    def __init__(self, repo: FakeRepository):
        self.repo = repo
        self._by_number: dict[int, FakePullRequest] | None = None
        self._orders: dict[Any, tuple[list[FakePullRequest], list[tuple[Any, ...]]]] = {}
        self._seen_len = -1
        self.created_at = repo.created_at or min(
            (p.created_at for p in repo.pull_requests), default="2008-04-10T00:00:00Z"
        )

    def invalidate(self) -> None:
        self._by_number = None
        self._orders.clear()
        self._seen_len = len(self.repo.pull_requests)

    def _check(self) -> None:
        if self._seen_len != len(self.repo.pull_requests):
            self.invalidate()

    def by_number(self) -> dict[int, FakePullRequest]:
        self._check()
        if self._by_number is None:
            self._by_number = {pr.number: pr for pr in self.repo.pull_requests}
        return self._by_number

    @staticmethod
    def key_function(field: str) -> Callable[[FakePullRequest], tuple[Any, ...]]:
        if field == "UPDATED_AT":
            return lambda pr: (pr.updated_at, pr.database_id)
        if field == "COMMENTS":
            return lambda pr: (0, pr.database_id)  # comments are not modelled: all PRs have none
        return lambda pr: (pr.created_at, pr.database_id)

    def ordered(
        self,
        field: str,
        states: list[str] | None,
        labels: list[str] | None = None,
        base: str | None = None,
        head: str | None = None,
    ) -> tuple[list[FakePullRequest], list[tuple[Any, ...]]]:
        self._check()
        cache_key = (field, tuple(sorted(states)) if states else None)
        cacheable = not labels and base is None and head is None
        if cacheable and cache_key in self._orders:
            return self._orders[cache_key]
        prs: Iterable[FakePullRequest] = self.repo.pull_requests
        if states:
            wanted = set(states)
            prs = [p for p in prs if p.state in wanted]
        if labels:
            wanted_labels = set(labels)
            prs = [p for p in prs if wanted_labels.intersection(p.labels)]
        if base is not None:
            prs = [p for p in prs if p.base_ref == base]
        if head is not None:
            prs = [p for p in prs if p.head_ref == head]
        key = self.key_function(field)
        items = sorted(prs, key=key)
        result = (items, [key(p) for p in items])
        if cacheable:
            self._orders[cache_key] = result
        return result


@dataclass
class _Bucket:
    limit: int
    used: int = 0
    reset_at: float | None = None  # None until first use


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] | None = None


@dataclass
class _Injection:
    status: int
    body: Any
    headers: dict[str, str] | None
    times: int
    path: str | None


class _Context:
    __slots__ = ("dry_run", "fake", "login", "rate_limit")

    def __init__(self, fake: FakeGitHub, login: str, rate_limit: dict[str, Any], dry_run: bool):
        self.fake = fake
        self.login = login
        self.rate_limit = rate_limit
        self.dry_run = dry_run


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _Response(status, body, headers=headers)


def _rest_error(status: int, message: str, documentation_url: str = DOCS) -> _Response:
    return _json(status, {"message": message, "documentation_url": documentation_url, "status": str(status)})


# ------------------------------------------------------------------------------------------------


class FakeGitHub:
    """A fake api.github.com on 127.0.0.1 (see the module docstring). Use as a context manager."""

    def __init__(
        self,
        repositories: Iterable[FakeRepository] = (),
        *,
        tokens: dict[str, str] | None = None,
        graphql_limit: int = 5000,
        core_limit: int = 5000,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        fault_seed: int = 0,
        fault_statuses: tuple[int, ...] = (502, 504, 403),
        timeout_page_size: int | None = None,
        relax_nullability: bool = False,
        rate_limiting: bool = True,
        count_only_connections_free: bool = False,
        clock: Callable[[], float] = time.time,
        teams: Iterable[FakeTeam] = (),
    ):
        self.tokens = dict(tokens) if tokens is not None else None
        self.graphql_limit = graphql_limit
        self.core_limit = core_limit
        self.latency = latency
        self.fault_rate = fault_rate
        self.fault_statuses = tuple(fault_statuses)
        self.timeout_page_size = timeout_page_size
        self.relax_nullability = relax_nullability
        # False acts like GitHub Enterprise Server with rate limiting switched off: no x-ratelimit-*
        # headers, /rate_limit answers 404, rateLimit is null and nothing is ever charged.
        self.rate_limiting = rate_limiting
        # GitHub's price of a connection selected only for totalCount is unverified: by default it is
        # charged like any connection (the conservative model); True makes it free.
        self.count_only_connections_free = count_only_connections_free
        self.clock = clock
        self.before_request: Callable[[str, dict[str, Any] | None], None] | None = None

        self._lock = threading.RLock()
        self._schema = graphql_api.build_fake_schema(relax_nullability)
        self._repos: dict[str, _RepoState] = {}
        # Names repositories had before a rename or transfer (lower-cased) → their current name: GitHub keeps
        # the old name working, REST with a 301 to the repository's id, GraphQL by following it.
        self._renamed: dict[str, str] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._fault_rng = random.Random(fault_seed)
        self._injections: deque[_Injection] = deque()
        self._tampers: deque[tuple[str, Callable[[Any], None]]] = deque()
        self._trickles: deque[tuple[str, float]] = deque()
        self._log: deque[dict[str, Any]] = deque(maxlen=100)
        self._doc_cache: OrderedDict[str, tuple[DocumentNode | None, list[dict[str, Any]]]] = OrderedDict()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._request_seq = 0
        self.reset_stats()
        self._teams: dict[tuple[str, str], FakeTeam] = {}
        for repo in repositories:
            self.add_repository(repo)
        for team in teams:
            self.add_team(team)

    # -------------------------------------------------------------------- lifecycle

    def start(self, port: int = 0) -> FakeGitHub:
        """Serve on 127.0.0.1:`port` (0 = a free port) in a background thread; returns self."""
        if self._server is not None:
            return self
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        server = ThreadingHTTPServer(("127.0.0.1", port), handler, bind_and_activate=False)
        server.daemon_threads = True
        server.request_queue_size = 128
        server.allow_reuse_address = True
        try:
            server.server_bind()
            server.server_activate()
        except BaseException:
            server.server_close()
            raise
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"FakeGitHub:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeGitHub is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` — use as PyGithub's base_url (or append ``/api/v3``)."""
        return f"http://127.0.0.1:{self.port}"

    # -------------------------------------------------------------------- data

    def add_repository(self, repo: FakeRepository) -> None:
        """Serve another repository; fills in missing (0) database ids."""
        with self._lock:
            if not repo.database_id:
                repo.database_id = stable_id(repo.full_name.lower(), 1_000_000, 400_000_000)
            next_pr = max((p.database_id for p in repo.pull_requests), default=0)
            if not next_pr:
                next_pr = 500_000_000 + repo.database_id % 100_000_000
            next_review = max((r.database_id for p in repo.pull_requests for r in p.reviews), default=0)
            if not next_review:
                next_review = 1_500_000_000 + repo.database_id % 100_000_000
            for pr in repo.pull_requests:
                if not pr.database_id:
                    next_pr += 1
                    pr.database_id = next_pr
                for rv in pr.reviews:
                    if not rv.database_id:
                        next_review += 1
                        rv.database_id = next_review
            self._repos[repo.full_name.lower()] = _RepoState(repo)

    @property
    def repositories(self) -> list[FakeRepository]:
        with self._lock:
            return [s.repo for s in self._repos.values()]

    def rename_repository(self, full_name: str, new_full_name: str) -> None:
        """Rename (or, with another owner, transfer) a repository: it answers to its new name, and its old
        one still reaches it, as on GitHub (`followRenames` in GraphQL, a 301 in REST)."""
        with self._lock:
            state = self._repos.pop(full_name.lower())
            owner, name = new_full_name.split("/")
            state.repo = dataclasses.replace(state.repo, owner=owner, name=name)  # the caller's object unchanged
            self._repos[new_full_name.lower()] = state
            # Earlier names follow it to the new one; the new name is nobody's old name any more.
            self._renamed = {
                old: new_full_name if current.lower() == full_name.lower() else current
                for old, current in self._renamed.items()
                if old != new_full_name.lower()
            }
            self._renamed[full_name.lower()] = new_full_name

    def _repo_state(self, full_name: str, *, follow_renames: bool = False) -> _RepoState | None:
        state = self._repos.get(full_name.lower())
        if state is None and follow_renames and full_name.lower() in self._renamed:
            state = self._repos.get(self._renamed[full_name.lower()].lower())
        return state

    def _all_repo_states(self) -> list[_RepoState]:
        return list(self._repos.values())

    def _require(self, full_name: str) -> _RepoState:
        state = self._repo_state(full_name)
        if state is None:
            raise KeyError(f"no repository {full_name!r} in this FakeGitHub")
        return state

    def now_iso(self) -> str:
        """The fake's current time (its clock) as GitHub's ISO-8601 text."""
        return _now_iso(self.clock)

    def invalidate_caches(self) -> None:
        """Call after mutating FakePullRequest objects directly (the helpers below do it for you)."""
        with self._lock:
            for s in self._repos.values():
                s.invalidate()

    def get_pull_request(self, full_name: str, number: int) -> FakePullRequest:
        with self._lock:
            pr = self._require(full_name).by_number().get(number)
            if pr is None:
                raise KeyError(f"no pull request #{number} in {full_name}")
            return pr

    def touch_pull_request(self, full_name: str, number: int, **changes: Any) -> FakePullRequest:
        """Change fields of a PR (e.g. ``state="MERGED"``) and bump ``updated_at`` to now, like GitHub."""
        unknown = set(changes) - _PR_FIELDS
        if unknown:
            raise TypeError(f"unknown FakePullRequest fields: {sorted(unknown)}")
        with self._lock:
            state = self._require(full_name)
            pr = self.get_pull_request(full_name, number)
            now = self.now_iso()
            new_state = changes.get("state", pr.state)
            if new_state != pr.state:  # keep the state's invariants, as GitHub does
                if new_state == "OPEN":  # reopened
                    for k in ("closed_at", "merged_at", "merged_by"):
                        changes.setdefault(k, None)
                elif new_state == "CLOSED":
                    changes.setdefault("closed_at", now)
                    changes.setdefault("merged_at", None)
                    changes.setdefault("merged_by", None)
                elif new_state == "MERGED":
                    changes.setdefault("closed_at", now)
                    changes.setdefault("merged_at", now)
                    changes.setdefault("is_draft", False)
            for k, v in changes.items():
                setattr(pr, k, v)
            if "updated_at" not in changes:
                pr.updated_at = now
            state.invalidate()
            return pr

    def add_pull_request(self, full_name: str, **fields: Any) -> FakePullRequest:
        """Open a new PR with the next number (any FakePullRequest field can be given)."""
        unknown = set(fields) - _PR_FIELDS
        if unknown:
            raise TypeError(f"unknown FakePullRequest fields: {sorted(unknown)}")
        with self._lock:
            state = self._require(full_name)
            repo = state.repo
            now = self.now_iso()
            number = fields.pop("number", max((p.number for p in repo.pull_requests), default=0) + 1)
            st = fields.get("state", "OPEN")
            author = fields.get("author", "octocat")
            values: dict[str, Any] = {
                "number": number,
                "title": f"New pull request #{number}",
                "state": st,
                "is_draft": False,
                "author": author,
                "author_is_bot": False,
                "created_at": now,
                "updated_at": now,
                "closed_at": now if st != "OPEN" else None,
                "merged_at": now if st == "MERGED" else None,
                "merged_by": author if st == "MERGED" else None,
                "additions": 10,
                "deletions": 2,
                "changed_files": 1,
                "commits": 1,
                "base_ref": "main",
                "head_ref": f"feature/pr-{number}",
                "labels": [],
                "reviews": [],
                "database_id": max((p.database_id for p in repo.pull_requests), default=500_000_000) + 1,
            }
            values.update(fields)
            pr = FakePullRequest(**values)
            next_review = self._max_review_id(repo)
            for rv in pr.reviews:
                if not rv.database_id:
                    next_review += 1
                    rv.database_id = next_review
            repo.pull_requests.append(pr)
            state.invalidate()
            return pr

    @staticmethod
    def _max_review_id(repo: FakeRepository) -> int:
        return max(
            (r.database_id for p in repo.pull_requests for r in p.reviews),
            default=1_500_000_000 + repo.database_id % 100_000_000,
        )

    def add_review(
        self, full_name: str, number: int, author: str | None, state: str, *, author_is_bot: bool = False
    ) -> FakeReview:
        """Submit a review now (PENDING reviews have no submitted_at) and bump the PR's updated_at."""
        if state not in ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"):
            raise ValueError(f"not a review state: {state!r}")
        with self._lock:
            rstate = self._require(full_name)
            pr = self.get_pull_request(full_name, number)
            now = self.now_iso()
            review = FakeReview(
                author, state, None if state == "PENDING" else now, author_is_bot, self._max_review_id(rstate.repo) + 1
            )
            pr.reviews.append(review)
            pr.updated_at = now
            rstate.invalidate()
            return review

    def add_team(self, team: FakeTeam) -> FakeTeam:
        """Serve a team (replacing one with the same organization and slug); its organization exists from now on."""
        with self._lock:
            self._teams[(team.organization.lower(), team.slug.lower())] = team
            return team

    def team(self, organization: str, slug: str) -> FakeTeam | None:
        with self._lock:
            return self._teams.get((organization.lower(), slug.lower()))

    def organization_login(self, login: str) -> str | None:
        """The organization's login as GitHub spells it, if it owns a repository or a team (users are not organizations)."""
        with self._lock:
            if self._is_known_user(login):
                return None
            for state in self._repos.values():
                if state.repo.owner.lower() == login.lower():
                    return state.repo.owner
            for team in self._teams.values():
                if team.organization.lower() == login.lower():
                    return team.organization
            return None

    def _is_known_user(self, login: str) -> bool:
        if self.tokens is None:
            return login.lower() == "octocat"
        return login.lower() in {v.lower() for v in self.tokens.values()}

    # -------------------------------------------------------------------- rate limits

    def _accounts(self) -> list[str]:
        if self.tokens is None:
            return ["octocat"]
        return sorted(set(self.tokens.values()))

    def _bucket(self, account: str, resource: str) -> _Bucket:
        key = (account, resource)
        b = self._buckets.get(key)
        if b is None:
            if account.startswith("anon:"):
                limit = ANONYMOUS_CORE_LIMIT if resource == "core" else 0
            else:
                limit = self.graphql_limit if resource == "graphql" else self.core_limit
            b = self._buckets[key] = _Bucket(limit)
        if b.reset_at is not None and self.clock() >= b.reset_at:
            b.used = 0
            b.reset_at = None
        return b

    def _snapshot(self, account: str, resource: str) -> dict[str, Any]:
        b = self._bucket(account, resource)
        reset = b.reset_at if b.reset_at is not None else self.clock() + 3600
        return {
            "limit": b.limit,
            "used": b.used,
            "remaining": max(0, b.limit - b.used),
            "reset": int(reset),
            "resource": resource,
        }

    def _spend(self, account: str, resource: str, amount: int) -> None:
        b = self._bucket(account, resource)
        if b.reset_at is None:
            b.reset_at = self.clock() + 3600
        b.used += amount

    def rate_limit(self, login: str | None, resource: str) -> dict[str, Any]:
        """``{limit, used, remaining, reset, resource}`` of an account's bucket (None: anonymous 127.0.0.1)."""
        with self._lock:
            return self._snapshot(login if login is not None else "anon:127.0.0.1", resource)

    def set_remaining(
        self, resource: str, remaining: int, *, login: str | None = None, reset_at: float | None = None
    ) -> None:
        """Force a bucket's remaining (and optionally its reset epoch). login=None: every account."""
        with self._lock:
            for account in [login] if login is not None else self._accounts():
                b = self._bucket(account, resource)
                b.used = max(0, b.limit - remaining)
                if reset_at is not None:
                    b.reset_at = float(reset_at)
                elif b.reset_at is None:
                    b.reset_at = self.clock() + 3600

    @staticmethod
    def _rate_headers(snap: dict[str, Any]) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(snap["limit"]),
            "x-ratelimit-remaining": str(snap["remaining"]),
            "x-ratelimit-reset": str(snap["reset"]),
            "x-ratelimit-used": str(snap["used"]),
            "x-ratelimit-resource": snap["resource"],
        }

    # -------------------------------------------------------------------- faults, stats, log

    def inject(
        self,
        status: int,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        path: str | None = None,
    ) -> None:
        """Answer the next `times` requests with `status` (GitHub's body for it unless `body` is given).

        Like random faults, injected answers skip ``/rate_limit`` unless ``path="/rate_limit"``; with
        `path` (e.g. ``"/graphql"``, ``"/repos/"``) only requests whose path starts with it are hit.
        Injected answers spend no rate limit.
        """
        with self._lock:
            self._injections.append(_Injection(status, body, dict(headers or {}), times, path))

    def tamper(self, edit: Callable[[Any], None], *, path: str = "/graphql") -> None:
        """Pass the next real JSON answer on a path starting with `path` through `edit`, which changes it
        in place: malformed values in GitHub's own shapes."""
        with self._lock:
            self._tampers.append((path, edit))

    def trickle(self, seconds_per_byte: float, *, path: str = "/graphql") -> None:
        """Send the next answer on `path` with its headers at once, then its body one byte every
        `seconds_per_byte` (a stalled proxy); the client giving up ends it."""
        with self._lock:
            self._trickles.append((path, seconds_per_byte))

    def _take(self, queue: deque[Any], path: str) -> Any:
        with self._lock:
            for item in queue:
                if path.startswith(item[0]):
                    queue.remove(item)
                    return item[1]
        return None

    def reset_stats(self) -> None:
        with self._lock:
            self._stats: dict[str, Any] = {
                "graphql_requests": 0,
                "graphql_points": 0,
                "rest_calls": 0,
                "rate_limit_calls": 0,
                "faults_injected": 0,
                "requests_by_status": {},
                "connections_opened": 0,
            }

    @property
    def stats(self) -> dict[str, Any]:
        """A snapshot: graphql_requests, graphql_points, rest_calls (not /rate_limit), rate_limit_calls,
        faults_injected (random, timeout and injected answers), requests_by_status, and
        connections_opened (TCP connections accepted: shows whether clients keep connections alive)."""
        with self._lock:
            snap = dict(self._stats)
            snap["requests_by_status"] = dict(self._stats["requests_by_status"])
            return snap

    @property
    def request_log(self) -> list[dict[str, Any]]:
        """The last 100 GraphQL requests: login, operation, query, variables, status, cost (no tokens)."""
        with self._lock:
            return [dict(e) for e in self._log]

    def _request_id(self) -> str:
        self._request_seq += 1
        n = self._request_seq
        return f"{(n * 2654435761) & 0xFFFF:04X}:{(n * 40503) & 0xFFFF:04X}:{n:06X}:{(n * 97) & 0xFFFFFF:06X}"

    def _fault_response(self, kind: int, request_id: str) -> _Response:
        if kind == 502:
            return _json(
                502,
                {
                    "data": None,
                    "errors": [
                        {
                            "message": (
                                "Something went wrong while executing your query. This may be the result of a timeout, or it "
                                f"could be a GitHub bug. Please include `{request_id}` when reporting this issue."
                            )
                        }
                    ],
                },
            )
        if kind == 504:
            return _Response(
                504,
                b"<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n",
                "text/html",
            )
        if kind in (403, 429):
            return _json(
                kind,
                {
                    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                    "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/"
                    "rate-limits-for-the-rest-api#about-secondary-rate-limits",
                },
                headers={"retry-after": "1"},
            )
        if kind == 401:
            return _rest_error(401, "Bad credentials")
        if kind == 404:
            return _rest_error(404, "Not Found")
        try:
            phrase = HTTPStatus(kind).phrase
        except ValueError:
            phrase = "Error"
        return _json(kind, {"message": phrase, "documentation_url": DOCS, "status": str(kind)})

    def _injected(self, inj: _Injection, request_id: str) -> _Response:
        if inj.body is None:
            resp = self._fault_response(inj.status, request_id)
            resp.status = inj.status
        elif isinstance(inj.body, (dict, list)):
            resp = _json(inj.status, inj.body)
        elif isinstance(inj.body, bytes):
            resp = _Response(inj.status, inj.body, "application/octet-stream")
        else:
            text = str(inj.body)
            ctype = "application/json; charset=utf-8" if text.lstrip()[:1] in ("{", "[") else "text/html; charset=utf-8"
            resp = _Response(inj.status, text.encode("utf-8"), ctype)
        resp.headers = {**(resp.headers or {}), **(inj.headers or {})}
        return resp

    # -------------------------------------------------------------------- request handling

    def _handle(self, handler: _Handler, method: str) -> None:
        split = urlsplit(handler.path)
        path = unquote(split.path) or "/"
        prefix = ""
        if path.startswith("/api/v3/") or path == "/api/v3":
            prefix, path = "/api/v3", path[len("/api/v3") :] or "/"
        elif path == "/api/graphql":
            prefix, path = "/api", "/graphql"
        if len(path) > 1:
            path = path.rstrip("/")
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length > 0 else b""
        payload: dict[str, Any] | None = None
        if path == "/graphql" and raw:
            try:
                loaded = json.loads(raw)
                payload = loaded if isinstance(loaded, dict) else None
            except ValueError:
                payload = None

        with self._lock:
            request_id = self._request_id()
        try:
            hook = self.before_request
            if hook is not None:
                hook(path, payload)
            if self.latency:
                time.sleep(self.latency)
            resp, resource, account = self._dispatch(handler, method, path, prefix, raw, payload, request_id)
        except Exception as exc:  # noqa: BLE001 - a bug in the fake or a test hook: say so loudly in the response
            traceback.print_exc(file=sys.stderr)
            resp, resource, account = _rest_error(500, f"FakeGitHub internal error: {exc!r}"), "core", "anon:127.0.0.1"

        edit = self._take(self._tampers, path) if self._tampers else None
        if edit is not None and resp.content_type.startswith("application/json"):
            answer = json.loads(resp.body)
            edit(answer)
            resp.body = json.dumps(answer).encode("utf-8")
        delay = self._take(self._trickles, path) if self._trickles else None
        with self._lock:
            snap = self._snapshot(account, resource)
            by_status = self._stats["requests_by_status"]
            by_status[resp.status] = by_status.get(resp.status, 0) + 1
        headers = {**(self._rate_headers(snap) if self.rate_limiting else {}), **(resp.headers or {})}
        headers.setdefault("x-github-request-id", request_id)
        headers.setdefault("x-github-media-type", "github.v3; format=json")
        handler.send_response(resp.status)
        handler.send_header("Content-Type", resp.content_type)
        handler.send_header("Content-Length", str(len(resp.body)))
        for k, v in headers.items():
            handler.send_header(k, v)
        handler.end_headers()
        if method == "HEAD":
            return
        if delay is None:
            handler.wfile.write(resp.body)
            return
        handler.wfile.flush()
        try:
            for index in range(len(resp.body)):
                handler.wfile.write(resp.body[index : index + 1])
                handler.wfile.flush()
                time.sleep(delay)
        except OSError:  # the client gave up
            handler.close_connection = True

    def _authenticate(self, handler: _Handler) -> tuple[str | None, bool]:
        """(login, bad): login None and bad False = no credentials."""
        header = handler.headers.get("Authorization")
        if header is None:
            return None, False
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() not in ("token", "bearer") or not token:
            return None, True
        if self.tokens is None:
            return "octocat", False
        login = self.tokens.get(token)
        return (login, False) if login is not None else (None, True)

    def _dispatch(
        self,
        handler: _Handler,
        method: str,
        path: str,
        prefix: str,
        raw: bytes,
        payload: dict[str, Any] | None,
        request_id: str,
    ) -> tuple[_Response, str, str]:
        is_graphql = path == "/graphql"
        is_rate = path == "/rate_limit"
        resource = "graphql" if is_graphql else "core"
        login, bad = self._authenticate(handler)
        client = handler.client_address[0]
        account = login if login is not None else f"anon:{client}"
        with self._lock:
            if is_graphql:
                self._stats["graphql_requests"] += 1
            elif is_rate:
                self._stats["rate_limit_calls"] += 1
            else:
                self._stats["rest_calls"] += 1
            for inj in self._injections:
                if (inj.path is None and not is_rate) or (inj.path is not None and path.startswith(inj.path)):
                    inj.times -= 1
                    if inj.times <= 0:
                        self._injections.remove(inj)
                    self._stats["faults_injected"] += 1
                    return self._injected(inj, request_id), resource, account

        if bad:
            return _rest_error(401, "Bad credentials"), resource, f"anon:{client}"
        if is_graphql and login is None:
            return (
                _rest_error(
                    401,
                    "This endpoint requires you to be authenticated.",
                    "https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql",
                ),
                resource,
                account,
            )
        if is_rate:
            if not self.rate_limiting:
                return _rest_error(404, "Not Found"), "core", account
            return self._rest_rate_limit(account, login), "core", account

        if self.fault_rate:
            with self._lock:
                hit = self._fault_rng.random() < self.fault_rate
                kind = self._fault_rng.choice(self.fault_statuses) if hit else 0
                if hit:
                    self._stats["faults_injected"] += 1
            if hit:
                return self._fault_response(kind, request_id), resource, account

        if is_graphql:
            if method != "POST":
                return _rest_error(404, "Not Found"), resource, account
            return self._graphql(login, raw, payload, request_id), resource, account  # type: ignore[arg-type]
        return self._rest(method, path, prefix, handler, login, account), resource, account

    # -------------------------------------------------------------------- REST

    def _api_base(self, handler: _Handler, prefix: str) -> str:
        host = handler.headers.get("Host") or f"127.0.0.1:{self.port}"
        return f"http://{host}{prefix}"

    def _rest_rate_limit(self, account: str, login: str | None) -> _Response:
        with self._lock:
            core = self._snapshot(account, "core")
            gql = self._snapshot(account, "graphql")
        return _json(200, {"resources": {"core": core, "graphql": gql}, "rate": core})

    def _rest(
        self, method: str, path: str, prefix: str, handler: _Handler, login: str | None, account: str
    ) -> _Response:
        with self._lock:
            b = self._bucket(account, "core")
            if self.rate_limiting and b.used >= b.limit:
                if login is None:
                    msg = (
                        f"API rate limit exceeded for {handler.client_address[0]}. (But here's the good news: "
                        "Authenticated requests get a higher rate limit. Check out the documentation for more details.)"
                    )
                else:
                    msg = f"API rate limit exceeded for user ID {graphql_api.user_id(login)}."
                return _json(
                    403,
                    {
                        "message": msg,
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                    },
                )
            self._spend(account, "core", 1)
        api = self._api_base(handler, prefix)
        parts = [p for p in path.split("/") if p]
        if method not in ("GET", "HEAD"):
            return _rest_error(404, "Not Found")
        if parts == ["user"]:
            if login is None:
                return _rest_error(
                    401,
                    "Requires authentication",
                    "https://docs.github.com/rest/users/users#get-the-authenticated-user",
                )
            return _json(200, self._user_json(login, api))
        if len(parts) == 2 and parts[0] == "users":
            return _json(200, self._user_json(parts[1], api))
        if len(parts) == 3 and parts[0] == "repos":
            with self._lock:
                state = self._repo_state(f"{parts[1]}/{parts[2]}")
                moved = self._repo_state(f"{parts[1]}/{parts[2]}", follow_renames=True)
                if state is None and moved is not None:
                    # GitHub's answer to a renamed or transferred repository's old name.
                    location = f"{api}/repositories/{moved.repo.database_id}"
                    body = {
                        "message": "Moved Permanently",
                        "url": location,
                        "documentation_url": "https://docs.github.com/v3/#http-redirects",
                    }
                    return _json(301, body, headers={"Location": location})
                if state is None:
                    return _rest_error(404, "Not Found", "https://docs.github.com/rest/repos/repos#get-a-repository")
                return _json(200, self._repo_json(state, api, login is not None))
        return _rest_error(404, "Not Found")

    def _user_json(self, login: str, api: str) -> dict[str, Any]:
        uid = graphql_api.user_id(login)
        return {
            "login": login,
            "id": uid,
            "node_id": graphql_api.node_id("U", uid),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
            "gravatar_id": "",
            "url": f"{api}/users/{login}",
            "html_url": f"https://github.com/{login}",
            "repos_url": f"{api}/users/{login}/repos",
            "type": "User",
            "user_view_type": "public",
            "site_admin": False,
            "name": None,
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": 8,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": "2011-01-25T18:44:36Z",
            "updated_at": self.now_iso(),
        }

    def _repo_json(self, state: _RepoState, api: str, authed: bool) -> dict[str, Any]:
        repo = state.repo
        full = repo.full_name
        owner_type = "User" if self._is_known_user(repo.owner) else "Organization"
        oid = graphql_api.user_id(repo.owner)
        updated = max((p.updated_at for p in repo.pull_requests), default=state.created_at)
        open_count = sum(1 for p in repo.pull_requests if p.state == "OPEN")
        data: dict[str, Any] = {
            "id": repo.database_id,
            "node_id": graphql_api.node_id("R", repo.database_id),
            "name": repo.name,
            "full_name": full,
            "private": False,
            "owner": {
                "login": repo.owner,
                "id": oid,
                "node_id": graphql_api.node_id(owner_type[0], oid),
                "avatar_url": f"https://avatars.githubusercontent.com/u/{oid}?v=4",
                "gravatar_id": "",
                "url": f"{api}/users/{repo.owner}",
                "html_url": f"https://github.com/{repo.owner}",
                "type": owner_type,
                "site_admin": False,
            },
            "html_url": f"https://github.com/{full}",
            "description": None,
            "fork": False,
            "url": f"{api}/repos/{full}",
            "pulls_url": f"{api}/repos/{full}/pulls{{/number}}",
            "issues_url": f"{api}/repos/{full}/issues{{/number}}",
            "created_at": state.created_at,
            "updated_at": updated,
            "pushed_at": updated,
            "git_url": f"git://github.com/{full}.git",
            "ssh_url": f"git@github.com:{full}.git",
            "clone_url": f"https://github.com/{full}.git",
            "svn_url": f"https://github.com/{full}",
            "homepage": None,
            "size": 1024 + len(repo.pull_requests),
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": "Python",
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": True,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": open_count,
            "license": None,
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "public",
            "forks": 0,
            "open_issues": open_count,
            "watchers": 0,
            "default_branch": "main",
            "network_count": 0,
            "subscribers_count": 0,
        }
        if authed:
            data["permissions"] = {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True}
        return data

    # -------------------------------------------------------------------- GraphQL

    def _parse_validate(self, query: str) -> tuple[DocumentNode | None, list[dict[str, Any]]]:
        with self._lock:
            cached = self._doc_cache.get(query)
            if cached is not None:
                self._doc_cache.move_to_end(query)
                return cached
        try:
            doc: DocumentNode | None = parse(query)
            errors = [_format_error(e) for e in validate(self._schema, doc)]  # type: ignore[arg-type]
        except GraphQLError as e:
            doc, errors = None, [_format_error(e)]
        with self._lock:
            self._doc_cache[query] = (doc, errors)
            if len(self._doc_cache) > 256:
                self._doc_cache.popitem(last=False)
        return doc, errors

    def _graphql(self, login: str, raw: bytes, payload: dict[str, Any] | None, request_id: str) -> _Response:
        if payload is None:
            return _json(
                400, {"message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/graphql"}
            )
        query = payload.get("query")
        variables = payload.get("variables") or {}
        operation_name = payload.get("operationName") or None
        log: dict[str, Any] = {
            "time": self.now_iso(),
            "login": login,
            "operation": operation_name,
            "query": query,
            "variables": variables,
            "status": 200,
            "cost": None,
        }
        with self._lock:
            self._log.append(log)
        if isinstance(variables, str):
            try:
                variables = json.loads(variables) or {}
            except ValueError:
                variables = None
        if not isinstance(query, str):
            return _json(200, {"errors": [{"message": "A query attribute must be specified and must be a string."}]})
        if not isinstance(variables, dict):
            return _json(200, {"errors": [{"message": "Variables are invalid JSON."}]})
        doc, errors = self._parse_validate(query)
        if errors or doc is None:
            return _json(200, {"errors": errors})
        ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name:
            op = next((o for o in ops if o.name and o.name.value == operation_name), None)
            if op is None:
                return _json(200, {"errors": [{"message": f"Unknown operation named '{operation_name}'."}]})
        elif len(ops) != 1:
            return _json(
                200, {"errors": [{"message": "Must provide operation name if query contains multiple operations."}]}
            )
        else:
            op = ops[0]
        if op.operation.value != "query":
            return _json(200, {"errors": [{"message": f"Schema is not configured for {op.operation.value}s."}]})
        coerced = get_variable_values(self._schema, op.variable_definitions or [], variables)
        if isinstance(coerced, list):
            return _json(200, {"errors": [_format_error(e) for e in coerced]})
        coerced_values = getattr(coerced, "coerced", coerced)
        cost: QueryCost = calculate_cost(
            doc,
            coerced_values,
            schema=self._schema,
            operation_name=operation_name,
            count_only_free=self.count_only_connections_free,
        )
        if cost.errors:
            return _json(200, {"data": None, "errors": list(cost.errors)})
        log["cost"] = cost.points
        dry_run = _is_dry_run(op, coerced_values)
        timed_out = self.timeout_page_size is not None and cost.page_size("pullRequests") > self.timeout_page_size

        with self._lock:
            b = self._bucket(login, "graphql")
            if self.rate_limiting and b.limit - b.used < cost.points:
                log["status"] = "RATE_LIMITED"
                return _json(
                    200,
                    {
                        "errors": [
                            {
                                "type": "RATE_LIMITED",
                                "message": f"API rate limit exceeded for user ID {graphql_api.user_id(login)}.",
                            }
                        ]
                    },
                )
            if not dry_run:
                self._spend(login, "graphql", cost.points)
                self._stats["graphql_points"] += cost.points
            if timed_out:  # GitHub gave up on the page after doing (and charging for) the work
                self._stats["faults_injected"] += 1
                log["status"] = 502
                return self._fault_response(502, request_id)
            snap = self._snapshot(login, "graphql")
            rate = {
                "cost": cost.points,
                "limit": snap["limit"],
                "remaining": snap["remaining"],
                "used": snap["used"],
                "resetAt": iso(snap["reset"]),
                "nodeCount": cost.node_count,
            }
            if not self.rate_limiting:
                rate = None
            ctx = _Context(self, login, rate, dry_run)
            result = execute_sync(
                self._schema,
                doc,
                root_value=graphql_api.ROOT,
                context_value=ctx,
                variable_values=variables,
                operation_name=operation_name,
                type_resolver=graphql_api.type_resolver,
            )
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [_format_error(e) for e in result.errors]
        return _json(200, out)


def _is_dry_run(op: OperationDefinitionNode, variables: dict[str, Any]) -> bool:
    for sel in op.selection_set.selections:
        if isinstance(sel, FieldNode) and sel.name.value == "rateLimit":
            for arg in sel.arguments or ():
                if arg.name.value == "dryRun":
                    v = arg.value
                    if isinstance(v, BooleanValueNode) and v.value:
                        return True
                    if isinstance(v, VariableNode) and variables.get(v.name.value) is True:
                        return True
    return False


def _format_error(e: GraphQLError) -> dict[str, Any]:
    out: dict[str, Any] = {}
    original = getattr(e, "original_error", None)
    if isinstance(original, graphql_api.GitHubGraphQLError):
        out["type"] = original.type
    if e.path is not None:
        out["path"] = list(e.path)
    if e.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in e.locations]
    out["message"] = original.message if isinstance(original, graphql_api.GitHubGraphQLError) else e.message
    return out


# ------------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub  # set on the bound subclass
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""
    wbufsize = 1 << 16  # headers and body leave in one write (flushed after each request)
    timeout = 120  # idle keep-alive connections

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        with self.fake._lock:
            self.fake._connections.add(self.connection)
            self.fake._stats["connections_opened"] += 1

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.fake._lock:
                self.fake._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.fake._handle(self, "GET")

    def do_POST(self) -> None:
        self.fake._handle(self, "POST")

    def do_HEAD(self) -> None:
        self.fake._handle(self, "HEAD")

    def do_PUT(self) -> None:
        self.fake._handle(self, "PUT")

    def do_PATCH(self) -> None:
        self.fake._handle(self, "PATCH")

    def do_DELETE(self) -> None:
        self.fake._handle(self, "DELETE")
