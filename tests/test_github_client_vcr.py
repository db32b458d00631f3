"""The GitHub client replayed from vcrpy cassettes: GitHub's answers parsed, no token ever recorded.

The cassettes were recorded from the bundled fake GitHub (deleting one re-records it on the next run).
Replay matches method, path and the GraphQL body, so it needs no server at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import vcr
from ghsync_testing import TOKEN, FakeGitHub, generate_repository

from ghsync.errors import AuthenticationError, RepositoryNotFound
from ghsync.github.client import GitHubClient
from ghsync.github.pool import TokenPool
from ghsync.github.pulls import GitHubPullRequestSource
from ghsync.models import PageRequest

CASSETTES = Path(__file__).parent / "cassettes"
FIXED_NOW = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
REPO = "cassette-org/gadgets"

recorder = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="once",
    match_on=["method", "path", "body"],
    filter_headers=["authorization"],
    decode_compressed_response=True,
)


@pytest.fixture
def api_url(request):
    """A fake GitHub while recording; a dead address when the cassette replays."""
    cassette = CASSETTES / f"{request.node.name}.yaml"
    if cassette.exists():
        yield "http://127.0.0.1:9"
        return
    repository = generate_repository(REPO, 60, seed=3, now=FIXED_NOW)
    with FakeGitHub([repository], tokens={TOKEN: "octocat"}) as fake:
        yield fake.url


def source_for(api_url: str, token: str = TOKEN) -> GitHubPullRequestSource:
    return GitHubPullRequestSource(TokenPool([GitHubClient(token, api_url=api_url)], threshold=100))


def every(versions):
    return {version.key for version in versions}


def test_pull_request_pages_are_parsed_into_complete_records(api_url, request):
    with recorder.use_cassette(f"{request.node.name}.yaml"):
        source = source_for(api_url)
        first = source.fetch_page(PageRequest("cassette-org", "gadgets", count="all"), wanted=every)
        second = source.fetch_page(PageRequest("cassette-org", "gadgets", after=first.end_cursor), wanted=every)
    numbers = [r.number for r in first.records + second.records]
    assert sorted(numbers) == list(range(1, 61))
    assert first.total_count == 60 and first.has_next_page and not second.has_next_page
    assert first.records[0].updated_at >= first.records[-1].updated_at
    # Two pages, plus one follow-up for the PR with 150 reviews (more than a page's nested 100).
    assert max(len(r.reviews) for r in first.records + second.records) == 150
    assert source.spent().points == 3
    assert source.budget().remaining is not None
    # Every page names the repository that answered, with GitHub's ids (stored by the sync).
    assert first.identity is not None and first.identity.full_name == REPO
    assert first.identity.node_id and first.identity.node_id.startswith("R_") and first.identity.database_id


def test_bad_token_is_an_authentication_error(api_url, request):
    with (
        recorder.use_cassette(f"{request.node.name}.yaml"),
        pytest.raises(AuthenticationError, match="rejected the token"),
    ):
        source_for(api_url, token="not-a-valid-token")


def test_unknown_repository_is_repository_not_found(api_url, request):
    with recorder.use_cassette(f"{request.node.name}.yaml"):
        source = source_for(api_url)
        with pytest.raises(RepositoryNotFound):
            source.fetch_page(PageRequest("cassette-org", "missing", count="all"), wanted=every)


def test_cassettes_hold_no_token_and_no_authorization_header():
    texts = [path.read_text() for path in CASSETTES.glob("*.yaml")]
    assert texts, "cassettes are committed with the tests"
    for text in texts:
        assert TOKEN not in text and "not-a-valid-token" not in text
        assert "authorization" not in text.lower()
