"""Pure rate-limit decisions: is there budget for another page, which token, how long to wait."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from ghsync.errors import TransientGitHubError
from ghsync.models import RateLimitBudget, RateLimitState

MAX_ATTEMPTS = 6

T = TypeVar("T")
MAX_BACKOFF_SECONDS = 60.0


def epoch_to_iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pick_token(states: dict[str, RateLimitState | None], threshold: int) -> str | None:
    """The token key with the most budget at or above the threshold; an unlimited one wins outright."""
    best_key, best_remaining = None, -1
    for key, state in states.items():
        if state is None:
            return key
        if state.remaining >= threshold and state.remaining > best_remaining:
            best_key, best_remaining = key, state.remaining
    return best_key


def pool_budget(resource: str, states: list[RateLimitState | None]) -> RateLimitBudget:
    """The pool's budget: the best token's remaining; when all are spent, the earliest reset."""
    if not states or any(state is None for state in states):
        return RateLimitBudget.unlimited(resource)
    best = max(states, key=lambda s: s.remaining)  # type: ignore[union-attr]
    earliest_reset = min(s.reset_at for s in states)  # type: ignore[union-attr]
    return RateLimitBudget(resource=resource, remaining=best.remaining, reset_at=earliest_reset, limit=best.limit)


def backoff_delay(attempt: int, *, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1-based): honour retry-after, else 1, 2, 4 … 60."""
    if retry_after is not None:
        return max(0.0, min(retry_after, 15 * MAX_BACKOFF_SECONDS))
    return min(MAX_BACKOFF_SECONDS, float(2 ** (attempt - 1)))


def seconds_until(reset_at: int, now: float) -> float:
    # One second of margin: GitHub's reset epoch is whole seconds.
    return max(0.0, reset_at - now + 1)


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
