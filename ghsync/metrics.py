"""Weekly team metrics from pull-request records: pure functions, no I/O, no sqlite, no clock.

All times are GitHub's ISO-8601 text (``2026-03-04T05:06:07Z``) and are read as UTC (a time
without an offset is taken to be UTC; any other offset is converted). A week starts on Monday
00:00:00 UTC and is labelled by that Monday, ``YYYY-MM-DD``.

For one repository (the records passed in) and each week, `compute_weekly_metrics` counts:

* ``prs_opened`` — PRs created in the week (drafts included); ``authors_active`` — their
  distinct authors, deleted ("ghost") authors not counted.
* ``prs_merged`` — PRs merged in the week (``merged_at`` set).
* ``prs_closed_unmerged`` — PRs in state ``CLOSED`` with ``closed_at`` in the week and no
  ``merged_at``. A PR that was closed and later reopened is ``OPEN`` and not counted.
* ``cycle_time_p50_hours`` / ``cycle_time_p75_hours`` — over PRs merged in the week,
  ``merged_at - created_at``.
* ``time_to_first_review_p50_hours`` — over PRs whose first review by someone other than the
  PR's author was submitted in the week: that review's ``submitted_at - created_at``.
* ``review_to_merge_p50_hours`` — over PRs merged in the week whose first review by someone
  other than the author was submitted at or before ``merged_at``: ``merged_at`` minus that
  review's ``submitted_at``. A merged PR whose first such review came only after the merge
  (or that has none) is left out of this median (it still counts everywhere else).
* ``reviews_submitted`` — reviews submitted in the week by someone other than the PR's author;
  ``reviewers_active`` — their distinct authors, deleted accounts not counted.
* ``pr_size_p50`` — over PRs merged in the week, ``additions + deletions``; PRs missing either
  number are skipped.

Reviews in state ``PENDING`` or without ``submitted_at`` are ignored. A review is "by someone
other than the author" unless both logins are equal and non-null, so a deleted reviewer on a
deleted author's PR counts as another person. "First review" is the earliest ``submitted_at``.

p50 is the median (mean of the two middle values for an even count); p75 is the third quartile
by the inclusive method (`statistics.quantiles(..., n=4, method="inclusive")[2]`), or the
value itself for a single item; both are None without data. Hours are rounded to 2 decimals
after taking the percentile.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from ghsync.errors import UsageError
from ghsync.models import PullRequestRecord, WeeklyMetrics

__all__ = ["METRICS", "Metric", "compute_weekly_metrics", "week_start", "weekly_metrics_window"]


@dataclass(frozen=True)
class Metric:
    """One weekly metric: its field (and JSON/CSV key), its table header, its unit and what it counts."""

    name: str
    # Short on purpose: one space between columns keeps the whole table within 100 columns.
    header: str
    unit: Literal["count", "hours", "lines"]
    definition: str


# The one list of metrics, in column order: WeeklyMetrics has these fields after `week` (and
# `author`); the table, CSV, JSON and the legend derive from it. Definitions: the module docstring.
METRICS: tuple[Metric, ...] = (
    Metric("prs_opened", "Opened", "count", "PRs created in the week, drafts included"),
    Metric("authors_active", "Authors", "count", "distinct authors of the PRs opened in the week"),
    Metric("prs_merged", "Merged", "count", "PRs merged in the week"),
    Metric("prs_closed_unmerged", "Closed\nunmrgd", "count", "PRs closed in the week without being merged"),
    Metric(
        "cycle_time_p50_hours", "Cycle\np50 h", "hours", "median hours from creation to merge, PRs merged in the week"
    ),
    Metric("cycle_time_p75_hours", "Cycle\np75 h", "hours", "third quartile of the same"),
    Metric(
        "time_to_first_review_p50_hours",
        "First\nreview\np50 h",
        "hours",
        "median hours from creation to the first review by someone else, reviewed in the week",
    ),
    Metric(
        "review_to_merge_p50_hours",
        "Review\n→merge\np50 h",
        "hours",
        "median hours from that first review to the merge, PRs merged in the week",
    ),
    Metric(
        "reviews_submitted", "Re-\nviews", "count", "reviews submitted in the week by someone other than the author"
    ),
    Metric("reviewers_active", "Re-\nviewers", "count", "distinct authors of those reviews"),
    Metric("pr_size_p50", "Size\np50", "lines", "median lines added + deleted, PRs merged in the week"),
)

_SECONDS_PER_DAY = 86400
_SECONDS_PER_HOUR = 3600.0
# 1970-01-01 was a Thursday: adding 3 days makes integer weeks start on Monday.
_EPOCH_MONDAY = date(1969, 12, 29)


def week_start(day: date) -> date:
    """The Monday that starts the (Monday-based) week containing `day`."""
    return day - timedelta(days=day.weekday())


def _epoch_seconds(text: str, number: int, field: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"pull request #{number}: {field} is not an ISO-8601 time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _week_index(seconds: float) -> int:
    """Whole weeks since Monday 1969-12-29 00:00 UTC; Monday 00:00:00 starts a new week."""
    return (int(seconds // _SECONDS_PER_DAY) + 3) // 7


def _week_label(index: int) -> str:
    return (_EPOCH_MONDAY + timedelta(weeks=index)).isoformat()


class _Week:
    """What one (week) or (week, author) bucket accumulates; never holds a record."""

    __slots__ = (
        "authors",
        "closed_unmerged",
        "cycle_hours",
        "first_review_hours",
        "merged",
        "opened",
        "review_to_merge_hours",
        "reviewers",
        "reviews",
        "sizes",
    )

    def __init__(self) -> None:
        self.opened = 0
        self.authors: set[str] = set()
        self.merged = 0
        self.closed_unmerged = 0
        self.cycle_hours: list[float] = []
        self.first_review_hours: list[float] = []
        self.review_to_merge_hours: list[float] = []
        self.reviews = 0
        self.reviewers: set[str] = set()
        self.sizes: list[int] = []


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _third_quartile(values: Sequence[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=4, method="inclusive")[2])


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


_NOTHING = _Week()


def _row(week: str, author: str | None, bucket: _Week) -> WeeklyMetrics:
    return WeeklyMetrics(
        week=week,
        author=author,
        prs_opened=bucket.opened,
        authors_active=len(bucket.authors),
        prs_merged=bucket.merged,
        prs_closed_unmerged=bucket.closed_unmerged,
        cycle_time_p50_hours=_hours(_median(bucket.cycle_hours)),
        cycle_time_p75_hours=_hours(_third_quartile(bucket.cycle_hours)),
        time_to_first_review_p50_hours=_hours(_median(bucket.first_review_hours)),
        review_to_merge_p50_hours=_hours(_median(bucket.review_to_merge_hours)),
        reviews_submitted=bucket.reviews,
        reviewers_active=len(bucket.reviewers),
        pr_size_p50=_median(bucket.sizes),
    )


def compute_weekly_metrics(
    pull_requests: Iterable[PullRequestRecord], *, by_author: bool = False
) -> list[WeeklyMetrics]:
    """Weekly metrics for one repository's pull requests (definitions in the module docstring).

    The input is iterated once and no record is kept: only per-week counters, login sets and
    lists of durations/sizes, so a generator over a large store is fine.

    Without `by_author`: one row per week, from the first to the last week in which anything
    happened (PR created, merged, closed or reviewed), quiet weeks in between included with
    zero counts and None times; ascending; [] for no pull requests.

    With `by_author`: one row per (week, PR author) that saw any activity, `author` set (PRs
    without an author login — deleted accounts, some bots — are grouped under None). Each row covers that author's PRs only: the
    reviews counted (and their reviewers) are the reviews *received* on those PRs, and
    `authors_active` is 1 if the author opened a PR that week, else 0 (always 0 for None).
    No gap-filling; sorted by week, then author case-insensitively, None last.

    Raises ValueError naming the PR if a time is not ISO-8601.
    """
    # Keyed by (week index, PR author); the author is always None unless `by_author`.
    buckets: dict[tuple[int, str | None], _Week] = {}

    def bucket(week: int, author: str | None) -> _Week:
        key = (week, author if by_author else None)
        found = buckets.get(key)
        if found is None:
            found = buckets[key] = _Week()
        return found

    for pr in pull_requests:
        number = pr.number
        author = pr.author
        created = _epoch_seconds(pr.created_at, number, "created_at")
        opened_in = bucket(_week_index(created), author)
        opened_in.opened += 1
        if author is not None:
            opened_in.authors.add(author)

        merged: float | None = None
        merged_in: _Week | None = None
        if pr.merged_at is not None:
            merged = _epoch_seconds(pr.merged_at, number, "merged_at")
            merged_in = bucket(_week_index(merged), author)
            merged_in.merged += 1
            merged_in.cycle_hours.append((merged - created) / _SECONDS_PER_HOUR)
            if pr.additions is not None and pr.deletions is not None:
                merged_in.sizes.append(pr.additions + pr.deletions)
        elif pr.closed_at is not None and pr.state == "CLOSED":
            closed = _epoch_seconds(pr.closed_at, number, "closed_at")
            bucket(_week_index(closed), author).closed_unmerged += 1

        first_review: float | None = None
        for review in pr.reviews:
            submitted_text = review.submitted_at
            if submitted_text is None or review.state == "PENDING":
                continue
            reviewer = review.author
            if reviewer is not None and reviewer == author:
                continue
            submitted = _epoch_seconds(submitted_text, number, "review submitted_at")
            reviewed_in = bucket(_week_index(submitted), author)
            reviewed_in.reviews += 1
            if reviewer is not None:
                reviewed_in.reviewers.add(reviewer)
            if first_review is None or submitted < first_review:
                first_review = submitted

        if first_review is not None:
            bucket(_week_index(first_review), author).first_review_hours.append(
                (first_review - created) / _SECONDS_PER_HOUR
            )
            if merged_in is not None and merged is not None and first_review <= merged:
                merged_in.review_to_merge_hours.append((merged - first_review) / _SECONDS_PER_HOUR)

    if not buckets:
        return []
    if by_author:
        keys = sorted(buckets, key=lambda k: (k[0], k[1] is None, (k[1] or "").casefold(), k[1] or ""))
        return [_row(_week_label(week), who, buckets[(week, who)]) for week, who in keys]
    first = min(week for week, _ in buckets)
    last = max(week for week, _ in buckets)
    return [_row(_week_label(week), None, buckets.get((week, None), _NOTHING)) for week in range(first, last + 1)]


def weekly_metrics_window(
    rows: Iterable[WeeklyMetrics],
    *,
    weeks: int | None,
    since: date | None,
    until: date | None,
    today: date,
) -> list[WeeklyMetrics]:
    """The rows whose week lies in the window, in their original order; rows are not invented.

    The window is made of whole weeks. It ends with the week containing `until`, or the week
    containing `today` when `until` is None. It starts with the week containing `since`; when
    `since` is None, `weeks` weeks before the end (`weeks=12`: the last 12 weeks, the end week
    included); when both are None, it has no start. `since` takes precedence over `weeks`.
    Weeks in the window without a row (before the first or after the last activity) stay
    absent: the caller decides whether a missing week means "quiet" or "not synced".

    Raises UsageError when `weeks` < 1 or `since` is after `until` (or after `today`).
    """
    if weeks is not None and weeks < 1:
        raise UsageError(f"the number of weeks must be at least 1, not {weeks}")
    last_day = until if until is not None else today
    if since is not None and since > last_day:
        bound = "until" if until is not None else "today"
        raise UsageError(f"since ({since.isoformat()}) is after {bound} ({last_day.isoformat()})")
    end = week_start(last_day)
    if since is not None:
        start: date | None = week_start(since)
    elif weeks is not None:
        start = end - timedelta(weeks=weeks - 1)
    else:
        start = None
    selected = []
    for row in rows:
        week = date.fromisoformat(row.week)
        if week <= end and (start is None or week >= start):
            selected.append(row)
    return selected
