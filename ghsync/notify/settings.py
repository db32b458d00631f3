"""SMTP settings and recipient addresses: what to connect to and whom to write to, validated."""

from __future__ import annotations

import email.utils
import os.path
import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

__all__ = ["CONTROL_CHARS", "DEFAULT_PORTS", "Security", "SmtpSettings", "check_address", "parse_recipients"]

Security = Literal["starttls", "ssl", "none"]

#: The port used when `SmtpSettings.port` is not given, by `security`.
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}

#: CR, LF and the other control characters: never allowed in a header value or an address.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

# One dot-atom: no whitespace, control characters, specials, or dots (dots separate atoms).
_ATOM = r"[^\s\x00-\x1f\x7f@<>()\[\],;:\"\\.]+"
_ADDRESS_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*")


def check_address(address: str) -> str:
    """Return `address` if it is a bare `name@domain` address; raise ValueError saying why not."""
    if _ADDRESS_RE.fullmatch(address):
        return address
    hint = "expected name@domain, e.g. alice@example.com"
    if CONTROL_CHARS.search(address):
        hint = "it contains a line break or another control character"
    elif "<" in address or ">" in address:
        hint = "write the bare address (name@domain), without a display name or <>"
    elif any(ch.isspace() for ch in address):
        hint = "addresses cannot contain spaces; separate several with commas"
    raise ValueError(f"invalid email address {address!r}: {hint}")


def parse_recipients(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Parse recipients given as a comma-separated string or a list of strings (each may hold commas).

    Blank entries are dropped, spaces around entries trimmed, duplicates (case-insensitively) removed,
    order kept. Raises ValueError with a one-line message naming the first invalid address; a CR, LF
    or other control character anywhere in an entry makes it invalid (no header injection).
    """
    if value is None:
        return ()
    if isinstance(value, str):
        parts: list[str] = value.split(",")
    else:
        parts = []
        for item in value:
            if not isinstance(item, str):
                # ValueError, not TypeError: callers report it as a bad address like any other.
                raise ValueError(f"invalid email address {item!r}: expected text")  # noqa: TRY004
            parts.extend(item.split(","))
    found: list[str] = []
    seen: set[str] = set()
    for part in parts:
        # Trimmed unless it holds a control character: a CR/LF around an address is refused too.
        address = part if CONTROL_CHARS.search(part) else part.strip()
        if not address:
            continue
        check_address(address)
        if address.lower() not in seen:
            seen.add(address.lower())
            found.append(address)
    return tuple(found)


def _value_error(message: str) -> PydanticCustomError:
    # A custom error keeps pydantic's "Value error, " prefix out of the message the config layer shows.
    return PydanticCustomError("value_error", "{reason}", {"reason": message})


class SmtpSettings(BaseModel):
    """How to reach the SMTP server. `enabled` is False until `host` is set.

    `port` defaults by `security` (587 starttls, 465 ssl, 25 none). `from_addr` defaults to
    `ghsync@<fully-qualified local host name>` once `host` is set. `default_recipients` accepts
    a comma-separated string. `ca_file` is an extra CA bundle trusted on top of the system's
    (a private relay's or a test server's self-signed CA). Validation inputs are never echoed
    in errors, so a mistyped password cannot end up in a message.
    """

    # defer_build: its validator is built on first use; `track` imports this module for parse_recipients.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True, defer_build=True)

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
        if any(ch.isspace() for ch in value) or CONTROL_CHARS.search(value):
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
            if not info.data.get("host"):
                return None
            from ghsync.notify.smtp import local_hostname  # the host name is the network's business

            return f"ghsync@{local_hostname()}"
        if CONTROL_CHARS.search(value):
            raise _value_error("invalid sender address: it contains control characters")
        _name, address = email.utils.parseaddr(value)
        try:
            check_address(address or value)
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
