"""The fake's repository owners: `repositoryOwner(login:) { repositories(...) }` answered like GitHub,
and the switch pricing count-only connections either way."""

from __future__ import annotations

import pytest
import requests

from ghsync.fakegithub import FakeGitHub, generate_repository
from ghsync.fakegithub.cost import calculate_cost

LISTING = """query($login: String!, $after: String, $isFork: Boolean) {
  rateLimit { cost }
  repositoryOwner(login: $login) { login __typename
    repositories(first: 2, after: $after, isFork: $isFork, orderBy: {field: NAME, direction: ASC}) {
      pageInfo { hasNextPage endCursor }
      nodes { nameWithOwner isArchived isFork
        pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount nodes { updatedAt } } } } } }"""


@pytest.fixture
def owners():
    repositories = [generate_repository(f"acme/r{i}", i, seed=3) for i in range(4)]
    repositories[1].is_archived = True
    repositories[2].is_fork = True
    with FakeGitHub([*repositories, generate_repository("other/x", 1, seed=3)]) as fake:
        yield fake


def ask(fake: FakeGitHub, query: str, **variables) -> dict:
    answer = requests.post(
        f"{fake.url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": "bearer t"},
        timeout=10,
    )
    assert answer.status_code == 200
    return answer.json()


def test_an_owners_repositories_are_paged_by_name_with_their_flags_and_heads(owners):
    first = ask(owners, LISTING, login="acme")["data"]["repositoryOwner"]
    assert first["__typename"] == "Organization"
    page = first["repositories"]
    assert [n["nameWithOwner"] for n in page["nodes"]] == ["acme/r0", "acme/r1"]
    assert page["nodes"][1]["isArchived"] is True
    assert page["nodes"][1]["pullRequests"]["totalCount"] == 1
    rest = ask(owners, LISTING, login="acme", after=page["pageInfo"]["endCursor"])
    nodes = rest["data"]["repositoryOwner"]["repositories"]["nodes"]
    assert [n["nameWithOwner"] for n in nodes] == ["acme/r2", "acme/r3"]
    assert nodes[0]["isFork"] is True


def test_is_fork_false_leaves_forks_out(owners):
    nodes = ask(owners, LISTING, login="acme", isFork=False)["data"]["repositoryOwner"]["repositories"]["nodes"]
    assert "acme/r2" not in [n["nameWithOwner"] for n in nodes]


def test_an_unknown_owner_is_null_data_with_a_not_found_error(owners):
    body = ask(owners, LISTING, login="nobody")
    assert body["data"]["repositoryOwner"] is None
    (error,) = body["errors"]
    assert error["type"] == "NOT_FOUND" and error["path"] == ["repositoryOwner"]
    assert "nobody" in error["message"]


COUNT_ONLY = 'query { repository(owner: "a", name: "b") { pullRequests { totalCount } } }'


def test_count_only_connections_are_charged_by_default():
    assert calculate_cost(COUNT_ONLY).requests == 1


def test_count_only_connections_can_be_priced_free():
    assert calculate_cost(COUNT_ONLY, count_only_free=True).requests == 0


def test_the_server_switch_prices_a_count_only_heavy_query_either_way():
    # 80 repositories × (a count-only connection + a paged one): 160 requests (2 points) or 80 (1 point).
    repositories = [generate_repository(f"acme/r{i}", 1, seed=3) for i in range(80)]
    parts = " ".join(
        f'r{i}: repository(owner: "acme", name: "r{i}") {{ a: pullRequests {{ totalCount }} '
        f"b: pullRequests(first: 1) {{ nodes {{ number }} }} }}"
        for i in range(80)
    )
    query = f"query {{ rateLimit {{ cost }} {parts} }}"
    costs = []
    for free in (False, True):
        with FakeGitHub(repositories, count_only_connections_free=free) as fake:
            costs.append(ask(fake, query)["data"]["rateLimit"]["cost"])
    assert costs == [2, 1]
