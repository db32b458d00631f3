"""The pull-request Source as the engine sees it: it sizes its pages, asks `wanted` once per page, completes
only the wanted PRs, returns every PR of the page, and counts what it spends."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from ghsync_testing import REPO, TOKEN, FakeGitHub, GraphQLRequests, expected_records, generate_repository

from ghsync.github.pulls import open_source
from ghsync.models import PageRequest

OWNER, NAME = REPO.split("/")


@pytest.fixture(scope="module")
def repository():
    return generate_repository(REPO, 120, seed=4, now=datetime(2025, 9, 1, 12, tzinfo=UTC))


@pytest.fixture
def fake(repository):
    # The busiest PR (more than 100 reviews) is the newest: it is on the first page and needs a follow-up.
    with FakeGitHub([copy.deepcopy(repository)]) as server:
        busiest = max(server.repositories[0].pull_requests, key=lambda pr: len(pr.reviews))
        server.touch_pull_request(REPO, busiest.number, title="Busiest")
        yield server


def test_wanted_sees_the_whole_page_once_and_only_wanted_prs_get_follow_ups(fake):
    source = open_source([TOKEN], api_url=fake.url, threshold=100, sleep=lambda s: None)
    calls = []
    requests = GraphQLRequests(fake)

    def nothing_wanted(versions):
        calls.append(list(versions))
        return set()

    page = source.fetch_page(PageRequest(OWNER, NAME, count="2000-01-01T00:00:00Z"), wanted=nothing_wanted)
    assert len(calls) == 1 and [v.key for v in calls[0]] == [r.number for r in page.records]
    assert len(page.records) == 48, "the cost formula's size when the page also counts the window"
    assert len(requests.payloads) == 1, "no follow-up for a PR nobody wants"

    wanted_page = source.fetch_page(PageRequest(OWNER, NAME), wanted=lambda versions: {v.key for v in versions})
    assert len(requests.payloads) == 3, "one page and one follow-up"
    assert len(wanted_page.records) == 49
    expected = expected_records(fake.repositories[0])
    assert all(record == expected[record.number] for record in wanted_page.records)
    assert source.spent().points == fake.stats["graphql_points"] == 3
