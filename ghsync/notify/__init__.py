"""Email notifications when a sync run ends: settings, the message (pure), and SMTP delivery."""

from __future__ import annotations

from ghsync.notify.message import NOTIFY_ON_CHOICES, render_sync_email, should_notify
from ghsync.notify.settings import DEFAULT_PORTS, SmtpSettings, parse_recipients
from ghsync.notify.smtp import notify_sync_result, send_email, send_test_email

# `ghsync.render` still imports the old name; durations have one spelling, in ghsync.timefmt.
from ghsync.timefmt import duration as format_duration

__all__ = [
    "DEFAULT_PORTS",
    "NOTIFY_ON_CHOICES",
    "SmtpSettings",
    "format_duration",
    "notify_sync_result",
    "parse_recipients",
    "render_sync_email",
    "send_email",
    "send_test_email",
    "should_notify",
]
