"""A full-history sync fetches its next page while it writes the current one (issue #13), and that never
costs a point the sync would not have spent."""

from __future__ import annotations

import time

from ghsync_testing import REPO, GraphQLRequests, cli_flags, expected_records, invoke, repository_row, stored_records

from ghsync.store import SqliteStore

PAGES = 7  # the 300-PR fixture at 49 PRs a page


def test_the_next_page_is_requested_while_the_current_one_is_written(fake, db_path, monkeypatch):
    requests = GraphQLRequests(fake)
    original = SqliteStore.save_page
    asked_during_write: list[bool] = []

    def save_page(self, job, records, progress):
        saved = len(asked_during_write) + 1
        deadline = time.monotonic() + 5
        # Hold the write until GitHub has been asked for the next page (or give up: then it was not).
        while len(requests.pages) <= saved and time.monotonic() < deadline and saved < PAGES:
            time.sleep(0.005)
        asked_during_write.append(len(requests.pages) > saved)
        return original(self, job, records, progress)

    monkeypatch.setattr(SqliteStore, "save_page", save_page)
    assert invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path)).exit_code == 0
    assert asked_during_write == [True] * (PAGES - 1) + [False]
    assert stored_records(db_path) == expected_records(fake.repositories[0])


def test_a_full_history_sync_asks_for_no_page_it_does_not_use(fake, db_path):
    requests = GraphQLRequests(fake)
    assert invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path)).exit_code == 0
    assert len(requests.pages) == PAGES


def test_nothing_is_fetched_ahead_past_the_rate_limit_threshold(fake, db_path):
    # No follow-ups here (a PR with more than 100 reviews): every point goes to a page.
    for pr in fake.repositories[0].pull_requests:
        pr.reviews = pr.reviews[:100]
    fake.invalidate_caches()
    requests = GraphQLRequests(fake)
    fake.set_remaining("graphql", 103)
    result = invoke("--min-remaining", 100, "track", REPO, "--days", "all", *cli_flags(fake, db_path))
    assert result.exit_code == 75
    # 103 → 99: four pages asked for, and every one of them written.
    assert fake.stats["graphql_points"] == len(requests.pages) == 4
    assert repository_row(db_path)["sync_prs_completed"] == 4 * 49
    fake.set_remaining("graphql", 5000)
    assert invoke("sync", *cli_flags(fake, db_path)).exit_code == 0
    assert stored_records(db_path) == expected_records(fake.repositories[0])
