"""GitHub's GraphQL cost formula and pagination limits."""

from __future__ import annotations

import pytest
from fakegithub_support import PR_PAGE, pygithub
from github import GithubException
from graphql import build_schema

from ghsync.fakegithub.cost import calculate_cost, points_for

# GitHub's documented example (docs: "Rate limits and node limits for the GraphQL API").
DOCUMENTED_EXAMPLE = """
query {
  viewer {
    login
    repositories(first: 100) {
      edges { node { id
        issues(first: 50) { edges { node { id
          labels(first: 60) { edges { node { id name } } }
        } } }
      } }
    }
  }
}
"""

EXAMPLE_SCHEMA = build_schema("""
type Query { viewer: User! }
type User { login: String! repositories(first: Int, after: String): RepositoryConnection! }
type RepositoryConnection { edges: [RepositoryEdge] totalCount: Int! }
type RepositoryEdge { node: Repository }
type Repository { id: ID! issues(first: Int): IssueConnection! }
type IssueConnection { edges: [IssueEdge] }
type IssueEdge { node: Issue }
type Issue { id: ID! labels(first: Int): LabelConnection }
type LabelConnection { edges: [LabelEdge] }
type LabelEdge { node: Label }
type Label { id: ID! name: String! }
""")


def test_documented_example_costs_5101_requests_and_51_points_with_its_schema():
    cost = calculate_cost(DOCUMENTED_EXAMPLE, schema=EXAMPLE_SCHEMA)
    assert (cost.requests, cost.points, cost.node_count) == (5101, 51, 305_100)


def test_documented_example_costs_the_same_without_a_schema():
    cost = calculate_cost(DOCUMENTED_EXAMPLE, schema=None)
    assert (cost.requests, cost.points) == (5101, 51)


@pytest.mark.parametrize(("first", "requests", "points"), [(49, 148, 1), (50, 151, 2), (100, 301, 3)])
def test_pull_request_page_cost(first, requests, points):
    cost = calculate_cost(PR_PAGE, {"owner": "o", "name": "r", "first": first})
    assert (cost.requests, cost.points) == (requests, points)


def test_points_round_half_up_with_minimum_one():
    assert [points_for(n) for n in (0, 1, 49, 50, 149, 150, 151, 5101)] == [1, 1, 1, 1, 1, 2, 2, 51]


def test_aliased_duplicate_connections_each_count():
    q = """{ repository(owner: "o", name: "r") {
        a: pullRequests(first: 10) { nodes { reviews(first: 10) { totalCount } } }
        b: pullRequests(first: 10) { nodes { reviews(first: 10) { totalCount } } } } }"""
    assert calculate_cost(q).requests == 2 * (1 + 10)


def test_total_count_only_connection_needs_no_first_and_counts_once():
    q = '{ repository(owner: "o", name: "r") { pullRequests { totalCount } } }'
    cost = calculate_cost(q)
    assert (cost.requests, cost.errors) == (1, ())


def test_fragments_and_search_unions_are_walked():
    q = """query { search(query: "is:pr", type: ISSUE, first: 20) {
        nodes { ...P } } }
        fragment P on PullRequest { reviews(first: 10) { nodes { state } } labels(first: 5) { totalCount } }"""
    assert calculate_cost(q).requests == 1 + 20 + 20


def test_first_over_100_is_excessive_pagination():
    q = '{ repository(owner: "o", name: "r") { pullRequests(first: 101) { nodes { number } } } }'
    (err,) = calculate_cost(q).errors
    assert err["type"] == "EXCESSIVE_PAGINATION"
    assert err["message"] == (
        "Requesting 101 records on the `pullRequests` connection exceeds the `first` limit of 100 records."
    )


def test_nodes_without_first_or_last_is_missing_pagination_boundaries():
    q = '{ repository(owner: "o", name: "r") { pullRequest(number: 1) { reviews { nodes { state } } } } }'
    (err,) = calculate_cost(q).errors
    assert err["type"] == "MISSING_PAGINATION_BOUNDARIES"
    assert err["message"] == "You must provide a `first` or `last` value to properly paginate the `reviews` connection."


def test_node_limit_of_500000_is_enforced():
    q = """{ search(query: "x", type: ISSUE, first: 100) { nodes { ... on PullRequest {
        reviews(first: 100) { nodes { state } } labels(first: 100) { nodes { name } }
        commits(first: 100) { nodes { id } } comments(first: 100) { nodes { id } }
        reviewRequests(first: 100) { nodes { id } } } } } }"""
    assert calculate_cost(q).node_count == 100 + 5 * 100 * 100 and not calculate_cost(q).errors
    # Our schema nests two levels deep, so 50 aliased 100x100 connections reach 100 + 500,000 nodes.
    aliases = " ".join(f"r{i}: reviews(first: 100) {{ nodes {{ id }} }}" for i in range(50))
    deep = f'{{ search(query: "x", type: ISSUE, first: 100) {{ nodes {{ ... on PullRequest {{ {aliases} }} }} }} }}'
    errors = calculate_cost(deep).errors
    assert [e["type"] for e in errors] == ["MAX_NODE_LIMIT_EXCEEDED"]


def test_server_charges_the_formula_and_reports_it_in_rate_limit(fake):
    gh = pygithub(fake)
    for first, points in ((49, 1), (50, 2)):
        before = fake.rate_limit("alice", "graphql")["remaining"]
        _, body = gh.requester.graphql_query(PR_PAGE, {"owner": "demo", "name": "widgets", "first": first})
        rate = body["data"]["rateLimit"]
        assert rate["cost"] == points
        assert rate["remaining"] == before - points == fake.rate_limit("alice", "graphql")["remaining"]


def test_server_rejects_first_over_100_before_spending(fake):
    gh = pygithub(fake)
    with pytest.raises(GithubException) as info:
        gh.requester.graphql_query(PR_PAGE, {"owner": "demo", "name": "widgets", "first": 101})
    assert info.value.data["errors"][0]["type"] == "EXCESSIVE_PAGINATION"
    assert fake.rate_limit("alice", "graphql")["used"] == 0


def test_server_rejects_missing_first_on_nodes(fake):
    gh = pygithub(fake)
    q = '{ repository(owner: "demo", name: "widgets") { pullRequests { nodes { number } } } }'
    with pytest.raises(GithubException) as info:
        gh.requester.graphql_query(q, {})
    assert info.value.data["errors"][0]["message"] == (
        "You must provide a `first` or `last` value to properly paginate the `pullRequests` connection."
    )
