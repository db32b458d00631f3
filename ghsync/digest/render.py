"""The digest as a subject line, plain text, HTML (email) and Slack Block Kit: pure functions of a Digest.

Foreign text (repository names, titles, logins, the scope name) is made one line everywhere,
HTML-escaped in HTML and Slack-escaped (&, <, >) in Block Kit, so it can neither inject markup nor
a header. The chart needs no script and no remote image: table cells with a width in HTML, block
characters in text and in Slack.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from ghsync.digest.build import ChartWeek, Digest, MetricChange, Value, WaitingPullRequest
from ghsync.metrics import Metric
from ghsync.notify.message import one_line
from ghsync.notify.settings import CONTROL_CHARS

__all__ = ["digest_blocks", "digest_email", "digest_html", "digest_subject", "digest_text", "metric_label"]

UP, DOWN = "▲", "▼"
NO_VALUE = "—"
_TITLE_MAX = 90
_BAR_WIDTH = 20
_EIGHTHS = " ▏▎▍▌▋▊▉"
_PLAIN_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f\"'<>`|\\]+")
_WORDS = {"prs": "PRs", "pr": "PR", "p50": "p50", "p75": "p75"}


def metric_label(metric: Metric) -> str:
    """`cycle_time_p50_hours` → `cycle time p50`: a readable name derived from the registry's field name."""
    words = [word for word in metric.name.split("_") if word not in ("hours",)]
    text = " ".join(_WORDS.get(word, word) for word in words)
    return text[:1].upper() + text[1:]


def _value(metric: Metric, value: Value) -> str:
    if value is None:
        return NO_VALUE
    if metric.unit == "hours":
        return f"{value:.1f} h"
    if metric.unit == "lines":
        return f"{value:g} lines"
    return f"{value:,}"


def _number(metric: Metric, value: float) -> str:
    if metric.unit == "hours":
        return f"{abs(value):.1f} h"
    if metric.unit == "lines":
        return f"{abs(value):g}"
    return f"{abs(value):,g}"


def change_text(change: MetricChange) -> str:
    """`▲5 (+14%)`, `▼2.5 h (−8%)`, `▲3` (no percentage from zero), `=`, or `—` without data."""
    delta = change.delta
    if delta is None:
        return NO_VALUE
    if delta == 0:
        return "="
    arrow = UP if delta > 0 else DOWN
    text = f"{arrow}{_number(change.metric, delta)}"
    relative = change.relative
    if relative is not None:
        text += f" ({'+' if relative > 0 else '−'}{abs(relative) * 100:.0f}%)"
    return text


def _short_change(change: MetricChange) -> str:
    """For the subject: `▲12%`, else the absolute change, `=`, or `—`."""
    relative = change.relative
    if relative is not None and relative != 0:
        return f"{UP if relative > 0 else DOWN}{abs(relative) * 100:.0f}%"
    return change_text(change)


def _age(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def _title(pr: WaitingPullRequest) -> str:
    title = one_line(pr.title)
    return title if len(title) <= _TITLE_MAX else title[: _TITLE_MAX - 1] + "…"


def _author(pr: WaitingPullRequest) -> str:
    return one_line(pr.author) if pr.author else "ghost"


def _safe_url(url: str) -> str | None:
    """The URL if it is a plain http(s) URL (nothing that could close an attribute or a Slack link), else None."""
    return url if _PLAIN_URL.fullmatch(url) else None


def _week_span(digest: Digest) -> str:
    return f"Mon {digest.week.isoformat()} – Sun {digest.week_end.isoformat()} UTC"


def digest_subject(digest: Digest) -> str:
    """`ghsync weekly — platform — week of 2026-11-23: 41 merged (▲12%), cycle p50 19.5 h (▼8%)`: one line."""
    merged = digest.change("prs_merged")
    cycle = digest.change("cycle_time_p50_hours")
    return (
        f"ghsync weekly — {one_line(digest.scope_name)} — week of {digest.week.isoformat()}: "
        f"{_value(merged.metric, merged.current)} merged ({_short_change(merged)}), "
        f"cycle p50 {_value(cycle.metric, cycle.current)} ({_short_change(cycle)})"
    )


# -- the chart --------------------------------------------------------------------------------------


def _bar(value: float, maximum: float, width: int = _BAR_WIDTH) -> str:
    if maximum <= 0 or value <= 0:
        return ""
    eighths = max(1, round(min(value / maximum, 1.0) * width * 8))
    full, partial = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[partial] if partial else "")


def chart_title(chart: Sequence[ChartWeek]) -> str:
    """The chart's heading; its weeks are those the stored data covers (a notice says which are left out)."""
    plural = "week" if len(chart) == 1 else f"{len(chart)} weeks"
    return f"Merged PRs and median cycle time, last {plural}"


def chart_lines(chart: Sequence[ChartWeek]) -> list[str]:
    """One line a week: the week, a bar and the count of merged PRs, a bar and the median cycle time."""
    max_merged = max((week.merged for week in chart), default=0)
    max_cycle = max((week.cycle_p50_hours or 0.0 for week in chart), default=0.0)
    count_width = max(len(str(max_merged)), 1)
    lines = [f"{'week':<10}  {'merged PRs':<{_BAR_WIDTH + 1 + count_width}}  median cycle time"]
    for week in chart:
        hours = NO_VALUE if week.cycle_p50_hours is None else f"{week.cycle_p50_hours:.1f} h"
        lines.append(
            f"{week.week.isoformat():<10}  {_bar(week.merged, max_merged):<{_BAR_WIDTH}} "
            f"{week.merged:>{count_width}}  {_bar(week.cycle_p50_hours or 0.0, max_cycle):<{_BAR_WIDTH}} {hours}"
        )
    return lines


# -- plain text -------------------------------------------------------------------------------------


def _metric_table_lines(changes: Sequence[MetricChange]) -> list[str]:
    rows = [("", "this week", "week before", "change")]
    rows += [
        (metric_label(c.metric), _value(c.metric, c.current), _value(c.metric, c.previous), change_text(c))
        for c in changes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}  {d}".rstrip() for a, b, c, d in rows]


def _top_lines(digest: Digest) -> list[str]:
    if not digest.top_changes:
        return ["No metric changed from the week before."]
    return [
        f"{metric_label(c.metric)}: {_value(c.metric, c.current)}, {change_text(c)} from {_value(c.metric, c.previous)}"
        for c in digest.top_changes
    ]


def _waiting_line(rank: int, pr: WaitingPullRequest) -> str:
    return f"{rank}. {one_line(pr.repository)}#{pr.number} {_title(pr)} — {_author(pr)}, waiting {_age(pr.age)}"


NOBODY_WAITING = "No open pull request is waiting for a first review."


def digest_text(digest: Digest) -> str:
    """The plain-text digest (the email's text part and `--dry-run`)."""
    lines = [
        f"ghsync weekly — {one_line(digest.scope_name)} — week of {digest.week.isoformat()}",
        f"{_week_span(digest)}, against the week of {digest.previous_week.isoformat()}",
        "",
    ]
    if digest.notices:
        lines += [f"! {one_line(notice)}" for notice in digest.notices] + [""]
    lines += ["Biggest changes", *(f"  {line}" for line in _top_lines(digest)), ""]
    lines += ["All metrics", *(f"  {line}" for line in _metric_table_lines(digest.changes)), ""]
    if digest.chart:
        lines += [chart_title(digest.chart)]
        lines += [f"  {line}".rstrip() for line in chart_lines(digest.chart)] + [""]
    lines += ["Waiting longest for a first review"]
    if digest.waiting:
        for rank, pr in enumerate(digest.waiting, start=1):
            lines += [f"  {_waiting_line(rank, pr)}", f"     {one_line(pr.url)}"]
    else:
        lines.append(f"  {NOBODY_WAITING}")
    lines += ["", "-- ", "Sent by ghsync."]
    return "\n".join(lines) + "\n"


# -- HTML -------------------------------------------------------------------------------------------

_FONT = "font-family:-apple-system,BlinkMacSystemFont,Segoe UI,Helvetica,Arial,sans-serif"
_MUTED = "color:#57606a"
_CELL = "padding:3px 12px 3px 0"


def _e(text: str) -> str:
    return html.escape(one_line(text), quote=True)


def _html_bar(value: float, maximum: float, colour: str, width: int = 160) -> str:
    """A bar as a table cell with a width: Outlook, Gmail and Apple Mail all draw it; no CSS needed for size."""
    pixels = 0 if maximum <= 0 or value <= 0 else max(2, round(min(value / maximum, 1.0) * width))
    if not pixels:
        return f'<td width="{width}" style="width:{width}px"></td>'
    return (
        f'<td width="{width}" style="width:{width}px"><table role="presentation" cellpadding="0" cellspacing="0" '
        f'border="0"><tr><td width="{pixels}" height="12" bgcolor="{colour}" '
        f'style="width:{pixels}px;height:12px;background:{colour};font-size:0;line-height:0">&nbsp;</td>'
        "</tr></table></td>"
    )


def _html_chart(chart: Sequence[ChartWeek]) -> str:
    max_merged = max((week.merged for week in chart), default=0)
    max_cycle = max((week.cycle_p50_hours or 0.0 for week in chart), default=0.0)
    head = (
        f'<tr><th align="left" style="{_CELL};{_MUTED};font-weight:normal">week</th>'
        f'<th align="left" colspan="2" style="{_CELL};{_MUTED};font-weight:normal">merged PRs</th>'
        f'<th align="left" colspan="2" style="{_CELL};{_MUTED};font-weight:normal">median cycle time</th></tr>'
    )
    rows = [head]
    for week in chart:
        hours = NO_VALUE if week.cycle_p50_hours is None else f"{week.cycle_p50_hours:.1f} h"
        rows.append(
            f'<tr><td style="{_CELL};white-space:nowrap">{week.week.isoformat()}</td>'
            f"{_html_bar(week.merged, max_merged, '#2da44e')}"
            f'<td align="right" style="{_CELL}">{week.merged}</td>'
            f"{_html_bar(week.cycle_p50_hours or 0.0, max_cycle, '#0969da')}"
            f'<td align="right" style="{_CELL};white-space:nowrap">{hours}</td></tr>'
        )
    return '<table role="presentation" cellpadding="0" cellspacing="0" border="0">\n' + "\n".join(rows) + "\n</table>"


def _html_metrics(changes: Sequence[MetricChange]) -> str:
    head = (
        f'<tr><th></th><th align="right" style="{_CELL};{_MUTED};font-weight:normal">this week</th>'
        f'<th align="right" style="{_CELL};{_MUTED};font-weight:normal">week before</th>'
        f'<th align="left" style="{_CELL};{_MUTED};font-weight:normal">change</th></tr>'
    )
    rows = [
        f'<tr><td style="{_CELL}">{_e(metric_label(c.metric))}</td>'
        f'<td align="right" style="{_CELL}">{_e(_value(c.metric, c.current))}</td>'
        f'<td align="right" style="{_CELL};{_MUTED}">{_e(_value(c.metric, c.previous))}</td>'
        f'<td style="{_CELL}">{_e(change_text(c))}</td></tr>'
        for c in changes
    ]
    return '<table cellpadding="0" cellspacing="0" border="0">\n' + "\n".join([head, *rows]) + "\n</table>"


def _html_waiting(waiting: Sequence[WaitingPullRequest]) -> str:
    if not waiting:
        return f"<p>{_e(NOBODY_WAITING)}</p>"
    items = []
    for pr in waiting:
        label = f"{_e(pr.repository)}#{pr.number} {_e(_title(pr))}"
        url = _safe_url(pr.url)
        link = f'<a href="{html.escape(url, quote=True)}">{label}</a>' if url else label
        items.append(f"<li>{link} — {_e(_author(pr))}, waiting {_age(pr.age)}</li>")
    return "<ol>\n" + "\n".join(items) + "\n</ol>"


def digest_html(digest: Digest) -> str:
    """The HTML digest (the email's HTML part): inline styles only, no script, no remote image."""
    notices = "".join(
        f'<p style="background:#fff8c5;border:1px solid #d4a72c;padding:6px 8px">⚠ {_e(notice)}</p>\n'
        for notice in digest.notices
    )
    top = "".join(f"<li>{_e(line)}</li>" for line in _top_lines(digest))
    chart = f"<h3>{_e(chart_title(digest.chart))}</h3>\n{_html_chart(digest.chart)}\n" if digest.chart else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html><head><meta charset="utf-8"><title>{_e(digest_subject(digest))}</title></head>\n'
        f'<body style="{_FONT};font-size:14px;color:#1f2328">\n'
        f'<h2 style="margin:0 0 4px 0">{_e(digest.scope_name)} — week of {digest.week.isoformat()}</h2>\n'
        f'<p style="{_MUTED};margin-top:0">{_e(_week_span(digest))}, against the week of '
        f"{digest.previous_week.isoformat()}</p>\n"
        f"{notices}"
        f"<h3>Biggest changes</h3>\n<ul>{top}</ul>\n"
        f"<h3>All metrics</h3>\n{_html_metrics(digest.changes)}\n"
        f"{chart}"
        f"<h3>Waiting longest for a first review</h3>\n{_html_waiting(digest.waiting)}\n"
        f'<p style="{_MUTED};font-size:12px">Sent by ghsync.</p>\n'
        "</body></html>\n"
    )


def digest_email(digest: Digest, *, recipients: Sequence[str], sender: str) -> EmailMessage:
    """The digest email: plain text plus an HTML alternative. `Date` and `Message-ID` are added on sending."""
    if not recipients:
        raise ValueError("digest_email needs at least one recipient")
    message = EmailMessage()
    message["Subject"] = digest_subject(digest)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(digest_text(digest), cte="quoted-printable")
    message.add_alternative(digest_html(digest), subtype="html", cte="quoted-printable")
    return message


# -- Slack Block Kit --------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Slack's mrkdwn escaping (&, <, >), on one line: foreign text cannot make a link or a mention."""
    return one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Slack refuses a section's text over 3,000 characters, and a message of over 50 blocks; the notices may
# take this many sections, leaving room for the rest of the digest.
SLACK_SECTION_LIMIT = 3000
SLACK_NOTICE_SECTIONS = 40


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_SECTION_LIMIT]}}


def _mrkdwn_lines(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Sections of whole lines, each within Slack's limit: many notices (a scope of 40 repositories) are all
    posted, not cut at the 3,000th character."""
    sections: list[dict[str, Any]] = []
    current: list[str] = []
    for line in lines:
        if current and len("\n".join([*current, line])) > SLACK_SECTION_LIMIT:
            sections.append(_mrkdwn("\n".join(current)))
            current = []
        current.append(line)
    if current:
        sections.append(_mrkdwn("\n".join(current)))
    if len(sections) > SLACK_NOTICE_SECTIONS:  # Slack takes 50 blocks in all: the rest is said, not dropped
        left = sum(len(section["text"]["text"].split("\n")) for section in sections[SLACK_NOTICE_SECTIONS - 1 :])
        sections[SLACK_NOTICE_SECTIONS - 1 :] = [
            _mrkdwn(f"… and {left} more (all of them in the email and in `ghsync digest --dry-run`)")
        ]
    return sections


def _code(lines: Sequence[str]) -> str:
    # A code block keeps its columns: control characters go, runs of spaces stay; then Slack's escaping.
    kept = (
        CONTROL_CHARS.sub(" ", line).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for line in lines
    )
    return "```\n" + "\n".join(kept) + "\n```"


def _slack_waiting(pr: WaitingPullRequest, rank: int) -> str:
    # A `|` would end the link's label early: shown as a look-alike.
    label = slack_escape(f"{pr.repository}#{pr.number} {_title(pr)}").replace("|", "¦")
    url = _safe_url(pr.url)
    link = f"<{slack_escape(url)}|{label}>" if url else label
    return f"{rank}. {link} — {slack_escape(_author(pr))}, waiting {_age(pr.age)}"


def digest_blocks(digest: Digest) -> dict[str, Any]:
    """The incoming-webhook payload: `text` (the notification's fallback) and Block Kit sections."""
    subject = digest_subject(digest)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": one_line(subject)[:150]}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": slack_escape(
                        f"{_week_span(digest)}, against the week of {digest.previous_week.isoformat()}"
                    ),
                }
            ],
        },
    ]
    if digest.notices:
        blocks += _mrkdwn_lines([f":warning: {slack_escape(notice)}" for notice in digest.notices])
    blocks.append(_mrkdwn("*Biggest changes*\n" + "\n".join(f"• {slack_escape(line)}" for line in _top_lines(digest))))
    blocks.append(_mrkdwn("*All metrics*\n" + _code(_metric_table_lines(digest.changes))))
    if digest.chart:
        blocks.append(_mrkdwn(f"*{chart_title(digest.chart)}*\n" + _code(chart_lines(digest.chart))))
    if digest.waiting:
        waiting = "\n".join(_slack_waiting(pr, rank) for rank, pr in enumerate(digest.waiting, start=1))
    else:
        waiting = NOBODY_WAITING
    blocks.append(_mrkdwn("*Waiting longest for a first review*\n" + waiting))
    return {"text": slack_escape(subject), "blocks": blocks}
