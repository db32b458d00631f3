"""GraphQL page planning (the cost formula, the cheapest page size) and reading a node into its record."""

import pytest
from pydantic import ValidationError

from ghsync.github.graphql import (
    _from_node,
    cheapest_page_size,
    floor_points,
    graphql_cost,
    page_requests,
    pull_request_page_query,
)
from ghsync.models import PageRequest, ReviewRecord


def test_cost_is_requests_over_100_rounded_at_least_one():
    assert graphql_cost(1) == 1
    assert graphql_cost(101) == 1
    assert graphql_cost(149) == 1
    assert graphql_cost(150) == 2
    assert graphql_cost(5101) == 51


def test_page_size_keeps_a_page_at_one_point():
    size = cheapest_page_size(extra_connections=1)
    assert size == 49
    assert graphql_cost(page_requests(size, extra_connections=1)) == 1
    assert graphql_cost(page_requests(size + 1, extra_connections=1)) == 2


def test_counting_the_window_costs_one_pr_of_page_size():
    assert cheapest_page_size(extra_connections=2) == 48


def test_halved_page_size_limit_is_respected():
    assert cheapest_page_size(extra_connections=1, limit=12) == 12


def test_floor_for_a_thousand_prs_is_21_points():
    assert floor_points(1000) == 21


def test_window_count_asks_github_search_for_updated_since():
    _, variables = pull_request_page_query(PageRequest("o", "r", count="2026-01-01T00:00:00Z"), 48)
    assert variables["countQuery"] == "repo:o/r is:pr updated:>=2026-01-01T00:00:00Z"


def test_full_history_count_uses_total_count_not_search():
    query, variables = pull_request_page_query(PageRequest("o", "r", count="all"), 49)
    assert "search" not in query and "countQuery" not in variables


def test_a_record_is_built_by_its_field_names_not_githubs():
    """GitHub's paths are the registry fields' aliases only for reading a node (the parser asks for them)."""
    assert ReviewRecord(node_id="R_1", state="APPROVED").node_id == "R_1"
    with pytest.raises(ValidationError):
        ReviewRecord(id="R_1", state="APPROVED")


def test_a_node_is_read_at_githubs_paths():
    node = {"author": {"__typename": "Bot", "login": "ci[bot]"}, "state": "COMMENTED", "fullDatabaseId": "12"}
    review = _from_node(ReviewRecord, node)
    assert (review.author, review.author_type, review.database_id, review.submitted_at) == ("ci[bot]", "Bot", 12, None)
