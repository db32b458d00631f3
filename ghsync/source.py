"""Complete pages of pull requests from GitHub: a token pool, page queries and nested follow-ups."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ghsync.errors import AuthenticationError, RateLimited
from ghsync.github import GitHubClient
from ghsync.models import PullRequestRecord, RateLimitState
from ghsync.queries import (
    FOLLOW_UP_BATCH_SIZE,
    PageRequest,
    PullRequestPage,
    apply_follow_ups,
    follow_up_query,
    parse_pull_request_page,
    parse_rate_limit,
    pull_request_page_query,
)
from ghsync.ratelimit import RateLimitBudget, pick_token, pool_budget, retry_transient


@dataclass(frozen=True)
class FetchedPage:
    """A page whose PRs are complete: every review and label, follow-up pages included."""

    records: list[PullRequestRecord]
    has_next_page: bool
    end_cursor: str | None
    total_count: int | None
    head_updated_at: str | None


class TokenPool:
    """Several tokens, one quota per account: always spend from the account with the most left."""

    def __init__(self, clients: Sequence[GitHubClient], *, threshold: int, sleep: Callable[[float], None] = time.sleep):
        self.threshold = threshold
        self.sleep = sleep
        self._clients = list(clients)
        self._states: dict[int, RateLimitState | None] = {}
        self._unlimited = False
        self._refresh()

    def _refresh(self) -> None:
        accounts: dict[str, int] = {}
        rejected: list[AuthenticationError] = []
        for index, client in enumerate(self._clients):
            try:
                states = retry_transient(client.rate_limits, sleep=self.sleep)
            except AuthenticationError as error:
                # One revoked token in a pool should not stop the others; all revoked is an error.
                rejected.append(error)
                continue
            if states is None:
                self._unlimited = True
                self._states = {index: None}
                return
            if len(self._clients) > 1:
                # Tokens of one account share its quota: keep one of them so the pool is not counted twice.
                _, user = retry_transient(lambda c=client: c.rest_get("/user"), sleep=self.sleep)
                login = (user or {}).get("login", f"#{index}")
                if login in accounts:
                    continue
                accounts[login] = index
            self._states[index] = states.get("graphql")
        if rejected and not self._states and not self._unlimited:
            raise rejected[0]

    @property
    def accounts(self) -> int:
        return len(self._states)

    def budget(self) -> RateLimitBudget:
        if self._unlimited:
            return RateLimitBudget.unlimited("graphql")
        self._reread_reset_buckets()
        return pool_budget("graphql", list(self._states.values()))

    def _reread_reset_buckets(self) -> None:
        """A bucket whose reset time has passed is full again: ask GitHub (free) instead of guessing."""
        now = time.time()
        for key, state in list(self._states.items()):
            if state is not None and state.remaining < self.threshold and state.reset_at <= now:
                states = retry_transient(self._clients[key].rate_limits, sleep=self.sleep)
                if states is not None and states.get("graphql") is not None:
                    self._states[key] = states["graphql"]

    def client(self) -> tuple[int, GitHubClient]:
        self._reread_reset_buckets()
        key = pick_token(self._states, self.threshold)
        if key is None:
            budget = self.budget()
            raise RateLimited(
                f"every token's GraphQL budget is below {self.threshold}",
                reset_at=budget.reset_at,
                remaining=budget.remaining,
            )
        return key, self._clients[key]

    def any_client(self) -> GitHubClient:
        """For REST calls (the core bucket), which the GraphQL threshold does not govern."""
        return self._clients[next(iter(self._states), 0)]

    def exhausted(self, key: int, reset_at: int | None) -> bool:
        """GitHub said this token is out (another program spent it): skip it until its reset.

        Returns False when the pool cannot tell (a server without limits), so the caller stops.
        """
        state = self._states.get(key)
        if self._unlimited or state is None:
            return False
        reset = reset_at or state.reset_at
        self._states[key] = RateLimitState(
            resource="graphql", limit=state.limit, remaining=0, used=state.limit, reset_at=reset
        )
        return True

    def record(self, key: int, state: RateLimitState | None) -> None:
        if state is not None and not self._unlimited:
            self._states[key] = state

    @property
    def rest_calls(self) -> int:
        return sum(client.rest_calls for client in self._clients)


class GitHubPullRequestSource:
    """What the sync engine reads from: budget() and fetch_page(); counts the points it spends."""

    def __init__(self, pool: TokenPool):
        self.pool = pool
        self.points_spent = 0

    def budget(self) -> RateLimitBudget:
        return self.pool.budget()

    @property
    def rest_calls(self) -> int:
        return self.pool.rest_calls

    def _query(self, query: str, variables: dict) -> dict:
        while True:
            key, client = self.pool.client()  # raises RateLimited once every token is below the threshold
            try:
                answer = client.graphql(query, variables)
                break
            except RateLimited as error:
                # This token was spent elsewhere; the pool may still have another account with budget.
                if not self.pool.exhausted(key, error.reset_at):
                    raise
        state = parse_rate_limit(answer.body["data"].get("rateLimit")) or answer.rate_limit
        self.pool.record(key, state)
        cost = (answer.body["data"].get("rateLimit") or {}).get("cost")
        self.points_spent += int(cost) if cost is not None else 1
        return answer.body

    def fetch_page(self, request: PageRequest, *, wanted: Callable[[int, str], bool] | None = None) -> FetchedPage:
        """One page; PRs that `wanted` keeps (default: all) get follow-ups until complete.

        A PR `wanted` rejects (outside the pass, or unchanged) is returned as parsed, possibly
        without all its reviews: the caller must not store it.
        """
        query, variables = pull_request_page_query(request)
        page: PullRequestPage = parse_pull_request_page(self._query(query, variables))
        partials = {
            partial.fields["number"]: partial
            for partial in page.partials
            if wanted is None or wanted(partial.fields["number"], partial.fields["updated_at"])
        }
        while True:
            pending = [p.follow_up() for p in partials.values() if p.follow_up() is not None]
            if not pending:
                break
            batch = pending[:FOLLOW_UP_BATCH_SIZE]
            query, variables = follow_up_query(request.owner, request.name, batch)
            apply_follow_ups(partials, self._query(query, variables), batch)
        return FetchedPage(
            records=[partial.to_record() for partial in page.partials],
            has_next_page=page.has_next_page,
            end_cursor=page.end_cursor,
            total_count=page.total_count,
            head_updated_at=page.head_updated_at,
        )


def open_source(
    tokens: Sequence[str], *, api_url: str, threshold: int, sleep: Callable[[float], None] = time.sleep
) -> GitHubPullRequestSource:
    clients = [GitHubClient(token, api_url=api_url) for token in tokens] or [GitHubClient(None, api_url=api_url)]
    return GitHubPullRequestSource(TokenPool(clients, threshold=threshold, sleep=sleep))
