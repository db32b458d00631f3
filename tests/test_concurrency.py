"""Processes side by side: one sync per repository at a time (the second says who holds it and touches
nothing), `status` answers while a sync writes, and two repositories sync into one file at once."""

from __future__ import annotations

import copy
import json
import multiprocessing
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
    expected_records,
    generate_repository,
    invoke,
    repository_row,
    start_ghsync,
    stored_records,
)

from ghsync.github.graphql import cheapest_page_size
from ghsync.store import open_store

OTHER = "acme/engines"

# Fixed data (the generator's output depends on `now`), older than any moment a test touches a PR.
GENERATED_AT = datetime(2025, 9, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def repositories():
    now = GENERATED_AT
    return generate_repository(REPO, 600, seed=31, now=now), generate_repository(OTHER, 400, seed=32, now=now)


@pytest.fixture
def fake(repositories):
    with FakeGitHub([copy.deepcopy(r) for r in repositories], latency=0.01) as server:
        yield server


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "g.db"


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    try:
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, stderr


def flags(fake: FakeGitHub, db: Path) -> list:
    return ["--db", db, "--api-url", fake.url, "--token", TOKEN]


class PauseAtRequest:
    """Holds the n-th GraphQL request (the syncing child waits for its answer) until released."""

    def __init__(self, fake: FakeGitHub, n: int):
        self.n, self.seen = n, 0
        self.reached, self.release = threading.Event(), threading.Event()
        fake.before_request = self

    def __call__(self, path: str, payload: dict | None) -> None:
        if path != "/graphql":
            return
        self.seen += 1
        if self.seen == self.n:
            self.reached.set()
            self.release.wait(30)


def snapshot(db: Path) -> dict[str, list]:
    conn = sqlite3.connect(db)
    with conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            for table in ("repositories", "syncs", "pull_requests", "reviews")
        }


@pytest.fixture
def paused_sync(fake, db):
    """A child `ghsync track` of REPO holding its lock, paused mid-sync waiting for a GraphQL answer."""
    pause = PauseAtRequest(fake, 3)
    child = start_ghsync(fake, db, "track", REPO, "--days", "all")
    try:
        assert pause.reached.wait(30), "the child never got to its third GraphQL request"
        # The third request may be the page fetched ahead while the second is written: wait for that write,
        # after which the child does nothing until the answer comes.
        page = cheapest_page_size(extra_connections=1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and snapshot(db)["repositories"][0][8] != 2 * page:
            time.sleep(0.01)
        yield child, pause
    finally:
        pause.release.set()
        if child.poll() is None:
            child.wait(60)
        fake.before_request = None


# --- one sync per repository -------------------------------------------------------------------


def test_second_sync_of_a_repository_being_synced_exits_75_naming_the_holder_and_touching_nothing(
    paused_sync, fake, db
):
    child, pause = paused_sync
    before = snapshot(db)
    result = invoke("sync", REPO, *flags(fake, db))
    assert result.exit_code == 75, result.stderr
    assert f"process {child.pid}" in result.stderr
    assert snapshot(db) == before
    pause.release.set()
    code, stderr = finish(child)
    assert code == 0, stderr
    assert stored_records(db) == expected_records(fake.repositories[0])
    conn = sqlite3.connect(db)
    with conn:
        assert conn.execute("SELECT count(*), sum(runs) FROM syncs").fetchone() == (1, 1)


def test_second_track_of_a_repository_being_synced_exits_75_naming_the_holder(paused_sync, fake, db):
    child, _pause = paused_sync
    before = snapshot(db)
    result = invoke("track", REPO, "--days", "all", *flags(fake, db))
    assert result.exit_code == 75, result.stderr
    assert f"process {child.pid}" in result.stderr
    assert snapshot(db) == before


def test_track_with_another_window_during_a_sync_exits_75_and_changes_nothing(paused_sync, fake, db):
    child, pause = paused_sync
    before = snapshot(db)
    result = invoke("track", REPO, "--days", "30", *flags(fake, db))
    assert result.exit_code == 75, result.stderr
    assert f"process {child.pid}" in result.stderr
    assert snapshot(db) == before
    pause.release.set()
    assert finish(child)[0] == 0
    assert repository_row(db)["days_back"] is None, "the window of the running sync was changed under it"


# --- status while a sync runs ------------------------------------------------------------------


def test_status_json_keeps_answering_while_a_sync_writes(fake, db):
    # From the first GraphQL request on: while `track` creates a new database, `status` can still
    # trip over its migrations (the race of test_two_processes_creating_one_new_database_...).
    syncing = threading.Event()
    fake.before_request = lambda path, payload: syncing.set() if path == "/graphql" else None
    child = start_ghsync(fake, db, "track", REPO, "--days", "all")
    rows = []
    try:
        assert syncing.wait(30), "the child never started syncing"
        while child.poll() is None:
            result = invoke("status", "--json", "--db", db)
            assert result.exit_code == 0, result.stderr
            rows.extend(json.loads(result.stdout))
            time.sleep(0.02)
    finally:
        code, stderr = finish(child)
        fake.before_request = None
    assert code == 0, stderr
    live = [row for row in rows if row["sync_status"] == "syncing"]
    assert len(live) >= 3 and all(row["process_alive"] for row in live)
    completed = [row["sync_prs_completed"] for row in rows]
    assert completed == sorted(completed)
    assert 0 < len({row["sync_prs_completed"] for row in live})


def test_status_answers_while_a_page_write_is_open(fake, db, tmp_path):
    marker = tmp_path / "inside-page-2"
    child = start_ghsync(
        fake,
        db,
        "track",
        REPO,
        "--days",
        "all",
        env={"GHSYNC_TEST_PAUSE_AT_UPSERT": "60", "GHSYNC_TEST_MARKER": str(marker)},
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        assert marker.exists(), "the child never reached its second page write"
        started = time.monotonic()
        result = invoke("status", "--json", "--db", db)
        assert time.monotonic() - started < 5, "status waited for the writer"
        assert result.exit_code == 0, result.stderr
        (row,) = json.loads(result.stdout)
        assert (row["sync_status"], row["process_alive"]) == ("syncing", True)
        assert row["sync_prs_completed"] == cheapest_page_size(extra_connections=1), "only page 1 is committed"
    finally:
        child.send_signal(signal.SIGKILL)
        finish(child)


# --- two repositories, one file ----------------------------------------------------------------


class BothRepositoriesInFlight:
    """Holds each repository's first GraphQL request until the other's has arrived too."""

    def __init__(self, fake: FakeGitHub):
        self.barrier = threading.Barrier(2, timeout=30)
        self.first: set[str] = set()
        self.lock = threading.Lock()
        self.met = False
        fake.before_request = self

    def __call__(self, path: str, payload: dict | None) -> None:
        if path != "/graphql":
            return
        name = (payload or {}).get("variables", {}).get("name")
        with self.lock:
            first = name not in self.first
            self.first.add(name)
        if first:
            self.barrier.wait()
            self.met = True


def run_both(fake: FakeGitHub, db: Path) -> None:
    meeting = BothRepositoriesInFlight(fake)
    together = {"GHSYNC_TEST_START_AT": str(time.time() + 1.5)}  # both open the database at once
    children = [start_ghsync(fake, db, "track", name, "--days", "all", env=together) for name in (REPO, OTHER)]
    results = [finish(child) for child in children]
    fake.before_request = None
    assert [code for code, _ in results] == [0, 0], results
    assert meeting.met
    for name, repository in zip((REPO, OTHER), fake.repositories):
        assert stored_records(db, name) == expected_records(repository)
        assert (repository_row(db, name)["sync_status"], repository_row(db, name)["sync_progress"]) == ("complete", 100)


def test_two_repositories_sync_side_by_side_into_one_existing_database(fake, db):
    open_store(db).close()
    run_both(fake, db)


def _open_a_new_database(path: Path, barrier, results) -> None:
    barrier.wait(10)
    try:
        open_store(path).close()
        results.put("ok")
    except Exception as error:  # noqa: BLE001 - reported to the test, which shows it
        results.put(f"{type(error).__name__}: {error}")


def test_two_processes_creating_one_new_database_at_the_same_moment_both_succeed(tmp_path):
    context = multiprocessing.get_context("fork")
    for attempt in range(5):
        path = tmp_path / f"new-{attempt}.db"
        barrier, results = context.Barrier(2), context.Queue()
        children = [context.Process(target=_open_a_new_database, args=(path, barrier, results)) for _ in range(2)]
        for child in children:
            child.start()
        for child in children:
            child.join(60)
        assert sorted(results.get(timeout=5) for _ in children) == ["ok", "ok"]
