"""FakeGitHub over real HTTP: auth, rate limits, GraphQL semantics, pagination, search, faults."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
import requests
from fakegithub_support import NOW, PR_PAGE, pygithub
from github import BadCredentialsException, GithubException, RateLimitExceededException, UnknownObjectException

from ghsync.fakegithub import FakeGitHub, FakePullRequest, FakeRepository, generate_repository

RATE_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-used",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
)
VIEWER = "query { viewer { login } }"


def gql(
    session: requests.Session,
    fake: FakeGitHub,
    query: str,
    variables: dict | None = None,
    token: str | None = "t-alice",
) -> requests.Response:
    headers = {"Authorization": f"bearer {token}"} if token else {}
    return session.post(fake.url + "/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


def page_all(gh, owner: str, name: str, first: int = 50, order: str = "UPDATED_AT", direction: str = "DESC"):
    q = """query($o: String!, $n: String!, $first: Int!, $cursor: String, $order: IssueOrder) {
      repository(owner: $o, name: $n) { pullRequests(first: $first, after: $cursor, orderBy: $order) {
        pageInfo { hasNextPage endCursor } nodes { number updatedAt } } } }"""
    cursor, seen = None, []
    while True:
        _, body = gh.requester.graphql_query(
            q,
            {
                "o": owner,
                "n": name,
                "first": first,
                "cursor": cursor,
                "order": {"field": order, "direction": direction},
            },
        )
        conn = body["data"]["repository"]["pullRequests"]
        seen.extend(conn["nodes"])
        if not conn["pageInfo"]["hasNextPage"]:
            return seen
        cursor = conn["pageInfo"]["endCursor"]


# ----------------------------------------------------------------------------------- auth


def test_valid_token_authenticates_as_its_login(fake):
    gh = pygithub(fake, "t-bob")
    assert gh.get_user().login == "bob"
    _, body = gh.requester.graphql_query(VIEWER, {})
    assert body["data"]["viewer"]["login"] == "bob"


def test_any_token_is_octocat_when_no_tokens_are_configured(widgets):
    with FakeGitHub([widgets]) as fake:
        _, body = pygithub(fake, "whatever").requester.graphql_query(VIEWER, {})
        assert body["data"]["viewer"]["login"] == "octocat"


def test_bad_token_is_rejected_on_rest_and_graphql(fake):
    gh = pygithub(fake, "not-a-token")
    with pytest.raises(BadCredentialsException) as rest:
        gh.get_repo("demo/widgets")
    assert rest.value.data == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    with pytest.raises(BadCredentialsException):
        gh.requester.graphql_query(VIEWER, {})


def test_missing_token_on_graphql_is_401(fake, session):
    r = gql(session, fake, VIEWER, token=None)
    assert r.status_code == 401
    assert r.json()["message"] == "This endpoint requires you to be authenticated."


def test_unauthenticated_rest_uses_a_separate_60_per_hour_quota(fake, session):
    r = session.get(fake.url + "/repos/demo/widgets")
    assert r.status_code == 200
    assert (r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"]) == ("60", "59")
    assert fake.rate_limit("alice", "core")["used"] == 0


# ----------------------------------------------------------------------------------- rate limits


def test_every_response_carries_rate_limit_headers(fake, session):
    responses = [
        gql(session, fake, VIEWER),
        gql(session, fake, "{ nope }"),
        session.get(fake.url + "/rate_limit", headers={"Authorization": "token t-alice"}),
        session.get(fake.url + "/no/such/path", headers={"Authorization": "token t-alice"}),
        session.get(fake.url + "/user", headers={"Authorization": "token bad"}),
    ]
    for r in responses:
        assert all(h in r.headers for h in RATE_HEADERS), (r.status_code, dict(r.headers))


def test_rest_calls_spend_core_and_graphql_spends_graphql(fake, session):
    auth = {"Authorization": "token t-alice"}
    r = session.get(fake.url + "/repos/demo/widgets", headers=auth)
    assert r.headers["x-ratelimit-resource"] == "core" and r.headers["x-ratelimit-used"] == "1"
    r = gql(session, fake, VIEWER)
    assert r.headers["x-ratelimit-resource"] == "graphql" and r.headers["x-ratelimit-used"] == "1"
    assert fake.rate_limit("alice", "core")["remaining"] == 4999
    assert fake.rate_limit("alice", "graphql")["remaining"] == 4999


def test_rate_limit_endpoint_is_free_and_reports_both_buckets(fake):
    gh = pygithub(fake)
    gh.requester.graphql_query(VIEWER, {})
    overview = gh.get_rate_limit()
    gh.get_rate_limit()
    assert overview.resources.core.remaining == 5000
    assert overview.resources.graphql.remaining == 4999
    assert fake.stats["rate_limit_calls"] == 2 and fake.stats["rest_calls"] == 0


def test_two_tokens_of_one_login_share_a_quota(fake, session):
    gql(session, fake, VIEWER, token="t-alice")
    r = gql(session, fake, VIEWER, token="t-alice-2")
    assert r.headers["x-ratelimit-used"] == "2"
    assert fake.rate_limit("bob", "graphql")["used"] == 0


def test_graphql_over_budget_answers_rate_limited_and_spends_nothing(fake, session):
    fake.set_remaining("graphql", 1, login="alice")
    r = gql(session, fake, PR_PAGE, {"owner": "demo", "name": "widgets", "first": 50})  # costs 2
    assert r.status_code == 200
    (err,) = r.json()["errors"]
    assert err["type"] == "RATE_LIMITED" and err["message"].startswith("API rate limit exceeded for user ID ")
    assert "data" not in r.json()
    assert r.headers["x-ratelimit-remaining"] == "1"
    assert fake.rate_limit("alice", "graphql")["remaining"] == 1


def test_graphql_rate_limited_is_a_github_exception_with_type_for_pygithub(fake):
    fake.set_remaining("graphql", 0, login="alice")
    with pytest.raises(GithubException) as info:
        pygithub(fake).requester.graphql_query(VIEWER, {})
    assert info.value.data["errors"][0]["type"] == "RATE_LIMITED"


def test_bucket_refills_after_reset(fake, clock, session):
    fake.set_remaining("graphql", 0, login="alice", reset_at=clock() + 600)
    assert gql(session, fake, VIEWER).json()["errors"][0]["type"] == "RATE_LIMITED"
    clock.advance(601)
    r = gql(session, fake, VIEWER)
    assert r.json()["data"]["viewer"]["login"] == "alice"
    assert r.headers["x-ratelimit-remaining"] == "4999"
    assert int(r.headers["x-ratelimit-reset"]) == int(clock() + 3600)


def test_window_starts_at_first_use(fake, clock, session):
    clock.advance(100)
    gql(session, fake, VIEWER)
    clock.advance(50)
    r = gql(session, fake, VIEWER)
    assert int(r.headers["x-ratelimit-reset"]) == int(NOW.timestamp()) + 100 + 3600


def test_rest_over_budget_is_403_primary_rate_limit(fake):
    fake.set_remaining("core", 0, login="alice")
    with pytest.raises(RateLimitExceededException) as info:
        pygithub(fake).get_repo("demo/widgets")
    assert info.value.status == 403
    assert info.value.data["message"].startswith("API rate limit exceeded for user ID")


def test_rate_limit_field_reports_state_after_this_query(fake, clock):
    _, body = pygithub(fake).requester.graphql_query(
        "query { rateLimit { cost limit remaining used resetAt nodeCount } }", {}
    )
    assert body["data"]["rateLimit"] == {
        "cost": 1,
        "limit": 5000,
        "remaining": 4999,
        "used": 1,
        "nodeCount": 0,
        "resetAt": (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


# ----------------------------------------------------------------------------------- GraphQL semantics


def test_unknown_repository_is_not_found_with_github_shape(fake, session):
    r = gql(session, fake, '{ repository(owner: "nobody", name: "nothing") { name } }')
    assert r.json() == {
        "data": {"repository": None},
        "errors": [
            {
                "type": "NOT_FOUND",
                "path": ["repository"],
                "locations": [{"line": 1, "column": 3}],
                "message": "Could not resolve to a Repository with the name 'nobody/nothing'.",
            }
        ],
    }


def test_not_found_repository_raises_unknown_object_in_pygithub(fake):
    with pytest.raises(UnknownObjectException):
        pygithub(fake).requester.graphql_query('{ repository(owner: "o", name: "r") { name } }', {})


def test_repository_lookup_is_case_insensitive(fake, session):
    r = gql(session, fake, '{ repository(owner: "DEMO", name: "Widgets") { nameWithOwner owner { login } } }')
    assert r.json()["data"]["repository"] == {"nameWithOwner": "demo/widgets", "owner": {"login": "demo"}}


def test_a_renamed_repositorys_old_name_reaches_it_in_graphql_unless_renames_are_not_followed(fake, session):
    fake.rename_repository("demo/widgets", "demo/gadgets")
    followed = gql(session, fake, '{ repository(owner: "demo", name: "widgets") { nameWithOwner } }')
    assert followed.json() == {"data": {"repository": {"nameWithOwner": "demo/gadgets"}}}
    refused = gql(session, fake, '{ repository(owner: "demo", name: "widgets", followRenames: false) { name } }')
    assert refused.json()["errors"][0]["type"] == "NOT_FOUND" and refused.json()["data"] == {"repository": None}
    current = gql(session, fake, '{ repository(owner: "demo", name: "gadgets", followRenames: false) { name } }')
    assert current.json() == {"data": {"repository": {"name": "gadgets"}}}


def test_a_renamed_repositorys_old_name_is_a_301_to_its_id_in_rest(fake, session):
    fake.rename_repository("demo/widgets", "acme/widgets")  # a transfer: a new owner
    moved = session.get(
        fake.url + "/repos/demo/widgets", headers={"Authorization": "token t-alice"}, allow_redirects=False
    )
    database_id = session.get(fake.url + "/repos/acme/widgets", headers={"Authorization": "token t-alice"}).json()["id"]
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"{fake.url}/repositories/{database_id}"
    assert moved.json()["message"] == "Moved Permanently"


def test_validation_errors_come_back_as_http_200_errors(fake, session):
    r = gql(session, fake, "{ repository(owner: 1) { nope } }")
    assert r.status_code == 200
    assert r.json()["errors"] and "data" not in r.json()


def test_default_order_is_created_at_ascending(fake, session):
    r = gql(
        session,
        fake,
        '{ repository(owner: "demo", name: "widgets") { pullRequests(first: 5) { totalCount nodes { number } } } }',
    )
    conn = r.json()["data"]["repository"]["pullRequests"]
    assert [n["number"] for n in conn["nodes"]] == [1, 2, 3, 4, 5]
    assert conn["totalCount"] == 600


def test_states_filter_applies_to_total_count(fake, widgets, session):
    r = gql(
        session, fake, '{ repository(owner: "demo", name: "widgets") { pullRequests(states: [OPEN]) { totalCount } } }'
    )
    assert r.json()["data"]["repository"]["pullRequests"]["totalCount"] == sum(
        p.state == "OPEN" for p in widgets.pull_requests
    )


def test_cursor_is_keyset_base64_of_sort_value_and_database_id(fake, widgets, session):
    r = gql(
        session,
        fake,
        '{ repository(owner: "demo", name: "widgets") { pullRequests(first: 1, '
        "orderBy: {field: UPDATED_AT, direction: DESC}) { edges { cursor node { number } } } } }",
    )
    edge = r.json()["data"]["repository"]["pullRequests"]["edges"][0]
    pr = max(widgets.pull_requests, key=lambda p: (p.updated_at, p.database_id))
    assert base64.b64decode(edge["cursor"]).decode() == "cursor:v2:" + json.dumps(
        [pr.updated_at, pr.database_id], separators=(",", ":")
    )
    assert edge["node"]["number"] == pr.number


def test_invalid_cursor_is_an_error(fake, session):
    r = gql(
        session,
        fake,
        '{ repository(owner: "demo", name: "widgets") { pullRequests(first: 1, '
        'after: "garbage") { nodes { number } } } }',
    )
    (err,) = r.json()["errors"]
    assert err["message"] == "`after` does not appear to be a valid cursor."


def test_updated_desc_paging_visits_every_pr_exactly_once(fake, widgets):
    seen = page_all(pygithub(fake), "demo", "widgets")
    numbers = [n["number"] for n in seen]
    assert sorted(numbers) == list(range(1, 601))
    assert [n["updatedAt"] for n in seen] == sorted((n["updatedAt"] for n in seen), reverse=True)


def test_keyset_paging_survives_a_pr_moving_mid_pass(clock):
    repo = generate_repository("demo/moving", 400, seed=3, now=NOW)
    ordered = sorted(repo.pull_requests, key=lambda p: (p.updated_at, p.database_id), reverse=True)
    not_yet_seen, already_seen = ordered[-1].number, ordered[10].number
    clock.advance(60)
    calls = []

    def hook(path, payload):
        calls.append(path)
        if len(calls) == 3:  # between pages 2 and 3
            fake.touch_pull_request("demo/moving", not_yet_seen, title="moved")
            fake.touch_pull_request("demo/moving", already_seen)

    with FakeGitHub([repo], clock=clock) as fake:
        fake.before_request = hook
        numbers = [n["number"] for n in page_all(pygithub(fake), "demo", "moving")]
    assert len(numbers) == len(set(numbers)), "no PR is visited twice"
    assert set(range(1, 401)) - set(numbers) <= {not_yet_seen}, "only the moved PR may be missed"


def test_touch_bumps_updated_at_to_the_fake_clock(fake, clock):
    repo = generate_repository("demo/touch", 20, now=NOW)
    fake.add_repository(repo)
    clock.advance(90)
    pr = fake.touch_pull_request("demo/touch", 3, state="MERGED", merged_by="alice")
    assert pr.updated_at == pr.merged_at == pr.closed_at == fake.now_iso()
    r = pygithub(fake).requester.graphql_query(
        '{ repository(owner: "demo", name: "touch") { pullRequests(first: 1, orderBy: '
        "{field: UPDATED_AT, direction: DESC}) { nodes { number state } } } }",
        {},
    )[1]
    assert r["data"]["repository"]["pullRequests"]["nodes"] == [{"number": 3, "state": "MERGED"}]


def test_add_pull_request_and_add_review(fake, clock):
    fake.add_repository(FakeRepository("acme", "empty"))
    pr = fake.add_pull_request("acme/empty", title="first!")
    clock.advance(30)
    review = fake.add_review("acme/empty", pr.number, "bob", "APPROVED")
    assert pr.number == 1 and review.submitted_at == pr.updated_at == fake.now_iso()
    _, body = pygithub(fake).requester.graphql_query(
        '{ repository(owner: "acme", name: "empty") { pullRequest(number: 1) { title '
        "reviews(first: 10) { totalCount nodes { author { login } state } } } } }",
        {},
    )
    assert body["data"]["repository"]["pullRequest"] == {
        "title": "first!",
        "reviews": {"totalCount": 1, "nodes": [{"author": {"login": "bob"}, "state": "APPROVED"}]},
    }


def test_ghost_authors_are_null_and_bots_resolve_to_bot(fake, widgets, session):
    ghost = next(p for p in widgets.pull_requests if p.author is None)
    bot = next(p for p in widgets.pull_requests if p.author_is_bot)
    q = """query($n: Int!) { repository(owner: "demo", name: "widgets") { pullRequest(number: $n) {
        author { __typename login ... on Bot { id } ... on User { name } } } } }"""
    assert gql(session, fake, q, {"n": ghost.number}).json()["data"]["repository"]["pullRequest"]["author"] is None
    author = gql(session, fake, q, {"n": bot.number}).json()["data"]["repository"]["pullRequest"]["author"]
    assert author["__typename"] == "Bot" and author["login"] == bot.author and "[bot]" not in author["login"]
    assert author["id"].startswith("BOT_")


def test_reviews_of_the_150_review_pr_page_by_cursor(fake, widgets, session):
    pr = next(p for p in widgets.pull_requests if len(p.reviews) == 150)
    q = """query($n: Int!, $c: String) { repository(owner: "demo", name: "widgets") { pullRequest(number: $n) {
        reviews(first: 100, after: $c) { totalCount pageInfo { hasNextPage endCursor } nodes { submittedAt } } } } }"""
    first = gql(session, fake, q, {"n": pr.number}).json()["data"]["repository"]["pullRequest"]["reviews"]
    assert first["totalCount"] == 150 and first["pageInfo"]["hasNextPage"] and len(first["nodes"]) == 100
    second = gql(session, fake, q, {"n": pr.number, "c": first["pageInfo"]["endCursor"]}).json()
    rest = second["data"]["repository"]["pullRequest"]["reviews"]
    assert len(rest["nodes"]) == 50 and not rest["pageInfo"]["hasNextPage"]
    assert [n["submittedAt"] for n in first["nodes"] + rest["nodes"]] == [r.submitted_at for r in pr.reviews]


def test_missing_pull_request_is_not_found(fake, session):
    r = gql(session, fake, '{ repository(owner: "demo", name: "widgets") { pullRequest(number: 99999) { title } } }')
    (err,) = r.json()["errors"]
    assert (
        err["type"] == "NOT_FOUND" and err["message"] == "Could not resolve to a PullRequest with the number of 99999."
    )


def test_null_in_a_non_null_field_is_an_error_unless_relaxed():
    repo = FakeRepository(
        "rec",
        "orded",
        [
            FakePullRequest(
                1,
                "t",
                "OPEN",
                False,
                "a",
                False,
                "2024-01-01T00:00:00Z",
                "2024-01-01T00:00:00Z",
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                "main",
                "x",
            )
        ],
    )
    q = (
        '{ repository(owner: "rec", name: "orded") { pullRequests(first: 1) { nodes { number additions '
        "changedFiles commits { totalCount } } } } }"
    )
    with requests.Session() as s:
        with FakeGitHub([repo]) as strict:
            body = gql(s, strict, q, token="x").json()
            assert "Cannot return null for non-nullable field PullRequest.additions." in [
                e["message"] for e in body["errors"]
            ]
        with FakeGitHub([repo], relax_nullability=True) as relaxed:
            body = gql(s, relaxed, q, token="x").json()
            assert "errors" not in body
            assert body["data"]["repository"]["pullRequests"]["nodes"] == [
                {"number": 1, "additions": None, "changedFiles": None, "commits": {"totalCount": None}}
            ]


# ----------------------------------------------------------------------------------- search


@pytest.mark.parametrize("qualifier", ["updated:>=2026-01-20", "updated:>=2026-01-20T00:00:00Z"])
def test_search_issue_count_matches_updated_since(fake, widgets, session, qualifier):
    q = """query($q: String!) { search(query: $q, type: ISSUE, first: 10) {
        issueCount nodes { ... on PullRequest { number updatedAt } } } }"""
    result = gql(session, fake, q, {"q": f"repo:demo/widgets is:pr {qualifier}"}).json()["data"]["search"]
    expected = [p for p in widgets.pull_requests if p.updated_at >= "2026-01-20T00:00:00Z"]
    assert 0 < result["issueCount"] == len(expected) < 600
    assert all(n["updatedAt"] >= "2026-01-20T00:00:00Z" for n in result["nodes"])


def test_search_strictly_after_a_date_excludes_that_day(fake, widgets, session):
    q = "query($q: String!) { search(query: $q, type: ISSUE, first: 1) { issueCount } }"
    count = gql(session, fake, q, {"q": "repo:demo/widgets is:pr updated:>2026-01-20"}).json()["data"]["search"]
    assert count["issueCount"] == sum(p.updated_at >= "2026-01-21T00:00:00Z" for p in widgets.pull_requests)


# ----------------------------------------------------------------------------------- HTTP details


def test_base_url_with_api_v3_works_for_rest_and_graphql(fake):
    gh = pygithub(fake, base_url=fake.url + "/api/v3")
    assert gh.requester.graphql_url == fake.url + "/api/graphql"
    repo = gh.get_repo("demo/widgets")
    assert repo.full_name == "demo/widgets" and repo.url == fake.url + "/api/v3/repos/demo/widgets"
    assert gh.requester.graphql_query(VIEWER, {})[1]["data"]["viewer"]["login"] == "alice"


def test_rest_repository_and_404_shapes(fake, session):
    auth = {"Authorization": "token t-alice"}
    repo = session.get(fake.url + "/repos/Demo/WIDGETS", headers=auth).json()
    assert {"id", "node_id", "full_name", "owner", "default_branch", "created_at", "pushed_at"} <= repo.keys()
    assert repo["full_name"] == "demo/widgets" and repo["private"] is False
    missing = session.get(fake.url + "/repos/demo/nothing", headers=auth)
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
    unknown = session.get(fake.url + "/what/ever", headers=auth)
    assert unknown.status_code == 404 and unknown.json()["status"] == "404"


def test_session_keeps_one_connection_alive(fake, session):
    for _ in range(20):
        assert gql(session, fake, VIEWER).status_code == 200
    assert fake.stats["connections_opened"] == 1


def test_before_request_hook_sees_path_and_payload(fake, session):
    seen = []
    fake.before_request = lambda path, payload: seen.append((path, payload and payload["query"]))
    gql(session, fake, VIEWER)
    session.get(fake.url + "/rate_limit")
    assert seen == [("/graphql", VIEWER), ("/rate_limit", None)]


def test_request_log_keeps_variables_but_never_tokens(fake, session):
    for i in range(105):
        gql(session, fake, "query($i: Int) { viewer { login } }", {"i": i})
    log = fake.request_log
    assert len(log) == 100 and log[-1]["variables"] == {"i": 104}
    assert "t-alice" not in json.dumps(log)


# ----------------------------------------------------------------------------------- faults


def test_fault_rate_is_roughly_honoured_and_faults_spend_nothing(widgets, session):
    with FakeGitHub([widgets], fault_rate=0.3, fault_seed=5) as fake:
        statuses = [gql(session, fake, VIEWER, token="x").status_code for _ in range(300)]
        ok = statuses.count(200)
        assert 60 <= 300 - ok <= 120
        assert set(statuses) <= {200, 502, 504, 403}
        assert fake.rate_limit("octocat", "graphql")["used"] == ok
        assert fake.stats["faults_injected"] == 300 - ok


def test_secondary_rate_limit_fault_has_retry_after(fake, session):
    fake.inject(403)
    r = gql(session, fake, VIEWER)
    assert r.status_code == 403 and r.headers["retry-after"] == "1"
    assert r.json()["message"].startswith("You have exceeded a secondary rate limit")


def test_injected_responses_come_first_and_spend_nothing(fake, session):
    fake.inject(502, times=2)
    fake.inject(200, body={"data": None, "errors": [{"type": "RATE_LIMITED", "message": "x"}]})
    codes = [gql(session, fake, VIEWER).status_code for _ in range(4)]
    assert codes == [502, 502, 200, 200]
    assert fake.rate_limit("alice", "graphql")["used"] == 1


def test_injected_faults_skip_rate_limit_endpoint(fake, session):
    fake.inject(504)
    assert session.get(fake.url + "/rate_limit").status_code == 200
    r = gql(session, fake, VIEWER)
    assert r.status_code == 504 and r.headers["Content-Type"].startswith("text/html")


def test_big_pages_time_out_with_502(widgets, session):
    with FakeGitHub([widgets], timeout_page_size=25) as fake:
        big = gql(session, fake, PR_PAGE, {"owner": "demo", "name": "widgets", "first": 50}, token="x")
        small = gql(session, fake, PR_PAGE, {"owner": "demo", "name": "widgets", "first": 25}, token="x")
    assert big.status_code == 502 and "Something went wrong" in big.json()["errors"][0]["message"]
    assert small.status_code == 200 and len(small.json()["data"]["repository"]["pullRequests"]["nodes"]) == 25


def test_latency_is_added_per_request(widgets, session):
    import time

    with FakeGitHub([widgets], latency=0.05) as fake:
        t = time.perf_counter()
        gql(session, fake, VIEWER, token="x")
        assert time.perf_counter() - t >= 0.05


def test_stats_count_requests_by_kind_and_status(fake, session):
    gql(session, fake, VIEWER)
    session.get(fake.url + "/rate_limit")
    session.get(fake.url + "/repos/demo/nothing", headers={"Authorization": "token t-alice"})
    stats = fake.stats
    assert (stats["graphql_requests"], stats["graphql_points"], stats["rest_calls"], stats["rate_limit_calls"]) == (
        1,
        1,
        1,
        1,
    )
    assert stats["requests_by_status"] == {200: 2, 404: 1}
    fake.reset_stats()
    assert fake.stats["graphql_requests"] == 0
