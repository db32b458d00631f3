"""Email notifications: tell the user when a sync run ends.

Everything here is built so that email can never harm a sync:

* `SmtpSettings` holds the SMTP configuration (the password is a SecretStr and never printed);
* `render_sync_email` turns a `SyncReport` into a plain-text + HTML message (pure: no clock, no I/O);
* `send_email` is the only place that talks to smtplib; every failure becomes one precise
  `NotifyError` line that never contains the password;
* `notify_sync_result` renders and sends and never raises: it returns a warning line instead;
* `should_notify` is the policy deciding which run outcomes are worth an email.
"""

from __future__ import annotations

import email.utils
import html
import os.path
import re
import shlex
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from ghsync.errors import NotifyError
from ghsync.models import SyncReport

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

Security = Literal["starttls", "ssl", "none"]

#: The port used when `SmtpSettings.port` is not given, by `security`.
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}

#: The words `should_notify` understands in `notify_on` (besides the always-on initial completion).
NOTIFY_ON_CHOICES: frozenset[str] = frozenset({"update", "rate_limited", "error"})


# --------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------

# One dot-atom: no whitespace, control characters, specials, or dots (dots separate atoms).
_ATOM = r"[^\s\x00-\x1f\x7f@<>()\[\],;:\"\\.]+"
_ADDRESS_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _check_address(address: str) -> str:
    """Return `address` if it is a bare `name@domain` address; raise ValueError saying why not."""
    if _ADDRESS_RE.fullmatch(address):
        return address
    hint = "expected name@domain, e.g. alice@example.com"
    if "<" in address or ">" in address:
        hint = "write the bare address (name@domain), without a display name or <>"
    elif any(ch.isspace() for ch in address):
        hint = "addresses cannot contain spaces; separate several with commas"
    raise ValueError(f"invalid email address {address!r}: {hint}")


def parse_recipients(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Parse recipients given as a comma-separated string or a list of strings (each may hold commas).

    Blank entries are dropped, duplicates (case-insensitively) removed, order kept. Raises
    ValueError with a one-line message naming the first invalid address.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        parts: list[str] = value.split(",")
    else:
        parts = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"invalid email address {item!r}: expected text")
            parts.extend(item.split(","))
    found: list[str] = []
    seen: set[str] = set()
    for part in parts:
        address = part.strip()
        if not address:
            continue
        _check_address(address)
        if address.lower() not in seen:
            seen.add(address.lower())
            found.append(address)
    return tuple(found)


def _local_hostname() -> str:
    try:
        name = socket.getfqdn()
    except OSError:  # pragma: no cover - getfqdn swallows resolver errors itself
        name = ""
    return name or "localhost"


def _value_error(message: str) -> PydanticCustomError:
    # A custom error keeps pydantic's "Value error, " prefix out of the message the config layer shows.
    return PydanticCustomError("value_error", "{reason}", {"reason": message})


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


class SmtpSettings(BaseModel):
    """How to reach the SMTP server. `enabled` is False until `host` is set.

    `port` defaults by `security` (587 starttls, 465 ssl, 25 none). `from_addr` defaults to
    `ghsync@<fully-qualified local host name>` once `host` is set. `default_recipients` accepts
    a comma-separated string. `ca_file` is an extra CA bundle trusted on top of the system's
    (a private relay's or a test server's self-signed CA). Validation inputs are never echoed
    in errors, so a mistyped password cannot end up in a message.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    host: str | None = None
    # `security` precedes `port` so that the port default can depend on it.
    security: Security = "starttls"
    port: int | None = Field(default=None, ge=1, le=65535, validate_default=True)
    user: str | None = None
    password: SecretStr | None = None
    from_addr: str | None = Field(default=None, validate_default=True)
    default_recipients: tuple[str, ...] = ()
    timeout: float = Field(default=10, gt=0)
    ca_file: str | None = None

    @field_validator("host", "user", "from_addr", "ca_file", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("password", mode="before")
    @classmethod
    def _blank_password_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and value == "":
            return None
        if isinstance(value, SecretStr) and value.get_secret_value() == "":
            return None
        return value

    @field_validator("host")
    @classmethod
    def _bare_host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "://" in value:
            raise _value_error(f"expected a host name such as smtp.example.com, not a URL ({value!r})")
        if any(ch.isspace() for ch in value) or _CONTROL_RE.search(value):
            raise _value_error(f"invalid host name {value!r}: it contains spaces or control characters")
        name, colon, port = value.rpartition(":")
        if colon and name.count(":") == 0 and port.isdigit():
            raise _value_error(f"give the port separately, not in the host name ({value!r})")
        return value

    @field_validator("security", mode="before")
    @classmethod
    def _normalise_security(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            if value not in DEFAULT_PORTS:
                raise _value_error(f"unknown security {value!r}: expected one of starttls, ssl, none")
        return value

    @field_validator("port")
    @classmethod
    def _default_port(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None:
            security = info.data.get("security")
            return DEFAULT_PORTS.get(security) if security else None
        return value

    @field_validator("from_addr")
    @classmethod
    def _sender(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return f"ghsync@{_local_hostname()}" if info.data.get("host") else None
        if _CONTROL_RE.search(value):
            raise _value_error("invalid sender address: it contains control characters")
        _name, address = email.utils.parseaddr(value)
        try:
            _check_address(address or value)
        except ValueError:
            raise _value_error(
                f"invalid sender address {value!r}: expected name@domain or 'Name <name@domain>'"
            ) from None
        return value

    @field_validator("default_recipients", mode="before")
    @classmethod
    def _recipients(cls, value: Any) -> Any:
        if value is None or isinstance(value, (str, list, tuple, set, frozenset)):
            try:
                return parse_recipients(value)
            except ValueError as error:
                raise _value_error(str(error)) from None
        return value

    @field_validator("ca_file")
    @classmethod
    def _expand_ca_file(cls, value: str | None) -> str | None:
        return os.path.expanduser(value) if value else None

    @property
    def enabled(self) -> bool:
        """True when a host is configured: email notifications are on."""
        return self.host is not None

    def describe(self) -> str:
        """One line naming host, port, security and user — never the password."""
        user = repr(self.user) if self.user else "(none)"
        text = f"host {self.host}, port {self.port}, security {self.security}, user {user}"
        if self.ca_file:
            text += f", CA file {self.ca_file}"
        return text


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _n(value: int) -> str:
    return f"{value:,}"


def _count(value: int, singular: str, plural: str | None = None) -> str:
    return f"{value:,} {singular if value == 1 else (plural or singular + 's')}"


def _one_line(text: str) -> str:
    """Make untrusted text safe for a header: no CR/LF or other control characters."""
    return " ".join(_CONTROL_RE.sub(" ", text).split())


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text), tz=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _format_time(value: str | None) -> str:
    parsed = _parse_time(value)
    if parsed is None:
        return value or "unknown"
    return parsed.strftime("%Y-%m-%d %H:%M:%S UTC")


def _format_resume(reset_at: str | None, finished_at: str) -> str | None:
    """`14:05 UTC`, or `2024-05-02 14:05 UTC` when the reset falls on another day than the run's end."""
    reset = _parse_time(reset_at)
    if reset is None:
        return _one_line(reset_at) if reset_at else None
    finished = _parse_time(finished_at)
    if finished is not None and finished.date() == reset.date():
        return reset.strftime("%H:%M UTC")
    return reset.strftime("%Y-%m-%d %H:%M UTC")


def format_duration(seconds: float) -> str:
    """Human duration: `0.4 s`, `42 s`, `3 min 12 s`, `2 h 5 min`."""
    if seconds < 0:
        seconds = 0.0
    if seconds < 1:
        return f"{seconds:.1f} s"
    total = int(round(seconds))
    if total < 60:
        return f"{total} s"
    if total < 3600:
        minutes, secs = divmod(total, 60)
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, rest = divmod(total, 3600)
    minutes = rest // 60
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _window(days_back: int | None) -> str:
    if days_back is None:
        return "full history"
    return f"last {_count(days_back, 'day')}"


def _subject(report: SyncReport) -> str:
    name = _one_line(report.full_name)
    if report.outcome == "complete":
        if report.kind == "incremental":
            return (
                f"ghsync: {name} updated — {_count(report.prs_synced, 'PR')} changed, "
                f"{_n(report.prs_total)} total"
            )
        return f"ghsync: {name} synced — {_count(report.prs_total, 'PR')}"
    if report.outcome == "rate_limited":
        resume = _format_resume(report.rate_limit_reset_at, report.finished_at)
        return f"ghsync: {name} rate-limited — " + (f"resumes at {resume}" if resume else "resumes later")
    if report.outcome == "error":
        return f"ghsync: {name} sync failed"
    return f"ghsync: {name} sync {report.outcome}"


def _intro(report: SyncReport) -> str:
    name = report.full_name
    if report.outcome == "complete":
        if report.kind == "incremental":
            return f"ghsync updated {name}: {_count(report.prs_synced, 'pull request')} added or changed."
        return (
            f"The initial sync of {name} is complete: "
            f"{_count(report.prs_total, 'pull request')} in the database."
        )
    if report.outcome == "rate_limited":
        resume = _format_resume(report.rate_limit_reset_at, report.finished_at)
        when = f"after {resume}" if resume else "after the rate limit resets"
        return (
            f"ghsync paused the sync of {name} because the GitHub API budget ran low. "
            f"The next run {when} continues where this one stopped."
        )
    if report.outcome == "error":
        return f"The sync of {name} failed."
    return f"The sync of {name} ended with status {report.outcome}."


def _outcome_label(report: SyncReport) -> str:
    kind = f"{report.kind} sync"
    return {
        "complete": f"complete ({kind})",
        "rate_limited": f"rate-limited ({kind}, will resume)",
        "error": f"failed ({kind})",
    }.get(report.outcome, f"{report.outcome} ({kind})")


def _rows(report: SyncReport) -> list[tuple[str, str]]:
    rows = [
        ("Repository", report.full_name),
        ("Outcome", _outcome_label(report)),
        ("Window", _window(report.days_back)),
        ("PRs synced", _n(report.prs_synced)),
        ("Reviews synced", _n(report.reviews_synced)),
        ("PRs in database", _n(report.prs_total)),
        ("Duration", format_duration(report.duration_seconds)),
        (
            "API budget spent",
            f"{_count(report.graphql_points_spent, 'GraphQL point')}, "
            f"{_count(report.rest_calls_spent, 'REST call')}",
        ),
    ]
    if report.rate_limit_remaining is not None:
        rows.append(("Rate limit left", _n(report.rate_limit_remaining)))
    rows.append(("Started", _format_time(report.started_at)))
    rows.append(("Finished", _format_time(report.finished_at)))
    if report.rate_limit_reset_at:
        rows.append(("Rate limit resets", _format_time(report.rate_limit_reset_at)))
    if report.error:
        rows.append(("Reason" if report.outcome == "rate_limited" else "Error", report.error))
    return rows


def _metrics_command(full_name: str, db_path: str | None) -> str:
    command = f"ghsync metrics {shlex.quote(full_name)}"
    if db_path is not None:
        command += f" --db {shlex.quote(str(db_path))}"
    return command


def _plain_body(intro: str, rows: list[tuple[str, str]], command: str) -> str:
    width = max(len(label) for label, _ in rows) + 2
    lines = [intro, ""]
    for label, value in rows:
        value_lines = value.splitlines() or [""]
        lines.append(f"{label + ':':<{width}}{value_lines[0]}")
        lines.extend(" " * width + more for more in value_lines[1:])
    lines += ["", "See the metrics:", f"  {command}", "", "-- ", "Sent by ghsync."]
    return "\n".join(lines) + "\n"


def _html_body(subject: str, intro: str, rows: list[tuple[str, str]], command: str) -> str:
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
        "  <p>See the metrics:<br>\n"
        '  <code style="background:#f6f8fa;padding:2px 4px">'
        f"{e(command)}</code></p>\n"
        '  <p style="color:#57606a;font-size:12px">Sent by ghsync.</p>\n'
        "</body></html>\n"
    )


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

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    # RFC 3834: an automatic message; tells vacation responders not to answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_plain_body(intro, rows, command), cte="quoted-printable")
    message.add_alternative(_html_body(subject, intro, rows, command), subtype="html", cte="quoted-printable")
    return message


# --------------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------------

SmtpFactory = Callable[..., smtplib.SMTP]

_PHASES = {
    "connect": "connecting",
    "starttls": "STARTTLS",
    "login": "login",
    "send": "sending the message",
}

# OpenSSL verify codes where trusting the issuer (ca_file) is the usual fix.
_UNTRUSTED_ISSUER_CODES = {18, 19, 20, 21}


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _reply(code: int | None, text: bytes | str | None) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join((text or "").split())
    return f"{code} {text}".strip() if code is not None else text


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.ca_file:
        try:
            context.load_verify_locations(cafile=settings.ca_file)
        except ssl.SSLError as error:
            reason = (error.reason or "unreadable").lower().replace("_", " ")
            raise NotifyError(f"cannot load CA file {settings.ca_file}: {reason} (expected PEM certificates)") from None
        except OSError as error:
            reason = error.strerror or str(error)
            raise NotifyError(f"cannot load CA file {settings.ca_file}: {reason}") from None
    return context


def _address_domain(header_value: str | None) -> str:
    _name, address = email.utils.parseaddr(header_value or "")
    domain = address.rpartition("@")[2]
    return domain if domain and _CONTROL_RE.search(domain) is None else "localhost"


def _prepare_headers(message: EmailMessage, settings: SmtpSettings) -> None:
    if message["From"] is None:
        if not settings.from_addr:
            raise NotifyError("no sender address: set from_addr")
        message["From"] = settings.from_addr
    if message["To"] is None and message["Cc"] is None and message["Bcc"] is None:
        raise NotifyError("the message has no recipients")
    if message["Date"] is None:
        message["Date"] = email.utils.formatdate(usegmt=True)
    if message["Message-ID"] is None:
        message["Message-ID"] = email.utils.make_msgid("ghsync", domain=_address_domain(message["From"]))


def _describe_failure(error: BaseException, phase: str, settings: SmtpSettings, where: str) -> str:
    during = _PHASES.get(phase, phase)
    user = settings.user
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return _refused_text(error.recipients)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return f"SMTP login refused for user {user!r} ({_reply(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPNotSupportedError) and phase == "login":
        hint = " (many servers offer it only over TLS: try security=starttls)" if settings.security == "none" else ""
        return f"server {where} does not offer SMTP AUTH, so user {user!r} cannot log in{hint}"
    if isinstance(error, smtplib.SMTPSenderRefused):
        hint = ""
        reply_text = _reply(None, error.smtp_error).lower()
        if error.smtp_code == 530 and "starttls" in reply_text:
            hint = "; the server requires STARTTLS: use security=starttls"
        elif error.smtp_code == 530 and not user:
            hint = "; the server requires login: set user and password"
        return f"sender rejected: {error.sender} ({_reply(error.smtp_code, error.smtp_error)}){hint}"
    if isinstance(error, smtplib.SMTPDataError):
        return f"message rejected by {where} ({_reply(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPConnectError):
        return f"cannot connect to {where}: the server refused the session ({_reply(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPHeloError):
        return f"{where} rejected EHLO/HELO ({_reply(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        if phase == "connect" and settings.security != "ssl":
            return (
                f"cannot connect to {where}: the server closed the connection before its greeting "
                "(if it expects implicit TLS, use security=ssl)"
            )
        return f"{where} closed the connection unexpectedly while {during}"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"SMTP error from {where} during {during}: {_reply(error.smtp_code, error.smtp_error)}"
    if isinstance(error, smtplib.SMTPException):
        text = str(error).rstrip(".") or type(error).__name__
        if phase == "login":
            return f"SMTP login for user {user!r} failed: {text}"
        return f"SMTP error from {where} during {during}: {text}"
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = error.verify_message or error.reason or "unknown reason"
        hint = ""
        if error.verify_code in _UNTRUSTED_ISSUER_CODES:
            hint = " (set ca_file to trust a private or self-signed CA)"
        return f"TLS handshake with {where} failed: certificate verify failed: {detail}{hint}"
    if isinstance(error, ssl.SSLError):
        reason = (error.reason or str(error)).lower().replace("_", " ")
        if phase in ("connect", "starttls"):
            hint = ""
            if error.reason == "WRONG_VERSION_NUMBER" and settings.security == "ssl":
                hint = f" (port {settings.port} seems to expect plain SMTP, perhaps with STARTTLS: try security=starttls)"
            return f"TLS handshake with {where} failed: {reason}{hint}"
        return f"TLS error with {where} while {during}: {reason}"
    if isinstance(error, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
        hint = ""
        if phase == "connect" and settings.security != "ssl" and settings.port == 465:
            hint = " (port 465 usually needs security=ssl)"
        if phase == "connect":
            return f"cannot connect to {where}: timed out after {settings.timeout:g} s{hint}"
        return f"{where} timed out after {settings.timeout:g} s while {during}"
    if isinstance(error, socket.gaierror):
        return f"cannot connect to {where}: cannot resolve host name {settings.host!r} ({error.strerror or error})"
    if isinstance(error, OSError):
        text = error.strerror or str(error) or type(error).__name__
        if phase == "connect":
            return f"cannot connect to {where}: {text}"
        return f"connection to {where} failed while {during}: {text}"
    if isinstance(error, UnicodeError) and phase == "login":
        return f"SMTP login for user {user!r} failed: the user name or password has non-ASCII characters"
    return f"unexpected {type(error).__name__} while {during} with {where}: {error}"


def _refused_text(refused: dict[str, tuple[int, bytes]]) -> str:
    parts = [f"{address} ({_reply(code, text)})" for address, (code, text) in refused.items()]
    noun = "recipient" if len(parts) == 1 else "recipients"
    return f"{noun} rejected: " + ", ".join(parts)


def _scrub(text: str, settings: SmtpSettings) -> str:
    if settings.password is not None:
        secret = settings.password.get_secret_value()
        if secret:
            text = text.replace(secret, "***")
    return text


def send_email(settings: SmtpSettings, message: EmailMessage, *, smtp_factory: SmtpFactory | None = None) -> None:
    """Deliver `message` with the configured SMTP server; the only place ghsync calls smtplib.

    `security="ssl"` connects with implicit TLS (SMTP_SSL); `"starttls"` requires the server to
    offer STARTTLS and upgrades before anything else is sent (never falls back to clear text);
    `"none"` sends in clear. Certificates are verified against the system CAs plus `ca_file`.
    Logs in when `user` is set. Adds `Date` and `Message-ID` to `message` if missing.

    `smtp_factory` replaces `smtplib.SMTP` / `smtplib.SMTP_SSL`; it is called as
    `smtp_factory(host, port, timeout=...)`, plus `context=` for `security="ssl"`.

    Raises NotifyError with one line saying what failed; the password never appears in it.
    Partially refused recipients also raise (naming them) although the others got the message.
    """
    if not settings.enabled or settings.host is None or settings.port is None:
        raise NotifyError("SMTP is not configured: no host set")
    host, port = settings.host, settings.port
    where = _where(host, port)
    context = _tls_context(settings) if settings.security != "none" else None
    _prepare_headers(message, settings)

    phase = "connect"
    smtp: Any = None
    polite = False  # whether the session is healthy enough for QUIT
    try:
        try:
            if settings.security == "ssl":
                smtp = (smtp_factory or smtplib.SMTP_SSL)(host, port, timeout=settings.timeout, context=context)
            else:
                smtp = (smtp_factory or smtplib.SMTP)(host, port, timeout=settings.timeout)
            polite = True
            if settings.security == "starttls":
                phase = "starttls"
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise NotifyError(
                        f"server {where} does not support STARTTLS; refusing to send in clear text "
                        "(use security=ssl for implicit TLS, or security=none to allow clear text)"
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.user:
                phase = "login"
                password = settings.password.get_secret_value() if settings.password else ""
                smtp.login(settings.user, password)
            phase = "send"
            refused = smtp.send_message(message)
        except NotifyError:
            raise
        except (smtplib.SMTPException, OSError, ssl.SSLError, socket.timeout, UnicodeError) as error:
            polite = isinstance(error, smtplib.SMTPResponseException) and not isinstance(
                error, smtplib.SMTPServerDisconnected
            )
            # `from None`: the cause could carry login details; the line below says everything needed.
            raise NotifyError(_scrub(_describe_failure(error, phase, settings, where), settings)) from None
        if refused:
            raise NotifyError(
                _scrub(_refused_text(refused), settings)
                + f"; delivered to {_count(_recipient_count(message) - len(refused), 'other recipient')}"
            )
    finally:
        if smtp is not None:
            _close(smtp, polite)


def _recipient_count(message: EmailMessage) -> int:
    values = [str(v) for field in ("To", "Cc", "Bcc") for v in (message.get_all(field) or [])]
    return len(email.utils.getaddresses(values))


def _close(smtp: Any, polite: bool) -> None:
    try:
        if polite:
            smtp.quit()
    except Exception:  # noqa: BLE001 - the mail was already sent or the failure already reported
        pass
    finally:
        try:
            smtp.close()
        except Exception:  # noqa: BLE001
            pass


# --------------------------------------------------------------------------------------------
# Policy and entry points
# --------------------------------------------------------------------------------------------


def should_notify(outcome: str, kind: str, notify_on: set[str] | frozenset[str]) -> bool:
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
    if outcome == "complete":
        if kind == "initial":
            return True
        return kind == "incremental" and "update" in notify_on
    if outcome in ("rate_limited", "error"):
        return outcome in notify_on
    return False


def notify_sync_result(
    settings: SmtpSettings,
    report: SyncReport,
    *,
    recipients: Sequence[str] | None,
    db_path: str | None = None,
    send: Callable[[SmtpSettings, EmailMessage], None] = send_email,
) -> str | None:
    """Email the outcome of a sync run; never raises.

    `recipients=None` means `settings.default_recipients`. Does nothing (returns None) when SMTP
    is not configured or there is nobody to write to. Returns None once sent, or the one-line
    warning `email not sent: <reason>` for the caller to print; the sync's outcome and exit
    code are untouched either way.
    """
    try:
        if not settings.enabled:
            return None
        try:
            to = settings.default_recipients if recipients is None else parse_recipients(recipients)
        except ValueError as error:
            return f"email not sent: {error}"
        if not to:
            return None
        message = render_sync_email(report, recipients=to, sender=settings.from_addr or "", db_path=db_path)
        send(settings, message)
    except NotifyError as error:
        return _scrub(f"email not sent: {error}", settings)
    except Exception as error:  # noqa: BLE001 - email must never break a sync
        return _scrub(f"email not sent: unexpected {type(error).__name__}: {_one_line(str(error))}", settings)
    return None


def send_test_email(settings: SmtpSettings, *, to: Sequence[str]) -> None:
    """Send a short test message (for `ghsync notify test` or similar); raises NotifyError on failure.

    An empty `to` falls back to `settings.default_recipients`.
    """
    if not settings.enabled:
        raise NotifyError("SMTP is not configured: set the SMTP host first")
    try:
        recipients = parse_recipients(to) or settings.default_recipients
    except ValueError as error:
        raise NotifyError(str(error)) from None
    if not recipients:
        raise NotifyError("no recipients: give an address or set default recipients")
    message = EmailMessage()
    message["Subject"] = "ghsync test message"
    message["From"] = settings.from_addr or f"ghsync@{_local_hostname()}"
    message["To"] = ", ".join(recipients)
    message["Auto-Submitted"] = "auto-generated"
    user = settings.user or "(none)"
    lines = [
        "This is a ghsync test message. If you can read it, ghsync can email you when a sync ends.",
        "",
        "Settings used:",
        f"  host:     {settings.host}",
        f"  port:     {settings.port}",
        f"  security: {settings.security}",
        f"  user:     {user}",
        f"  from:     {message['From']}",
    ]
    if settings.ca_file:
        lines.append(f"  CA file:  {settings.ca_file}")
    message.set_content("\n".join(lines) + "\n", cte="quoted-printable")
    send_email(settings, message)
