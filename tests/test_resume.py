"""Stops and resumes: the rate-limit threshold, GitHub's own RATE_LIMITED, kill -9 anywhere, data that
changes while we page, and cheap incremental syncs. Every interrupted sync must end with exactly the
data an uninterrupted one stores, re-fetching at most one page."""

from __future__ import annotations

import base64
import copy
import json
import math
import signal
import sqlite3
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ghsync_testing import (
    REPO,
    TOKEN,
    FakeGitHub,
    GraphQLRequests,
    current_job,
    expected_records,
    generate_repository,
    invoke,
    repository_row,
    start_ghsync,
    stored_records,
    track,
)

from ghsync.config import load_settings
from ghsync.github.graphql import cheapest_page_size
from ghsync.service.status import repository_statuses
from ghsync.service.sync import SyncHooks, sync_tracked

THRESHOLD = 100
SIZE = 600
# PRs per page of a full-history sync (the page query also reads the newest updatedAt).
PAGE = cheapest_page_size(extra_connections=1)

# Fixed data (the generator's output depends on `now`), older than any moment a test touches a PR.
GENERATED_AT = datetime(2025, 9, 1, 12, tzinfo=UTC)


# --- helpers ----------------------------------------------------------------------------------


class Clock:
    """The fake's injectable clock: advance it past a bucket's reset to refill the bucket."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def settings_for(fake: FakeGitHub, db: Path, **overrides):
    return load_settings(db=db, tokens=[TOKEN], api_url=fake.url, min_remaining=THRESHOLD, **overrides)


def no_sleep() -> SyncHooks:
    return SyncHooks(sleep=lambda seconds: None)


def sync(settings):
    (outcome,) = sync_tracked(settings, hooks=no_sleep())
    return outcome


pytestmark = pytest.mark.usefixtures("never_wait_for_a_reset")


def cli_flags(fake: FakeGitHub, db: Path) -> list:
    return ["--db", db, "--api-url", fake.url, "--token", TOKEN, "--min-remaining", THRESHOLD]


def connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    return conn


def jobs(db: Path) -> list[dict]:
    with connect(db) as conn:
        return [dict(r) for r in conn.execute("SELECT * FROM syncs ORDER BY id")]


def job_numbers(db: Path, job_id: int) -> set[int]:
    with connect(db) as conn:
        return {n for (n,) in conn.execute("SELECT number FROM pull_requests WHERE sync_id = ?", [job_id])}


def tables(db: Path) -> dict[str, list]:
    """Every table's contents that a sync decides, without surrogate ids and sync bookkeeping."""
    with connect(db) as conn:

        def columns(table: str, skip: set[str]) -> list[str]:
            return [c["name"] for c in conn.execute(f"PRAGMA table_info({table})") if c["name"] not in skip]

        pr_columns = columns("pull_requests", {"id", "repository_id", "sync_id"})
        review_columns = columns("reviews", {"id", "pull_request_id"})
        return {
            "pull_requests": [
                tuple(r)
                for r in conn.execute(
                    f"SELECT {', '.join('p.' + c for c in pr_columns)} FROM pull_requests p "
                    "JOIN repositories r ON r.id = p.repository_id WHERE r.full_name = ? ORDER BY p.number",
                    [REPO],
                )
            ],
            "reviews": [
                tuple(r)
                for r in conn.execute(
                    f"SELECT p.number, {', '.join('v.' + c for c in review_columns)} FROM reviews v "
                    "JOIN pull_requests p ON p.id = v.pull_request_id ORDER BY p.number, v.id"
                )
            ],
            "repositories": [
                tuple(r)
                for r in conn.execute(
                    "SELECT full_name, owner, name, days_back, sync_status, sync_progress, sync_prs_total, "
                    "sync_prs_completed, last_error, sync_watermark FROM repositories ORDER BY full_name"
                )
            ],
            "syncs": [tuple(r) for r in conn.execute("SELECT kind, outcome, prs_total, error FROM syncs ORDER BY id")],
        }


def assert_same_tables(db: Path, reference: Path) -> None:
    got, want = tables(db), tables(reference)
    for table in want:
        assert got[table] == want[table], f"table {table} differs from the uninterrupted run's"


def decode_cursor(cursor: str) -> tuple[str, int]:
    """The fake's pull-request cursor: base64 of cursor:v2:[updatedAt, databaseId] (as GitHub's)."""
    text = base64.b64decode(cursor).decode()
    assert text.startswith("cursor:v2:")
    updated_at, database_id = json.loads(text[len("cursor:v2:") :])
    return updated_at, database_id


def newest_first(fake: FakeGitHub) -> list:
    return sorted(fake.repositories[0].pull_requests, key=lambda p: (p.updated_at, p.database_id), reverse=True)


def old_repository(count: int, seed: int):
    # Anything touched during a test is strictly newer than all of it.
    return generate_repository(REPO, count, seed=seed, now=GENERATED_AT)


@pytest.fixture(scope="module")
def repository600():
    return old_repository(SIZE, seed=5)


@pytest.fixture
def fake600(repository600):
    clock = Clock()
    with FakeGitHub([copy.deepcopy(repository600)], clock=clock) as server:
        server.test_clock = clock
        yield server


# --- 1. the rate-limit threshold --------------------------------------------------------------


def test_sync_stops_at_the_threshold_as_rate_limited_keeping_cursor_budget_and_reset(fake600, tmp_path):
    fake600.set_remaining("graphql", THRESHOLD + 8)
    reset_at = fake600.rate_limit("octocat", "graphql")["reset"]
    result = track(settings_for(fake600, tmp_path / "g.db"))
    assert result.report.outcome == "rate_limited"
    repository = repository_row(tmp_path / "g.db")
    assert repository["sync_status"] == "rate_limited"
    assert repository["rate_limit_remaining"] is not None and repository["rate_limit_remaining"] < THRESHOLD
    assert repository["rate_limit_reset_at"] == datetime.fromtimestamp(reset_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert repository["last_error"] is None
    job = current_job(tmp_path / "g.db")
    assert job["cursor"] is not None and job["finished_at"] is None
    assert 0 < repository["sync_prs_completed"] == len(job_numbers(tmp_path / "g.db", job["id"])) < SIZE


def test_budget_never_goes_below_the_threshold_minus_one_page(fake600, tmp_path):
    fake600.set_remaining("graphql", THRESHOLD + 8)
    track(settings_for(fake600, tmp_path / "g.db"))
    one_page = 1  # a full page at the cheapest size costs one point
    assert fake600.rate_limit("octocat", "graphql")["remaining"] >= THRESHOLD - one_page


def assert_says_when_it_resets_and_how_to_resume(stderr: str, reset_at: int) -> None:
    local_reset = datetime.fromtimestamp(reset_at).astimezone()
    utc_reset = datetime.fromtimestamp(reset_at, UTC)
    assert any(
        moment in stderr
        for moment in (local_reset.strftime("%H:%M"), utc_reset.strftime("%H:%M"), utc_reset.strftime("%Y-%m-%dT%H:%M"))
    ), stderr
    assert "ghsync sync" in stderr
    assert "Traceback" not in stderr


def test_cli_track_exits_75_at_the_threshold_saying_when_it_resets_and_how_to_resume(fake600, tmp_path):
    fake600.set_remaining("graphql", THRESHOLD + 8)
    reset_at = fake600.rate_limit("octocat", "graphql")["reset"]
    result = invoke("track", REPO, "--days", "all", *cli_flags(fake600, tmp_path / "g.db"))
    assert result.exit_code == 75, result.stderr
    assert_says_when_it_resets_and_how_to_resume(result.stderr, reset_at)


def test_cli_sync_exits_75_at_the_threshold_saying_when_it_resets_and_how_to_resume(fake600, tmp_path):
    db = tmp_path / "g.db"
    fake600.set_remaining("graphql", THRESHOLD + 4)
    track(settings_for(fake600, db))
    fake600.set_remaining("graphql", THRESHOLD + 3)
    reset_at = fake600.rate_limit("octocat", "graphql")["reset"]
    result = invoke("sync", *cli_flags(fake600, db))
    assert result.exit_code == 75, result.stderr
    assert_says_when_it_resets_and_how_to_resume(result.stderr, reset_at)
    assert repository_row(db)["sync_status"] == "rate_limited"


def test_sync_before_the_reset_stops_again_without_spending_a_point(fake600, tmp_path):
    fake600.set_remaining("graphql", THRESHOLD + 8)
    db = tmp_path / "g.db"
    track(settings_for(fake600, db))
    before = repository_row(db)["sync_prs_completed"]
    fake600.reset_stats()
    result = invoke("sync", *cli_flags(fake600, db))
    assert result.exit_code == 75, result.stderr
    assert fake600.stats["graphql_points"] == 0
    assert repository_row(db)["sync_status"] == "rate_limited"
    assert repository_row(db)["sync_prs_completed"] == before


def test_after_the_bucket_refills_sync_resumes_to_the_uninterrupted_data_refetching_at_most_one_page(fake600, tmp_path):
    db = tmp_path / "g.db"
    fake600.set_remaining("graphql", THRESHOLD + 8)
    assert track(settings_for(fake600, db)).report.outcome == "rate_limited"
    stored = repository_row(db)["sync_prs_completed"]
    fake600.test_clock.advance(3601)  # the hour is over: GitHub refills the bucket
    assert fake600.rate_limit("octocat", "graphql")["remaining"] == 5000
    requests = GraphQLRequests(fake600)
    result = invoke("sync", *cli_flags(fake600, db))
    assert result.exit_code == 0, result.stderr
    assert stored_records(db) == expected_records(fake600.repositories[0])
    assert len(jobs(db)) == 1, "the stopped job is resumed, not restarted"
    assert len(requests.pages) <= math.ceil((SIZE - stored) / PAGE) + 1
    assert (repository_row(db)["sync_status"], repository_row(db)["sync_progress"]) == ("complete", 100)


# --- 2. GitHub's own RATE_LIMITED answer -------------------------------------------------------


def _another_program_spends_the_token(fake):
    return lambda: fake.set_remaining("graphql", 0)


def _graphql_rate_limited_answer(fake):
    body = {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 583231."}]}
    return lambda: fake.inject(200, body=body, headers={"x-ratelimit-remaining": "0"}, path="/graphql")


def _primary_limit_403(fake):
    body = {
        "message": "API rate limit exceeded for user ID 583231.",
        "documentation_url": "https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api",
    }
    return lambda: fake.inject(403, body=body, headers={"x-ratelimit-remaining": "0"}, path="/graphql")


GITHUB_SAYS_RATE_LIMITED = pytest.mark.parametrize(
    "spend",
    [_another_program_spends_the_token, _graphql_rate_limited_answer, _primary_limit_403],
    ids=["bucket-emptied", "graphql-RATE_LIMITED", "403-primary-limit"],
)


@GITHUB_SAYS_RATE_LIMITED
def test_github_saying_rate_limited_mid_sync_is_a_resumable_stop_not_a_failure(spend, fake600, tmp_path):
    db = tmp_path / "g.db"
    GraphQLRequests(fake600).at(3, spend(fake600))
    result = track(settings_for(fake600, db))
    assert result.report.outcome == "rate_limited"
    repository = repository_row(db)
    assert repository["sync_status"] == "rate_limited"
    assert repository["last_error"] is None
    assert repository["rate_limit_reset_at"] is not None
    assert current_job(db)["cursor"] is not None
    assert repository["sync_prs_completed"] in (PAGE, 2 * PAGE)  # the pages answered before it

    fake600.set_remaining("graphql", 5000)
    assert invoke("sync", *cli_flags(fake600, db)).exit_code == 0
    assert stored_records(db) == expected_records(fake600.repositories[0])
    assert len(jobs(db)) == 1


@GITHUB_SAYS_RATE_LIMITED
def test_cli_sync_exits_75_when_github_says_rate_limited(spend, fake600, tmp_path):
    db = tmp_path / "g.db"
    fake600.set_remaining("graphql", THRESHOLD + 3)
    track(settings_for(fake600, db))
    fake600.set_remaining("graphql", 5000)
    GraphQLRequests(fake600).at(2, spend(fake600))
    result = invoke("sync", *cli_flags(fake600, db))
    assert result.exit_code == 75, result.stderr
    assert "Traceback" not in result.stderr
    assert repository_row(db)["sync_status"] == "rate_limited"
    assert repository_row(db)["last_error"] is None


@GITHUB_SAYS_RATE_LIMITED
def test_cli_track_exits_75_when_github_says_rate_limited(spend, fake600, tmp_path):
    db = tmp_path / "g.db"
    GraphQLRequests(fake600).at(3, spend(fake600))
    result = invoke("track", REPO, "--days", "all", *cli_flags(fake600, db))
    assert result.exit_code == 75, result.stderr
    assert "Traceback" not in result.stderr
    assert (repository_row(db)["sync_status"], repository_row(db)["last_error"]) == ("rate_limited", None)


# --- 3. kill -9 anywhere ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def kill_fake(repository600):
    """One fake for every kill test (never mutated); latency so that kills land mid-sync."""
    with FakeGitHub([copy.deepcopy(repository600)], latency=0.02) as server:
        yield server


@pytest.fixture
def shared_fake(kill_fake):
    kill_fake.set_remaining("graphql", 5000)
    yield kill_fake
    kill_fake.before_request = None


@pytest.fixture(scope="module")
def uninterrupted(kill_fake, tmp_path_factory):
    db = tmp_path_factory.mktemp("uninterrupted") / "g.db"
    assert track(settings_for(kill_fake, db)).report.outcome == "complete"
    return db


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)
    return condition()


def run_and_kill(fake: FakeGitHub, db: Path, args: list[str], how: str, at: int, workdir: Path) -> None:
    """Run `ghsync ARGS` in a child and SIGKILL it: at the at-th GraphQL request it sends
    ("request"), `at` ms after its first one ("delay_ms"), or inside the page write that stores its
    at-th PR ("upsert")."""
    env = {}
    marker = workdir / f"paused-{how}-{at}"
    if how == "upsert":
        env = {"GHSYNC_TEST_PAUSE_AT_UPSERT": str(at), "GHSYNC_TEST_MARKER": str(marker)}
    first_request = threading.Event()
    child: dict[str, subprocess.Popen] = {}
    seen = [0]

    def hook(path: str, payload: dict | None) -> None:
        if path != "/graphql":
            return
        seen[0] += 1
        first_request.set()
        if how == "request" and seen[0] == at:
            child["proc"].kill()  # while it waits for this answer
            child["proc"].wait(10)

    fake.before_request = hook
    proc = child["proc"] = start_ghsync(fake, db, *args, env=env)
    try:
        if how == "delay_ms":
            assert first_request.wait(30), "the child never sent a GraphQL request"
            time.sleep(at / 1000)
            proc.kill()
        elif how == "upsert":
            wait_until(lambda: marker.exists() or proc.poll() is not None, 30)
            if not marker.exists():
                proc.kill()
                pytest.fail(f"the child never wrote PR #{at} of its run: {proc.communicate()[1]}")
            proc.kill()
        proc.wait(60)
    finally:
        fake.before_request = None
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _, stderr = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"the child was not killed mid-sync (exit {proc.returncode}): {stderr}"


def assert_consistent_after_kill(db: Path, fake: FakeGitHub, settings) -> int | None:
    """What a kill -9 leaves: an intact file whose cursor, progress and rows agree. Returns the rows kept, or
    None when `track` was killed during its first page, which is its check: then nothing is recorded (with no
    database before, none is created), or while it created the database after the check."""
    if not db.exists():
        return None
    with connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "repositories" not in tables:
            return None  # killed while its migrations ran (each in a transaction): the next run goes on
        if conn.execute("SELECT count(*) FROM repositories").fetchone()[0] == 0:
            assert conn.execute("SELECT count(*) FROM pull_requests").fetchone()[0] == 0
            return None
    repository = repository_row(db)
    if repository["current_sync_id"] is None:
        # Killed between recording the repository and starting its job: pending, nothing else written.
        assert repository["sync_status"] == "pending" and len(stored_records(db)) == 0
        return 0
    job = current_job(db)
    numbers = job_numbers(db, job["id"])
    assert repository["sync_prs_completed"] == len(numbers), "progress disagrees with the rows written"
    assert len(stored_records(db)) == len(numbers), "rows from no job (or another one) in an initial sync"
    order = newest_first(fake)
    if job["cursor"] is None:
        assert numbers == set(), "rows without a cursor: a page was written without its cursor"
    else:
        key = decode_cursor(job["cursor"])
        fetched = {pr.number for pr in order if (pr.updated_at, pr.database_id) >= key}
        assert numbers == fetched, "the cursor does not point just past the rows written"
    assert len(numbers) % PAGE == 0 or len(numbers) == SIZE, "half a page was written"
    assert numbers == {pr.number for pr in order[: len(numbers)]}
    expected = expected_records(fake.repositories[0])
    assert stored_records(db) == {n: expected[n] for n in numbers}, "a PR or its reviews is half-written"
    (status,) = repository_statuses(settings)
    assert status.repository.sync_status == "syncing" and status.process_alive is False  # shown as interrupted
    assert status.label == "interrupted"
    return len(numbers)


KILL_POINTS = [
    *[("request", n) for n in (1, 2, 3, 5, 8, 11)],
    *[("upsert", k) for k in (1, 17, PAGE, PAGE + 1, 2 * PAGE + 1, 5 * PAGE - 1, 9 * PAGE, SIZE)],
    *[("delay_ms", d) for d in (0, 15, 35, 60, 90, 130, 180, 240, 320, 420)],
]


@pytest.mark.slow
@pytest.mark.parametrize(("how", "at"), KILL_POINTS, ids=[f"{how}-{at}" for how, at in KILL_POINTS])
def test_kill_9_anywhere_then_sync_resumes_to_the_uninterrupted_tables(how, at, shared_fake, uninterrupted, tmp_path):
    db = tmp_path / "g.db"
    settings = settings_for(shared_fake, db)
    run_and_kill(shared_fake, db, ["track", REPO, "--days", "all"], how, at, tmp_path)
    kept = assert_consistent_after_kill(db, shared_fake, settings)
    if kept is None:  # killed while checking: tracking again is the whole story
        again = start_ghsync(shared_fake, db, "track", REPO, "--days", "all")
        _, stderr = again.communicate(timeout=60)
        assert again.returncode == 0, stderr
        assert_same_tables(db, uninterrupted)
        return

    requests = GraphQLRequests(shared_fake)
    _name, report, error = sync(settings)
    assert error is None and report.outcome == "complete"
    assert_same_tables(db, uninterrupted)
    assert len(jobs(db)) == 1, "the killed job is resumed, not restarted"
    assert len(requests.pages) <= math.ceil((SIZE - kept) / PAGE) + 1, "more than one page re-fetched"


@pytest.mark.slow
def test_kill_9_during_every_resume_still_converges_to_the_uninterrupted_tables(shared_fake, uninterrupted, tmp_path):
    db = tmp_path / "g.db"
    settings = settings_for(shared_fake, db)
    # The first kill while the second page is written (the first one committed), whatever the machine's speed:
    # a delay after the first request could come before the database even exists on a slow machine.
    run_and_kill(shared_fake, db, ["track", REPO, "--days", "all"], "upsert", PAGE + 1, tmp_path)
    first = assert_consistent_after_kill(db, shared_fake, settings)
    assert first == PAGE, "killed while writing the second page: the first page, and only it, is stored"
    kept = [first]
    for delay in (60, 150, 30, 110, 80):
        if kept[-1] == SIZE:
            break
        run_and_kill(shared_fake, db, ["sync"], "delay_ms", delay, tmp_path)
        kept.append(assert_consistent_after_kill(db, shared_fake, settings))
    assert kept == sorted(kept), "a resumed run lost committed pages"
    proc = start_ghsync(shared_fake, db, "sync")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert_same_tables(db, uninterrupted)
    assert len(jobs(db)) == 1


# --- 4. data that changes while we page ------------------------------------------------------


def test_prs_changed_between_pages_are_stored_as_github_has_them_when_the_sync_finishes(fake600, tmp_path):
    order = newest_first(fake600)
    fetched, not_yet = order[3].number, order[-1].number
    requests = GraphQLRequests(fake600)
    requests.at(3, lambda: fake600.touch_pull_request(REPO, fetched, title="Edited after we read it"))
    requests.at(3, lambda: fake600.touch_pull_request(REPO, not_yet, state="MERGED"))
    requests.at(4, lambda: fake600.add_pull_request(REPO, title="Opened mid-sync"))
    requests.at(5, lambda: fake600.add_review(REPO, order[0].number, "carol", "APPROVED"))
    requests.at(6, lambda: fake600.add_review(REPO, order[-2].number, "dave", "CHANGES_REQUESTED"))
    requests.at(7, lambda: fake600.touch_pull_request(REPO, order[10].number, labels=["moved"]))
    result = track(settings_for(fake600, tmp_path / "g.db"))
    assert result.report.outcome == "complete"
    assert stored_records(tmp_path / "g.db") == expected_records(fake600.repositories[0])


def test_prs_changed_across_a_rate_limit_stop_are_stored_as_github_has_them(fake600, tmp_path):
    db = tmp_path / "g.db"
    fake600.set_remaining("graphql", THRESHOLD + 5)
    assert track(settings_for(fake600, db)).report.outcome == "rate_limited"
    stored = set(stored_records(db))
    order = newest_first(fake600)
    read = next(pr.number for pr in order if pr.number in stored)
    unread = [pr.number for pr in order if pr.number not in stored]
    # While the sync waits for the reset:
    fake600.touch_pull_request(REPO, read, state="CLOSED")
    fake600.touch_pull_request(REPO, unread[0], title="Retitled during the stop")
    fake600.add_review(REPO, unread[-1], "erin", "APPROVED")
    fake600.add_pull_request(REPO, title="Opened during the stop")
    fake600.test_clock.advance(3601)
    # ... and while the resumed sync pages:
    requests = GraphQLRequests(fake600)
    requests.at(2, lambda: fake600.touch_pull_request(REPO, read, title="Edited again"))
    requests.at(3, lambda: fake600.touch_pull_request(REPO, unread[5], is_draft=True))
    _name, report, error = sync(settings_for(fake600, db))
    assert error is None and report.outcome == "complete"
    assert stored_records(db) == expected_records(fake600.repositories[0])


# --- 9. incremental syncs --------------------------------------------------------------------


def test_incremental_sync_of_an_unchanged_complete_repository_costs_at_most_one_point(fake600, tmp_path):
    settings = settings_for(fake600, tmp_path / "g.db")
    track(settings)
    fake600.reset_stats()
    _name, report, error = sync(settings)
    assert error is None and (report.kind, report.outcome) == ("incremental", "complete")
    assert fake600.stats["graphql_points"] <= 1
    assert report.prs_synced == 0


def test_incremental_sync_with_nothing_changed_costs_one_point_even_if_the_newest_pr_has_150_reviews(fake600, tmp_path):
    busiest = max(fake600.repositories[0].pull_requests, key=lambda pr: len(pr.reviews))
    assert len(busiest.reviews) > 100
    fake600.touch_pull_request(REPO, busiest.number, title="The most recently updated PR")
    settings = settings_for(fake600, tmp_path / "g.db")
    # Two minutes later: read well after its update, its equal updatedAt is trusted (see the next test).
    later = SyncHooks(sleep=lambda seconds: None, clock=lambda: time.time() + 120)
    track(settings, hooks=later)
    fake600.reset_stats()
    _name, report, error = sync(settings)
    assert error is None and report.outcome == "complete" and report.prs_synced == 0
    assert fake600.stats["graphql_points"] <= 1


def test_a_pr_updated_as_the_last_sync_began_is_read_again_with_its_150_reviews(fake600, tmp_path):
    # A second edit in the second the sync read it would have left its updatedAt as it was.
    busiest = max(fake600.repositories[0].pull_requests, key=lambda pr: len(pr.reviews))
    fake600.touch_pull_request(REPO, busiest.number, title="The most recently updated PR")
    settings = settings_for(fake600, tmp_path / "g.db")
    track(settings)
    fake600.reset_stats()
    _name, report, error = sync(settings)
    # The page and the follow-up for its 150 reviews; found unchanged, it is not counted as updated.
    assert error is None and fake600.stats["graphql_points"] == 2 and report.prs_synced == 0
    assert (
        stored_records(tmp_path / "g.db")[busiest.number] == expected_records(fake600.repositories[0])[busiest.number]
    )


def test_incremental_sync_after_one_percent_changed_updates_exactly_those_prs(fake600, tmp_path):
    db = tmp_path / "g.db"
    settings = settings_for(fake600, db)
    track(settings)
    first_job = current_job(db)["id"]
    changed = {pr.number for pr in newest_first(fake600)[50::100]}  # 6 PRs of 600, old and new
    for number in changed:
        fake600.touch_pull_request(REPO, number, title=f"Changed #{number}")
    _name, report, error = sync(settings)
    assert error is None and report.kind == "incremental" and report.outcome == "complete"
    assert report.prs_synced == len(changed) == SIZE // 100
    assert job_numbers(db, current_job(db)["id"]) == changed
    assert len(job_numbers(db, first_job)) == SIZE - len(changed)
    assert stored_records(db) == expected_records(fake600.repositories[0])
