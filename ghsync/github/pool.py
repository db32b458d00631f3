"""The token pool (one quota per account, revoked tokens dropped) and the pure budget and retry decisions."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from ghsync.errors import AuthenticationError, RateLimited, TransientGitHubError
from ghsync.models import RateLimitBudget, RateLimitState

if TYPE_CHECKING:
    from ghsync.github.client import GitHubClient

MAX_ATTEMPTS = 6
MAX_BACKOFF_SECONDS = 60.0
# A server's Retry-After is honoured up to this; past it, waiting in-process is not the right answer.
MAX_RETRY_AFTER_SECONDS = 300.0

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def pick_token(states: Mapping[K, RateLimitState | None], threshold: int) -> K | None:
    """The token key with the most budget at or above the threshold; an unlimited one wins outright."""
    best_key: K | None = None
    best_remaining = -1
    for key, state in states.items():
        if state is None:
            return key
        if state.remaining >= threshold and state.remaining > best_remaining:
            best_key, best_remaining = key, state.remaining
    return best_key


def pool_budget(resource: str, states: Sequence[RateLimitState | None]) -> RateLimitBudget:
    """The pool's budget: the best token's remaining; when all are spent, the earliest reset."""
    known = [state for state in states if state is not None]
    if not states or len(known) < len(states):
        return RateLimitBudget.unlimited(resource)
    best = max(known, key=lambda s: s.remaining)
    earliest_reset = min(s.reset_at for s in known)
    return RateLimitBudget(resource=resource, remaining=best.remaining, reset_at=earliest_reset, limit=best.limit)


def backoff_delay(attempt: int, *, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1-based): honour retry-after (capped), else 1, 2, 4 … 60."""
    if retry_after is not None:
        return max(0.0, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return min(MAX_BACKOFF_SECONDS, float(2 ** (attempt - 1)))


def retry_transient(call: Callable[[], T], *, sleep: Callable[[float], None]) -> T:
    """Call, retrying transient faults (502/504, resets, secondary limits) with backoff."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except TransientGitHubError as error:
            if attempt >= MAX_ATTEMPTS:
                raise
            sleep(backoff_delay(attempt, retry_after=error.retry_after))


class TokenPool:
    """Several tokens, one quota per account: always spend from the account with the most left.

    Tokens are keyed by their position (0-based); people see `#1`, `#2` … or the account's login.
    """

    def __init__(
        self,
        clients: Sequence[GitHubClient],
        *,
        threshold: int,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        on_warning: Callable[[str], None] = lambda message: None,
    ):
        self.threshold = threshold
        self.sleep = sleep
        self.clock = clock
        self.on_warning = on_warning
        self._clients = list(clients)
        self._states: dict[int, RateLimitState | None] = {}
        self._logins: dict[int, str] = {}
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
                if len(self._clients) > 1:
                    self.on_warning(f"GitHub rejected token #{index + 1}; going on without it")
                continue
            if states is None:
                self._unlimited = True
                self._states = {index: None}
                return
            if len(self._clients) > 1:
                # Tokens of one account share its quota: keep one of them so the pool is not counted twice.
                login = retry_transient(client.user_login, sleep=self.sleep) or f"#{index + 1}"
                if login in accounts:
                    continue
                accounts[login] = index
                self._logins[index] = login
            self._states[index] = states.get("graphql")
        if rejected and not self._states and not self._unlimited:
            raise rejected[0]

    @property
    def accounts(self) -> int:
        return len(self._states)

    @property
    def rest_calls(self) -> int:
        return sum(client.rest_calls for client in self._clients)

    def name(self, key: int) -> str:
        """How people see a token: its account's login when known, else its position — never the token."""
        login = self._logins.get(key)
        return f"token #{key + 1} ({login})" if login and not login.startswith("#") else f"token #{key + 1}"

    def budget(self) -> RateLimitBudget:
        if self._unlimited:
            return RateLimitBudget.unlimited("graphql")
        self._reread_reset_buckets()
        return pool_budget("graphql", list(self._states.values()))

    def _reread_reset_buckets(self) -> None:
        """A bucket whose reset time has passed is full again: ask GitHub (free) instead of guessing."""
        now = self.clock()
        for key, state in list(self._states.items()):
            if state is not None and state.remaining < self.threshold and state.reset_at <= now:
                try:
                    states = retry_transient(self._clients[key].rate_limits, sleep=self.sleep)
                except AuthenticationError:
                    self.reject(key)
                    continue
                if states is not None and states.get("graphql") is not None:
                    self._states[key] = states["graphql"]

    def client(self) -> tuple[int, GitHubClient]:
        """The token to spend next; RateLimited once every token is below the threshold."""
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

    def reject(self, key: int) -> bool:
        """GitHub rejected this token (revoked, expired): drop it. False when no token is left."""
        self._states.pop(key, None)
        if self._states:
            self.on_warning(f"GitHub rejected {self.name(key)} (401); going on with the other tokens")
        return bool(self._states)

    def record(self, key: int, state: RateLimitState | None) -> None:
        if state is not None and not self._unlimited and key in self._states:
            self._states[key] = state
