"""Weekly metrics rows as JSON, CSV, a rich table and a terminal bar chart, columns from `metrics.METRICS`.

Rendering only: no computation beyond formatting and scaling bars, no I/O (the CLI prints).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from rich.box import Box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from ghsync.cli.text import json_text, printable
from ghsync.metrics import METRICS
from ghsync.models import WeeklyMetrics

__all__ = [
    "METRIC_COLUMNS",
    "MetricsChart",
    "metric_columns",
    "metrics_chart",
    "metrics_legend",
    "metrics_table",
    "metrics_to_csv",
    "metrics_to_json",
]

METRIC_COLUMNS: tuple[str, ...] = ("week", "complete", *(metric.name for metric in METRICS))

# The key a breakdown adds (a WeeklyMetrics field), right after `complete`.
Key = Literal["repository", "author", "team"]
# Columns of names (left-aligned, folded beyond 16): the keys. The week is left-aligned too; numbers right.
_NAME_COLUMNS = frozenset({"author", "repository", "team"})

NONE_CELL = "—"
# Shown in the table's Author column for PRs without an author login: deleted ("ghost") accounts,
# and bots when the recorded query only asked for users' logins.
UNKNOWN_AUTHOR = "(unknown)"

# The registry's short header lines keep the table (one space between columns) at 86 columns,
# leaving 14 for an Author column within 100; a longer login folds onto a second line.
_HEADERS: dict[str, str] = {
    "week": "Week",
    "author": "Author",
    "repository": "Repository",
    "team": "Team",
    **{m.name: m.header for m in METRICS},
}
_UNITS: dict[str, str] = {metric.name: metric.unit for metric in METRICS}

# No frame, no vertical rules: a one-character gap between columns and a rule under each header.
# fmt: off
_TABLE_BOX = Box(
    "    \n"
    "    \n"
    " ─  \n"
    "    \n"
    "    \n"
    "    \n"
    "    \n"
    "    \n"
)
# fmt: on


def metric_columns(*, by_author: bool = False, key: Key | None = None) -> tuple[str, ...]:
    """METRIC_COLUMNS, with the breakdown's key (`author` when `by_author`) right after `week` and `complete`."""
    key = "author" if by_author else key
    if key is not None:
        return (*METRIC_COLUMNS[:2], key, *METRIC_COLUMNS[2:])
    return METRIC_COLUMNS


def _records(rows: Iterable[WeeklyMetrics], columns: Sequence[str]) -> list[dict[str, Any]]:
    return [{column: getattr(row, column) for column in columns} for row in rows]


def metrics_to_json(rows: Iterable[WeeklyMetrics], *, by_author: bool = False, key: Key | None = None) -> str:
    """A JSON array of objects with exactly the metric columns (None → null); ends with a newline."""
    columns = metric_columns(by_author=by_author, key=key)
    return json_text(_records(rows, columns)) + "\n"


def metrics_to_csv(rows: Iterable[WeeklyMetrics], *, by_author: bool = False, key: Key | None = None) -> str:
    """A header row, then one line per row ("\\n" line ends); None is an empty cell, booleans true/false."""
    columns = metric_columns(by_author=by_author, key=key)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in _records(rows, columns):
        writer.writerow([_csv_cell(record[column]) for column in columns])
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return printable(value)  # a login or name from GitHub, read in a terminal or a spreadsheet
    return value


def metrics_legend() -> str:
    """One line per column: its header on one line, then what it counts (for `metrics --help`)."""
    return "\n".join(f"{_one_line(metric.header)}: {metric.definition}" for metric in METRICS)


def _one_line(header: str) -> str:
    return header.replace("-\n", "").replace("\n", " ")


def _cell(column: str, value: Any) -> str:
    if value is None:
        return UNKNOWN_AUTHOR if column == "author" else NONE_CELL
    if _UNITS.get(column) == "share":
        return f"{value:.2f}"
    if _UNITS.get(column) == "hours":
        # One decimal is noise beyond 100 hours; it keeps the columns narrow too.
        return f"{value:.1f}" if round(value, 1) < 100 else f"{value:.0f}"
    if isinstance(value, float):
        return f"{value:g}" if value.is_integer() else f"{value:.1f}"
    return str(value)


_SECTIONS = (
    ("flow", "h: hours · unmrgd: closed, not merged · size: lines added + deleted · —: no data"),
    ("review", "h: hours · top rev. share: the busiest reviewer's share (0-1) · —: no data"),
)
# Dropped first when a terminal is too narrow for a section (the week and key columns never are).
_DROP_ORDER = (
    "pr_size_p50",
    "coding_time_p50_hours",
    "cycle_time_p90_hours",
    "reviewers_active",
    "cycle_time_p75_hours",
    "review_top_share",
    "review_to_merge_p50_hours",
    "merged_without_review",
    "prs_closed_unmerged",
    "authors_active",
    "time_to_first_review_p50_hours",
    "reviews_submitted",
)


def metrics_table(
    rows: Iterable[WeeklyMetrics],
    *,
    title: str,
    by_author: bool = False,
    key: Key | None = None,
    width: int | None = None,
) -> Group:
    """Two compact tables (flow, then reviews) with the same rows; times in hours (1 decimal), "—" where
    no data, the week in progress marked "(so far)". Given a `width`, a section's metric columns are
    dropped (least useful first; `Authors` at once by author, where it is always 0 or 1) until it fits:
    the week and key columns and every header stay whole, and the caption names what was left out."""
    rows = list(rows)
    key = "author" if by_author else key
    tables = []
    for index, (section, caption) in enumerate(_SECTIONS):
        metrics = [m.name for m in METRICS if m.section == section]
        if key == "author" and width is not None and "authors_active" in metrics:
            metrics.remove("authors_active")
        hidden: list[str] = []
        for name in _DROP_ORDER:
            if width is None or natural_width(rows, key, metrics) <= width:
                break
            if name in metrics:
                metrics.remove(name)
                hidden.append(name)
        heading = title if index == 0 else None
        tables.append(_metrics_grid(rows, key, metrics, title=heading, caption=caption, hidden=hidden, width=width))
        if not rows:
            break
    return Group(*tables)


def natural_width(rows: Sequence[WeeklyMetrics], key: Key | None, metrics: Sequence[str]) -> int:
    """The width `_metrics_grid` lays these columns out in with room to spare, as rich measures it, from
    the cell texts: measuring the table with rich took longer than computing the metrics (0.3 s a try
    for 240 rows, up to four tries)."""
    columns = _columns(key, metrics)
    total = len(columns) - 1  # one rule between columns; no edges, no padding
    for column in columns:
        natural = _natural_width(column, [_cell_text(row, column) for row in rows])
        most = _width_limits(column)[1]
        total += natural if most is None else min(natural, most)
    return total


def _cell_text(row: WeeklyMetrics, column: str) -> str:
    return _week_text(row) if column == "week" else printable(_cell(column, getattr(row, column)))


def _natural_width(column: str, texts: Iterable[str]) -> int:
    """A column's width with nothing folded: its header's and cells' longest line, at least its least."""
    lines = (*_HEADERS[column].splitlines(), *texts)
    return max(_width_limits(column)[0], max(cell_len(line) for text in lines for line in text.splitlines() or [""]))


def _columns(key: Key | None, metrics: Sequence[str]) -> list[str]:
    return ["week", *([key] if key else []), *metrics]


def _width_limits(column: str) -> tuple[int, int | None]:
    """(least, most) width of a column. A header is never cut: its longest line is the least. Names
    (logins, repositories, teams) fold onto a second line beyond 16 rather than being cut."""
    least = max(len(line) for line in _HEADERS[column].splitlines())
    if column in _NAME_COLUMNS:
        return min(16, max(least, 8)), 16
    return (10 if column == "week" else least), None


def _week_text(row: WeeklyMetrics) -> str:
    return row.week if row.complete else f"{row.week}\n(so far)"


def _metrics_grid(
    rows: list[WeeklyMetrics],
    key: Key | None,
    metrics: Sequence[str],
    *,
    title: str | None,
    caption: str,
    hidden: Sequence[str],
    width: int | None = None,
) -> Table:
    if hidden:
        names = ", ".join(_one_line(_HEADERS[name]) for name in hidden)
        caption += f"\nnot shown at this width: {names} (wider terminal, or --format csv/json)"
    columns = _columns(key, metrics)
    texts = [[_cell_text(row, column) for column in columns] for row in rows]
    # Beyond its first row, a table whose cells all fit their columns, in a terminal (or pipe) wide enough
    # for it, is written as plain lines (see _PlainRowsTable): rich lays out about 2,000 rows a second, and
    # `--by author` over a year can have 20,000.
    fixed = _plain_widths(columns, texts)
    if fixed is None or len(rows) < 2 or width is None or sum(fixed) + len(fixed) - 1 > width:
        fixed = None
    options: dict[str, Any] = {
        "title": Text(printable(title)) if title else None,
        "caption": caption,
        "caption_justify": "left",
        "box": _TABLE_BOX,
        "show_edge": False,
        "pad_edge": False,
        "padding": 0,
        "header_style": "bold",
    }
    table = Table(**options) if fixed is None else _PlainRowsTable(texts[1:], columns, **options)
    for index, column in enumerate(columns):
        least, most = _width_limits(column)
        # Given its width, rich lays a column out from the header and first row as it would from every row.
        exact = None if fixed is None else fixed[index]
        if column in _NAME_COLUMNS:
            table.add_column(_HEADERS[column], overflow="fold", max_width=most, min_width=least, width=exact)
        elif column == "week":
            table.add_column(_HEADERS[column], no_wrap=True, min_width=least, width=exact)
        else:
            table.add_column(_HEADERS[column], justify="right", no_wrap=True, min_width=least, width=exact)
    for cells in texts if fixed is None else texts[:1]:
        # Text, never markup: a login or a repository name is whatever GitHub sent.
        table.add_row(*(Text(cell) for cell in cells))
    if not rows:
        table.caption = "no pull-request activity in this window"
    return table


def _plain_widths(columns: Sequence[str], texts: Sequence[Sequence[str]]) -> list[int] | None:
    """Each column's width as rich lays it out when nothing has to fold; None when a cell is wider than its
    column may be (a header and a column's least never are)."""
    widths = []
    for index, column in enumerate(columns):
        natural = _natural_width(column, (cells[index] for cells in texts))
        most = _width_limits(column)[1]
        if most is not None and natural > most:
            return None
        widths.append(natural)
    return widths


class _PlainRowsTable(Table):
    """A Table that rich lays out from its header and first row, its other rows written as plain lines
    in the same columns: no cell folds (see _plain_widths), so each line is the cells padded to their
    column (names and weeks to the left, numbers to the right), one space apart, as rich writes them.

    It extends rich's own (private) row drawing, `Table._render`; a test compares its output with rich's
    byte for byte, so a rich release that draws differently fails it rather than misaligning tables."""

    def __init__(self, rows: Sequence[Sequence[str]], columns: Sequence[str], **kwargs: Any):
        super().__init__(**kwargs)
        self._plain_rows = rows
        self._right = [column != "week" and column not in _NAME_COLUMNS for column in columns]

    def _render(self, console: Console, options: ConsoleOptions, widths: list[int]) -> RenderResult:
        yield from super()._render(console, options, widths)
        for cells in self._plain_rows:
            lines = [cell.splitlines() or [""] for cell in cells]
            for number in range(max(len(cell_lines) for cell_lines in lines)):
                parts = []
                for cell_lines, width, right in zip(lines, widths, self._right, strict=True):
                    text = cell_lines[number] if number < len(cell_lines) else ""
                    pad = " " * (width - cell_len(text))
                    parts.append(pad + text if right else text + pad)
                yield Segment(" ".join(parts))
                yield Segment.line()


_EIGHTHS = " ▏▎▍▌▋▊▉"


def _bar(value: float, maximum: float, width: int) -> str:
    """A left-aligned bar of `width` cells in eighth-blocks; a non-zero value shows at least ▏."""
    if width <= 0 or maximum <= 0 or value <= 0:
        return " " * max(width, 0)
    eighths = max(1, round(min(value / maximum, 1.0) * width * 8))
    full, partial = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[partial] if partial else "")
    return bar.ljust(width)


class MetricsChart:
    """Per week: the week, a bar of merged PRs (scaled to the busiest week) with the count, and a
    bar of median cycle time (scaled to the slowest week) with its hours.

    Plain characters carry all the meaning (colour only decorates), so piped output is readable;
    the bars stretch or shrink to the console width.
    """

    def __init__(self, rows: Sequence[WeeklyMetrics], title: str) -> None:
        weeks = [row.week for row in rows]
        if len(set(weeks)) != len(weeks):
            raise ValueError("the chart needs one row per week (not by-author rows)")
        self.rows = list(rows)
        self.title = title

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(printable(self.title), style="bold")
        if not self.rows:
            yield Text("no weeks to chart")
            return
        max_merged = max(row.prs_merged for row in self.rows)
        cycles = [row.cycle_time_p50_hours for row in self.rows if row.cycle_time_p50_hours is not None]
        max_cycle = max(cycles, default=0.0)
        count_width = max(len(str(max_merged)), 1)
        hours_width = max((len(f"{value:.1f} h") for value in cycles), default=len(NONE_CELL))
        # week + " " + bar + " " + count + " │ " + bar + " " + hours
        fixed = 10 + 1 + 1 + count_width + 3 + 1 + hours_width
        bar_width = max((options.max_width - fixed) // 2, 4)
        merged_label = "merged PRs"
        cycle_label = "median cycle time"
        yield Text.assemble(
            ("week".ljust(10), "dim"),
            " ",
            (merged_label.ljust(bar_width + 1 + count_width), "dim"),
            " │ ",
            (cycle_label, "dim"),
        )
        for row in self.rows:
            cycle = row.cycle_time_p50_hours
            hours = NONE_CELL if cycle is None else f"{cycle:.1f} h"
            yield Text.assemble(
                row.week.ljust(10),
                " ",
                (_bar(row.prs_merged, max_merged, bar_width), "green"),
                " ",
                str(row.prs_merged).rjust(count_width),
                " │ ",
                (_bar(cycle or 0.0, max_cycle, bar_width), "cyan"),
                " ",
                hours.rjust(hours_width),
            )
        for row in self.rows:
            if not row.complete:
                yield Text(f"{row.week}: the week in progress (so far)", style="dim")


def metrics_chart(rows: Iterable[WeeklyMetrics], *, title: str) -> MetricsChart:
    """The weekly trend as a rich renderable (see MetricsChart); rows must be one per week."""
    return MetricsChart(list(rows), title)
