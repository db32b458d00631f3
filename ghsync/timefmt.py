"""Pure time and wording helpers: ISO-8601 text in UTC, durations and plurals, one spelling each."""

from __future__ import annotations

from datetime import UTC, datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso(epoch: float) -> str:
    """Epoch seconds → GitHub's ISO-8601 UTC text (`2026-03-04T05:06:07Z`)."""
    return datetime.fromtimestamp(epoch, UTC).strftime(ISO_FORMAT)


def parse_iso(text: str) -> datetime:
    """ISO-8601 text → an aware datetime; a time without an offset is UTC. Raises ValueError."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def parse_iso_or_none(text: str | None) -> datetime | None:
    """Like parse_iso, but None for missing or unreadable text (display code never fails on it)."""
    if not text:
        return None
    try:
        return parse_iso(text)
    except (ValueError, OverflowError):
        return None


def epoch(text: str) -> float:
    """ISO-8601 text → epoch seconds. Raises ValueError."""
    return parse_iso(text).timestamp()


def now_iso() -> str:
    return datetime.now(UTC).strftime(ISO_FORMAT)


def duration(seconds: float) -> str:
    """A human duration: `0.4 s`, `42 s`, `3 min 12 s`, `2 h 5 min`, `3 days`."""
    if seconds < 0:
        seconds = 0.0
    if seconds < 1:
        return f"{seconds:.1f} s"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    if total < 3600:
        minutes, secs = divmod(total, 60)
        # Seconds are noise beyond ten minutes (a countdown, a reset "in 47 min").
        return f"{minutes} min {secs} s" if secs and minutes < 10 else f"{minutes} min"
    hours, rest = divmod(total, 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    minutes = rest // 60
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """`1 PR`, `2 PRs`, `1,234 reviews`."""
    return f"{count:,} {noun if count == 1 else (plural_form or noun + 's')}"
