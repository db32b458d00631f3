"""What the digest says, from typed inputs: the week's metrics against the week before, the trend, the
PRs waiting for a first review, and what the data does not cover. Pure: no I/O, no clock (`now` is given).

The digest's week is the last complete UTC week (Monday 00:00 to Sunday 24:00) before `now`; it is
compared with the week before it. Metrics come from `compute_weekly_metrics` over the whole scope's
pull requests pooled together, so a median is the median of every PR in the scope.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ghsync.metrics import METRICS, Metric, PeopleFilter, compute_weekly_metrics, week_start
from ghsync.models import LeftOutRepository, PullRequestRecord, WeeklyMetrics
from ghsync.timefmt import parse_iso_or_none

__all__ = [
    "ChartWeek",
    "Digest",
    "MetricChange",
    "ScopeRepository",
    "WaitingPullRequest",
    "build_digest",
    "digest_week",
]

DEFAULT_CHART_WEEKS = 8
WAITING_LIMIT = 5
TOP_CHANGES = 3
# A last sync older than this is called out even after the week ended: the PRs waiting for a review
# (open now) are as of that sync.
STALE_AFTER = timedelta(days=1)

Value = int | float | None


@dataclass(frozen=True)
class ScopeRepository:
    """One repository of the scope as the digest needs it.

    coverage_start: from when the stored data is complete (None: no first sync has completed);
    last_synced_at: when its last sync completed (None: never);
    whole_history: every PR it ever had is stored, so no week lacks any (its coverage_start bounds nothing).
    """

    full_name: str
    coverage_start: datetime | None
    last_synced_at: datetime | None
    whole_history: bool = False


@dataclass(frozen=True)
class MetricChange:
    """One metric in the digest's week and the week before."""

    metric: Metric
    current: Value
    previous: Value

    @property
    def delta(self) -> float | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous

    @property
    def relative(self) -> float | None:
        """The change as a fraction of the week before; None where a ratio means nothing (no data, or 0 before)."""
        delta = self.delta
        if delta is None or not self.previous:
            return None
        return delta / abs(self.previous)


@dataclass(frozen=True)
class ChartWeek:
    week: date
    merged: int
    cycle_p50_hours: float | None


@dataclass(frozen=True)
class WaitingPullRequest:
    """An open, non-draft PR without a review by anyone but its author."""

    repository: str
    number: int
    title: str
    author: str | None
    created_at: datetime
    url: str
    age: timedelta


@dataclass(frozen=True)
class Digest:
    scope_name: str
    week: date
    previous_week: date
    changes: tuple[MetricChange, ...]  # in METRICS order
    top_changes: tuple[MetricChange, ...]  # up to three, largest relative change first
    chart: tuple[ChartWeek, ...]  # oldest first, ending with `week`; only weeks the stored data covers
    waiting: tuple[WaitingPullRequest, ...]  # waiting longest first
    notices: tuple[str, ...]  # coverage and staleness, one line each

    @property
    def week_end(self) -> date:
        """The Sunday that ends the digest's week."""
        return self.week + timedelta(days=6)

    def change(self, name: str) -> MetricChange:
        return next(change for change in self.changes if change.metric.name == name)


def digest_week(now: datetime) -> date:
    """The Monday of the last complete UTC week before `now`."""
    return week_start(now.astimezone(UTC).date()) - timedelta(weeks=1)


def _empty_week(week: date) -> WeeklyMetrics:
    values: dict[str, int | None] = {m.name: (0 if m.unit == "count" else None) for m in METRICS}
    return WeeklyMetrics.model_validate({"week": week.isoformat(), **values})


def _reviewed_by_someone_else(pr: PullRequestRecord, people: PeopleFilter | None) -> bool:
    # As in metrics: pending or unsubmitted reviews do not count, nor do bots' (a bot's review is not the
    # first review a PR waits for); a review is by someone else unless both logins are equal and known.
    return any(
        review.submitted_at is not None
        and review.state != "PENDING"
        and not (review.author is not None and review.author == pr.author)
        and not (people is not None and people.is_bot(review.author, review.author_type))
        for review in pr.reviews
    )


def _pull_request_url(full_name: str, pr: PullRequestRecord) -> str:
    return pr.url or f"https://github.com/{full_name}/pull/{pr.number}"


class _WaitingCollector:
    """Watches the PR stream on its way to the metrics and keeps the PRs waiting for a first review."""

    def __init__(self, now: datetime, people: PeopleFilter | None) -> None:
        self.now = now
        self.people = people
        self.found: list[tuple[datetime, str, int, WaitingPullRequest]] = []

    def watch(self, stream: Iterable[tuple[str, PullRequestRecord]]) -> Iterator[PullRequestRecord]:
        for full_name, pr in stream:
            if pr.state == "OPEN" and not pr.is_draft and not _reviewed_by_someone_else(pr, self.people):
                created = parse_iso_or_none(pr.created_at)
                if created is not None and created <= self.now:
                    waiting = WaitingPullRequest(
                        repository=full_name,
                        number=pr.number,
                        title=pr.title,
                        author=pr.author,
                        created_at=created,
                        url=_pull_request_url(full_name, pr),
                        age=self.now - created,
                    )
                    self.found.append((created, full_name.casefold(), pr.number, waiting))
            yield pr

    def longest(self, limit: int) -> tuple[WaitingPullRequest, ...]:
        return tuple(entry[3] for entry in heapq.nsmallest(limit, self.found, key=lambda entry: entry[:3]))


def _top_changes(changes: Sequence[MetricChange]) -> tuple[MetricChange, ...]:
    """The metrics that moved most, relatively; one that rose from 0 (no ratio) moved more than any other.
    A metric without data in either week, or unchanged, did not move."""
    moved = [c for c in changes if c.delta]

    def size(change: MetricChange) -> float:
        return math.inf if change.relative is None else abs(change.relative)

    # sorted() is stable: equal changes keep the registry's order.
    return tuple(sorted(moved, key=lambda c: -size(c))[:TOP_CHANGES])


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ago(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours} h ago" if hours < 48 else f"{hours // 24} days ago"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def _coverage_bound(repositories: Sequence[ScopeRepository]) -> ScopeRepository | None:
    """The repository whose stored data starts last (a whole history stored bounds nothing)."""
    bounded = [r for r in repositories if not r.whole_history and r.coverage_start is not None]
    return max(bounded, key=lambda r: r.coverage_start or datetime.min.replace(tzinfo=UTC), default=None)


def _notices(
    repositories: Sequence[ScopeRepository], *, week: date, now: datetime, left_out: Sequence[LeftOutRepository]
) -> list[str]:
    """A line for each repository whose data does not cover both weeks, whose last sync came before the
    week ended or is old, and for each one a team names that is left out (untracked)."""
    lines = [repository.note for repository in left_out]
    if not repositories:
        return [*lines, "No repository is in this scope: every number below is zero."]
    previous_week = week - timedelta(weeks=1)
    needed_from = _midnight(previous_week)
    week_ended = _midnight(week + timedelta(weeks=1))
    for repository in repositories:
        name = repository.full_name
        if not repository.whole_history:  # a whole history stored bounds no week
            start = repository.coverage_start
            if start is None:
                lines.append(f"{name}: its first sync has not completed, so its numbers are incomplete.")
                continue  # which says that it was never synced to the end, too
            if start > _midnight(week):
                # The digest's own week is partial: its numbers are not the week's, whatever the comparison.
                lines.append(
                    f"{name}: the stored data starts on {_day(start)}, after the week of {week.isoformat()} began: "
                    "its numbers for that week are incomplete, and the week before has none "
                    f"(`ghsync track {name} --days {(now.date() - previous_week).days + 1}` covers both)."
                )
            elif start > needed_from:
                lines.append(
                    f"{name}: the stored data starts on {_day(start)}, after the start of the "
                    f"week of {previous_week.isoformat()}: the comparison is incomplete."
                )
        synced = repository.last_synced_at
        if synced is None:
            lines.append(f"{name}: never synced to the end: the numbers may be incomplete.")
        elif synced < week_ended:
            lines.append(
                f"{name}: last synced {_when(synced)}, before the week of {week.isoformat()} ended: "
                "its numbers for that week are incomplete."
            )
        elif now - synced > STALE_AFTER:
            lines.append(
                f"{name}: last synced {_when(synced)} ({_ago(now - synced)}): the pull requests waiting for a "
                "review are as of then."
            )
    return lines


def build_digest(
    scope_name: str,
    pull_requests: Iterable[tuple[str, PullRequestRecord]],
    repositories: Sequence[ScopeRepository],
    *,
    now: datetime,
    weeks: int = DEFAULT_CHART_WEEKS,
    people: PeopleFilter | None = None,
    left_out: Sequence[LeftOutRepository] = (),
) -> Digest:
    """The digest of the scope's pull requests (each with its repository's full name) for the last
    complete week before `now` (aware). `weeks`: how many weeks the chart shows, ending with that week,
    less those before the scope's stored data starts (as `metrics` leaves them out). `left_out`: the
    untracked repositories a team names, said in the notices.

    The stream is read once. Raises ValueError when `weeks` < 1 or a PR's time is not ISO-8601.
    """
    if weeks < 1:
        raise ValueError(f"the chart needs at least one week, not {weeks}")
    week = digest_week(now)
    previous_week = week - timedelta(weeks=1)
    waiting = _WaitingCollector(now, people)
    # `people`: bots' reviews are left out of the metrics too (their PRs the scope already left out).
    rows = {row.week: row for row in compute_weekly_metrics(waiting.watch(pull_requests), people=people)}

    def row_of(day: date) -> WeeklyMetrics:
        return rows.get(day.isoformat()) or _empty_week(day)

    current, previous = row_of(week), row_of(previous_week)
    changes = tuple(MetricChange(m, getattr(current, m.name), getattr(previous, m.name)) for m in METRICS)
    chart_weeks = [week - timedelta(weeks=back) for back in range(weeks - 1, -1, -1)]
    notices = _notices(repositories, week=week, now=now, left_out=left_out)
    bound = _coverage_bound(repositories)
    if bound is not None and bound.coverage_start is not None:
        # A week before the stored data starts would show its missing PRs as a quiet week.
        start = bound.coverage_start
        covered = [day for day in chart_weeks if _midnight(day) >= start]
        if len(covered) < len(chart_weeks):
            plural = "week" if len(chart_weeks) - len(covered) == 1 else "weeks"
            notices.append(
                f"The chart leaves out {len(chart_weeks) - len(covered)} earlier {plural}: the stored data of "
                f"{bound.full_name} starts on {_day(start)}."
            )
        chart_weeks = covered
    chart = tuple(ChartWeek(day, row_of(day).prs_merged, row_of(day).cycle_time_p50_hours) for day in chart_weeks)
    return Digest(
        scope_name=scope_name,
        week=week,
        previous_week=previous_week,
        changes=changes,
        top_changes=_top_changes(changes),
        chart=chart,
        waiting=waiting.longest(WAITING_LIMIT),
        notices=tuple(notices),
    )
