"""The pull-request Source: complete, validated pages from GitHub through the token pool, retries included."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from functools import partial
from typing import Any

from ghsync.errors import AuthenticationError, RateLimited, TransientGitHubError
from ghsync.github.graphql import (
    FOLLOW_UP_BATCH_SIZE,
    ParsedPage,
    apply_follow_ups,
    cheapest_page_size,
    extra_connections,
    follow_up_query,
    parse_pull_request_page,
    pull_request_page_query,
    rate_limit_of,
)
from ghsync.github.pool import MAX_ATTEMPTS, TokenPool, backoff_delay, retry_transient
from ghsync.models import AccountRateLimit, Page, PageRequest, PullRequestRecord, RateLimitBudget, Spend, Version
from ghsync.timefmt import iso

REQUEST_TIMEOUT_SECONDS = 60.0
# After a timeout the halved size is held for this many good pages before growing back; each
# failed attempt to grow back doubles the hold (a page that is heavy stays small, a blip passes).
GROW_BACK_AFTER = 16


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

    def budget(self) -> RateLimitBudget:
        return self.pool.budget()

    def spent(self) -> Spend:
        return Spend(points=self._points, rest_calls=self.pool.rest_calls)

    def check_repository(self, full_name: str) -> tuple[str | None, int | None]:
        """One REST call (the core bucket, not GraphQL points): the repository's GitHub ids, or
        RepositoryNotFound when it is not there."""
        client = self.pool.any_client()
        return retry_transient(lambda: client.check_repository(full_name), sleep=self.sleep)

    def _query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        while True:
            key, client = self.pool.client()  # raises RateLimited once every token is below the threshold
            try:
                answer = client.graphql(query, variables)
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
        return answer.body

    def query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Any other GraphQL query through the pool, retried on transient faults, its points counted."""
        return retry_transient(partial(self._query, query, variables), sleep=self.sleep)

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

    def fetch_page(
        self, request: PageRequest, *, wanted: Callable[[Sequence[Version]], Collection[int]]
    ) -> Page[PullRequestRecord]:
        """One page of every PR in it; those `wanted` keeps get follow-ups until complete.

        A PR `wanted` leaves out is returned as parsed, possibly without all its reviews: the
        caller must not store it.
        """
        parsed = self._page(request)
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
        return Page(
            records=tuple(p.to_record() for p in partials),
            has_next_page=parsed.has_next_page,
            end_cursor=parsed.end_cursor,
            total_count=parsed.total_count,
            head_updated_at=parsed.head_updated_at,
        )


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
    for index, client in enumerate(clients, start=1):
        states = client.rate_limits()
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
    return report
