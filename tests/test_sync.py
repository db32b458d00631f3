"""The core sync against the fake GitHub: complete, exact, windowed, cheap, with honest progress."""

from __future__ import annotations

import copy
import time
from datetime import datetime, timedelta

import pytest
from ghsync_testing import (
    REPO,
    TOKEN,
    FakeGitHub,
    expected_records,
    generate_repository,
    load_dataset,
    real_dataset_paths,
    repository_row,
    stored_records,
    track,
)

from ghsync.config import load_settings
from ghsync.github.graphql import floor_points
from ghsync.service.sync import SyncHooks, sync_tracked, track_repository
from ghsync.store import SqliteStore
from ghsync.timefmt import iso


@pytest.fixture(scope="module")
def large_repository():
    return generate_repository(REPO, 2000, seed=11)


def test_every_pr_and_review_of_a_2000_pr_repository_is_stored_exactly(large_repository, tmp_path):
    with FakeGitHub([copy.deepcopy(large_repository)]) as fake:
        settings = load_settings(db=tmp_path / "g.db", tokens=[TOKEN], api_url=fake.url)
        result = track(settings)
    assert result.report.outcome == "complete"
    assert stored_records(tmp_path / "g.db") == expected_records(large_repository)


def test_generated_repository_has_the_edge_cases_naive_clients_get_wrong(large_repository):
    prs = large_repository.pull_requests
    assert any(pr.author is None for pr in prs)
    assert any(r.author is None for pr in prs for r in pr.reviews)
    assert max(len(pr.reviews) for pr in prs) >= 150
    assert any(pr.author_is_bot for pr in prs)
    assert any(pr.is_draft for pr in prs)
    assert any(len(pr.title) >= 200 for pr in prs)
    assert any(not pr.reviews for pr in prs)


def test_days_window_stores_exactly_the_prs_updated_in_it(small_repository, tmp_path):
    with FakeGitHub([copy.deepcopy(small_repository)]) as fake:
        settings = load_settings(db=tmp_path / "w.db", tokens=[TOKEN], api_url=fake.url)
        result = track(settings, days="60")
    started = datetime.fromisoformat(result.report.started_at)
    cutoff = (started - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    expected = {n: r for n, r in expected_records(small_repository).items() if r.updated_at >= cutoff}
    assert 0 < len(expected) < len(small_repository.pull_requests)
    assert stored_records(tmp_path / "w.db") == expected
    assert result.report.prs_total == len(expected)


def test_progress_moves_with_every_page_and_ends_complete_at_100(settings):
    seen = []
    result = track(settings, hooks=SyncHooks(on_progress=lambda row: seen.append(dict(vars(row)))))
    completed = [row["sync_prs_completed"] for row in seen]
    assert completed == sorted(completed)
    assert len(set(completed)) >= 300 // 49
    assert all(row["sync_prs_total"] == 300 for row in seen[1:])
    assert all(row["sync_progress"] < 100 and row["sync_status"] == "syncing" for row in seen[:-1])
    assert (seen[-1]["sync_status"], seen[-1]["sync_progress"]) == ("complete", 100)  # the display sees the end
    final = repository_row(settings.db)
    assert (final["sync_status"], final["sync_progress"], final["sync_prs_completed"]) == ("complete", 100, 300)
    assert result.report.prs_synced == 300


def test_full_history_sync_spends_the_cost_formula_floor(large_repository, tmp_path):
    with FakeGitHub([copy.deepcopy(large_repository)]) as fake:
        settings = load_settings(db=tmp_path / "c.db", tokens=[TOKEN], api_url=fake.url)
        fake.reset_stats()
        result = track(settings)
        stats = fake.stats
    # The 150-review PR needs one follow-up query beyond the page plan.
    assert stats["graphql_points"] <= floor_points(2000) + 1
    assert result.report.graphql_points_spent == stats["graphql_points"]


@pytest.mark.parametrize("path", real_dataset_paths(), ids=lambda p: p.stem)
def test_real_dataset_syncs_to_exactly_what_it_holds(path, tmp_path):
    repository = load_dataset(path)
    full_name = f"{repository.owner}/{repository.name}"
    with FakeGitHub([copy.deepcopy(repository)], relax_nullability=True) as fake:
        settings = load_settings(db=tmp_path / "real.db", tokens=[TOKEN], api_url=fake.url)
        track_repository(settings, full_name, days="all", hooks=SyncHooks(sleep=lambda s: None))
    assert stored_records(tmp_path / "real.db", full_name) == expected_records(repository)


def test_tracking_an_already_tracked_repository_changes_nothing(settings, fake):
    track(settings)
    fake.reset_stats()
    again = track(settings)
    assert again.already_tracked and again.report is None
    assert fake.stats["graphql_requests"] == 0


def test_widening_the_window_fetches_the_older_prs(settings, small_repository):
    track(settings, days="30")
    narrow = len(stored_records(settings.db))
    track(settings, days="all")
    assert narrow < len(stored_records(settings.db)) == len(small_repository.pull_requests)


def test_a_wider_windows_job_leaves_last_synced_at_to_the_sync_before_it(tmp_path):
    # It starts where the stored window's pass stopped and reads only older PRs: what changed since the
    # last sync is still unread, so `status` and the digest's staleness line must not call the data fresh.
    now = time.time()
    repository = generate_repository(REPO, 600, seed=3, span_days=120)  # 30 days: several pages
    with FakeGitHub([repository]) as fake:
        settings = load_settings(db=tmp_path / "w.db", tokens=[TOKEN], api_url=fake.url)
        track(settings, days="30", hooks=SyncHooks(sleep=lambda seconds: None, clock=lambda: now))
        assert repository_row(settings.db)["coverage_cursor"], "the 30 days' pass stopped past its first page"
        later = SyncHooks(sleep=lambda seconds: None, clock=lambda: now + 3600)
        widened = track(settings, days="all", hooks=later).report
    assert widened is not None and widened.prs_synced > 0
    row = repository_row(settings.db)
    assert row["sync_finished_at"] == iso(now + 3600) and row["last_synced_at"] == iso(now)


def test_a_crash_before_the_window_job_finishes_does_not_move_the_boundary_a_wider_window_starts_at(
    tmp_path, monkeypatch
):
    now = time.time()
    repository = generate_repository(REPO, 600, seed=3, span_days=120)  # 30 days: several pages
    with FakeGitHub([repository]) as fake:
        settings = load_settings(db=tmp_path / "w.db", tokens=[TOKEN], api_url=fake.url)
        hooks = SyncHooks(sleep=lambda seconds: None, clock=lambda: now)
        finish = SqliteStore.finish_job

        def killed(*args, **kwargs):
            raise KeyboardInterrupt  # as kill -9 after the last page's commit

        monkeypatch.setattr(SqliteStore, "finish_job", killed)
        with pytest.raises(KeyboardInterrupt):
            track(settings, days="30", hooks=hooks)
        monkeypatch.setattr(SqliteStore, "finish_job", finish)
        sync_tracked(settings, hooks=hooks)  # the resume re-reads the last page, past the window's start too
        track(settings, days="all", hooks=SyncHooks(sleep=lambda seconds: None, clock=lambda: now + 60))
        assert stored_records(settings.db) == expected_records(fake.repositories[0])


def test_widening_a_window_writes_the_window_and_its_job_together(settings, small_repository, monkeypatch):
    track(settings, days="30")
    from ghsync.errors import StoreError

    def full_disk(*args, **kwargs):
        raise StoreError("cannot write database: the disk is full")

    insert_job = SqliteStore._insert_job
    monkeypatch.setattr(SqliteStore, "_insert_job", full_disk)
    with pytest.raises(StoreError):
        track(settings, days="all")
    assert repository_row(settings.db)["days_back"] == 30  # not the wider window without its job
    monkeypatch.setattr(SqliteStore, "_insert_job", insert_job)
    track(settings, days="all")
    assert len(stored_records(settings.db)) == len(small_repository.pull_requests)


def test_incremental_sync_with_nothing_changed_costs_one_point(settings, fake):
    track(settings)
    fake.reset_stats()
    ((_name, report, error),) = sync_tracked(settings, hooks=SyncHooks(sleep=lambda s: None))
    assert error is None and report.kind == "incremental" and report.outcome == "complete"
    assert fake.stats["graphql_points"] == 1
    assert report.prs_synced == 0


def test_incremental_sync_updates_changed_prs_in_place(settings, fake):
    track(settings)
    fake.touch_pull_request(REPO, 5, title="Renamed while nobody looked")
    fake.add_review(REPO, 5, "carol", "APPROVED")
    ((_name, report, _error),) = sync_tracked(settings, hooks=SyncHooks(sleep=lambda s: None))
    assert report.prs_synced == 1
    stored = stored_records(settings.db)[5]
    assert stored.title == "Renamed while nobody looked"
    assert stored.reviews[-1].author == "carol"
    assert len(stored_records(settings.db)) == 300


def test_window_total_stays_the_window_count_on_every_page(small_repository, tmp_path):
    seen = []
    with FakeGitHub([copy.deepcopy(small_repository)]) as fake:
        settings = load_settings(db=tmp_path / "t.db", tokens=[TOKEN], api_url=fake.url)
        result = track(settings, days="200", hooks=SyncHooks(on_progress=lambda row: seen.append(dict(vars(row)))))
    window = result.report.prs_total
    assert window < len(small_repository.pull_requests)
    assert {row["sync_prs_total"] for row in seen[1:]} == {window}


def test_a_wider_windows_progress_counts_the_older_part_it_fetches(tmp_path):
    # It starts deep in the order, at the stored window's last page: its total is what is left to read.
    now = time.time()
    repository = generate_repository(REPO, 600, seed=3, span_days=120)
    seen: list[tuple[str, int, int, int]] = []
    with FakeGitHub([repository]) as fake:
        settings = load_settings(db=tmp_path / "w.db", tokens=[TOKEN], api_url=fake.url)
        track(settings, days="30", hooks=SyncHooks(sleep=lambda seconds: None, clock=lambda: now))
        stored_before = len(stored_records(settings.db))

        def watch(row):
            seen.append((row.sync_status, row.sync_progress, row.sync_prs_completed, row.sync_prs_total))

        track(settings, days="all", hooks=SyncHooks(on_progress=watch, sleep=lambda seconds: None, clock=lambda: now))
    syncing = [row for row in seen if row[0] == "syncing" and row[2] > 0]
    assert len(syncing) >= 5
    total = syncing[0][3]
    # The older PRs: the boundary page's stored ones, read again as stored, are not written.
    assert total == 600 - stored_before
    progress = [row[1] for row in syncing]
    assert progress == sorted(progress) and progress[0] < 20 and progress[-1] >= 90


class FrozenClock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_second_edit_in_the_second_the_last_sync_read_a_pr_is_fetched_by_the_next_sync(tmp_path):
    # updatedAt has whole seconds: the second edit leaves it as the first edit set it.
    clock = FrozenClock(time.time() + 3600)
    with FakeGitHub([generate_repository(REPO, 300, seed=7)], clock=clock) as fake:
        settings = load_settings(db=tmp_path / "s.db", tokens=[TOKEN], api_url=fake.url)
        hooks = SyncHooks(sleep=lambda seconds: None, clock=clock)
        track(settings, hooks=hooks)
        clock.now += 600
        fake.touch_pull_request(REPO, 5, title="first edit")
        sync_tracked(settings, hooks=hooks)
        fake.touch_pull_request(REPO, 5, title="second edit", labels=["bot-label"])  # the same second
        clock.now += 300
        sync_tracked(settings, hooks=hooks)
        assert stored_records(settings.db) == expected_records(fake.repositories[0])
        # Once read well after its update, an equal updatedAt is trusted again: nothing is written.
        clock.now += 300
        ((_name, report, _error),) = sync_tracked(settings, hooks=hooks)
    assert report.prs_synced == 0


def test_a_wider_windows_job_in_between_does_not_hide_a_second_edit_in_the_same_second(tmp_path):
    # That job reads only older PRs: the last job that read the newest ones is still the one to go by.
    clock = FrozenClock(time.time() + 3600)
    with FakeGitHub([generate_repository(REPO, 600, seed=3, span_days=120)], clock=clock) as fake:
        settings = load_settings(db=tmp_path / "s.db", tokens=[TOKEN], api_url=fake.url)
        hooks = SyncHooks(sleep=lambda seconds: None, clock=clock)
        track(settings, days="30", hooks=hooks)
        clock.now += 600
        fake.touch_pull_request(REPO, 5, title="first edit")
        sync_tracked(settings, hooks=hooks)
        fake.touch_pull_request(REPO, 5, title="second edit", labels=["bot-label"])  # the same second
        clock.now += 300
        track(settings, days="all", hooks=hooks)
        clock.now += 300
        sync_tracked(settings, hooks=hooks)
        assert stored_records(settings.db) == expected_records(fake.repositories[0])


def test_an_incremental_syncs_total_leaves_out_what_it_reads_unchanged(settings, fake):
    track(settings)
    for number in (5, 6, 7):
        fake.touch_pull_request(REPO, number, title="changed")
    seen = []
    sync_tracked(
        settings, hooks=SyncHooks(on_progress=lambda row: seen.append(row.sync_prs_total), sleep=lambda s: None)
    )
    assert seen[-2] == 3  # the last page's commit, before finishing: the three changed, not the overlap's


def test_a_crash_between_the_last_page_and_finishing_re_reads_one_page(settings, fake, monkeypatch):
    real_finish = SqliteStore.finish_job

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # stands in for kill -9 after the last page was committed

    monkeypatch.setattr(SqliteStore, "finish_job", crash)
    with pytest.raises(KeyboardInterrupt):
        track(settings)
    monkeypatch.setattr(SqliteStore, "finish_job", real_finish)
    fake.reset_stats()
    ((_name, report, error),) = sync_tracked(settings, hooks=SyncHooks(sleep=lambda s: None))
    assert error is None and report.outcome == "complete"
    assert fake.stats["graphql_requests"] == 1
    assert len(stored_records(settings.db)) == 300
