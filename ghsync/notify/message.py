"""The notification email's text: SyncReport -> subject, plain + HTML message, and whether to send it (pure)."""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage

from ghsync.models import Outcome, SyncKind, SyncReport
from ghsync.notify.settings import CONTROL_CHARS
from ghsync.timefmt import duration, parse_iso_or_none, plural

__all__ = ["NOTIFY_ON_CHOICES", "one_line", "render_run_email", "render_sync_email", "should_notify"]

#: The words `should_notify` understands in `notify_on` (besides the always-on initial completion).
NOTIFY_ON_CHOICES: frozenset[str] = frozenset({"update", "rate_limited", "error"})


def should_notify(outcome: Outcome | str, kind: SyncKind | str, notify_on: Collection[str]) -> bool:
    """Decide whether the end of a sync run deserves an email.

    ==============  ============  ===========================================
    outcome         kind          emails when
    ==============  ============  ===========================================
    complete        initial       always (whatever `notify_on` says)
    complete        incremental   ``"update" in notify_on``
    rate_limited    any           ``"rate_limited" in notify_on``
    error           any           ``"error" in notify_on``
    anything else   any           never (pending/syncing are not run ends)
    ==============  ============  ===========================================

    Call it once, when a run ends. An initial sync that needs several runs (rate limits) keeps
    kind ``"initial"`` across resumed runs, so it sends one "synced" email when it completes,
    plus one per pause only if ``"rate_limited"`` is asked for.
    """
    if outcome == Outcome.COMPLETE:
        if kind == SyncKind.INITIAL:
            return True
        return kind == SyncKind.INCREMENTAL and "update" in notify_on
    if outcome in (Outcome.RATE_LIMITED, Outcome.ERROR):
        return str(outcome) in notify_on
    return False


def render_sync_email(
    report: SyncReport,
    *,
    recipients: Sequence[str],
    sender: str,
    db_path: str | None = None,
) -> EmailMessage:
    """Build the notification for one finished sync run (plain text plus an HTML alternative).

    Pure: no clock, no network. `Date` and `Message-ID` are added by `send_email`.
    """
    if isinstance(recipients, str):
        recipients = [recipients]
    if not recipients:
        raise ValueError("render_sync_email needs at least one recipient")
    subject = _subject(report)
    intro = _intro(report)
    rows = _rows(report)
    command = _metrics_command(report.full_name, db_path)
    return _message(subject, recipients, sender, intro, rows, command, see="See the metrics:")


def render_run_email(
    reports: Sequence[SyncReport],
    *,
    recipients: Sequence[str],
    sender: str,
    db_path: str | None = None,
) -> EmailMessage:
    """One notification for a run over several repositories (an owner's, or `ghsync sync`): a line per
    repository that has something to tell, instead of one email each. Pure, like `render_sync_email`."""
    if len(reports) < 2:
        raise ValueError("render_run_email is for two reports or more; one gets render_sync_email")
    if not recipients:
        raise ValueError("render_run_email needs at least one recipient")
    words = [_run_word(report) for report in reports]
    order = ["synced", "updated", "rate-limited", "failed", *sorted(set(words))]
    tally = ", ".join(f"{words.count(word)} {word}" for word in dict.fromkeys(order) if word in words)
    subject = f"ghsync: {len(reports)} repositories — {tally}"
    intro = f"ghsync finished a run over {len(reports)} repositories: {tally}."
    rows = [(one_line(report.full_name), _run_line(report)) for report in reports]
    command = "ghsync status" + (f" --db {shlex.quote(str(db_path))}" if db_path is not None else "")
    return _message(subject, recipients, sender, intro, rows, command, see="See every repository:")


def _run_word(report: SyncReport) -> str:
    if report.outcome == Outcome.COMPLETE:
        return "updated" if report.kind == SyncKind.INCREMENTAL else "synced"
    return {Outcome.RATE_LIMITED: "rate-limited", Outcome.ERROR: "failed"}.get(report.outcome, str(report.outcome))


def _run_line(report: SyncReport) -> str:
    line = (
        f"{_outcome_label(report)}: {plural(report.prs_synced, 'PR')} synced, "
        f"{_n(report.prs_in_database)} in the database, {duration(report.duration_seconds)}"
    )
    if report.error:
        line += f"\n{'Reason' if report.outcome == Outcome.RATE_LIMITED else 'Error'}: {report.error}"
    return line


def _message(
    subject: str,
    recipients: Sequence[str],
    sender: str,
    intro: str,
    rows: list[tuple[str, str]],
    command: str,
    *,
    see: str,
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    # RFC 3834: an automatic message; tells vacation responders not to answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_plain_body(intro, rows, command, see=see), cte="quoted-printable")
    message.add_alternative(_html_body(subject, intro, rows, command, see=see), subtype="html", cte="quoted-printable")
    return message


# C1 controls (0x9b is a one-byte CSI) and the bidirectional overrides and isolates, which can reorder what
# follows a hostile title on its line ("— alice, waiting 3 days"): neither belongs in a line for people.
_INVISIBLE = re.compile("[\x80-\x9f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """Make untrusted text safe for a header or a line of a digest: no CR/LF or other control characters."""
    return " ".join(_INVISIBLE.sub(" ", CONTROL_CHARS.sub(" ", text)).split())


# -- wording -------------------------------------------------------------------------------------


def _n(value: int) -> str:
    return f"{value:,}"


def _utc(value: str | None) -> datetime | None:
    parsed = parse_iso_or_none(value)
    return parsed.astimezone(UTC) if parsed is not None else None


def _format_time(value: str | None) -> str:
    parsed = _utc(value)
    if parsed is None:
        return value or "unknown"
    return parsed.strftime("%Y-%m-%d %H:%M:%S UTC")


def _format_resume(reset_at: str | None, finished_at: str) -> str | None:
    """`14:05 UTC`, or `2024-05-02 14:05 UTC` when the reset falls on another day than the run's end."""
    reset = _utc(reset_at)
    if reset is None:
        return one_line(reset_at) if reset_at else None
    finished = _utc(finished_at)
    if finished is not None and finished.date() == reset.date():
        return reset.strftime("%H:%M UTC")
    return reset.strftime("%Y-%m-%d %H:%M UTC")


def _window(days_back: int | None) -> str:
    if days_back is None:
        return "full history"
    return f"last {plural(days_back, 'day')}"


def _subject(report: SyncReport) -> str:
    name = one_line(report.full_name)
    if report.outcome == Outcome.COMPLETE:
        if report.kind == SyncKind.INCREMENTAL:
            return f"ghsync: {name} updated — {plural(report.prs_synced, 'PR')} changed, {_n(report.prs_in_database)} total"
        return f"ghsync: {name} synced — {plural(report.prs_in_database, 'PR')}"
    if report.outcome == Outcome.RATE_LIMITED:
        resume = _format_resume(report.rate_limit_reset_at, report.finished_at)
        return f"ghsync: {name} rate-limited — " + (f"resumes at {resume}" if resume else "resumes later")
    if report.outcome == Outcome.ERROR:
        return f"ghsync: {name} sync failed"
    return f"ghsync: {name} sync {report.outcome}"


def _intro(report: SyncReport) -> str:
    name = report.full_name
    if report.outcome == Outcome.COMPLETE:
        if report.kind == SyncKind.INCREMENTAL:
            return f"ghsync updated {name}: {plural(report.prs_synced, 'pull request')} added or changed."
        return (
            f"The initial sync of {name} is complete: {plural(report.prs_in_database, 'pull request')} in the database."
        )
    if report.outcome == Outcome.RATE_LIMITED:
        resume = _format_resume(report.rate_limit_reset_at, report.finished_at)
        when = f"after {resume}" if resume else "after the rate limit resets"
        return (
            f"ghsync paused the sync of {name} because the GitHub API budget ran low. "
            f"The next run {when} continues where this one stopped."
        )
    if report.outcome == Outcome.ERROR:
        return f"The sync of {name} failed."
    return f"The sync of {name} ended with status {report.outcome}."


def _outcome_label(report: SyncReport) -> str:
    kind = f"{report.kind} sync"
    return {
        Outcome.COMPLETE: f"complete ({kind})",
        Outcome.RATE_LIMITED: f"rate-limited ({kind}, will resume)",
        Outcome.ERROR: f"failed ({kind})",
    }.get(report.outcome, f"{report.outcome} ({kind})")


def _rows(report: SyncReport) -> list[tuple[str, str]]:
    rows = [
        ("Repository", report.full_name),
        ("Outcome", _outcome_label(report)),
        ("Window", _window(report.days_back)),
        ("PRs synced", _n(report.prs_synced)),
        ("Reviews synced", _n(report.reviews_synced)),
        ("PRs in database", _n(report.prs_in_database)),
        ("Duration", duration(report.duration_seconds)),
        (
            "API budget spent",
            f"{plural(report.graphql_points_spent, 'GraphQL point')}, {plural(report.rest_calls_spent, 'REST call')}",
        ),
    ]
    if report.rate_limit_remaining is not None:
        rows.append(("Rate limit left", _n(report.rate_limit_remaining)))
    rows.append(("Started", _format_time(report.started_at)))
    rows.append(("Finished", _format_time(report.finished_at)))
    if report.rate_limit_reset_at:
        rows.append(("Rate limit resets", _format_time(report.rate_limit_reset_at)))
    if report.error:
        rows.append(("Reason" if report.outcome == Outcome.RATE_LIMITED else "Error", report.error))
    return rows


def _metrics_command(full_name: str, db_path: str | None) -> str:
    command = f"ghsync metrics {shlex.quote(full_name)}"
    if db_path is not None:
        command += f" --db {shlex.quote(str(db_path))}"
    return command


def _plain_body(intro: str, rows: list[tuple[str, str]], command: str, *, see: str) -> str:
    width = max(len(label) for label, _ in rows) + 2
    lines = [intro, ""]
    for label, value in rows:
        value_lines = value.splitlines() or [""]
        lines.append(f"{label + ':':<{width}}{value_lines[0]}")
        lines.extend(" " * width + more for more in value_lines[1:])
    lines += ["", see, f"  {command}", "", "-- ", "Sent by ghsync."]
    return "\n".join(lines) + "\n"


def _html_body(subject: str, intro: str, rows: list[tuple[str, str]], command: str, *, see: str) -> str:
    e = html.escape
    cells = "\n".join(
        '    <tr><th style="text-align:left;font-weight:normal;color:#57606a;'
        'padding:3px 16px 3px 0;vertical-align:top;white-space:nowrap">'
        f"{e(label)}</th>"
        f'<td style="padding:3px 0;white-space:pre-wrap">{e(value)}</td></tr>'
        for label, value in rows
    )
    return (
        "<!DOCTYPE html>\n"
        '<html><head><meta charset="utf-8">'
        f"<title>{e(subject)}</title></head>\n"
        '<body style="font-family:-apple-system,BlinkMacSystemFont,Segoe UI,Helvetica,Arial,sans-serif;'
        'font-size:14px;color:#1f2328">\n'
        f"  <p>{e(intro)}</p>\n"
        '  <table style="border-collapse:collapse">\n'
        f"{cells}\n"
        "  </table>\n"
        f"  <p>{e(see)}<br>\n"
        '  <code style="background:#f6f8fa;padding:2px 4px">'
        f"{e(command)}</code></p>\n"
        '  <p style="color:#57606a;font-size:12px">Sent by ghsync.</p>\n'
        "</body></html>\n"
    )
