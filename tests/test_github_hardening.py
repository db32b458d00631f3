"""What GitHub (or anything answering in its place) can do wrong, and what ghsync does about it: refuse
plain HTTP, keep the page size through 502s, retry timeouts smaller, validate every answer, bound every
request in time and size, drop a revoked token, and never follow a redirect."""

from __future__ import annotations

import copy
import sqlite3
import ssl
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ghsync_testing import (
    REPO,
    TOKEN,
    FakeGitHub,
    GraphQLRequests,
    expected_records,
    generate_repository,
    invoke,
    stored_records,
)

from ghsync.config import load_settings
from ghsync.errors import AuthenticationError, GitHubError, UsageError
from ghsync.service.sync import SyncHooks, track_repository

GENERATED_AT = datetime(2025, 9, 1, 12, tzinfo=UTC)
TIMEOUT_MESSAGE = (
    "Something went wrong while executing your query. This may be the result of a timeout, or it could be a "
    "GitHub bug. Please include `0A1B:2C3D:4E5F60:718293` when reporting this issue."
)


@pytest.fixture(scope="module")
def repository():
    return generate_repository(REPO, 300, seed=5, now=GENERATED_AT)


def serve(repository, **options) -> FakeGitHub:
    return FakeGitHub([copy.deepcopy(repository)], **options)


def track(fake: FakeGitHub, db, *, sleeps=None, warnings=None, tokens=(TOKEN,), clock=None, **settings):
    config = load_settings(db=db, tokens=list(tokens), api_url=fake.url, **settings)
    hooks = SyncHooks(
        sleep=(sleeps if sleeps is not None else []).append,
        on_warning=(warnings if warnings is not None else []).append,
        **({"clock": clock} if clock is not None else {}),
    )
    return track_repository(config, REPO, days="all", hooks=hooks)


def repository_row(db) -> dict:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    with conn:
        return dict(conn.execute("SELECT * FROM repositories WHERE full_name = ?", [REPO]).fetchone())


def job_cursor(db) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT s.cursor FROM syncs s JOIN repositories r ON r.current_sync_id = s.id WHERE r.full_name = ?", [REPO]
        ).fetchone()
    return row[0]


# --- 5. plain HTTP ---------------------------------------------------------------------------


def test_plain_http_to_another_host_is_refused_in_one_line_exit_2(tmp_path):
    result = invoke(
        "track", REPO, "--db", tmp_path / "g.db", "--api-url", "http://github.example.com", "--token", TOKEN
    )
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "plain HTTP" in result.stderr and "--allow-insecure-http" in result.stderr
    assert TOKEN not in result.stderr


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://127.8.0.1", "http://localhost:8080", "http://[::1]:9"])
def test_plain_http_to_this_machine_is_allowed(url):
    from ghsync.github.client import check_api_url

    check_api_url(url, allow_insecure_http=False)


def test_allow_insecure_http_lets_plain_http_through(monkeypatch):
    from ghsync.github.client import check_api_url

    with pytest.raises(UsageError):
        check_api_url("http://github.example.com", allow_insecure_http=False)
    check_api_url("http://github.example.com", allow_insecure_http=True)
    monkeypatch.setenv("GHSYNC_ALLOW_INSECURE_HTTP", "1")
    assert load_settings().allow_insecure_http


# --- 7, 8. 502s and timeouts -----------------------------------------------------------------


@pytest.fixture(scope="module")
def five_thousand():
    return generate_repository(REPO, 5000, seed=12, now=GENERATED_AT)


def test_five_percent_502s_cost_at_most_a_fifth_more_points_than_a_clean_sync(five_thousand, tmp_path):
    with serve(five_thousand) as fake:
        clean = track(fake, tmp_path / "clean.db").report.graphql_points_spent
    with serve(five_thousand, fault_rate=0.05, fault_seed=3, fault_statuses=(502,)) as fake:
        faulty = track(fake, tmp_path / "faulty.db")
        assert fake.stats["requests_by_status"].get(502, 0) >= 5
    assert faulty.report.outcome == "complete"
    assert faulty.report.graphql_points_spent <= 1.2 * clean
    assert stored_records(tmp_path / "faulty.db") == expected_records(five_thousand)


def page_sizes(requests: GraphQLRequests) -> list[int]:
    return [p["variables"]["pageSize"] for p in requests.pages]


def test_a_lone_502_is_retried_at_the_same_page_size(repository, tmp_path):
    with serve(repository) as fake:
        requests = GraphQLRequests(fake).at(2, lambda: fake.inject(502, path="/graphql"))
        result = track(fake, tmp_path / "g.db")
    assert result.report.outcome == "complete"
    assert page_sizes(requests)[1] == page_sizes(requests)[2] == 49


def test_a_graphql_timeout_answered_200_is_retried_at_half_size_then_grows_back(repository, tmp_path):
    body = {"data": None, "errors": [{"message": TIMEOUT_MESSAGE}]}
    with serve(repository) as fake:
        requests = GraphQLRequests(fake).at(2, lambda: fake.inject(200, body=body, path="/graphql"))
        result = track(fake, tmp_path / "g.db")
    assert result.report.outcome == "complete"
    assert page_sizes(requests)[1:3] == [49, 24]
    assert page_sizes(requests)[-1] == 49 or len(requests.pages) < 20, "the page grows back after good pages"
    assert stored_records(tmp_path / "g.db") == expected_records(repository)


def test_page_size_grows_back_after_a_timeout():
    from ghsync.github.pulls import GROW_BACK_AFTER, PageSizer

    sizer = PageSizer()
    sizer.timed_out(49)
    assert sizer.size(49) == 24
    for _ in range(GROW_BACK_AFTER):
        sizer.succeeded(sizer.size(49), 49)
    assert sizer.size(49) == 24
    sizer.succeeded(24, 49)
    assert sizer.size(49) == 48
    sizer.succeeded(48, 49)
    assert sizer.size(49) == 49


# --- 9. malformed answers --------------------------------------------------------------------


def node(answer, index=3):
    return answer["data"]["repository"]["pullRequests"]["nodes"][index]


def _set(getter, key, value):
    def edit(answer):
        getter(answer)[key] = value

    return edit


NO_MORE = {"hasNextPage": False, "endCursor": None}

MALFORMED_PAGES = {
    "repository null": (_set(lambda a: a["data"], "repository", None), "repository: None"),
    "nodes null": (_set(lambda a: a["data"]["repository"]["pullRequests"], "nodes", None), "pullRequests.nodes: None"),
    "number abc": (_set(node, "number", "abc"), "pullRequests.nodes[3].number: 'abc'"),
    "state WEIRD": (_set(node, "state", "WEIRD"), "pullRequests.nodes[3].state: 'WEIRD'"),
    "title null": (_set(node, "title", None), "pullRequests.nodes[3].title: None"),
    "remaining null": (_set(lambda a: a["data"]["rateLimit"], "remaining", None), "rateLimit.remaining: None"),
    "20-digit additions": (_set(node, "additions", 10**20), "pullRequests.nodes[3].additions"),
    "resetAt soon": (_set(lambda a: a["data"]["rateLimit"], "resetAt", "soon"), "rateLimit.resetAt: 'soon'"),
    "cost lots": (_set(lambda a: a["data"]["rateLimit"], "cost", "lots"), "rateLimit.cost: 'lots'"),
    "no repository": (lambda a: a["data"].pop("repository"), "repository: None"),
    "head not-a-date": (
        _set(lambda a: a["data"]["repository"]["head"]["nodes"][0], "updatedAt", "not-a-date"),
        "head.nodes[0].updatedAt: 'not-a-date'",
    ),
    "createdAt not-a-date": (_set(node, "createdAt", "2026-13-45"), "pullRequests.nodes[3].createdAt"),
    "review author login 5": (
        _set(node, "reviews", {"nodes": [{"author": {"login": 5}, "state": "APPROVED"}], "pageInfo": NO_MORE}),
        "pullRequests.nodes[3].reviews.nodes[0].author.login: 5",
    ),
    "review submittedAt month 13": (
        _set(
            node,
            "reviews",
            {"nodes": [None, {"state": "APPROVED", "submittedAt": "2026-13-01T00:00:00Z"}], "pageInfo": NO_MORE},
        ),
        "pullRequests.nodes[3].reviews.nodes[1].submittedAt: '2026-13-01T00:00:00Z'",
    ),
    "label name 3": (
        _set(node, "labels", {"nodes": [{"name": 3}], "pageInfo": NO_MORE}),
        "pullRequests.nodes[3].labels.nodes[0].name: 3",
    ),
    "first commit yesterday": (
        _set(node, "commits", {"totalCount": 1, "nodes": [{"commit": {"authoredDate": "yesterday"}}]}),
        "pullRequests.nodes[3].commits.nodes[0].commit.authoredDate: 'yesterday'",
    ),
    "fullDatabaseId not digits": (_set(node, "fullDatabaseId", "12e3"), "pullRequests.nodes[3].fullDatabaseId: '12e3'"),
    # A login is never stored with a terminal escape or a space: it reaches tables, CSV and JSON.
    "author login with an escape": (
        _set(node, "author", {"__typename": "User", "login": "mallory\x1b]0;PWNED\x07"}),
        "pullRequests.nodes[3].author.login",
    ),
    "merger login with a space": (
        _set(node, "mergedBy", {"login": "eve bob"}),
        "pullRequests.nodes[3].mergedBy.login: 'eve bob'",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED_PAGES))
def test_a_malformed_page_is_an_error_naming_the_field_and_nothing_of_it_is_stored(case, repository, tmp_path):
    edit, named = MALFORMED_PAGES[case]
    db = tmp_path / "g.db"
    with serve(repository) as fake:
        GraphQLRequests(fake).at(2, lambda: fake.tamper(edit))
        result = invoke("track", REPO, "--days", "all", "--quiet", "--db", db, "--api-url", fake.url, "--token", TOKEN)
    assert result.exit_code == 1, result.stderr
    assert result.stderr == f"Error: GitHub answered an invalid {named}\n" or (
        result.stderr.startswith(f"Error: GitHub answered an invalid {named}") and result.stderr.count("\n") == 1
    ), result.stderr
    row = repository_row(db)
    assert row["sync_status"] == "error" and row["last_error"].startswith("GitHub answered an invalid")
    assert job_cursor(db) is not None, "the first page's cursor is kept"
    assert row["sync_prs_completed"] == 49, "only the good first page is stored"
    assert row["sync_watermark"] is None


def test_a_malformed_follow_up_is_an_error_naming_the_field(repository, tmp_path):
    def bad_review(answer):
        for value in answer["data"]["repository"].values():
            if isinstance(value, dict) and value.get("reviews"):
                value["reviews"]["nodes"][0]["submittedAt"] = "yesterday"

    db = tmp_path / "g.db"
    with serve(repository) as fake:
        fake.before_request = lambda path, payload: (
            fake.tamper(bad_review) if payload and "PullRequestFollowUps" in (payload.get("query") or "") else None
        )
        result = invoke("track", REPO, "--days", "all", "--quiet", "--db", db, "--api-url", fake.url, "--token", TOKEN)
    assert result.exit_code == 1
    assert "GitHub answered an invalid pullRequest(" in result.stderr and "submittedAt: 'yesterday'" in result.stderr
    assert repository_row(db)["sync_status"] == "error"


def test_a_rate_limit_reset_beyond_any_date_is_an_error_naming_the_field(repository, tmp_path):
    db = tmp_path / "g.db"
    with serve(repository) as fake:
        fake.tamper(_set(lambda a: a["resources"]["graphql"], "reset", 10**15), path="/rate_limit")
        result = invoke("track", REPO, "--days", "all", "--quiet", "--db", db, "--api-url", fake.url, "--token", TOKEN)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: GitHub answered an invalid /rate_limit resources.graphql.reset")


# --- Retry-After as an HTTP-date -------------------------------------------------------------


def test_a_retry_after_http_date_is_honoured(repository, tmp_path):
    now = datetime(2026, 10, 21, 7, 26, tzinfo=UTC).timestamp()
    sleeps: list[float] = []
    with serve(repository) as fake:
        GraphQLRequests(fake).at(
            2, lambda: fake.inject(403, headers={"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, path="/graphql")
        )
        result = track(fake, tmp_path / "g.db", sleeps=sleeps, clock=lambda: now)
    assert result.report.outcome == "complete"
    assert sleeps == [120.0]


def test_a_far_retry_after_is_capped(repository, tmp_path):
    now = datetime(2026, 10, 21, 7, 26, tzinfo=UTC).timestamp()
    next_week = format_datetime(datetime(2026, 10, 28, tzinfo=UTC), usegmt=True)
    sleeps: list[float] = []
    with serve(repository) as fake:
        GraphQLRequests(fake).at(2, lambda: fake.inject(429, headers={"retry-after": next_week}, path="/graphql"))
        track(fake, tmp_path / "g.db", sleeps=sleeps, clock=lambda: now)
    assert sleeps == [300.0]


# --- 10. an overall deadline per request -----------------------------------------------------


@pytest.mark.timeout(60)
def test_a_trickling_answer_times_out_at_the_deadline_and_is_retried(repository, tmp_path):
    sleeps: list[float] = []
    with serve(repository) as fake:
        GraphQLRequests(fake).at(2, lambda: fake.trickle(0.05, path="/graphql"))
        result = track(fake, tmp_path / "g.db", sleeps=sleeps, request_timeout=1)
    assert result.report.outcome == "complete"
    assert len(sleeps) == 1, "one timeout, retried"
    assert stored_records(tmp_path / "g.db") == expected_records(repository)


def test_request_timeout_is_a_setting(monkeypatch):
    monkeypatch.setenv("GHSYNC_REQUEST_TIMEOUT", "2.5")
    assert load_settings().request_timeout == 2.5


# --- 11. a revoked token in a pool -----------------------------------------------------------

ALICE = "test_tok_aliceSecret0000000000000000000000000A"
BOB = "test_tok_bobSecret22222222222222222222222222222B"


def test_a_token_revoked_mid_sync_is_dropped_and_the_others_go_on(repository, tmp_path):
    warnings: list[str] = []
    with serve(repository, tokens={ALICE: "alice", BOB: "bob"}) as fake:
        fake.set_remaining("graphql", 4000, login="bob")  # alice (5000) is spent first
        GraphQLRequests(fake).at(2, lambda: fake.tokens.pop(ALICE))
        result = track(fake, tmp_path / "g.db", tokens=[ALICE, BOB], warnings=warnings)
        assert fake.rate_limit("bob", "graphql")["used"] > 0
    assert result.report.outcome == "complete"
    assert stored_records(tmp_path / "g.db") == expected_records(repository)
    assert len(warnings) == 1 and "#1" in warnings[0] and "alice" in warnings[0]
    assert ALICE not in warnings[0]


def test_when_every_token_is_revoked_it_is_an_authentication_error(repository, tmp_path):
    with serve(repository, tokens={ALICE: "alice", BOB: "bob"}) as fake:

        def revoke_all():
            fake.tokens.clear()

        GraphQLRequests(fake).at(2, revoke_all)
        with pytest.raises(AuthenticationError):
            track(fake, tmp_path / "g.db", tokens=[ALICE, BOB])
    assert repository_row(tmp_path / "g.db")["sync_status"] == "error"


# --- 12. size cap, redirects, TLS ------------------------------------------------------------


def test_an_answer_over_the_size_cap_is_refused_naming_the_limit(repository):
    from ghsync.github.client import GitHubClient
    from ghsync.github.graphql import pull_request_page_query
    from ghsync.models import PageRequest

    with serve(repository) as fake:
        client = GitHubClient(TOKEN, api_url=fake.url, max_response_bytes=10_000)
        with pytest.raises(GitHubError, match="larger than the 10,000-byte limit"):
            client.graphql(*pull_request_page_query(PageRequest("acme", "rockets"), 49))
        fake.inject(200, body="[" + "1," * 20_000 + "1]", path="/rate_limit")
        with pytest.raises(GitHubError, match="limit"):
            client.rate_limits()


def test_one_client_sends_one_request_at_a_time_whatever_the_threads(repository):
    # A page fetched ahead runs in its own thread while the pool may re-read a bucket in the main one.
    from ghsync.github.client import GitHubClient

    counter = threading.Lock()
    in_flight = most = 0

    def slow(path, payload):
        nonlocal in_flight, most
        with counter:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.2)
        with counter:
            in_flight -= 1

    with serve(repository) as fake:
        fake.before_request = slow
        client = GitHubClient(TOKEN, api_url=fake.url)
        answers: list[dict] = []
        threads = [threading.Thread(target=lambda: answers.append(client.rate_limits() or {})) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert most == 1
    assert [sorted(answer) for answer in answers] == [["core", "graphql"]] * 3


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirected_first_page_is_not_followed_and_nothing_is_stored(status, repository, tmp_path):
    # The token would travel with the request to wherever the redirect points.
    db = tmp_path / "g.db"
    with serve(repository) as fake:
        elsewhere = fake.url.replace("127.0.0.1", "127.0.0.2")
        fake.inject(
            status,
            body={"message": "Moved Permanently", "url": f"{elsewhere}/graphql"},
            headers={"Location": f"{elsewhere}/graphql"},
            path="/graphql",
        )
        result = invoke("track", REPO, "--days", "all", "--quiet", "--db", db, "--api-url", fake.url, "--token", TOKEN)
        assert fake.stats["graphql_requests"] == 1
    assert result.exit_code == 1
    assert "redirected the GraphQL query" in result.stderr and result.stderr.count("\n") == 1
    assert not db.exists()


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self):  # pragma: no cover - the TLS handshake fails first
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_failed_certificate_check_is_permanent_at_once(tmp_path):
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()  # a CA nobody trusts: the client's check must fail
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sleeps: list[float] = []
    try:
        config = load_settings(db=tmp_path / "g.db", tokens=[TOKEN], api_url=f"https://127.0.0.1:{server.server_port}")
        with pytest.raises(GitHubError, match="TLS") as raised:
            track_repository(config, REPO, days="all", hooks=SyncHooks(sleep=sleeps.append))
    finally:
        server.shutdown()
        server.server_close()
    assert sleeps == [], "not retried"
    assert TOKEN not in str(raised.value)


# --- proxies from the environment ------------------------------------------------------------


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def proxy_environment(monkeypatch):
    """A clean proxy environment, and ghsync's per-process reading of it forgotten before and after."""
    from ghsync.github.client import _environment_settings

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    _environment_settings.cache_clear()
    yield monkeypatch
    _environment_settings.cache_clear()


class _ForwardingProxy(ThreadingHTTPServer):
    """A plain-HTTP forward proxy to one upstream (the fake): it records each absolute URL asked for."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.requested: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self):
                import http.client
                from urllib.parse import urlsplit

                proxy.requested.append(self.path)
                target = urlsplit(proxy.upstream)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                path = urlsplit(self.path)
                connection.request(
                    self.command, path.path + (f"?{path.query}" if path.query else ""), body, dict(self.headers)
                )
                answer = connection.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                connection.close()

            do_GET = do_POST = _forward

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


def test_requests_go_through_the_proxy_the_environment_names(repository, tmp_path, proxy_environment):
    # A host only the proxy can reach (.invalid never resolves): the sync completes through it.
    with serve(repository) as fake, _ForwardingProxy(fake.url) as proxy:
        proxy_environment.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_port}")
        config = load_settings(
            db=tmp_path / "g.db", tokens=[TOKEN], api_url="http://github.invalid", allow_insecure_http=True
        )
        result = track_repository(config, REPO, days="all", hooks=SyncHooks(sleep=lambda seconds: None))
    assert result.report.outcome == "complete"
    assert proxy.requested and all(url.startswith("http://github.invalid") for url in proxy.requested)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_server_on_this_machine_is_reached_directly_whatever_proxy_the_environment_names(
    repository, tmp_path, proxy_environment, host
):
    # As Go's and most HTTP clients do: a proxy elsewhere cannot reach this machine's loopback, and the demo's
    # fake GitHub must work behind a corporate HTTP_PROXY.
    proxy_environment.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")
    with serve(repository) as fake:
        config = load_settings(db=tmp_path / "g.db", tokens=[TOKEN], api_url=fake.url.replace("127.0.0.1", host))
        result = track_repository(config, REPO, days="all", hooks=SyncHooks(sleep=lambda seconds: None))
    assert result.report.outcome == "complete"


def test_no_proxy_in_the_environment_is_honoured(repository, tmp_path, proxy_environment):
    proxy_environment.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")
    proxy_environment.setenv("NO_PROXY", "github.invalid")
    config = load_settings(
        db=tmp_path / "g.db", tokens=[TOKEN], api_url="http://github.invalid", allow_insecure_http=True
    )
    with pytest.raises(GitHubError, match="github.invalid") as raised:
        # Not sent to the (closed) proxy, which would be "connection refused": straight to a host that does not resolve.
        track_repository(config, REPO, days="all", hooks=SyncHooks(sleep=lambda seconds: None))
    assert "refused" not in str(raised.value)


@pytest.mark.parametrize("reset", ["99999999999999999999", "-5"])
def test_a_rate_limit_header_no_date_can_hold_is_no_reading_not_a_crash(reset, repository, tmp_path):
    # Headers are checked where they enter, as bodies are: a reset past any date crashed whatever printed it.
    body = {"message": "API rate limit exceeded for user ID 583231."}
    with serve(repository) as fake:
        fake.inject(403, body=body, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}, path="/graphql")
        result = invoke(
            "track", REPO, "--days", "all", "--db", tmp_path / "g.db", "--api-url", fake.url, "--token", TOKEN
        )
    assert result.exit_code in (1, 75) and "unexpected" not in result.stderr, result.stderr
    assert result.stderr.count("Error") <= 1
