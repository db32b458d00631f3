"""The pull-request Source: complete, validated pages from GitHub through the token pool, retries included."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any

from ghsync.errors import (
    AuthenticationError,
    GhsyncError,
    GitHubError,
    OwnerNotFound,
    RateLimited,
    RepositoryNotFound,
    TransientGitHubError,
)
from ghsync.github.graphql import (
    FOLLOW_UP_BATCH_SIZE,
    FollowUp,
    ParsedPage,
    apply_follow_ups,
    cheapest_page_size,
    extra_connections,
    follow_up_query,
    page_alias_requests,
    parse_pull_request_page,
    parse_pull_request_pages,
    pull_request_page_query,
    pull_request_pages_query,
    rate_limit_of,
    repository_answer,
)
from ghsync.github.owners import (
    HEADS_BATCH_SIZE,
    owner_repositories_query,
    parse_owner_page,
    parse_repository_heads,
    repository_heads_query,
)
from ghsync.github.pool import MAX_ATTEMPTS, TokenPool, backoff_delay, retry_transient
from ghsync.models import (
    AccountRateLimit,
    ListedRepository,
    Page,
    PageRequest,
    PullRequestRecord,
    RateLimitBudget,
    RepositoryHead,
    RepositoryIdentity,
    Spend,
    Version,
)
from ghsync.timefmt import iso

REQUEST_TIMEOUT_SECONDS = 60.0
# After a timeout the halved size is held for this many good pages before growing back; each
# failed attempt to grow back doubles the hold (a page that is heavy stays small, a blip passes).
GROW_BACK_AFTER = 16
# The most requests one point buys: GitHub divides by 100 and rounds half up.
ONE_POINT_REQUESTS = 149
# At most this many repositories share one request (a smaller answer, a smaller loss on a timeout).
MAX_BATCH = 40


class PageSizer:
    """Pure page-size decisions: halve on a timeout, grow back (doubling) after enough good pages."""

    def __init__(self) -> None:
        self.limit: int | None = None  # None: the cost formula's size
        self.hold = 0
        self.hold_length = GROW_BACK_AFTER

    def size(self, best: int) -> int:
        return best if self.limit is None else min(self.limit, best)

    def timed_out(self, size: int) -> None:
        grew_back_and_failed = self.limit is not None and self.hold == 0
        if grew_back_and_failed:
            self.hold_length *= 2
        self.limit = max(1, size // 2)
        self.hold = self.hold_length

    def succeeded(self, size: int, best: int) -> None:
        if self.limit is None:
            return
        if self.hold > 0:
            self.hold -= 1
            return
        self.limit = size * 2
        if self.limit >= best:
            self.limit = None


class GitHubPullRequestSource:
    """What the sync engine reads from: budget(), spent(), fetch_page() and check_repository()."""

    def __init__(
        self,
        pool: TokenPool,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.pool = pool
        self.sleep = sleep
        self.sizer = PageSizer()
        self._points = 0
        # Pages the caller said it will ask for (with how many records each should hold), by repository;
        # and pages fetched early alongside another one, served without a request when asked for.
        self._planned: dict[str, tuple[PageRequest, int]] = {}
        self._held: dict[PageRequest, ParsedPage] = {}
        # Records left to read after the last page fetched, by repository (from the page's count).
        self._left: dict[str, tuple[int, bool]] = {}
        self.requests = 0
        # The next page of a full-history pass, fetched while the engine writes the current one.
        self._ahead: tuple[PageRequest, Future[ParsedPage]] | None = None

    # --- many repositories at once ------------------------------------------------------------

    def expect(self, planned: Sequence[tuple[PageRequest, int]]) -> None:
        """The pages the caller will ask for next, in order, with the records each should hold: small
        ones are fetched together, several repositories per 1-point request."""
        for request, expected in planned:
            self._planned[request.full_name.lower()] = (request, expected)

    def list_owner(self, login: str, *, include_forks: bool) -> tuple[str, list[ListedRepository]]:
        """Every repository an owner owns (100 per request, one point each): its login as GitHub spells it."""
        listed: list[ListedRepository] = []
        after: str | None = None
        while True:
            query, variables = owner_repositories_query(login, after=after, include_forks=include_forks)
            try:
                page = parse_owner_page(retry_transient(partial(self._query, query, variables), sleep=self.sleep))
            except RepositoryNotFound:  # PyGithub reports GraphQL's NOT_FOUND as an unknown object
                page = None
            if page is None:
                raise OwnerNotFound(f"no user or organisation '{login}' on GitHub (or the token cannot see it)")
            listed.extend(page.repositories)
            if page.after is None:
                return page.login, listed
            after = page.after

    def repository_heads(self, full_names: Sequence[str]) -> dict[str, RepositoryHead] | None:
        """Each repository's PR count and newest `updatedAt`, 100 per 1-point request; a repository GitHub no
        longer has is left out of the answer (the others are read all the same). None when GitHub could not
        answer: the caller then syncs each one."""
        heads: dict[str, RepositoryHead] = {}
        for start in range(0, len(full_names), HEADS_BATCH_SIZE):
            batch = list(full_names[start : start + HEADS_BATCH_SIZE])
            query, variables = repository_heads_query(batch)
            try:
                answer = retry_transient(partial(self._query, query, variables, missing_ok=True), sleep=self.sleep)
                heads.update(parse_repository_heads(answer, batch))
            except (RepositoryNotFound, GitHubError):
                return None
        return heads

    def budget(self) -> RateLimitBudget:
        return self.pool.budget()

    def spent(self) -> Spend:
        return Spend(points=self._points, rest_calls=self.pool.rest_calls)

    def check_repository(self, first: PageRequest) -> RepositoryIdentity:
        """The repository's first page, which is also the check that it exists under this name: fetched now
        and held for the engine, whose first request it is, so the check costs no request of its own.
        RepositoryNotFound when GitHub has no such repository, or has it under another name (GitHub answers
        an old name with the renamed or transferred repository)."""
        try:
            parsed = self._page(first)
        except RepositoryNotFound:
            raise RepositoryNotFound(
                f"repository {first.full_name} not found on {self.pool.any_client().api_url} "
                "(or the token cannot see it)"
            ) from None
        identity = parsed.identity or RepositoryIdentity(first.full_name)
        if identity.full_name.lower() != first.full_name.lower():
            raise RepositoryNotFound.renamed(first.full_name, identity.full_name)
        self._held[first] = parsed
        return identity

    def holds(self, request: PageRequest) -> bool:
        """This page is fetched already (and paid for): serving it spends nothing."""
        return request in self._held

    def _query(self, query: str, variables: dict[str, Any], *, missing_ok: bool = False) -> dict[str, Any]:
        while True:
            key, client = self.pool.client()  # raises RateLimited once every token is below the threshold
            try:
                answer = client.graphql(query, variables, missing_ok=missing_ok)
                break
            except RateLimited as error:
                # This token was spent elsewhere; the pool may still have another account with budget.
                if not self.pool.exhausted(key, error.reset_at):
                    raise
            except AuthenticationError:
                # A revoked token: the others go on; only when none is left is it the run's error.
                if not self.pool.reject(key):
                    raise
        state, cost = rate_limit_of(answer.body)
        self.pool.record(key, state or answer.rate_limit)
        self._points += cost
        self.requests += 1
        return answer.body

    def query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Any other GraphQL query through the pool, retried on transient faults, its points counted."""
        return retry_transient(partial(self._query, query, variables), sleep=self.sleep)

    def _expected(self, request: PageRequest) -> int | None:
        """How many records this page should hold to end its pass, when known."""
        planned = self._planned.get(request.full_name.lower())
        if planned is not None and planned[0] == request:
            return planned[1]
        if request.after is not None and request.full_name.lower() in self._left:
            left, windowed = self._left[request.full_name.lower()]
            return max(1, left + int(windowed))
        return None

    def _companions(self, exclude: set[PageRequest], used: int) -> tuple[list[tuple[PageRequest, int]], int]:
        """Planned pages of other repositories that fit, whole, in what is left of one point (first fit)."""
        chosen: list[tuple[PageRequest, int]] = []
        names = {request.full_name.lower() for request in exclude}
        for name, (other, expected) in self._planned.items():
            if len(chosen) >= MAX_BATCH:
                break
            if name in names or other in self._held:
                continue
            best = cheapest_page_size(extra_connections=extra_connections(other))
            size = max(1, min(expected, best))
            cost = page_alias_requests(other, size)
            if used + cost <= ONE_POINT_REQUESTS:
                chosen.append((other, size))
                used += cost
        return chosen, used

    def _follow_ups(self, need: PageRequest | None, used: int) -> tuple[list[tuple[PageRequest, list[FollowUp]]], int]:
        """Held pages' unfinished reviews/labels (the needed page's first), as many as fit in one point."""
        groups = []
        for request in sorted(self._held, key=lambda held: held != need):
            chosen = []
            for partial_pr in self._held[request].partials:
                follow_up = partial_pr.follow_up()
                if follow_up is None:
                    continue
                cost = int(follow_up.reviews_after is not None) + int(follow_up.labels_after is not None)
                if used + cost > ONE_POINT_REQUESTS:
                    break
                chosen.append(follow_up)
                used += cost
            if chosen:
                groups.append((request, chosen))
        return groups, used

    def _round(self, first: tuple[PageRequest, int] | None, need: PageRequest) -> bool:
        """One 1-point request: `first` (a page asked for), the follow-ups of held pages, and planned pages
        of other repositories filling what is left; every page it brings is held until asked for. False
        (and no request) when `first` would go alone: it is then fetched as a plain page."""
        used = page_alias_requests(*first) if first else 0
        groups, used = self._follow_ups(None if first else need, used)
        companions, used = self._companions({need, *self._held}, used)
        if first and not groups and not companions:
            return False
        pages = ([first] if first else []) + companions
        query, variables = pull_request_pages_query(pages, groups)
        try:
            body = retry_transient(partial(self._query, query, variables), sleep=self.sleep)
            parsed = parse_pull_request_pages(body, len(pages))
        except (RepositoryNotFound, GitHubError):
            # One of them is gone since it was listed (GitHub fails the whole request), or the answer does not
            # parse: the companions go alone from now on, so they cannot fail another repository's request.
            # The held pages stay: they are complete and paid for.
            for request, _ in companions:
                self._planned.pop(request.full_name.lower(), None)
            raise
        for index, (request, follow_ups) in enumerate(groups):
            partials = {p.number: p for p in self._held[request].partials}
            apply_follow_ups(partials, repository_answer(body, f"f{index}"), follow_ups)
        for (request, _), page in zip(pages, parsed, strict=True):
            self._held[request] = page
        return True

    def _batched(self, request: PageRequest) -> ParsedPage | None:
        """The page from a shared request, complete (its follow-ups riding along with other pages); None
        when sharing does not pay (a large page) or a shared request failed: then it is fetched alone."""
        if request not in self._held:
            best = cheapest_page_size(extra_connections=extra_connections(request))
            expected = self._expected(request)
            if expected is None or self.sizer.limit is not None or expected >= best:
                return None
            try:
                if not self._round((request, max(1, expected)), request):
                    return None
            except (RepositoryNotFound, GitHubError):
                return None  # this page alone then: if it is the one that failed, the error is its own
        while any(p.follow_up() is not None for p in self._held[request].partials):
            try:
                self._round(None, request)
            except (RepositoryNotFound, GitHubError):
                break  # fetch_page's own follow-up loop completes it
        return self._held.pop(request)

    def _page(self, request: PageRequest) -> ParsedPage:
        """One page, retried on transient faults; a timeout (or a 502 twice in a row) halves the size."""
        best = cheapest_page_size(extra_connections=extra_connections(request))
        attempt = 0
        last_status: int | None = None
        while True:
            attempt += 1
            size = self.sizer.size(best)
            try:
                parsed = parse_pull_request_page(self._query(*pull_request_page_query(request, size)))
            except TransientGitHubError as error:
                if attempt >= MAX_ATTEMPTS:
                    raise
                # A lone 502/503 is load: same size again. A timeout, or the same page failing twice, is size.
                if error.timed_out or (error.status in (502, 503) and last_status == error.status):
                    self.sizer.timed_out(size)
                    last_status = None
                else:
                    last_status = error.status
                self.sleep(backoff_delay(attempt, retry_after=error.retry_after))
                continue
            self.sizer.succeeded(size, best)
            return parsed

    def _fetch_ahead(self, request: PageRequest, parsed: ParsedPage) -> None:
        """Start fetching the page the engine will ask for next, while it writes this one: only in a
        full-history pass (its next request is certain: after this cursor, no count) with PRs left, and
        only when the point it spends leaves the budget at or above the threshold (a stop wastes nothing)."""
        left, windowed = self._left.get(request.full_name.lower(), (0, True))
        if windowed or left <= 0 or not parsed.has_next_page or not parsed.end_cursor or self._planned:
            return
        budget = self.pool.budget()
        if budget.remaining is not None and budget.remaining - 1 < self.pool.threshold:
            return
        following = PageRequest(owner=request.owner, name=request.name, after=parsed.end_cursor)
        # One page ahead at most: fetch_page took the last one before asking for this page.
        assert self._ahead is None, "a page is already being fetched ahead"
        self._ahead = (following, _in_background(partial(self._page, following)))

    def _fetched_ahead(self, request: PageRequest) -> ParsedPage | None:
        """The page fetched ahead, if it is the one asked for (else its point is spent for nothing, which the
        conditions in _fetch_ahead make rare: the engine stopped or its pass ended early)."""
        if self._ahead is None:
            return None
        following, future = self._ahead
        self._ahead = None
        if following == request:
            return future.result()  # its error, if any, is the engine's as if it had asked just now
        try:
            future.result()
        except GhsyncError:
            pass  # a page nobody asked for: its failure does not matter
        return None

    def fetch_page(
        self, request: PageRequest, *, wanted: Callable[[Sequence[Version]], Collection[int]]
    ) -> Page[PullRequestRecord]:
        """One page of every PR in it; those `wanted` keeps get follow-ups until complete.

        A PR `wanted` leaves out is returned as parsed, possibly without all its reviews: the
        caller must not store it.
        """
        try:
            parsed = self._fetched_ahead(request) or self._batched(request) or self._page(request)
        finally:
            # Asked for, fetched or failed: no later request carries it as a companion.
            self._planned.pop(request.full_name.lower(), None)
        name = request.full_name.lower()
        if parsed.total_count is not None and request.count is not None:
            # A window (a search count) ends at the first record before it: one more record shows it.
            self._left[name] = (parsed.total_count - len(parsed.partials), request.count != "all")
        elif request.after is None:
            self._left.pop(name, None)  # a new pass without a count: what an earlier pass left says nothing
        elif name in self._left:
            left, windowed = self._left[name]
            self._left[name] = (left - len(parsed.partials), windowed)
        partials = parsed.partials
        keep = set(wanted([Version(p.number, p.record.updated_at) for p in partials]))
        incomplete = {p.number: p for p in partials if p.number in keep}
        while True:
            pending = [f for p in incomplete.values() if (f := p.follow_up()) is not None]
            if not pending:
                break
            batch = pending[:FOLLOW_UP_BATCH_SIZE]
            query, variables = follow_up_query(request.owner, request.name, batch)
            body = retry_transient(partial(self._query, query, variables), sleep=self.sleep)
            apply_follow_ups(incomplete, body, batch)
        self._fetch_ahead(request, parsed)
        return Page(
            records=tuple(p.record for p in partials),
            has_next_page=parsed.has_next_page,
            end_cursor=parsed.end_cursor,
            total_count=parsed.total_count,
            head_updated_at=parsed.head_updated_at,
            identity=parsed.identity,
        )


def _in_background(fetch: Callable[[], ParsedPage]) -> Future[ParsedPage]:
    """Run a page fetch in a daemon thread. Not a ThreadPoolExecutor: Python joins its workers at exit, so
    Ctrl-C, SIGTERM or an error would wait for the page in flight (up to the request timeout) before the
    process could end; the fetch only reads from GitHub, so a stop may drop it."""
    future: Future[ParsedPage] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fetch())
        except BaseException as error:  # noqa: BLE001 - handed to whoever asks for the page, as if asked then
            future.set_exception(error)

    threading.Thread(target=run, name="ghsync-page-ahead", daemon=True).start()
    return future


def _clients(
    tokens: Sequence[str],
    *,
    api_url: str,
    request_timeout: float,
    allow_insecure_http: bool,
    clock: Callable[[], float] = time.time,
) -> list[Any]:
    from ghsync.github.client import GitHubClient

    def client(token: str | None) -> GitHubClient:
        return GitHubClient(
            token, api_url=api_url, timeout=request_timeout, allow_insecure_http=allow_insecure_http, clock=clock
        )

    return [client(token) for token in tokens] or [client(None)]


def open_source(
    tokens: Sequence[str],
    *,
    api_url: str,
    threshold: int,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    on_warning: Callable[[str], None] = lambda message: None,
    request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    allow_insecure_http: bool = False,
) -> GitHubPullRequestSource:
    """The PR source over a pool of `tokens` (none: anonymous)."""
    clients = _clients(
        tokens, api_url=api_url, request_timeout=request_timeout, allow_insecure_http=allow_insecure_http, clock=clock
    )
    pool = TokenPool(clients, threshold=threshold, sleep=sleep, clock=clock, on_warning=on_warning)
    return GitHubPullRequestSource(pool, sleep=sleep)


def account_rate_limits(
    tokens: Sequence[str],
    *,
    api_url: str,
    request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    allow_insecure_http: bool = False,
) -> list[AccountRateLimit]:
    """Each token's buckets, by account login (or `token #N`) — never the token itself."""
    from ghsync.errors import GhsyncError

    report = []
    clients = _clients(
        tokens, api_url=api_url, request_timeout=request_timeout, allow_insecure_http=allow_insecure_http
    )
    rejected: list[AuthenticationError] = []
    for index, client in enumerate(clients, start=1):
        try:
            states = client.rate_limits()
        except AuthenticationError as error:
            # One revoked token of a pool is a row, as `sync` goes on without it; all of them is the error.
            rejected.append(error)
            report.append(
                AccountRateLimit(f"token #{index}", "rejected by GitHub (401)", None, None, None, None, rejected=True)
            )
            continue
        try:
            account = client.user_login() or f"token #{index}"
        except GhsyncError:
            account = f"token #{index}"
        if states is None:
            report.append(AccountRateLimit(account, "all", None, None, None, None))
            continue
        for state in states.values():
            report.append(
                AccountRateLimit(account, state.resource, state.limit, state.remaining, state.used, iso(state.reset_at))
            )
    if len(rejected) == len(clients):
        raise rejected[0]
    return report
