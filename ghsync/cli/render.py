"""Terminal output of syncs and status: progress, tables, report lines, and `printable` for foreign text."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

from ghsync.cli.text import printable
from ghsync.models import Repository, RepositoryStatus, SyncStatus, Team
from ghsync.timefmt import duration, parse_iso_or_none

# rich is imported where it draws (~25 ms): a sync without a terminal only writes log lines.
if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Progress
    from rich.table import Table

    from ghsync.models import AccountRateLimit, RunPlan, SyncReport


def command_name() -> str:
    """`ghsync` as the user can type it again: `uv run ghsync` when run through `uv run` (uv sets UV),
    plain when the ghsync that runs is the one on PATH, else `python -m ghsync` with this interpreter."""
    import os
    import shlex
    import shutil
    from pathlib import Path

    # uv sets UV for what `uv run` starts, and puts the project's bin first on PATH only for that run:
    # finding ghsync on this PATH says nothing about the user's shell.
    if os.environ.get("UV"):
        return "uv run ghsync"
    found = shutil.which("ghsync")
    started = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if found and started is not None and started.name == "ghsync" and Path(found).resolve() == started.resolve():
        return "ghsync"
    return f"{shlex.quote(sys.executable)} -m ghsync"


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def stdout_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def local_time(text: str | None) -> str:
    moment = parse_iso_or_none(text)
    if moment is None:
        return "—"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def relative(text: str | None, now: float) -> str:
    moment = parse_iso_or_none(text)
    if moment is None:
        return ""
    delta = moment.timestamp() - now
    return f"in {duration(delta)}" if delta >= 0 else f"{duration(-delta)} ago"


def window_label(days_back: int | None) -> str:
    return "all" if days_back is None else f"{days_back} d"


def budget_is_stale(row: Repository, now: float) -> bool:
    """The stored budget was read before its reset, which has passed: the bucket has refilled since."""
    reset = parse_iso_or_none(row.rate_limit_reset_at)
    return reset is not None and reset.timestamp() <= now


def progress_words(row: Repository) -> str:
    """`syncing 48% (1470/3028 PRs)`; before the first page has told the total, no `0% (0/0 PRs)`."""
    if row.sync_prs_total == 0 and row.sync_prs_completed == 0:
        if row.sync_status == SyncStatus.SYNCING:
            return "syncing: started, counting PRs"
        if row.sync_status == SyncStatus.COMPLETE:
            return "complete, no PRs to fetch"
        # A stop before this sync wrote a page (the threshold, a fault): how many PRs it has is not known yet.
        return f"{row.sync_status}, no PRs written by this sync"
    return f"{row.sync_status} {row.sync_progress}% ({row.sync_prs_completed}/{row.sync_prs_total} PRs)"


class SyncProgressDisplay:
    """Shows a sync's stored progress fields: a rich bar on a terminal, timestamped lines otherwise."""

    def __init__(
        self, console: Console | None = None, *, interactive: bool, quiet: bool = False, log_every: float = 2.0
    ):
        # None: a console on stderr for the bar; log lines then go to stderr as plain text (no rich at all).
        self.console = console
        self.interactive = interactive and not quiet
        self.quiet = quiet
        self.log_every = log_every
        self._progress: Progress | None = None
        self._tasks: dict[str, Any] = {}
        self._last_log: dict[str, float] = {}
        self._last_line: dict[str, str] = {}
        # A run over several repositories: one bar for all (repositories and PRs done), see start_run.
        # Each repository of a run: (expected PRs, PRs done, status), the status None until it reports.
        self._run: dict[str, tuple[int, int, SyncStatus | None]] | None = None
        self._run_task: Any = None

    def __enter__(self) -> Self:
        if self.interactive:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.console = self.console or stderr_console()
            self._progress = Progress(
                # markup=False: the description is a repository name read from the database.
                TextColumn("{task.description}", style="bold", markup=False),
                BarColumn(),
                # The stored sync_progress, not rich's own rounding: the bar and `status` agree.
                TextColumn("{task.fields[percent]:>3}%"),
                MofNCompleteColumn(),
                TextColumn("PRs"),
                TextColumn("elapsed"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[note]}", markup=False),
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

    def start_run(self, plan: RunPlan) -> None:
        """From now on, one bar: repositories done/total and PRs done/total, naming the one being fetched."""
        self._run = {name: (expected, 0, None) for name, expected in plan.expected_prs.items()}
        self._run_percent = 0
        if self._progress is not None:
            self._run_task = self._progress.add_task(
                "", total=sum(plan.expected_prs.values()) or None, note="", percent=0
            )

    def _update_run(self, row: Repository) -> None:
        assert self._run is not None and self._progress is not None
        expected, _, _ = self._run.get(row.full_name, (0, 0, None))
        self._run[row.full_name] = (max(expected, row.sync_prs_total), row.sync_prs_completed, row.sync_status)
        total = sum(max(t, c) for t, c, _ in self._run.values())
        completed = sum(c for _, c, _ in self._run.values())
        statuses = [status for _, _, status in self._run.values()]
        finished = sum(1 for s in statuses if s in (SyncStatus.COMPLETE, SyncStatus.ERROR, SyncStatus.RATE_LIMITED))
        note = f"{finished}/{len(self._run)} repositories"
        if row.rate_limit_remaining is not None:
            note += f", budget {row.rate_limit_remaining}"
        # The run's share of PRs done (one rounding, here); each repository's own stays its stored sync_progress.
        # 100 only when every repository completed (a rate-limit stop or an error ends a run short of it); and it
        # never goes back when a repository's count turns out larger than the cheap check said (the PR counts
        # beside it are exact).
        all_complete = all(status == SyncStatus.COMPLETE for status in statuses)
        percent = 100 if all_complete and total else min(99, completed * 100 // total) if total else 0
        percent = self._run_percent = max(self._run_percent, percent)
        self._progress.update(
            self._run_task,
            description=printable(row.full_name),
            total=total or None,
            completed=completed,
            note=note,
            percent=percent,
        )

    def update(self, row: Repository) -> None:
        if self._run is not None and self._progress is not None:
            self._update_run(row)
            return
        name = printable(row.full_name)
        total = row.sync_prs_total
        completed = row.sync_prs_completed
        note = ""
        if row.rate_limit_remaining is not None and not budget_is_stale(row, time.time()):
            note = f"budget {row.rate_limit_remaining}"
        if self._progress is not None:
            if name not in self._tasks:
                self._tasks[name] = self._progress.add_task(
                    name, total=total or None, note=note, percent=row.sync_progress
                )
            if row.sync_status == SyncStatus.COMPLETE and max(total, completed) == 0:
                # Nothing to sync (an unchanged repository): no bar at all rather than a stuck one.
                self._progress.remove_task(self._tasks.pop(name))
                return
            self._progress.update(
                self._tasks[name],
                total=max(total, completed) or None,
                completed=completed,
                note=note,
                percent=row.sync_progress,
            )
            return
        line = f"{name}: {progress_words(row)}" + (f", GraphQL budget left {row.rate_limit_remaining}" if note else "")
        self._last_line[name] = line
        now = time.monotonic()
        last = self._last_log.get(name)
        if not self.quiet and (last is None or now - last >= self.log_every or row.sync_status != SyncStatus.SYNCING):
            self._log(line)
            self._last_log[name] = now
            self._last_line.pop(name, None)

    def wait(self, seconds: float, reset_at: str | None) -> None:
        """Sleep until a rate-limit reset, showing a countdown (or one log line without a terminal)."""
        message = f"rate limit reached: waiting {duration(seconds)} until {local_time(reset_at)}"
        if self._progress is None:
            if not self.quiet:
                self._log(message)
            time.sleep(seconds)
            return
        tasks = [*self._tasks.values(), *([self._run_task] if self._run_task is not None else [])]
        # Before any bar (an owner's listing, the heads check): a line of its own, or the wait would be silent.
        own = None if tasks else self._progress.add_task("GitHub", total=None, note="", percent=0)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            for task in tasks or [own]:
                self._progress.update(task, note=f"waiting for rate-limit reset: {duration(left)}")
            time.sleep(min(1.0, left))
        if own is not None:
            self._progress.remove_task(own)

    def _log(self, line: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.console is None:
            print(f"{stamp} {printable(line)}", file=sys.stderr, flush=True)
        else:
            self.console.print(f"{stamp} {printable(line)}", markup=False, highlight=False, soft_wrap=True)


def short_time(text: str | None, now: float) -> str:
    """Local HH:MM for today, the date otherwise: a table cell, not a log line."""
    moment = parse_iso_or_none(text)
    if moment is None:
        return "—"
    local = moment.astimezone()
    today = datetime.fromtimestamp(now).astimezone().date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%Y-%m-%d")


def prs_cell(status: RepositoryStatus) -> str:
    """Done/total while a sync is under way or stopped; once complete, or with no total yet, what the
    database holds (an incremental sync's own total is only the PRs that changed)."""
    row = status.repository
    if row.sync_status == SyncStatus.COMPLETE or row.sync_prs_total == 0:
        return f"{status.prs_stored:,} stored"
    return f"{row.sync_prs_completed:,}/{row.sync_prs_total:,}"


def _status_cells(status: RepositoryStatus, now: float) -> dict[str, str]:
    row = status.repository
    percent = row.sync_progress
    filled = percent // 10
    budget = "—"
    if row.rate_limit_remaining is not None and budget_is_stale(row, now):
        budget = f"refilled (reset {relative(row.rate_limit_reset_at, now)})"
    elif row.rate_limit_remaining is not None:
        budget = f"{row.rate_limit_remaining} left"
        if row.rate_limit_reset_at:
            budget += f", resets {short_time(row.rate_limit_reset_at, now)} ({relative(row.rate_limit_reset_at, now)})"
    return {
        "Repository": row.full_name,
        "Status": status.label,
        "Progress": "█" * filled + "░" * (10 - filled),
        "%": f"{percent}%",
        "PRs": prs_cell(status),
        "Last synced": relative(row.last_synced_at, now) or "never",
        "Rate limit": budget,
        "Window": window_label(row.days_back),
        "Started": short_time(row.sync_started_at, now),
        "Last error": row.last_error or "",
    }


# The table's columns, most useful first: narrower terminals drop them from the end. The repository,
# its status, percentage and PRs are always shown in full; a last error gets its own line below.
STATUS_COLUMNS = ("Repository", "Status", "%", "PRs", "Last synced", "Rate limit", "Window", "Started", "Progress")
STATUS_KEY_COLUMNS = 4
# In table order (the bar sits beside its percentage).
_COLUMN_ORDER = ("Repository", "Status", "Progress", "%", "PRs", "Window", "Started", "Last synced", "Rate limit")


def _status_grid(cells: list[dict[str, str]], columns: list[str], title: str = "Tracked repositories") -> Table:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    # Title and headers as Text, styled as rich styles a str: a str goes through markup and emoji codes,
    # whose table rich imports at first use (~2.5 ms of every `status`).
    table = Table(
        title=Text(title, style="table.title"), title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True
    )
    shown = [name for name in _COLUMN_ORDER if name in columns]
    for header in shown:
        table.add_column(Text(header), justify="right" if header in ("PRs", "%") else "left", no_wrap=True)
    for cell in cells:
        table.add_row(*(Text(printable(cell[header])) for header in shown))
    return table


def _natural_width(renderable: RenderableType) -> int:
    from rich.console import Console

    console = Console(width=10_000)
    return console.measure(renderable).maximum


def _widest_grid_that_fits(cells: list[dict[str, str]], width: int, title: str) -> Table | None:
    """The table with the most columns (from the front of STATUS_COLUMNS) that fits in `width`, or None.

    Each column only widens the table, so a bisection finds it: a piped status (80 columns) measured
    every candidate table from all nine columns down, each measurement a full layout."""
    table = _status_grid(cells, list(STATUS_COLUMNS), title)
    if _natural_width(table) <= width:
        return table  # a wide terminal: one measurement
    best = None
    low, high = STATUS_KEY_COLUMNS, len(STATUS_COLUMNS) - 1
    while low <= high:
        count = (low + high) // 2
        candidate = _status_grid(cells, list(STATUS_COLUMNS[:count]), title)
        if _natural_width(candidate) <= width:
            best, low = candidate, count + 1
        else:
            high = count - 1
    return best


def status_table(rows: list[RepositoryStatus], *, now: float, width: int = 120) -> RenderableType:
    """A table with as many columns as `width` holds (least useful dropped first), every last error on
    its own wrapped line below; one block per repository when even the key columns do not fit."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if not rows:
        return "No repositories tracked yet. Start with: ghsync track OWNER/REPO"
    cells = [_status_cells(row, now) for row in rows]
    untracked = {row.repository.full_name for row in rows if row.repository.sync_status == SyncStatus.UNTRACKED}
    errors: list[RenderableType] = [
        Text(
            # An untracked repository's last_error is why it is untracked (archived, filtered out, by hand).
            printable(
                f"{cell['Repository']}: {'untracked' if cell['Repository'] in untracked else 'last error'}: "
                f"{cell['Last error']}"
            ),
            overflow="fold",
        )
        for cell in cells
        if cell["Last error"]
    ]
    title = "Repositories, untracked ones too" if untracked else "Tracked repositories"
    table = _widest_grid_that_fits(cells, width, title)
    if table is not None:
        return Group(table, *errors) if errors else table
    blocks: list[RenderableType] = []
    for cell in cells:
        block = Table.grid(padding=(0, 2))
        block.add_column(style="bold", no_wrap=True)
        block.add_column(overflow="fold")
        for key, value in cell.items():
            if key == "Last error" and not value or key == "Progress":
                continue
            block.add_row(Text(key), Text(printable(value)))
        blocks.append(block)
        blocks.append("")
    return Group(*blocks[:-1])


def status_line(status: RepositoryStatus) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    row = status.repository
    return printable(f"{stamp} {row.full_name} {status.label} {row.sync_progress}% {prs_cell(status)} PRs")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


# What to do after a stop at the rate-limit threshold, said once for one repository or many.
RESUME_ADVICE = "Run `ghsync sync` then (or `ghsync sync --wait` now) to resume."


def report_line(report: SyncReport) -> str:
    """One line for people saying what a sync did, printable as it is."""
    return printable(_report_text(report))


def _report_text(report: SyncReport) -> str:
    cost = plural(report.graphql_points_spent, "GraphQL point")
    if report.outcome == "complete":
        if report.kind == "incremental" and report.prs_synced == 0:
            return f"{report.full_name}: up to date, nothing changed ({cost})"
        what = "updated" if report.kind == "incremental" else "synced"
        return (
            f"{report.full_name}: {what} {plural(report.prs_synced, 'PR')} and {plural(report.reviews_synced, 'review')} "
            f"in {duration(report.duration_seconds)} using {cost}"
        )
    if report.outcome == "rate_limited":
        return (
            f"{report.full_name}: stopped at the rate-limit threshold ({report.rate_limit_remaining} left) "
            f"after {report.prs_synced} PRs; resets at {local_time(report.rate_limit_reset_at)}. {RESUME_ADVICE}"
        )
    return f"{report.full_name}: {report.outcome}"


def rate_limit_table(rows: list[AccountRateLimit], *, now: float) -> Table:
    """One row per account and bucket; the account is the login GitHub sent, shown as text."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="GitHub rate limits", title_justify="left")
    for header in ("Account", "Bucket", "Remaining", "Limit", "Resets"):
        table.add_column(header)
    for row in rows:
        if row.rejected:
            cells = (row.account, row.resource, "—", "—", "—")
        else:
            resets = f"{local_time(row.reset_at)} ({relative(row.reset_at, now)})" if row.reset_at else "no limit"
            remaining = str(row.remaining) if row.remaining is not None else "∞"
            cells = (row.account, row.resource, remaining, str(row.limit or "—"), resets)
        table.add_row(*(Text(printable(cell)) for cell in cells))
    return table


def watch_status(console: Console, statuses: Callable[[], list[RepositoryStatus]], *, interval: float) -> None:
    """Redraw the status table in place until no repository is syncing (a terminal); one line per
    repository per redraw otherwise (piped or logged)."""
    if not console.is_terminal:
        while True:
            rows = statuses()
            for row in rows:
                console.print(status_line(row), markup=False, highlight=False, soft_wrap=True)
            if not any(row.label == "syncing" for row in rows):
                return
            time.sleep(interval)
    from rich.live import Live

    with Live(console=console, auto_refresh=False) as live:
        while True:
            rows = statuses()
            live.update(status_table(rows, now=time.time(), width=console.width), refresh=True)
            if not any(row.label == "syncing" for row in rows):
                return
            time.sleep(interval)


def is_interactive(stream=None) -> bool:
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()


def coverage_note(weeks: int, coverage_start: str | None, repository: str | None, hint: str | None) -> str:
    """The stderr line when weeks before the synced data's coverage were left out."""
    plural = "week" if weeks == 1 else "weeks"
    of = f" of {repository}" if repository else ""
    since = f" (the data{of} is complete only from {coverage_start})" if coverage_start else ""
    widen = f"; to include them, widen the window: {hint}" if hint else ""
    return f"{weeks} earlier {plural} left out{since}{widen}"


def not_synced_note(weeks: int, synced_through: str | None, repository: str | None) -> str:
    """The stderr line when past weeks are not complete because a repository was last synced before they ended."""
    ended = "week ended" if weeks == 1 else "weeks ended"
    return (
        f"{weeks} past {ended} after {repository} was last synced ({synced_through}): marked not complete "
        f"(so far) until `ghsync sync` brings it up to date"
    )


def teams_table(teams: Sequence[Team]) -> Table:
    """Each team: its name, where it comes from, its members and its repositories."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Teams", box=None, header_style="bold", pad_edge=False)
    for column in ("Team", "Source", "Members", "Repositories"):
        table.add_column(column, overflow="fold")
    for team in teams:
        members = "anyone" if team.members is None else ", ".join(team.members) or "(none)"
        repos = "every tracked repository" if team.repos is None else ", ".join(team.repos)
        table.add_row(*(Text(printable(cell)) for cell in (team.name, team.source, members, repos)))
    if not teams:
        # Text, not a str: rich would read `[teams.NAME]` as markup and drop it.
        table.caption = Text("no teams: add [teams.NAME] to the config file or run `ghsync team import ORG/SLUG`")
    return table


def rate_limited_line(reports: list[SyncReport]) -> str:
    """Repositories of one run stopped at the threshold (one budget): one line, whatever their number."""
    if len(reports) == 1:
        return report_line(reports[0])
    names = ", ".join(report.full_name for report in reports[:3])
    more = f" and {len(reports) - 3} more" if len(reports) > 3 else ""
    last = reports[-1]
    return printable(
        f"{len(reports)} repositories stopped at the rate-limit threshold ({last.rate_limit_remaining} left): "
        f"{names}{more}; resets at {local_time(last.rate_limit_reset_at)}. {RESUME_ADVICE}"
    )


def unchanged_line(names: list[str]) -> str:
    """Repositories a cheap check found unchanged: one line, whatever their number."""
    if len(names) == 1:
        return printable(f"{names[0]}: unchanged since the last sync")
    return printable(f"{len(names)} repositories unchanged since the last sync")


def untracked_line(untracked: list[tuple[str, str]]) -> str:
    """Repositories an owner no longer tracks (not errors: their data is kept), in one line."""
    shown = "; ".join(f"{name} ({reason})" for name, reason in untracked[:3])
    more = f"; and {len(untracked) - 3} more" if len(untracked) > 3 else ""
    count = "1 repository is" if len(untracked) == 1 else f"{len(untracked)} repositories are"
    return printable(f"{count} no longer tracked, data kept: {shown}{more} (see `ghsync status --all`)")


# Above this many repositories, `status` summarises per owner (and lists only those needing attention).
SUMMARY_ABOVE = 20


def owner_summary(rows: list[RepositoryStatus], *, now: float, width: int = 120):
    """One line per owner (counts per status, PRs stored, the lowest budget seen), then a table of the
    repositories that are syncing, interrupted, rate-limited or in error."""
    from rich.console import Group
    from rich.text import Text

    by_owner: dict[str, list[RepositoryStatus]] = {}
    for row in rows:
        by_owner.setdefault(row.repository.owner, []).append(row)
    lines: list[RenderableType] = []
    for owner, members in sorted(by_owner.items(), key=lambda item: item[0].lower()):
        counts: dict[str, int] = {}
        for member in members:
            counts[member.label] = counts.get(member.label, 0) + 1
        statuses = ", ".join(f"{count} {label}" for label, count in sorted(counts.items()))
        prs = sum(member.prs_stored for member in members)
        # A budget whose reset has passed is full again (the table says `refilled`): not the lowest left.
        budgets = [
            m.repository
            for m in members
            if m.repository.rate_limit_remaining is not None and not budget_is_stale(m.repository, now)
        ]
        budget = ""
        if budgets:
            lowest = min(budgets, key=lambda r: r.rate_limit_remaining or 0)
            budget = f"; budget {lowest.rate_limit_remaining:,} left"
            if lowest.rate_limit_reset_at:
                budget += f", resets {short_time(lowest.rate_limit_reset_at, now)}"
        repositories = f"{len(members)} repositor{'y' if len(members) == 1 else 'ies'}"
        lines.append(Text(printable(f"{owner}: {repositories} ({statuses}); {prs:,} PRs{budget}")))
    attention = [row for row in rows if row.label in ("syncing", "interrupted", "rate_limited", "error")]
    if attention:
        lines.append("")
        lines.append(status_table(attention, now=now, width=width))
    lines.append(Text("Every repository: ghsync status --all (or ghsync status OWNER)"))
    return Group(*lines)
