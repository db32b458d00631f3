"""The digest's content and its rendering, from hand-built PRs and a pinned clock (pure: no I/O).

Now is Tuesday 2026-12-01 09:00 UTC: the digest's week is Mon 2026-11-23 – Sun 2026-11-29, compared
with the week of 2026-11-16.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, date, datetime, timedelta

from ghsync_testing import pull_request

from ghsync.digest.build import ScopeRepository, build_digest, digest_week
from ghsync.digest.render import digest_blocks, digest_email, digest_html, digest_subject, digest_text
from ghsync.metrics import PeopleFilter
from ghsync.models import LeftOutRepository, ReviewRecord

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
REPO = "acme/rockets"
FRESH = ScopeRepository(REPO, coverage_start=datetime(2026, 10, 1, tzinfo=UTC), last_synced_at=NOW - timedelta(hours=1))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def digest_of(records, repositories=(FRESH,), *, weeks=8, now=NOW, scope="acme/rockets"):
    return build_digest(scope, ((REPO, pr) for pr in records), list(repositories), now=now, weeks=weeks)


# Merged this week after 10, 20 and 30 hours; the week before after 20 and 30 hours.
TWO_WEEKS = [
    pull_request(1, created_at="2026-11-23T00:00:00Z", merged_at="2026-11-23T10:00:00Z"),
    pull_request(2, created_at="2026-11-24T00:00:00Z", merged_at="2026-11-24T20:00:00Z"),
    pull_request(3, created_at="2026-11-28T00:00:00Z", merged_at="2026-11-29T06:00:00Z"),
    pull_request(4, created_at="2026-11-16T00:00:00Z", merged_at="2026-11-16T20:00:00Z"),
    pull_request(5, created_at="2026-11-17T00:00:00Z", merged_at="2026-11-18T06:00:00Z"),
]


# -- the week ----------------------------------------------------------------------------------------


def test_the_digest_week_is_the_last_complete_utc_week_before_now():
    assert digest_week(NOW) == date(2026, 11, 23)
    assert digest_week(at("2026-11-30T00:00:00Z")) == date(2026, 11, 23)  # Monday 00:00: last week just ended
    assert digest_week(at("2026-11-29T23:59:59Z")) == date(2026, 11, 16)  # Sunday night: that week is not over


def test_a_pr_merged_in_the_last_second_of_sunday_counts_and_one_merged_at_monday_midnight_does_not():
    digest = digest_of(
        [
            pull_request(1, created_at="2026-11-20T00:00:00Z", merged_at="2026-11-29T23:59:59Z"),
            pull_request(2, created_at="2026-11-20T00:00:00Z", merged_at="2026-11-30T00:00:00Z"),
            pull_request(3, created_at="2026-11-20T00:00:00Z", merged_at="2026-11-22T23:59:59Z"),
        ]
    )
    merged = digest.change("prs_merged")
    assert (digest.week, digest.previous_week, digest.week_end) == (
        date(2026, 11, 23),
        date(2026, 11, 16),
        date(2026, 11, 29),
    )
    assert (merged.current, merged.previous) == (1, 1)


# -- metrics and changes -------------------------------------------------------------------------------


def test_every_registry_metric_has_this_week_the_week_before_and_the_change():
    from ghsync.metrics import METRICS

    digest = digest_of(TWO_WEEKS)
    assert [c.metric.name for c in digest.changes] == [m.name for m in METRICS]
    merged, cycle, p75 = (digest.change(n) for n in ("prs_merged", "cycle_time_p50_hours", "cycle_time_p75_hours"))
    assert (merged.current, merged.previous, merged.delta, merged.relative) == (3, 2, 1, 0.5)
    assert (cycle.current, cycle.previous, cycle.delta, cycle.relative) == (20.0, 25.0, -5.0, -0.2)
    assert (p75.current, p75.previous) == (25.0, 27.5)  # inclusive quartiles of [10, 20, 30] and [20, 30]


def test_the_three_largest_relative_changes_lead_ties_in_registry_order():
    digest = digest_of(TWO_WEEKS)
    # opened +50%, merged +50%, merged without review +50% (none has a review), cycle p50 -20%,
    # cycle p75 -9%; authors unchanged; no sizes. The +50% ties go in registry order.
    assert [c.metric.name for c in digest.top_changes] == ["prs_opened", "prs_merged", "merged_without_review"]
    assert digest_text(digest).split("Biggest changes\n")[1].splitlines()[:3] == [
        "  PRs opened: 3, ▲1 (+50%) from 2",
        "  PRs merged: 3, ▲1 (+50%) from 2",
        "  Merged without review: 3, ▲1 (+50%) from 2",
    ]


def test_a_change_from_zero_has_no_percentage_and_a_change_without_data_no_value():
    digest = digest_of(TWO_WEEKS[:3])
    merged, review = digest.change("prs_merged"), digest.change("time_to_first_review_p50_hours")
    assert (merged.previous, merged.relative) == (0, None)
    assert "PRs merged                        3            0  ▲3\n" in digest_text(digest)
    assert (review.current, review.previous, review.delta) == (None, None, None)
    assert "Time to first review p50          —            —  —\n" in digest_text(digest)


def test_a_rise_from_a_quiet_week_leads_the_biggest_changes_rather_than_no_change_at_all():
    # After a holiday week: 3 merged against 0 is the biggest change there is, not "no metric changed".
    digest = digest_of(TWO_WEEKS[:3])
    assert [c.metric.name for c in digest.top_changes] == ["prs_opened", "authors_active", "prs_merged"]
    assert "No metric changed" not in digest_text(digest)
    assert "  PRs merged: 3, ▲3 from 0" in digest_text(digest).split("Biggest changes\n")[1]


def test_the_subject_gives_the_scope_the_week_merged_prs_and_median_cycle_time_with_their_changes():
    assert digest_subject(digest_of(TWO_WEEKS, scope="platform")) == (
        "ghsync weekly — platform — week of 2026-11-23: 3 merged (▲50%), cycle p50 20.0 h (▼20%)"
    )


def test_bots_left_out_by_the_scope_are_not_the_builders_business_every_pr_given_counts():
    digest = digest_of([pull_request(1, created_at="2026-11-24T00:00:00Z", author="dependabot[bot]")])
    assert digest.change("prs_opened").current == 1


# -- the chart ---------------------------------------------------------------------------------------


def test_the_chart_shows_the_last_n_weeks_ending_with_the_digest_week_quiet_weeks_included():
    chart = digest_of(TWO_WEEKS, weeks=3).chart
    assert [(w.week.isoformat(), w.merged, w.cycle_p50_hours) for w in chart] == [
        ("2026-11-09", 0, None),
        ("2026-11-16", 2, 25.0),
        ("2026-11-23", 3, 20.0),
    ]


def test_the_text_chart_draws_bars_scaled_to_the_largest_week():
    lines = digest_text(digest_of(TWO_WEEKS, weeks=2)).split("last 2 weeks\n")[1].splitlines()
    assert lines[1].startswith("  2026-11-16  █████████████▍") and lines[1].endswith(" 2  " + "█" * 20 + " 25.0 h")
    assert lines[2].startswith("  2026-11-23  " + "█" * 20 + " 3  ████████████████ ") and lines[2].endswith("20.0 h")


def test_the_html_chart_is_table_cells_with_widths_no_script_no_image():
    page = digest_html(digest_of(TWO_WEEKS, weeks=2))
    assert 'width="160" height="12" bgcolor="#2da44e"' in page  # 3 merged: the full width
    assert 'width="107" height="12" bgcolor="#2da44e"' in page  # 2 of 3
    assert "<script" not in page.lower() and "<img" not in page.lower() and "url(" not in page


# -- waiting for a first review ----------------------------------------------------------------------


WAITING = [
    pull_request(10, created_at="2026-11-20T09:00:00Z"),
    pull_request(11, created_at="2026-11-10T09:00:00Z", is_draft=True),
    pull_request(12, created_at="2026-11-01T09:00:00Z", reviews=[("bob", "2026-11-02T09:00:00Z")]),
    pull_request(13, created_at="2026-11-02T09:00:00Z", reviews=[("alice", "2026-11-03T09:00:00Z")]),
    pull_request(14, created_at="2026-11-03T09:00:00Z", state="CLOSED", closed_at="2026-11-04T09:00:00Z"),
    pull_request(15, created_at="2026-11-30T21:00:00Z"),
    pull_request(
        16, created_at="2026-11-25T09:00:00Z", reviews=[ReviewRecord(author="bob", state="PENDING", submitted_at=None)]
    ),
    pull_request(17, created_at="2026-11-26T09:00:00Z"),
    pull_request(18, created_at="2026-11-27T09:00:00Z", author=None),
]


def test_the_five_open_non_draft_prs_without_a_review_by_someone_else_waiting_longest():
    waiting = digest_of(WAITING).waiting
    # 11 is a draft, 12 was reviewed by bob, 14 is closed; alice's own review and bob's pending one do not count;
    # 15 (12 hours) is the sixth.
    assert [(pr.number, pr.age) for pr in waiting] == [
        (13, timedelta(days=29)),
        (10, timedelta(days=11)),
        (16, timedelta(days=6)),
        (17, timedelta(days=5)),
        (18, timedelta(days=4)),
    ]


def test_each_waiting_pr_shows_repository_number_title_author_age_and_link():
    text = digest_text(digest_of(WAITING))
    assert "  1. acme/rockets#13 PR 13 — alice, waiting 29 days\n     https://github.com/acme/rockets/pull/13\n" in text
    assert "  5. acme/rockets#18 PR 18 — ghost, waiting 4 days\n" in text


def test_ages_under_two_days_are_in_hours():
    text = digest_text(digest_of([pull_request(15, created_at="2026-11-30T21:00:00Z")]))
    assert "1. acme/rockets#15 PR 15 — alice, waiting 12 h" in text


def test_a_review_by_a_bot_is_not_the_first_review_a_pr_waits_for():
    by_bot = ReviewRecord(
        author="coderabbitai", author_type="Bot", state="COMMENTED", submitted_at="2026-11-21T09:00:00Z"
    )
    records = [
        pull_request(1, created_at="2026-11-20T09:00:00Z", reviews=[by_bot]),
        pull_request(2, created_at="2026-11-21T09:00:00Z", reviews=[("renovate[bot]", "2026-11-22T09:00:00Z")]),
    ]
    digest = build_digest(REPO, ((REPO, pr) for pr in records), [FRESH], now=NOW, people=PeopleFilter())
    assert [pr.number for pr in digest.waiting] == [1, 2]
    assert digest.change("reviews_submitted").previous == 0  # as the metrics count them: not at all


def test_nobody_waiting_is_said_plainly():
    assert "No open pull request is waiting for a first review." in digest_text(digest_of(TWO_WEEKS))


def test_the_waiting_list_spans_repositories_by_age():
    stream = [
        ("acme/a", pull_request(1, created_at="2026-11-20T00:00:00Z")),
        ("acme/b", pull_request(1, created_at="2026-11-10T00:00:00Z", url=None)),
    ]
    digest = build_digest("acme", stream, [], now=NOW)
    assert [(pr.repository, pr.url) for pr in digest.waiting] == [
        ("acme/b", "https://github.com/acme/b/pull/1"),
        ("acme/a", "https://github.com/acme/rockets/pull/1"),
    ]


# -- coverage and staleness ------------------------------------------------------------------------------


def test_fresh_data_covering_both_weeks_needs_no_notice():
    assert digest_of(TWO_WEEKS).notices == ()


def test_data_starting_after_the_week_before_began_is_said_instead_of_comparing_silently():
    late = ScopeRepository("acme/new", coverage_start=at("2026-11-18T09:00:00Z"), last_synced_at=NOW)
    exact = ScopeRepository("acme/exact", coverage_start=at("2026-11-16T00:00:00Z"), last_synced_at=NOW)
    digest = digest_of(TWO_WEEKS, [late, exact])
    assert digest.notices[0] == (
        "acme/new: the stored data starts on 2026-11-18, after the start of the week of 2026-11-16: "
        "the comparison is incomplete."
    )
    assert "! acme/new: the stored data starts on 2026-11-18" in digest_text(digest)


def test_data_starting_inside_the_digests_own_week_says_that_week_is_incomplete():
    # `track --days 5` on a Friday: the week of 2026-11-23 holds three days of data, not a quiet week.
    partial = ScopeRepository("acme/new", coverage_start=at("2026-11-27T09:00:00Z"), last_synced_at=NOW)
    digest = digest_of(TWO_WEEKS, [partial])
    assert digest.notices[0] == (
        "acme/new: the stored data starts on 2026-11-27, after the week of 2026-11-23 began: its numbers for that "
        "week are incomplete, and the week before has none (`ghsync track acme/new --days 16` covers both)."
    )


def test_a_repository_whose_first_sync_has_not_completed_is_said_to_be_incomplete_once():
    empty = ScopeRepository("acme/empty", coverage_start=None, last_synced_at=None)
    assert digest_of([], [empty]).notices == (
        "acme/empty: its first sync has not completed, so its numbers are incomplete.",
    )


def test_a_repository_whose_whole_history_is_stored_bounds_no_week():
    young = ScopeRepository(
        "acme/young", coverage_start=at("2026-11-25T09:00:00Z"), last_synced_at=NOW, whole_history=True
    )
    assert digest_of(TWO_WEEKS, [young]).notices == ()


def synced(name: str, when: str) -> ScopeRepository:
    return ScopeRepository(name, coverage_start=FRESH.coverage_start, last_synced_at=at(when))


def test_a_last_sync_before_the_week_ended_makes_that_week_incomplete_however_recent():
    # Sunday 23:59:59 is before the week ended; Monday 00:00 is not (and is only 33 hours before NOW).
    sunday, monday = synced("acme/sunday", "2026-11-29T23:59:59Z"), synced("acme/monday", "2026-11-30T00:00:00Z")
    never = ScopeRepository("acme/never", coverage_start=FRESH.coverage_start, last_synced_at=None)
    assert digest_of([], [sunday, monday, never]).notices == (
        (
            "acme/sunday: last synced 2026-11-29 23:59 UTC, before the week of 2026-11-23 ended: "
            "its numbers for that week are incomplete."
        ),
        (
            "acme/monday: last synced 2026-11-30 00:00 UTC (33 h ago): the pull requests waiting for a review "
            "are as of then."
        ),
        "acme/never: never synced to the end: the numbers may be incomplete.",
    )


def test_a_sync_after_the_week_ended_and_within_a_day_needs_no_notice():
    assert digest_of([], [synced("acme/day", "2026-11-30T09:00:00Z")]).notices == ()


def test_the_chart_leaves_out_weeks_before_the_stored_data_starts_and_says_so():
    # Data from Wed 2026-10-14: the weeks of 10-05 and 10-12 would show its missing PRs as quiet weeks.
    late = ScopeRepository("acme/late", coverage_start=at("2026-10-14T00:00:00Z"), last_synced_at=NOW)
    digest = digest_of(TWO_WEEKS, [late])
    assert [week.week for week in digest.chart] == [date(2026, 10, 19) + timedelta(weeks=n) for n in range(6)]
    assert digest.notices == (
        "The chart leaves out 2 earlier weeks: the stored data of acme/late starts on 2026-10-14.",
    )
    assert "Merged PRs and median cycle time, last 6 weeks" in digest_text(digest)


def test_a_whole_history_stored_keeps_every_chart_week():
    whole = ScopeRepository(
        "acme/all", coverage_start=at("2026-11-25T00:00:00Z"), last_synced_at=NOW, whole_history=True
    )
    assert len(digest_of(TWO_WEEKS, [whole]).chart) == 8


def test_a_chart_with_no_covered_week_is_left_out_of_every_rendering():
    new = ScopeRepository("acme/new", coverage_start=at("2026-11-25T00:00:00Z"), last_synced_at=NOW)
    digest = digest_of(TWO_WEEKS, [new])
    assert digest.chart == ()
    assert "Merged PRs and median cycle time" not in digest_text(digest)
    assert "Merged PRs and median cycle time" not in digest_html(digest)
    assert "Merged PRs and median cycle time" not in json.dumps(digest_blocks(digest))


def test_an_untracked_repository_a_team_names_is_said_to_be_left_out():
    digest = build_digest(
        "platform", iter(()), [FRESH], now=NOW, left_out=[LeftOutRepository("acme/old", "archived on GitHub")]
    )
    assert digest.notices == (
        "acme/old is untracked (archived on GitHub), so it is left out: `ghsync track acme/old` counts it again",
    )


def test_stale_and_coverage_lines_reach_html_and_slack_too():
    old = synced("acme/old", "2026-11-29T09:00:00Z")
    digest = digest_of([], [old])
    assert "acme/old: last synced 2026-11-29 09:00 UTC" in digest_html(digest)
    assert ":warning: acme/old: last synced 2026-11-29 09:00 UTC" in json.dumps(
        digest_blocks(digest), ensure_ascii=False
    )


def test_slack_gets_every_notice_in_sections_within_its_limits():
    # A scope of 40 repositories with two notices each: cut at 3,000 characters, Slack had 22 of 81.
    many = [synced(f"acme/r{n:02d}", "2026-11-29T09:00:00Z") for n in range(40)]
    digest = digest_of([], many)
    blocks = digest_blocks(digest)["blocks"]
    notices = [b["text"]["text"] for b in blocks if b["type"] == "section" and ":warning:" in b["text"]["text"]]
    assert all(len(text) <= 3000 for text in notices) and len(blocks) <= 50
    assert sum(text.count(":warning:") for text in notices) == len(digest.notices)


def test_slack_code_blocks_keep_their_columns():
    table = next(b["text"]["text"] for b in digest_blocks(digest_of(TWO_WEEKS))["blocks"] if "All metrics" in str(b))
    # As in the plain text: the numbers stand in columns, not "PRs merged 3 2".
    assert "PRs merged                        3            2" in table


# -- foreign text ----------------------------------------------------------------------------------------


HOSTILE = pull_request(
    20,
    created_at="2026-11-20T09:00:00Z",
    title='<script>alert(1)</script> <img src="https://evil.example/x.png"> <!channel> a|b & c\r\nBcc: x@evil.example',
    author='mallory"><b>',
    url='https://github.com/acme/rockets/pull/20"><script>',
)


def test_titles_and_logins_are_escaped_in_html():
    page = digest_html(digest_of([HOSTILE]))
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert html.escape("<script>alert(1)</script>") in page and html.escape('mallory"><b>') in page


def test_a_link_that_is_not_a_plain_url_is_shown_as_text_not_linked():
    page = digest_html(digest_of([HOSTILE]))
    assert "href=" not in page


def test_foreign_text_cannot_break_a_header_or_a_line():
    digest = digest_of([HOSTILE], scope="platform\r\nBcc: x@evil.example")
    message = digest_email(digest, recipients=["lead@example.com"], sender="ghsync@example.com")
    assert "\r" not in message["Subject"] and "\n" not in message["Subject"]
    assert message["Bcc"] is None
    text = digest_text(digest)
    assert "\nBcc:" not in text and "\r" not in text


def test_bidirectional_overrides_and_c1_controls_leave_titles_in_every_form():
    # U+202E would turn "— mallory, waiting 3 days" around on its line; 0x9b is a one-byte terminal escape.
    tricky = pull_request(21, created_at="2026-11-20T09:00:00Z", title="fix \u202eevil\u2066 \x9b31m done")
    digest = digest_of([tricky])
    forms = digest_text(digest) + digest_html(digest) + json.dumps(digest_blocks(digest), ensure_ascii=False)
    assert not any(ch in forms for ch in "\u202e\u2066\x9b")
    assert "fix evil 31m done" in digest_text(digest)


def test_slack_text_escapes_what_would_make_a_mention_or_a_link():
    blocks = json.dumps(digest_blocks(digest_of([HOSTILE])), ensure_ascii=False)
    assert "<!channel>" not in blocks and "&lt;!channel&gt;" in blocks
    assert "<script>" not in blocks and "a¦b &amp; c" in blocks


# -- the three forms -------------------------------------------------------------------------------------


def test_the_email_has_the_subject_a_text_part_and_an_html_part():
    digest = digest_of(TWO_WEEKS + WAITING)
    message = digest_email(digest, recipients=["lead@example.com", "ops@example.com"], sender="ghsync@example.com")
    assert message["Subject"] == digest_subject(digest)
    assert message["To"] == "lead@example.com, ops@example.com"
    assert message.get_body(("plain",)).get_content() == digest_text(digest)
    assert message.get_body(("html",)).get_content() == digest_html(digest)


def test_the_slack_payload_is_block_kit_with_a_fallback_text_and_linked_waiting_prs():
    digest = digest_of(TWO_WEEKS + WAITING)
    payload = digest_blocks(digest)
    assert payload["text"] == digest_subject(digest)
    kinds = [block["type"] for block in payload["blocks"]]
    assert kinds[0] == "header" and kinds.count("section") == 4
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    assert all(len(text) <= 3000 for text in sections)
    assert sections[-1].splitlines()[1] == (
        "1. <https://github.com/acme/rockets/pull/13|acme/rockets#13 PR 13> — alice, waiting 29 days"
    )
    assert "```" in sections[2]  # the chart, in a monospaced block
