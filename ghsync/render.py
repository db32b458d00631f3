"""All terminal output: the progress display (rich or plain log lines), status tables and summaries."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from ghsync.models import Repository, RepositoryStatus, SyncReport, SyncStatus


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def humanize_delta(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {seconds} s" if seconds and minutes < 10 else "")
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days"


def _parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def local_time(text: str | None) -> str:
    moment = _parse_iso(text)
    if moment is None:
        return "—"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def relative(text: str | None, now: float) -> str:
    moment = _parse_iso(text)
    if moment is None:
        return ""
    delta = moment.timestamp() - now
    return f"in {humanize_delta(delta)}" if delta >= 0 else f"{humanize_delta(-delta)} ago"


def window_label(days_back: int | None) -> str:
    return "all" if days_back is None else f"{days_back} d"


class SyncProgressDisplay:
    """Shows a sync's stored progress fields: a rich bar on a terminal, timestamped lines otherwise."""

    def __init__(self, console: Console, *, interactive: bool, quiet: bool = False, log_every: float = 2.0):
        self.console = console
        self.interactive = interactive and not quiet
        self.quiet = quiet
        self.log_every = log_every
        self._progress = None
        self._tasks: dict[str, Any] = {}
        self._last_log: dict[str, float] = {}
        self._last_line: dict[str, str] = {}

    def __enter__(self) -> SyncProgressDisplay:
        if self.interactive:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                MofNCompleteColumn(),
                TextColumn("PRs"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[note]}"),
                console=self.console,
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
        for name, line in self._last_line.items():
            if not self.interactive and not self.quiet and self._last_log.get(name) != -1:
                self._log(line)

    def update(self, row: Repository) -> None:
        name = row.full_name
        total = row.sync_prs_total
        completed = row.sync_prs_completed
        note = ""
        if row.rate_limit_remaining is not None:
            note = f"budget {row.rate_limit_remaining}"
        if self._progress is not None:
            if name not in self._tasks:
                self._tasks[name] = self._progress.add_task(name, total=total or None, note=note)
            if row.sync_status == SyncStatus.COMPLETE and max(total, completed) == 0:
                # Nothing to sync (an unchanged repository): no bar at all rather than a stuck one.
                self._progress.remove_task(self._tasks.pop(name))
                return
            self._progress.update(
                self._tasks[name], total=max(total, completed) or None, completed=completed, note=note
            )
            return
        line = (
            f"{name}: {row.sync_status} {row.sync_progress}% "
            f"({completed}/{total} PRs)" + (f", GraphQL budget left {row.rate_limit_remaining}" if note else "")
        )
        self._last_line[name] = line
        now = time.monotonic()
        last = self._last_log.get(name)
        if not self.quiet and (last is None or now - last >= self.log_every or row.sync_status != SyncStatus.SYNCING):
            self._log(line)
            self._last_log[name] = now
            self._last_line.pop(name, None)

    def wait(self, seconds: float, reset_at: str | None) -> None:
        """Sleep until a rate-limit reset, showing a countdown (or one log line without a terminal)."""
        message = f"rate limit reached: waiting {humanize_delta(seconds)} until {local_time(reset_at)}"
        if self._progress is None:
            if not self.quiet:
                self._log(message)
            time.sleep(seconds)
            return
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            for task in self._tasks.values():
                self._progress.update(task, note=f"waiting for rate-limit reset: {humanize_delta(left)}")
            time.sleep(min(1.0, left))

    def _log(self, line: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.console.print(f"{stamp} {line}", markup=False, highlight=False, soft_wrap=True)


def short_time(text: str | None, now: float) -> str:
    """Local HH:MM for today, the date otherwise: a table cell, not a log line."""
    moment = _parse_iso(text)
    if moment is None:
        return "—"
    local = moment.astimezone()
    today = datetime.fromtimestamp(now).astimezone().date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%Y-%m-%d")


STATUS_TABLE_MIN_WIDTH = 120


def _status_cells(status: RepositoryStatus, now: float) -> dict[str, str]:
    row = status.repository
    percent = row.sync_progress
    filled = percent // 10
    budget = "—"
    if row.rate_limit_remaining is not None:
        budget = f"{row.rate_limit_remaining} left"
        if row.rate_limit_reset_at:
            budget += f", resets {short_time(row.rate_limit_reset_at, now)} ({relative(row.rate_limit_reset_at, now)})"
    return {
        "Repository": row.full_name,
        "Status": status.label,
        "Progress": "█" * filled + "░" * (10 - filled) + f" {percent:>3}%",
        # Done/total while a sync is under way or stopped; once complete, what the database holds
        # (an incremental sync's own total is only the PRs that changed).
        "PRs": (
            f"{status.prs_stored:,}"
            if row.sync_status == SyncStatus.COMPLETE
            else f"{row.sync_prs_completed}/{row.sync_prs_total}"
        ),
        "Window": window_label(row.days_back),
        "Started": short_time(row.sync_started_at, now),
        "Last synced": relative(row.last_synced_at, now) or "never",
        "Rate limit": budget,
        "Last error": row.last_error or "",
    }


def status_table(rows: list[RepositoryStatus], *, now: float, width: int = STATUS_TABLE_MIN_WIDTH):
    """One row per repository on a wide terminal; one block per repository on a narrow one."""
    from rich import box
    from rich.console import Group

    cells = [_status_cells(row, now) for row in rows]
    if width >= STATUS_TABLE_MIN_WIDTH:
        table = Table(title="Tracked repositories", title_justify="left", box=box.SIMPLE_HEAD)
        for header in ("Repository", "Status", "Progress", "PRs", "Window", "Started", "Last synced", "Rate limit", "Last error"):
            table.add_column(header, justify="right" if header == "PRs" else "left", no_wrap=header != "Last error")
        for cell in cells:
            table.add_row(*cell.values())
        return table
    blocks = []
    for cell in cells:
        block = Table.grid(padding=(0, 2))
        block.add_column(style="bold", no_wrap=True)
        block.add_column(overflow="fold")
        for key, value in cell.items():
            if key == "Last error" and not value:
                continue
            block.add_row(key, value)
        blocks.append(block)
        blocks.append("")
    if not blocks:
        return "No repositories are tracked. Start with: ghsync track OWNER/REPO"
    return Group(*blocks[:-1])


def status_line(status: RepositoryStatus) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    row = status.repository
    return f"{stamp} {row.full_name} {status.label} {row.sync_progress}% {row.sync_prs_completed}/{row.sync_prs_total} PRs"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def report_line(report: SyncReport) -> str:
    from ghsync.notify import format_duration  # one wording for durations, in mail and on the terminal

    cost = plural(report.graphql_points_spent, "GraphQL point")
    if report.outcome == "complete":
        if report.kind == "incremental" and report.prs_synced == 0:
            return f"{report.full_name}: up to date, nothing changed ({cost})"
        what = "updated" if report.kind == "incremental" else "synced"
        return (
            f"{report.full_name}: {what} {plural(report.prs_synced, 'PR')} and {plural(report.reviews_synced, 'review')} "
            f"in {format_duration(report.duration_seconds)} using {cost}"
        )
    if report.outcome == "rate_limited":
        return (
            f"{report.full_name}: stopped at the rate-limit threshold ({report.rate_limit_remaining} left) "
            f"after {report.prs_synced} PRs; resets at {local_time(report.rate_limit_reset_at)}. "
            "Run `ghsync sync` then (or `ghsync sync --wait` now) to resume."
        )
    return f"{report.full_name}: {report.outcome}"


def is_interactive(stream=None) -> bool:
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()
