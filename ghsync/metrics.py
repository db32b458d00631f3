"""Weekly team metrics from pull-request records: pure functions, no I/O, no sqlite, no clock.

All times are GitHub's ISO-8601 text (``2026-03-04T05:06:07Z``) and are read as UTC (a time
without an offset is taken to be UTC; any other offset is converted). A week starts on Monday
00:00:00 UTC and is labelled by that Monday, ``YYYY-MM-DD``.

For the pull requests passed in (one repository, or every repository of a scope pooled: counts
are sums, percentiles are taken over all the PRs together, never a median of medians, and the
people counts are distinct logins across them) and each week, `compute_weekly_metrics` counts:

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
* ``cycle_time_p90_hours`` — over PRs merged in the week, ``merged_at - created_at``, the 90th
  percentile (`statistics.quantiles(..., n=10, method="inclusive")[8]`, the value itself for one).
* ``coding_time_p50_hours`` — over PRs opened in the week that have a first commit:
  ``created_at`` minus the authored date of the PR's first commit, a negative difference (a
  commit dated after the PR was opened) counted as 0.
* ``merged_without_review`` — PRs merged in the week without any review (any state but
  ``PENDING``) by someone other than the author submitted at or before ``merged_at``.
* ``review_top_share`` — of the reviews counted in ``reviews_submitted``, the share submitted by
  the busiest single reviewer (0–1, 2 decimals; deleted accounts are nobody's share); None
  without reviews.

Bots: given a `PeopleFilter`, a PR authored by a bot is left out entirely (the people's reviews on
it included) and a review submitted by a bot is left out; a bot is an actor whose GraphQL
``__typename`` is ``Bot`` or whose login matches one of the filter's patterns.

Reviews in state ``PENDING`` or without ``submitted_at`` are ignored. A review is "by someone
other than the author" unless both logins are equal and non-null, so a deleted reviewer on a
deleted author's PR counts as another person. "First review" is the earliest ``submitted_at``.

p50 is the median (mean of the two middle values for an even count); p75 is the third quartile
by the inclusive method (`statistics.quantiles(..., n=4, method="inclusive")[2]`), or the
value itself for a single item; both are None without data. Hours are rounded to 2 decimals
after taking the percentile.
"""

from __future__ import annotations

import re
import statistics
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol

from ghsync.errors import UsageError
from ghsync.models import MetricPullRequest, MetricReview, WeeklyMetrics

__all__ = [
    "DEFAULT_EXCLUDE_AUTHORS",
    "METRICS",
    "Grouping",
    "Metric",
    "PeopleFilter",
    "compute_weekly_metrics",
    "covered_rows",
    "login_pattern",
    "week_start",
    "weekly_metrics_window",
]


@dataclass(frozen=True)
class Metric:
    """One weekly metric: its field (and JSON/CSV key), its table header, its unit and what it counts."""

    name: str
    # Short on purpose: one space between columns keeps the whole table within 100 columns.
    header: str
    unit: Literal["count", "hours", "lines", "share"]
    definition: str
    # The table shows two sections so that every column fits in 100 columns: flow, then reviews.
    section: Literal["flow", "review"] = "flow"


# The one list of metrics, in column order: WeeklyMetrics has these fields; the table, CSV, JSON,
# the stored weekly_metrics columns and the legend derive from it. Definitions: the module docstring.
METRICS: tuple[Metric, ...] = (
    Metric("prs_opened", "Opened", "count", "PRs created in the week, drafts included"),
    Metric("authors_active", "Authors", "count", "distinct authors of the PRs opened in the week"),
    Metric("prs_merged", "Merged", "count", "PRs merged in the week"),
    Metric("prs_closed_unmerged", "Closed\nunmrgd", "count", "PRs closed in the week without being merged"),
    Metric(
        "cycle_time_p50_hours", "Cycle\np50 h", "hours", "median hours from creation to merge, PRs merged in the week"
    ),
    Metric("cycle_time_p75_hours", "Cycle\np75 h", "hours", "third quartile of the same"),
    Metric("cycle_time_p90_hours", "Cycle\np90 h", "hours", "90th percentile of the same"),
    Metric(
        "coding_time_p50_hours",
        "Coding\np50 h",
        "hours",
        "median hours from the first commit's authored date to the PR's creation, PRs opened in the week",
    ),
    Metric("pr_size_p50", "Size\np50", "lines", "median lines added + deleted, PRs merged in the week"),
    Metric(
        "time_to_first_review_p50_hours",
        "First\nreview\np50 h",
        "hours",
        "median hours from creation to the first review by someone else, reviewed in the week",
        "review",
    ),
    Metric(
        "review_to_merge_p50_hours",
        "Review\n→merge\np50 h",
        "hours",
        "median hours from that first review to the merge, PRs merged in the week",
        "review",
    ),
    Metric(
        "merged_without_review",
        "Merged\nno\nreview",
        "count",
        "PRs merged in the week with no review by someone else at or before the merge",
        "review",
    ),
    Metric(
        "reviews_submitted",
        "Re-\nviews",
        "count",
        "reviews submitted in the week by someone other than the author",
        "review",
    ),
    Metric("reviewers_active", "Re-\nviewers", "count", "distinct authors of those reviews", "review"),
    Metric(
        "review_top_share",
        "Top\nrev.\nshare",
        "share",
        "share of those reviews by the busiest reviewer (0-1)",
        "review",
    ),
)

# Logins left out of metrics by default (config `exclude_authors`); `[bot]` is a literal suffix.
DEFAULT_EXCLUDE_AUTHORS: tuple[str, ...] = ("dependabot*", "renovate*", "*[bot]")

_SECONDS_PER_DAY = 86400
_SECONDS_PER_HOUR = 3600.0
# 1970-01-01 was a Thursday: adding 3 days makes integer weeks start on Monday.
_EPOCH_MONDAY = date(1969, 12, 29)


class ReviewLike(Protocol):
    @property
    def author(self) -> str | None: ...
    @property
    def author_type(self) -> str | None: ...
    @property
    def state(self) -> str: ...
    @property
    def submitted_at(self) -> str | None: ...


class PullRequestLike(Protocol):
    """What metrics read of a PR given with ISO times (a PullRequestRecord); the store hands out
    MetricPullRequest tuples with epoch seconds instead, which are used as they are."""

    @property
    def number(self) -> int: ...
    @property
    def author(self) -> str | None: ...
    @property
    def author_type(self) -> str | None: ...
    @property
    def state(self) -> str: ...
    @property
    def created_at(self) -> str: ...
    @property
    def closed_at(self) -> str | None: ...
    @property
    def merged_at(self) -> str | None: ...
    @property
    def additions(self) -> int | None: ...
    @property
    def deletions(self) -> int | None: ...
    @property
    def first_commit_at(self) -> str | None: ...
    @property
    def reviews(self) -> Sequence[ReviewLike]: ...


def login_pattern(pattern: str) -> re.Pattern[str]:
    """A glob over the whole login, case-insensitive: `*` any run, `?` one character, everything
    else literal (so `*[bot]` means "ends in [bot]", not fnmatch's character class)."""
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class PeopleFilter:
    """Who is a bot: GraphQL __typename `Bot`, or a login matching one of `patterns`."""

    patterns: tuple[str, ...] = DEFAULT_EXCLUDE_AUTHORS

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(login_pattern(p) for p in self.patterns))
        # A team has hundreds of logins, not 50,000: remember each answer.
        object.__setattr__(self, "_known", {})

    def is_bot(self, login: str | None, author_type: str | None) -> bool:
        if author_type == "Bot":
            return True
        if login is None:
            return False
        known: dict[str, bool] = self._known  # type: ignore[attr-defined]
        found = known.get(login)
        if found is None:
            found = known[login] = any(p.fullmatch(login) for p in self._compiled)  # type: ignore[attr-defined]
        return found


@dataclass(frozen=True)
class Grouping:
    """A breakdown: the WeeklyMetrics field that names the row, and the keys each PR counts under
    (a PR of an author in two teams counts in both team rows)."""

    field: Literal["repository", "author", "team"]
    keys: Callable[[MetricPullRequest], Iterable[str | None]]
    # Keys that get a row every week, quiet ones included (with zero counts), as the pooled view does: the
    # repositories or teams asked about. Empty: only the keys and weeks with activity (authors, who come and go).
    every: tuple[str, ...] = ()


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
    """What one (week) or (week, key) bucket accumulates; never holds a record."""

    __slots__ = (
        "authors",
        "closed_unmerged",
        "coding_hours",
        "cycle_hours",
        "first_review_hours",
        "merged",
        "merged_unreviewed",
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
        self.merged_unreviewed = 0
        self.closed_unmerged = 0
        # Durations as packed doubles (8 bytes each, not a 32-byte float object and its slot): across
        # 50,000 PRs the lists were most of the memory a sync's metrics refresh took.
        self.cycle_hours = array("d")
        self.coding_hours = array("d")
        self.first_review_hours = array("d")
        self.review_to_merge_hours = array("d")
        self.reviews = 0
        self.reviewers: Counter[str] = Counter()
        self.sizes: list[int] = []


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _quantile(values: Sequence[float], n: int, index: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=n, method="inclusive")[index])


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _top_share(bucket: _Week) -> float | None:
    if not bucket.reviews:
        return None
    busiest = max(bucket.reviewers.values(), default=0)
    return round(busiest / bucket.reviews, 2)


_NOTHING = _Week()


def _row(week: int, current: int | None, group: Grouping | None, key: str | None, bucket: _Week) -> WeeklyMetrics:
    named = {group.field: key} if group is not None else {}
    return WeeklyMetrics(
        week=_week_label(week),
        complete=current is None or week < current,
        **named,
        prs_opened=bucket.opened,
        authors_active=len(bucket.authors),
        prs_merged=bucket.merged,
        prs_closed_unmerged=bucket.closed_unmerged,
        cycle_time_p50_hours=_hours(_median(bucket.cycle_hours)),
        cycle_time_p75_hours=_hours(_quantile(bucket.cycle_hours, 4, 2)),
        cycle_time_p90_hours=_hours(_quantile(bucket.cycle_hours, 10, 8)),
        coding_time_p50_hours=_hours(_median(bucket.coding_hours)),
        time_to_first_review_p50_hours=_hours(_median(bucket.first_review_hours)),
        review_to_merge_p50_hours=_hours(_median(bucket.review_to_merge_hours)),
        merged_without_review=bucket.merged_unreviewed,
        reviews_submitted=bucket.reviews,
        reviewers_active=len(bucket.reviewers),
        review_top_share=_top_share(bucket),
        pr_size_p50=_median(bucket.sizes),
    )


_BY_AUTHOR = Grouping("author", lambda pr: (pr.author,))


def compute_weekly_metrics(
    pull_requests: Iterable[PullRequestLike | MetricPullRequest],
    *,
    by_author: bool = False,
    group: Grouping | None = None,
    people: PeopleFilter | None = None,
    today: date | None = None,
    shown_from: date | None = None,
) -> list[WeeklyMetrics]:
    """Weekly metrics of these pull requests, pooled (definitions in the module docstring).

    The input is iterated once and no record is kept: only per-week counters, login sets and
    lists of durations/sizes, so a generator over a large store is fine.

    Without a grouping: one row per week, from the first to the last week in which anything
    happened (PR created, merged, closed or reviewed), quiet weeks in between included with
    zero counts and None times; ascending; [] for no pull requests.

    With `group` (`by_author` is the author grouping): one row per (week, key) that saw any
    activity, the key in the row's `group.field`. Each row covers the PRs counted under that key:
    the reviews counted (and their reviewers) are the reviews *received* on those PRs, and
    `authors_active` counts the distinct authors of those opened in the week (for authors: 1 if
    the author opened a PR that week, else 0, always 0 for None). PRs without an author login are
    grouped under None. The keys in `group.every` get a row in every week from the first to the last (or
    the current), quiet ones with zero counts; other keys only where they saw activity. Sorted by week,
    then key case-insensitively, None last.

    `shown_from`: the first day the caller shows; the quiet weeks of `group.every` are filled from its week
    on only (an old PR in the window would otherwise make keys × years of rows, to be thrown away).

    `people`: leave out bots' PRs and reviews. `today`: the week containing it is marked
    `complete=False` (in progress) and, without a grouping, the rows run up to it; every other
    week is complete.

    Raises ValueError naming the PR if a time is not ISO-8601.
    """
    if by_author and group is None:
        group = _BY_AUTHOR
    current = None if today is None else _week_index(_midnight(today))
    buckets: dict[tuple[int, str | None], _Week] = {}
    keys_of = group.keys if group is not None else None
    is_bot = people.is_bot if people is not None else None

    for given in pull_requests:
        pr = given if isinstance(given, MetricPullRequest) else _facts(given)
        author = pr.author
        if is_bot is not None and is_bot(author, pr.author_type):
            continue
        if keys_of is None:
            _add(pr, author, None, buckets, is_bot)
        else:
            for key in keys_of(pr):
                _add(pr, author, key, buckets, is_bot)

    if not buckets:
        return []
    first = min(week for week, _ in buckets)
    # The week in progress is always shown (quiet so far or not) once there is any activity before it.
    last = max(max(week for week, _ in buckets), current if current is not None else first)
    if group is not None:

        def by_key(key: str | None) -> tuple[bool, str, str]:
            return (key is None, (key or "").casefold(), key or "")

        if group.every:
            if shown_from is not None:
                first = max(first, _week_index(_midnight(shown_from)))
            keys = sorted({*group.every, *(key for _, key in buckets)}, key=by_key)
            return [
                _row(week, current, group, key, buckets.get((week, key), _NOTHING))
                for week in range(first, last + 1)
                for key in keys
            ]
        order = sorted(buckets, key=lambda k: (k[0], *by_key(k[1])))
        return [_row(week, current, group, key, buckets[(week, key)]) for week, key in order]
    return [_row(week, current, None, None, buckets.get((week, None), _NOTHING)) for week in range(first, last + 1)]


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _optional_seconds(text: str | None, number: int, field: str) -> float | None:
    return None if text is None else _epoch_seconds(text, number, field)


def _facts(pr: PullRequestLike) -> MetricPullRequest:
    """A PR with ISO times as the tuple metrics count from: epoch seconds, submitted reviews only."""
    number = pr.number
    reviews = tuple(
        MetricReview(
            review.author, review.author_type, _epoch_seconds(review.submitted_at, number, "review submitted_at")
        )
        for review in pr.reviews
        if review.submitted_at is not None and review.state != "PENDING"
    )
    merged = _optional_seconds(pr.merged_at, number, "merged_at")
    # closed_at only counts (and is only read) for a PR closed without a merge.
    closed = _optional_seconds(pr.closed_at, number, "closed_at") if merged is None and pr.state == "CLOSED" else None
    return MetricPullRequest(
        repository=getattr(pr, "repository", ""),
        number=number,
        author=pr.author,
        author_type=pr.author_type,
        state=pr.state,
        created=_epoch_seconds(pr.created_at, number, "created_at"),
        closed=closed,
        merged=merged,
        additions=pr.additions,
        deletions=pr.deletions,
        first_commit=_optional_seconds(pr.first_commit_at, number, "first_commit_at"),
        reviews=reviews,
    )


def _add(
    pr: MetricPullRequest,
    author: str | None,
    key: str | None,
    buckets: dict[tuple[int, str | None], _Week],
    is_bot: Callable[[str | None, str | None], bool] | None,
) -> None:
    """Count one PR (and its reviews) into the buckets of `key`."""

    def bucket(seconds: float) -> _Week:
        week = (int(seconds // _SECONDS_PER_DAY) + 3) // 7  # _week_index, inlined: this runs per PR and review
        found = buckets.get((week, key))
        if found is None:
            found = buckets[(week, key)] = _Week()
        return found

    created = pr.created
    opened_in = bucket(created)
    opened_in.opened += 1
    if author is not None:
        opened_in.authors.add(author)
    if pr.first_commit is not None:
        opened_in.coding_hours.append(max(0.0, created - pr.first_commit) / _SECONDS_PER_HOUR)

    merged = pr.merged
    merged_in: _Week | None = None
    if merged is not None:
        merged_in = bucket(merged)
        merged_in.merged += 1
        merged_in.cycle_hours.append((merged - created) / _SECONDS_PER_HOUR)
        if pr.additions is not None and pr.deletions is not None:
            merged_in.sizes.append(pr.additions + pr.deletions)
    elif pr.closed is not None and pr.state == "CLOSED":
        bucket(pr.closed).closed_unmerged += 1

    first_review: float | None = None
    for reviewer, reviewer_type, submitted in pr.reviews:
        if reviewer is not None and reviewer == author:
            continue
        if is_bot is not None and is_bot(reviewer, reviewer_type):
            continue
        reviewed_in = bucket(submitted)
        reviewed_in.reviews += 1
        if reviewer is not None:
            reviewed_in.reviewers[reviewer] += 1
        if first_review is None or submitted < first_review:
            first_review = submitted

    if first_review is not None:
        bucket(first_review).first_review_hours.append((first_review - created) / _SECONDS_PER_HOUR)
    if merged_in is not None and merged is not None:
        if first_review is not None and first_review <= merged:
            merged_in.review_to_merge_hours.append((merged - first_review) / _SECONDS_PER_HOUR)
        else:
            merged_in.merged_unreviewed += 1


def covered_rows(rows: Iterable[WeeklyMetrics], coverage_start: str | None) -> tuple[list[WeeklyMetrics], int]:
    """The rows of weeks starting at or after `coverage_start` (all when None), and how many distinct
    weeks were left out before it: data before that instant is incomplete, so those weeks would lie."""
    if coverage_start is None:
        return list(rows), 0
    bound = _epoch_seconds(coverage_start, 0, "coverage_start")
    kept, dropped = [], set()
    for row in rows:
        monday = datetime.fromisoformat(row.week).replace(tzinfo=UTC).timestamp()
        if monday >= bound:
            kept.append(row)
        else:
            dropped.add(row.week)
    return kept, len(dropped)


def synced_rows(rows: Iterable[WeeklyMetrics], synced_through: str | None) -> tuple[list[WeeklyMetrics], int]:
    """The rows, those of weeks that end after `synced_through` (the scope's oldest last sync) marked not
    complete, and how many distinct complete weeks that marked: what happened after that instant is not
    stored yet, so such a week's numbers can still grow. None: nothing to mark."""
    if synced_through is None:
        return list(rows), 0
    bound = _epoch_seconds(synced_through, 0, "last_synced_at")
    marked, weeks = [], set()
    for row in rows:
        ends = datetime.fromisoformat(row.week).replace(tzinfo=UTC).timestamp() + 7 * _SECONDS_PER_DAY
        if row.complete and ends > bound:
            row = row.model_copy(update={"complete": False})
            weeks.add(row.week)
        marked.append(row)
    return marked, len(weeks)


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
