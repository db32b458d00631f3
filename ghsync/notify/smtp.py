"""Delivering email: the only module using smtplib, ssl and sockets; every failure becomes one safe line."""

from __future__ import annotations

import base64
import contextlib
import email.utils
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Any

from ghsync.errors import NotifyError, PartlyDelivered
from ghsync.models import SyncReport
from ghsync.notify.message import one_line, render_run_email, render_sync_email
from ghsync.notify.settings import CONTROL_CHARS, SmtpSettings, parse_recipients
from ghsync.timefmt import plural

__all__ = ["SmtpFactory", "local_hostname", "notify_run_result", "notify_sync_result", "send_email", "send_test_email"]


def local_hostname() -> str:
    """This machine's fully-qualified name (for the default sender), or `localhost`."""
    try:
        name = socket.getfqdn()
    except OSError:  # pragma: no cover - getfqdn swallows resolver errors itself
        name = ""
    return name or "localhost"


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
    return domain if domain and CONTROL_CHARS.search(domain) is None else "localhost"


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
    if phase == "login" and isinstance(error, smtplib.SMTPResponseException):
        # Never the server's text: some echo the AUTH exchange, i.e. the password in base64.
        return f"SMTP authentication failed for user {user!r} ({error.smtp_code})"
    if isinstance(error, smtplib.SMTPNotSupportedError) and phase == "login":
        hint = (
            " (many servers offer it only over TLS: try GHSYNC_SMTP_SECURITY=starttls)"
            if settings.security == "none"
            else ""
        )
        return f"server {where} does not offer SMTP AUTH, so user {user!r} cannot log in{hint}"
    if isinstance(error, smtplib.SMTPSenderRefused):
        hint = ""
        reply_text = _reply(None, error.smtp_error).lower()
        if error.smtp_code == 530 and "starttls" in reply_text:
            hint = "; the server requires STARTTLS: use GHSYNC_SMTP_SECURITY=starttls"
        elif error.smtp_code == 530 and not user:
            hint = "; the server requires login: set user and password"
        return f"sender rejected: {error.sender} ({_reply(error.smtp_code, error.smtp_error)}){hint}"
    if isinstance(error, smtplib.SMTPDataError):
        return f"message rejected by {where} ({_reply(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPConnectError):
        return (
            f"cannot connect to {where}: the server refused the session ({_reply(error.smtp_code, error.smtp_error)})"
        )
    if isinstance(error, smtplib.SMTPHeloError):
        return f"{where} rejected EHLO/HELO ({_reply(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        if phase == "connect" and settings.security != "ssl":
            return (
                f"cannot connect to {where}: the server closed the connection before its greeting "
                "(if it expects implicit TLS, use GHSYNC_SMTP_SECURITY=ssl)"
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
                hint = f" (port {settings.port} seems to expect plain SMTP, perhaps with STARTTLS: try GHSYNC_SMTP_SECURITY=starttls)"
            return f"TLS handshake with {where} failed: {reason}{hint}"
        return f"TLS error with {where} while {during}: {reason}"
    if isinstance(error, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
        hint = ""
        if phase == "connect" and settings.security != "ssl" and settings.port == 465:
            hint = " (port 465 usually needs GHSYNC_SMTP_SECURITY=ssl)"
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


def _secrets(settings: SmtpSettings) -> list[str]:
    """The password as a server could echo it back, longest first.

    In clear; in base64 alone (AUTH LOGIN), as the AUTH PLAIN blob `\\0user\\0password`, and as
    `user\\0password`; base64 with and without its `=` padding.
    """
    password = settings.password.get_secret_value() if settings.password is not None else ""
    if not password:
        return []
    user = settings.user or ""
    encoded = [
        base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii")
        for text in (password, f"\0{user}\0{password}", f"{user}\0{password}")
    ]
    forms = {password, *encoded, *(text.rstrip("=") for text in encoded)}
    return sorted(forms, key=len, reverse=True)


def _scrub(text: str, settings: SmtpSettings) -> str:
    for secret in _secrets(settings):
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
                        "(use GHSYNC_SMTP_SECURITY=ssl for implicit TLS, or GHSYNC_SMTP_SECURITY=none to allow clear text)"
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
        except (smtplib.SMTPException, OSError, ssl.SSLError, TimeoutError, UnicodeError) as error:
            polite = isinstance(error, smtplib.SMTPResponseException) and not isinstance(
                error, smtplib.SMTPServerDisconnected
            )
            # `from None`: the cause could carry login details; the line below says everything needed.
            raise NotifyError(_scrub(_describe_failure(error, phase, settings, where), settings)) from None
        if refused:
            raise PartlyDelivered(
                _scrub(_refused_text(refused), settings)
                + f"; delivered to {plural(_recipient_count(message) - len(refused), 'other recipient')}"
            )
    finally:
        if smtp is not None:
            _close(smtp, polite)


def _recipient_count(message: EmailMessage) -> int:
    values = [str(v) for field in ("To", "Cc", "Bcc") for v in (message.get_all(field) or [])]
    return len(email.utils.getaddresses(values))


def _close(smtp: Any, polite: bool) -> None:
    # The mail was already sent or the failure already reported: closing is best effort.
    with contextlib.suppress(Exception):
        if polite:
            smtp.quit()
    with contextlib.suppress(Exception):
        smtp.close()


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

    def build(to: list[str]) -> EmailMessage:
        return render_sync_email(report, recipients=to, sender=settings.from_addr or "", db_path=db_path)

    return _deliver(settings, recipients, build, send)


def notify_run_result(
    settings: SmtpSettings,
    reports: Sequence[SyncReport],
    *,
    recipients: Sequence[str] | None,
    db_path: str | None = None,
    send: Callable[[SmtpSettings, EmailMessage], None] = send_email,
) -> str | None:
    """Email the outcomes of a run over several repositories in one message, as `notify_sync_result`
    does for one (a single report gets that message); never raises."""
    if len(reports) == 1:
        return notify_sync_result(settings, reports[0], recipients=recipients, db_path=db_path, send=send)

    def build(to: list[str]) -> EmailMessage:
        return render_run_email(reports, recipients=to, sender=settings.from_addr or "", db_path=db_path)

    return _deliver(settings, recipients, build, send)


def _deliver(
    settings: SmtpSettings,
    recipients: Sequence[str] | None,
    build: Callable[[list[str]], EmailMessage],
    send: Callable[[SmtpSettings, EmailMessage], None],
) -> str | None:
    try:
        if not settings.enabled:
            return None
        try:
            to = settings.default_recipients if recipients is None else parse_recipients(recipients)
        except ValueError as error:
            return f"email not sent: {error}"
        if not to:
            return None
        send(settings, build(list(to)))
    except NotifyError as error:
        return _scrub(f"email not sent: {error}", settings)
    except Exception as error:  # noqa: BLE001 - email must never break a sync
        return _scrub(f"email not sent: unexpected {type(error).__name__}: {one_line(str(error))}", settings)
    return None


def send_test_email(settings: SmtpSettings, *, to: Sequence[str]) -> None:
    """Send a short test message (for `ghsync notify-test`); raises NotifyError on failure.

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
    message["From"] = settings.from_addr or f"ghsync@{local_hostname()}"
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
