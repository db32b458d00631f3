"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd in a thread), with optional TLS and AUTH.

    with SmtpTestServer(security="starttls", auth=("bob", "s3cret")) as server:
        send_email(server.smtp_settings(), message)
        [received] = server.messages              # email.message.EmailMessage, policy=default
        server.envelopes[0].rcpt_tos              # what the client said in RCPT TO

or, in pytest, through the fixtures tests/conftest.py makes available to every module:

    def test_x(smtp_server_factory):
        server = smtp_server_factory(security="ssl")   # started; stopped after the test

A careless server can be imitated with `echo_credentials=True`: its error replies (535 at AUTH,
550 at RCPT) quote the credentials it received, in clear and in base64 (`credential_forms`).

Security modes: "none" (plain SMTP), "starttls" (STARTTLS offered and required before MAIL),
"ssl" (implicit TLS from the first byte). TLS servers present a certificate for 127.0.0.1 and
localhost issued by a throw-away trustme CA whose PEM is at `.ca_file`.
"""

from __future__ import annotations

import base64
import email.policy
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Literal, Self

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = [
    "HOST",
    "ReceivedEnvelope",
    "SmtpTestServer",
    "credential_forms",
    "smtp_ca",
    "smtp_server_factory",
    "unused_port",
]

HOST = "127.0.0.1"
Security = Literal["none", "starttls", "ssl"]


def credential_forms(user: str, password: str) -> dict[str, str]:
    """The ways a password travels in an SMTP AUTH exchange, each of which must stay secret."""

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {
        "password": password,
        "base64 password (AUTH LOGIN)": b64(password),
        "AUTH PLAIN blob": b64(f"\0{user}\0{password}"),
        "base64 user NUL password": b64(f"{user}\0{password}"),
    }


def _echo(auth_data: Any) -> str:
    """A reply text quoting the credentials received, as a careless server or proxy might."""
    if not isinstance(auth_data, LoginPassword):
        return "no credentials"
    user = auth_data.login.decode("utf-8", "replace")
    return " ".join(credential_forms(user, auth_data.password.decode("utf-8", "replace")).values())


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class ReceivedEnvelope:
    """What the SMTP dialogue said about one delivered message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    tls: bool  # the session was encrypted (STARTTLS or implicit TLS)
    login: str | None  # the authenticated user, if any


class _Handler:
    def __init__(self, server: SmtpTestServer) -> None:
        self._server = server

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self._server.reject_recipients:
            reply = f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
            if self._server.echo_credentials:
                reply += f" (you logged in with {_echo(session.auth_data)})"
            self._server.error_replies.append(reply)
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):  # pragma: no cover - decode_data is False
            raw = raw.encode("utf-8", "surrogateescape")
        message = BytesParser(policy=email.policy.default).parsebytes(raw)
        transport = server.transport
        tls = transport is not None and transport.get_extra_info("ssl_object") is not None
        login = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode("utf-8", "replace")
        received = ReceivedEnvelope(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            tls=tls,
            login=login,
        )
        self._server._record(message, received)
        return "250 2.0.0 Message accepted for delivery"


class _BoundController(Controller):
    """A Controller serving on an already-bound socket, so port 0 can pick a free port race-free."""

    def __init__(self, handler: Any, *, sock: socket.socket, **kwargs: Any) -> None:
        self._sock = sock
        self.auth_without_starttls = False
        self.sessions: list[SMTP] = []
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)

    def _create_server(self):  # type: ignore[override]
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)

    def factory(self) -> SMTP:
        smtpd = super().factory()
        self.sessions.append(smtpd)
        if self.auth_without_starttls:
            # aiosmtpd only counts STARTTLS as TLS: with implicit TLS (and in the clear-text test
            # mode) AUTH must be allowed explicitly. Flipped after construction, rather than passing
            # auth_require_tls=False, to avoid its "AUTH without TLS" warning on every session.
            smtpd._auth_require_tls = False
        return smtpd

    def close_sessions(self, timeout: float = 5.0) -> None:
        """Drop client connections still open (a test that failed mid-dialogue), from the loop's thread."""
        done = threading.Event()

        def close_all() -> None:
            try:
                for smtpd in self.sessions:
                    for transport in (smtpd.transport, getattr(smtpd, "_original_transport", None)):
                        if transport is not None and not transport.is_closing():
                            transport.abort()
            finally:
                done.set()

        if self.loop.is_running():
            self.loop.call_soon_threadsafe(close_all)
            done.wait(timeout)


class SmtpTestServer:
    """A started-on-enter, stopped-on-exit SMTP server on 127.0.0.1 and a free port.

    security: "none", "starttls" (offered and required) or "ssl" (implicit TLS).
    auth: (user, password) to require AUTH PLAIN/LOGIN before MAIL; None accepts anyone.
        Over "none", AUTH in clear is allowed (aiosmtpd refuses it by default), since that is the
        only way to test plain+auth; over "ssl" too, because aiosmtpd only recognises STARTTLS as TLS.
    cert: a trustme.LeafCert to present; by default one for 127.0.0.1/localhost is issued by `ca`.
    ca: the trustme.CA issuing the default cert (a fresh one if None); its PEM goes to `ca_file`.
    reject_recipients: addresses answered with `550 5.1.1 ... User unknown` at RCPT TO.
    echo_credentials: quote the received credentials (`credential_forms`) in the 535 answering a
        failed AUTH and in those 550s. `error_replies` keeps every such reply as sent.
    """

    host = HOST

    def __init__(
        self,
        *,
        security: Security = "none",
        auth: tuple[str, str] | None = None,
        cert: trustme.LeafCert | None = None,
        ca: trustme.CA | None = None,
        reject_recipients: Iterable[str] = (),
        echo_credentials: bool = False,
        ready_timeout: float = 10.0,
    ) -> None:
        if security not in ("none", "starttls", "ssl"):
            raise ValueError(f"unknown security {security!r}")
        self.security: Security = security
        self.auth = auth
        self.reject_recipients = {address.lower() for address in reject_recipients}
        self.echo_credentials = echo_credentials
        self.error_replies: list[str] = []
        self.ready_timeout = ready_timeout
        self.messages: list[EmailMessage] = []
        self.envelopes: list[ReceivedEnvelope] = []
        self.port: int = 0
        self.ca_file: str | None = None
        self._ca = ca
        self._cert = cert
        self._tmpdir: str | None = None
        self._controller: _BoundController | None = None
        self._received = threading.Condition()

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> SmtpTestServer:
        if self._controller is not None:
            raise RuntimeError("server already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, 0))
            sock.listen(100)
            sock.setblocking(False)
            self.port = sock.getsockname()[1]
            kwargs = self._smtp_kwargs()
            controller = _BoundController(
                _Handler(self),
                sock=sock,
                server_hostname="localhost",  # avoids a getfqdn() DNS lookup per session
                ready_timeout=self.ready_timeout,
                **kwargs,
            )
            controller.auth_without_starttls = self.auth is not None and self.security != "starttls"
            controller.start()
        except BaseException:
            sock.close()
            self._remove_tmpdir()
            raise
        self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        try:
            if controller is not None:
                controller.close_sessions()
                controller.stop()
                controller._sock.close()  # already closed by the asyncio server; harmless
        finally:
            self._remove_tmpdir()

    def _remove_tmpdir(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _smtp_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.security != "none":
            context = self._server_tls_context()
            if self.security == "starttls":
                kwargs["tls_context"] = context
                kwargs["require_starttls"] = True
            else:
                kwargs["ssl_context"] = context
        if self.auth is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_required"] = True
        return kwargs

    def _server_tls_context(self) -> ssl.SSLContext:
        if self._cert is None:
            if self._ca is None:
                self._ca = trustme.CA()
            self._cert = self._ca.issue_cert(HOST, "localhost")
        if self._ca is not None:
            self._tmpdir = tempfile.mkdtemp(prefix="ghsync-smtp-")
            path = Path(self._tmpdir) / "ca.pem"
            self._ca.cert_pem.write_to_path(str(path))
            self.ca_file = str(path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        return context

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.auth is not None
        if isinstance(auth_data, LoginPassword):
            user, password = self.auth
            if auth_data.login == user.encode() and auth_data.password == password.encode():
                return AuthResult(success=True, auth_data=auth_data)
        reply = "535 5.7.8 Authentication credentials invalid"
        if self.echo_credentials:
            reply += f": AUTH {mechanism} {_echo(auth_data)}"
        self.error_replies.append(reply)
        # handled=False: aiosmtpd sends `message` as the reply.
        return AuthResult(success=False, handled=False, message=reply)

    # -- received mail -----------------------------------------------------------------------

    def _record(self, message: EmailMessage, envelope: ReceivedEnvelope) -> None:
        with self._received:
            self.messages.append(message)
            self.envelopes.append(envelope)
            self._received.notify_all()

    def wait_for_messages(self, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        """Block until at least `count` messages arrived (for senders in other processes)."""
        deadline = time.monotonic() + timeout
        with self._received:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} message(s), got {len(self.messages)} in {timeout} s")
                self._received.wait(left)
            return list(self.messages)

    # -- client configuration ------------------------------------------------------------------

    def smtp_settings(self, **overrides: Any):
        """ghsync.notify.SmtpSettings pointing at this server (trusting its CA, logging in if auth)."""
        from ghsync.notify.settings import SmtpSettings

        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "ca_file": self.ca_file,
            "from_addr": "ghsync@test.invalid",
            "timeout": 5,
        }
        if self.auth is not None:
            values["user"], values["password"] = self.auth
        values.update(overrides)
        return SmtpSettings(**values)

    def env(self, prefix: str = "GHSYNC_SMTP_") -> dict[str, str]:
        """Environment variables for a `ghsync` subprocess (names as in ghsync/config.py)."""
        values = {
            "HOST": self.host,
            "PORT": str(self.port),
            "SECURITY": self.security,
            "FROM": "ghsync@test.invalid",
        }
        if self.ca_file:
            values["CA_FILE"] = self.ca_file
        if self.auth is not None:
            values["USER"], values["PASSWORD"] = self.auth
        return {prefix + key: value for key, value in values.items()}


# -- pytest fixtures (import them into a test module or conftest.py) -------------------------


@pytest.fixture(scope="session")
def smtp_ca() -> trustme.CA:
    """One throw-away CA per test session, issuing the test servers' certificates."""
    return trustme.CA()


@pytest.fixture
def smtp_server_factory(smtp_ca: trustme.CA) -> Iterator[Callable[..., SmtpTestServer]]:
    """`factory(**SmtpTestServer kwargs)` → a started server, stopped when the test ends."""
    servers: list[SmtpTestServer] = []

    def factory(**kwargs: Any) -> SmtpTestServer:
        if kwargs.get("cert") is None:
            kwargs.setdefault("ca", smtp_ca)
        server = SmtpTestServer(**kwargs).start()
        servers.append(server)
        return server

    try:
        yield factory
    finally:
        for server in reversed(servers):
            server.stop()
