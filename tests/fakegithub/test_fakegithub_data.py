"""The generator's edge cases and determinism, and serving the recorded datasets faithfully."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from fakegithub_support import NOW, pygithub, real_dataset

from ghsync.fakegithub import FakeGitHub, generate_repository, load_dataset

REVIEW_STATES = {"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"}


@pytest.fixture(scope="module")
def big():
    return generate_repository("acme/big", 2000, seed=11, now=NOW)


def test_generation_is_deterministic_for_a_seed():
    a = generate_repository("o/r", 300, seed=4, now=NOW)
    b = generate_repository("o/r", 300, seed=4, now=NOW)
    c = generate_repository("o/r", 300, seed=5, now=NOW)
    assert a == b
    assert a != c


def test_numbers_and_times_are_consistent(big):
    now = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    start = (NOW - timedelta(days=730)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [p.number for p in big.pull_requests] == list(range(1, 2001))
    assert len({p.database_id for p in big.pull_requests}) == 2000
    for p in big.pull_requests:
        assert start <= p.created_at <= p.updated_at <= now
        submitted = [r.submitted_at for r in p.reviews if r.submitted_at is not None]
        assert submitted == sorted(submitted)
        assert all(p.created_at <= t <= p.updated_at for t in submitted)
        assert all(r.state in REVIEW_STATES for r in p.reviews)


def test_state_fields_follow_github_rules(big):
    for p in big.pull_requests:
        if p.state == "MERGED":
            assert p.merged_at and p.closed_at and not p.is_draft
        elif p.state == "CLOSED":
            assert p.closed_at and p.merged_at is None and p.merged_by is None
        else:
            assert p.closed_at is None and p.merged_at is None and p.merged_by is None


def test_a_60_day_window_is_a_strict_nonempty_subset(big):
    cut = (NOW - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = sum(p.updated_at >= cut for p in big.pull_requests)
    assert 0.05 * 2000 < recent < 0.5 * 2000


def test_edge_cases_are_present(big):
    prs = big.pull_requests
    reviews = [(p, r) for p in prs for r in p.reviews]
    assert sum(len(p.reviews) == 150 for p in prs) == 1
    assert sum(not p.reviews for p in prs) > 0.25 * len(prs)
    assert any(p.author is None for p in prs), "ghost author"
    assert any(r.author is None for _, r in reviews), "ghost reviewer"
    assert {"dependabot", "renovate"} <= {p.author for p in prs if p.author_is_bot}
    assert not any("[bot]" in (p.author or "") for p in prs)
    assert any(p.is_draft for p in prs)
    assert any(p.author is not None and r.author == p.author for p, r in reviews), "self-review"
    assert {r.state for _, r in reviews} == REVIEW_STATES
    assert all(r.submitted_at is None for _, r in reviews if r.state == "PENDING")
    assert any(p.state == "MERGED" and p.merged_by is None for p in prs), "ghost merger"
    assert any(len(p.labels) >= 10 for p in prs)
    titles = [p.title for p in prs]
    assert any(len(t) == 256 for t in titles) and max(map(len, titles)) == 256
    assert any(any(0x1F300 <= ord(ch) <= 0x1FAFF for ch in t) for t in titles), "emoji"
    assert any(any(0x4E00 <= ord(ch) <= 0x9FFF for ch in t) for t in titles), "CJK"
    assert any(any(0x0590 <= ord(ch) <= 0x06FF for ch in t) for t in titles), "RTL"


def test_sizes_spread_from_xs_to_xxl(big):
    sizes = [p.additions + p.deletions for p in big.pull_requests]
    buckets = {"XS": (0, 10), "S": (10, 30), "M": (30, 100), "L": (100, 500), "XL": (500, 1000), "XXL": (1000, 10**9)}
    for name, (lo, hi) in buckets.items():
        assert any(lo <= s < hi for s in sizes), name
    assert all(isinstance(p.changed_files, int) and isinstance(p.commits, int) for p in big.pull_requests)


def test_small_repositories_scale_down():
    assert generate_repository("o/r", 0, now=NOW).pull_requests == []
    small = generate_repository("o/r", 12, now=NOW)
    assert [p.number for p in small.pull_requests] == list(range(1, 13))
    assert any(p.author is None for p in small.pull_requests)


def test_generating_50000_prs_is_fast():
    t = time.perf_counter()
    repo = generate_repository("bench/huge", 50_000, now=NOW)
    assert len(repo.pull_requests) == 50_000
    assert time.perf_counter() - t < 5


# ----------------------------------------------------------------------------------- recorded data

FULL_PAGE = """
query($owner: String!, $name: String!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: 40, after: $cursor) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number title state isDraft createdAt updatedAt closedAt mergedAt
        additions deletions changedFiles baseRefName headRefName
        author { login } mergedBy { login }
        labels(first: 100) { nodes { name } }
        commits { totalCount }
        reviews(first: 100) { nodes { author { login } state submittedAt } }
      }
    }
  }
}
"""


def _as_file_record(node: dict) -> dict:
    login = lambda a: a and a["login"]
    return {
        "number": node["number"],
        "title": node["title"],
        "state": node["state"],
        "is_draft": node["isDraft"],
        "author": login(node["author"]),
        "created_at": node["createdAt"],
        "updated_at": node["updatedAt"],
        "closed_at": node["closedAt"],
        "merged_at": node["mergedAt"],
        "merged_by": login(node["mergedBy"]),
        "additions": node["additions"],
        "deletions": node["deletions"],
        "changed_files": node["changedFiles"],
        "commits": node["commits"]["totalCount"],
        "base_ref": node["baseRefName"],
        "head_ref": node["headRefName"],
        "labels": [lb["name"] for lb in node["labels"]["nodes"]],
        "reviews": [
            {"author": login(r["author"]), "state": r["state"], "submitted_at": r["submittedAt"]}
            for r in node["reviews"]["nodes"]
        ],
    }


@pytest.mark.parametrize("filename", ["apache__incubator-devlake.json", "panjf2000__ants.json"])
def test_real_dataset_is_served_field_for_field(filename):
    path = real_dataset(filename)
    recorded = json.loads(path.read_text(encoding="utf-8"))
    repo = load_dataset(path)
    assert repo.full_name == recorded["repo"] and repo.now == recorded["now"]
    with FakeGitHub([repo], relax_nullability=True) as fake:
        gh = pygithub(fake, "any")
        served, cursor = [], None
        while True:
            _, body = gh.requester.graphql_query(FULL_PAGE, {"owner": repo.owner, "name": repo.name, "cursor": cursor})
            conn = body["data"]["repository"]["pullRequests"]
            served += [_as_file_record(n) for n in conn["nodes"]]
            if not conn["pageInfo"]["hasNextPage"]:
                break
            cursor = conn["pageInfo"]["endCursor"]
    assert served == recorded["pull_requests"]


def test_real_dataset_loader_keeps_nulls():
    repo = load_dataset(real_dataset("panjf2000__ants.json"))
    assert all(p.additions is None and p.changed_files is None for p in repo.pull_requests)
    assert sum(p.commits is None for p in repo.pull_requests) == 6
    assert len(max(repo.pull_requests, key=lambda p: len(p.title)).title) == 1188
