"""A stand-in for Slack's incoming webhooks on 127.0.0.1 (http.server in a thread), for tests.

with SlackTestServer() as slack:                      # answers 200 "ok"
    ...POST to slack.webhook_url...
    slack.payloads                                    # the JSON bodies received

SlackTestServer(status=404, body="no_service")        # Slack's answer to a removed webhook
SlackTestServer(hang=True)                            # reads the request, never answers (until stopped)
SlackTestServer(echo_path=True, status=400)           # a careless server quoting the secret URL path back
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["SECRET_PATH", "SlackTestServer"]

# What makes a real webhook URL a secret: its path.
SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxSecretWebhookToken123"


class SlackTestServer:
    def __init__(self, *, status: int = 200, body: str = "ok", hang: bool = False, echo_path: bool = False):
        self.status = status
        self.body = body
        self.hang = hang
        self.echo_path = echo_path
        self.requests: list[dict[str, Any]] = []
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def payloads(self) -> list[Any]:
        return [json.loads(request["body"]) for request in self.requests]

    @property
    def webhook_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{SECRET_PATH}"

    def env(self) -> dict[str, str]:
        return {"GHSYNC_SLACK_WEBHOOK": self.webhook_url}

    def __enter__(self) -> Self:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                owner.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if owner.hang:
                    owner._release.wait(30)
                    return
                text = owner.body + (f" for {self.path}" if owner.echo_path else "")
                payload = text.encode("utf-8")
                self.send_response(owner.status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release.set()
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
