"""Slack delivery: the one POST to an incoming webhook. The only module besides the GitHub client that talks HTTP.

The standard library's urllib.request, not slack_sdk or requests: one JSON POST whose only answers
are a status and a short text (`ok`, `invalid_payload`, `no_service`) needs no client library, and
staying off requests keeps the contract "only the GitHub client talks HTTP (PyGithub, requests)" as
it is. urllib's defaults are tightened: redirects are not followed (the payload goes to the URL
given, nowhere else) and a loopback URL bypasses proxies.

The webhook URL is a secret (whoever has it can post to the channel): it arrives as a SecretStr and
appears in no message this module produces.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from ghsync.errors import NotifyError, UsageError
from ghsync.notify.settings import CONTROL_CHARS

__all__ = ["DEFAULT_SLACK_TIMEOUT", "check_webhook_url", "post_webhook"]

DEFAULT_SLACK_TIMEOUT = 10.0
_MAX_ERROR_TEXT = 200


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(url: SecretStr) -> None:
    """A usable webhook URL: https (plain http only on this machine, for tests), with a host. Raises
    UsageError without quoting the URL."""
    text = url.get_secret_value().strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError:
        raise UsageError("the Slack webhook URL is not a URL") from None
    # No whitespace either: http.client refuses it later with an error that quotes the URL's secret path.
    if CONTROL_CHARS.search(text) or any(c.isspace() for c in text) or not host:
        raise UsageError("the Slack webhook URL is not a URL (expected https://hooks.slack.com/services/...)")
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host)):
        return
    raise UsageError("the Slack webhook URL must start with https:// (it carries the channel's secret)")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx surfaces as an HTTPError: reported, not followed


def _opener(host: str) -> urllib.request.OpenerDirector:
    handlers: list[Any] = [_NoRedirects()]
    if _is_loopback(host):
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*handlers)


def _answer_text(body: bytes) -> str:
    text = " ".join(CONTROL_CHARS.sub(" ", body[:_MAX_ERROR_TEXT].decode("utf-8", "replace")).split())
    return text or "no error text"


def _scrub(text: str, url: str) -> str:
    # Belt and braces: nothing below quotes the URL, but an OS error text might one day.
    path = urlsplit(url).path
    for secret in (url, path if len(path) > 1 else ""):
        if secret:
            text = text.replace(secret, "***")
    return text


def post_webhook(url: SecretStr, payload: dict[str, Any], *, timeout: float = DEFAULT_SLACK_TIMEOUT) -> None:
    """POST `payload` as JSON to the incoming webhook. Returns when Slack answered 2xx.

    Raises NotifyError with one line: Slack's status and error text (`HTTP 404: no_service`), a
    timeout, or why the connection failed. The URL never appears in it.
    """
    check_webhook_url(url)
    text = url.get_secret_value().strip()
    host = urlsplit(text).hostname or ""
    request = urllib.request.Request(
        text,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "ghsync"},
        method="POST",
    )
    try:
        with _opener(host).open(request, timeout=timeout) as response:
            response.read(_MAX_ERROR_TEXT)
    except urllib.error.HTTPError as error:
        body = error.read() if error.fp is not None else b""
        raise NotifyError(_scrub(f"Slack answered HTTP {error.code}: {_answer_text(body)}", text)) from None
    except TimeoutError:
        raise NotifyError(f"Slack did not answer within {timeout:g} s") from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError):
            raise NotifyError(f"Slack did not answer within {timeout:g} s") from None
        detail = getattr(reason, "strerror", None) or str(reason)
        raise NotifyError(_scrub(f"cannot reach Slack at {host}: {detail}", text)) from None
    except OSError as error:
        raise NotifyError(_scrub(f"connection to Slack at {host} failed: {error.strerror or error}", text)) from None
    except (ValueError, http.client.HTTPException) as error:
        # What the standard library says of a URL or an answer it cannot take may quote the URL: only its kind.
        raise NotifyError(f"talking to Slack at {host} failed: {type(error).__name__}") from None
