"""Specification of ghsync.cli.metrics_render: JSON, CSV, table and chart renderings of weekly rows."""

from __future__ import annotations

import csv
import io
import json

import pytest
from rich.console import Console

from ghsync.cli.metrics_render import (
    METRIC_COLUMNS,
    metric_columns,
    metrics_chart,
    metrics_table,
    metrics_to_csv,
    metrics_to_json,
)
from ghsync.models import WeeklyMetrics

EXPECTED_COLUMNS = (
    "week",
    "complete",
    "prs_opened",
    "authors_active",
    "prs_merged",
    "prs_closed_unmerged",
    "cycle_time_p50_hours",
    "cycle_time_p75_hours",
    "cycle_time_p90_hours",
    "coding_time_p50_hours",
    "pr_size_p50",
    "time_to_first_review_p50_hours",
    "review_to_merge_p50_hours",
    "merged_without_review",
    "reviews_submitted",
    "reviewers_active",
    "review_top_share",
)


def row(
    week: str, *, author: str | None = None, merged: int = 3, cycle: float | None = 12.5, **changes
) -> WeeklyMetrics:
    values = {
        "week": week,
        "author": author,
        "prs_opened": 4,
        "authors_active": 2,
        "prs_merged": merged,
        "prs_closed_unmerged": 1,
        "cycle_time_p50_hours": cycle,
        "cycle_time_p75_hours": None if cycle is None else cycle * 2,
        "time_to_first_review_p50_hours": 1.25,
        "review_to_merge_p50_hours": None,
        "reviews_submitted": 5,
        "reviewers_active": 2,
        "pr_size_p50": 42.0,
    }
    values.update(changes)
    return WeeklyMetrics(**values)


ROWS = [
    row("2026-03-02", merged=4, cycle=10.0),
    row("2026-03-09", merged=0, cycle=None, prs_opened=0, pr_size_p50=None),
    row("2026-03-16", merged=2, cycle=20.0),
]
AUTHOR_ROWS = [
    row("2026-03-02", author="alice"),
    row("2026-03-02", author="a-rather-long-login-name-of-39-characte", merged=1),
    row("2026-03-02", author=None, authors_active=0),
]


def render(renderable, width: int = 100) -> str:
    console = Console(record=True, width=width, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


# --- columns ------------------------------------------------------------------------------


def test_metric_columns_are_the_documented_ordered_fields():
    assert METRIC_COLUMNS == EXPECTED_COLUMNS


def test_by_author_columns_put_author_right_after_week_and_complete():
    assert metric_columns(by_author=True) == ("week", "complete", "author", *EXPECTED_COLUMNS[2:])
    assert metric_columns(by_author=False) == EXPECTED_COLUMNS


@pytest.mark.parametrize("key", ["repository", "author", "team"])
def test_a_breakdown_puts_its_key_right_after_week_and_complete(key):
    assert metric_columns(key=key) == ("week", "complete", key, *EXPECTED_COLUMNS[2:])


def test_the_metrics_registry_names_every_weekly_metrics_field_but_week_complete_and_keys_in_order():
    from ghsync.metrics import METRICS

    fields = [
        name for name in WeeklyMetrics.model_fields if name not in ("week", "complete", "repository", "author", "team")
    ]
    assert [metric.name for metric in METRICS] == fields


def test_every_registry_header_line_is_short_and_every_unit_is_known():
    from ghsync.metrics import METRICS

    for metric in METRICS:
        assert all(len(line) <= 7 for line in metric.header.splitlines()), metric.header
        assert metric.unit in ("count", "hours", "lines", "share") and metric.definition


def test_columns_cover_every_weekly_metrics_field_but_the_other_keys():
    assert set(metric_columns(by_author=True)) == set(WeeklyMetrics.model_fields) - {"repository", "team"}


# --- JSON ---------------------------------------------------------------------------------


def test_json_is_an_array_of_objects_with_exactly_the_metric_columns_in_order():
    data = json.loads(metrics_to_json(ROWS))
    assert len(data) == 3
    assert all(tuple(item) == EXPECTED_COLUMNS for item in data)


def test_json_keeps_values_and_renders_none_as_null():
    first, second, _ = json.loads(metrics_to_json(ROWS))
    assert first["week"] == "2026-03-02"
    assert first["cycle_time_p50_hours"] == 10.0
    assert first["prs_merged"] == 4
    assert second["cycle_time_p50_hours"] is None
    assert second["pr_size_p50"] is None


def test_json_by_author_includes_the_author_with_null_for_unknown():
    data = json.loads(metrics_to_json(AUTHOR_ROWS, by_author=True))
    assert tuple(data[0]) == metric_columns(by_author=True)
    assert [item["author"] for item in data] == ["alice", "a-rather-long-login-name-of-39-characte", None]


def test_json_of_no_rows_is_an_empty_array():
    assert json.loads(metrics_to_json([])) == []


# --- CSV ----------------------------------------------------------------------------------


def test_csv_starts_with_the_header_row():
    assert metrics_to_csv(ROWS).splitlines()[0] == ",".join(EXPECTED_COLUMNS)


def test_csv_has_one_line_per_row():
    assert len(metrics_to_csv(ROWS).splitlines()) == 1 + len(ROWS)


def test_csv_renders_none_as_an_empty_cell():
    records = list(csv.DictReader(io.StringIO(metrics_to_csv(ROWS))))
    assert records[1]["cycle_time_p50_hours"] == ""
    assert records[1]["pr_size_p50"] == ""
    assert records[1]["prs_opened"] == "0"
    assert records[0]["cycle_time_p50_hours"] == "10.0"


def test_csv_by_author_has_an_author_column_empty_for_unknown():
    records = list(csv.DictReader(io.StringIO(metrics_to_csv(AUTHOR_ROWS, by_author=True))))
    assert tuple(records[0]) == metric_columns(by_author=True)
    assert [r["author"] for r in records] == ["alice", "a-rather-long-login-name-of-39-characte", ""]


def test_the_week_in_progress_is_complete_false_in_json_and_csv_and_every_other_week_true():
    rows = [row("2026-03-02"), row("2026-03-09", complete=False)]
    assert [item["complete"] for item in json.loads(metrics_to_json(rows))] == [True, False]
    assert [r["complete"] for r in csv.DictReader(io.StringIO(metrics_to_csv(rows)))] == ["true", "false"]


def test_the_table_marks_the_week_in_progress_so_far_and_no_other():
    text = render(metrics_table([row("2026-03-02"), row("2026-03-09", complete=False)], title="t"))
    lines = text.splitlines()
    marked = [i for i, line in enumerate(lines) if "(so far)" in line]
    assert marked and all(lines[i - 1].startswith("2026-03-09") for i in marked)


def test_the_table_shows_every_metric_header_in_two_sections_within_100_columns():
    from ghsync.metrics import METRICS

    rows = [row("2026-03-02", team="a-team-with-a-long-name", review_top_share=0.5)]
    text = render(metrics_table(rows, title="t", key="team"))
    assert max(len(line) for line in text.splitlines()) <= 100
    flat = " ".join(text.split())
    for metric in METRICS:
        assert metric.header.splitlines()[0] in flat, metric.name


def test_the_table_shows_the_top_reviewer_share_with_two_decimals():
    text = render(metrics_table([row("2026-03-02", review_top_share=0.67)], title="t"))
    assert "0.67" in text


def test_csv_of_no_rows_is_only_the_header():
    assert metrics_to_csv([]) == ",".join(EXPECTED_COLUMNS) + "\n"


# --- table --------------------------------------------------------------------------------


def test_table_renders_every_week_label():
    text = render(metrics_table(ROWS, title="acme/rockets"))
    for r in ROWS:
        assert r.week in text
    assert "acme/rockets" in text


def test_table_fits_in_100_columns():
    for table in (metrics_table(ROWS, title="t"), metrics_table(AUTHOR_ROWS, title="t", by_author=True)):
        assert max(len(line) for line in render(table).splitlines()) <= 100


def test_table_uses_short_headers():
    text = render(metrics_table(ROWS, title="t"))
    for header in ("Week", "Opened", "Merged", "Cycle", "p50 h"):
        assert header in text


def test_table_shows_a_dash_for_missing_values():
    text = render(metrics_table(ROWS, title="t"))
    line = next(line for line in text.splitlines() if line.startswith("2026-03-09"))
    assert "—" in line


def test_table_shows_hours_with_one_decimal():
    text = render(metrics_table([row("2026-03-02", cycle=12.34)], title="t"))
    assert "12.3" in text


def test_table_by_author_shows_logins_and_unknown_authors():
    text = render(metrics_table(AUTHOR_ROWS, title="t", by_author=True))
    assert "Author" in text
    assert "alice" in text
    assert "(unknown)" in text
    # a long login folds onto the next line instead of being truncated
    assert "a-rather-long" in text and "…" not in text


def test_table_of_no_rows_says_there_was_no_activity():
    assert "no pull-request activity" in render(metrics_table([], title="t"))


# --- chart --------------------------------------------------------------------------------


def test_chart_renders_every_week_label_and_the_title():
    text = render(metrics_chart(ROWS, title="acme/rockets trend"))
    assert "acme/rockets trend" in text
    for r in ROWS:
        assert r.week in text


def _chart_line(text: str, week: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(week))


def test_chart_shows_merged_count_and_median_cycle_time_per_week():
    text = render(metrics_chart(ROWS, title="t"))
    assert " 4 │" in _chart_line(text, "2026-03-02")
    assert _chart_line(text, "2026-03-02").rstrip().endswith("10.0 h")
    assert _chart_line(text, "2026-03-16").rstrip().endswith("20.0 h")


def test_chart_scales_the_merged_bar_to_the_busiest_week():
    text = render(metrics_chart(ROWS, title="t"))
    busiest = _chart_line(text, "2026-03-02").split("│")[0]
    half = _chart_line(text, "2026-03-16").split("│")[0]
    assert busiest.count("█") == 2 * half.count("█")


def test_chart_draws_no_bar_for_a_week_without_merges_and_a_dash_for_no_cycle_time():
    line = _chart_line(render(metrics_chart(ROWS, title="t")), "2026-03-09")
    assert "█" not in line
    assert line.rstrip().endswith("—")


def test_chart_is_plain_text_when_not_writing_to_a_terminal():
    out = io.StringIO()
    Console(file=out, width=100).print(metrics_chart(ROWS, title="t"))
    text = out.getvalue()
    assert "\x1b[" not in text
    assert "2026-03-02" in text and "10.0 h" in text


@pytest.mark.parametrize("width", [60, 100, 160])
def test_chart_fits_the_console_width(width):
    assert max(len(line) for line in render(metrics_chart(ROWS, title="t"), width=width).splitlines()) <= width


def test_chart_of_no_rows_says_so():
    assert "no weeks to chart" in render(metrics_chart([], title="t"))


def test_chart_says_which_week_is_in_progress():
    text = render(metrics_chart([row("2026-03-02"), row("2026-03-09", complete=False)], title="t"))
    assert "2026-03-09: the week in progress (so far)" in text and "2026-03-02: the week" not in text


def test_chart_refuses_by_author_rows():
    with pytest.raises(ValueError, match="one row per week"):
        metrics_chart(AUTHOR_ROWS, title="t")


@pytest.mark.parametrize("key", [None, "author", "repository"])
def test_the_width_a_table_needs_is_what_rich_measures(key):
    """metrics_table decides which columns fit from the cell texts; rich must agree on every table."""
    from ghsync.cli.metrics_render import _SECTIONS, _metrics_grid, natural_width
    from ghsync.metrics import METRICS

    names = ["alice", "a-rather-long-login-name-of-39-characte", None, "日本語のユーザー", "🎉bot[bot]", "x"]
    rows = [
        row(f"2026-03-{day:02d}", cycle=[None, 0.5, 1234.25][day % 3], pr_size_p50=[None, 7.0, 98765.0][day % 3])
        for day in range(1, 13)
    ]
    rows = [
        r.model_copy(update={**({key: names[i % len(names)]} if key else {}), "complete": i != 11})
        for i, r in enumerate(rows)
    ]
    for section, caption in _SECTIONS:
        metrics = [m.name for m in METRICS if m.section == section]
        for shown in (metrics, metrics[:1], metrics[::2]):
            table = _metrics_grid(rows, key, shown, title="t", caption=caption, hidden=[])
            assert natural_width(rows, key, shown) == Console(width=10_000).measure(table).maximum


@pytest.mark.parametrize("folding", [False, True], ids=["names-fit", "a-name-folds"])
@pytest.mark.parametrize("key", [None, "author", "repository"])
@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_a_table_written_as_plain_lines_is_what_rich_writes(key, width, folding, monkeypatch):
    """Past its first row, a table whose cells fit is written as plain lines (rich lays out ~2,000 rows a
    second): byte for byte what rich writes for every row, names, wide characters and weeks in progress."""
    import random

    from ghsync.cli import metrics_render

    names = ["alice", "bob", None, "日本語のユーザー", "🎉bot[bot]", "x", "sixteen-chars-ok", "carol-the-reviewer"]
    chance = random.Random(f"{key}-{width}")
    rows = []
    for n in range(40):
        values = {
            "complete": n != 39,
            "prs_merged": chance.randint(0, 300),
            "cycle": chance.choice([None, 0.5, 12.25, 1234.5]),
            "pr_size_p50": chance.choice([None, 7.0, 98765.0]),
            "review_top_share": chance.choice([None, 0.5, 1.0]),
        }
        if key:
            # A name longer than its column folds: rich writes such a table itself.
            values[key] = chance.choice(names if folding and n % 2 else names[:7])
        merged, cycle = values.pop("prs_merged"), values.pop("cycle")
        rows.append(row(f"2026-03-{n % 28 + 1:02d}", merged=merged, cycle=cycle, **values))

    def written(table) -> str:
        console = Console(width=width, file=io.StringIO())
        console.print(table)
        return console.file.getvalue()

    table = metrics_table(rows, title="acme/api: weekly metrics", key=key, width=width)
    assert {type(t).__name__ for t in table.renderables} == {"Table" if folding and key else "_PlainRowsTable"}
    plain = written(table)
    monkeypatch.setattr(metrics_render, "_plain_widths", lambda columns, texts: None)
    assert plain == written(metrics_table(rows, title="acme/api: weekly metrics", key=key, width=width))
