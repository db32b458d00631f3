"""Stops from outside: SIGTERM ends a sync as cleanly as Ctrl-C, and a full disk is an error, not a crash."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ghsync_testing import (
    REPO,
    TOKEN,
    FakeGitHub,
    cli_flags,
    expected_records,
    generate_repository,
    invoke,
    repository_row,
    stored_records,
)


def _committed_prs(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT sync_prs_completed FROM repositories").fetchone()
    except sqlite3.Error:
        return 0
    return row[0] if row else 0


def _track_in_a_child(fake: FakeGitHub, db: Path) -> subprocess.Popen[str]:
    """`ghsync track REPO --days all` in its own process (signals go to it, not to pytest)."""
    return subprocess.Popen(
        [sys.executable, "-m", "ghsync", "track", REPO, "--days", "all"],
        env={**os.environ, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url, "GHSYNC_DB": str(db)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> bool:
    """Whether `condition` came true within `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def test_sigterm_stops_a_sync_like_ctrl_c_and_the_next_sync_resumes(tmp_path):
    repository = generate_repository(REPO, 600, seed=3)
    db = tmp_path / "ghsync.db"
    with FakeGitHub([repository], latency=0.05) as fake:
        child = _track_in_a_child(fake, db)
        _wait_for(lambda: _committed_prs(db) > 0 or child.poll() is not None)
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=60)
        assert child.returncode == 143, stderr
        assert "terminated (SIGTERM)" in stderr and "`ghsync sync` resumes" in stderr
        assert "Traceback" not in stderr
        status = invoke("status", "--db", db)
        assert "interrupted" in status.stdout, "a stopped sync must not look like a running one"
        assert invoke("sync", *cli_flags(fake, db)).exit_code == 0
        assert stored_records(db) == expected_records(repository)


def test_a_stop_does_not_wait_for_the_page_being_fetched_ahead(tmp_path):
    repository = generate_repository(REPO, 300, seed=3)
    db = tmp_path / "ghsync.db"
    release = threading.Event()
    pages_asked = 0

    def second_page_hangs(path, payload):  # for a minute, or until the test ends
        nonlocal pages_asked
        if path == "/graphql" and "pullRequests(" in ((payload or {}).get("query") or ""):
            pages_asked += 1
            if pages_asked == 2:
                release.wait(60)

    with FakeGitHub([repository]) as fake:
        fake.before_request = second_page_hangs
        child = _track_in_a_child(fake, db)
        try:
            assert _wait_for(lambda: (_committed_prs(db) > 0 and pages_asked >= 2) or child.poll() is not None)
            assert child.poll() is None, "the sync ended before its second page"
            signalled = time.monotonic()
            child.send_signal(signal.SIGTERM)
            _, stderr = child.communicate(timeout=90)
            took = time.monotonic() - signalled
        finally:
            release.set()
            if child.poll() is None:
                child.kill()
    assert child.returncode == 143, stderr
    assert took < 10, f"the stop waited {took:.0f} s for a page nobody will write"
    assert _committed_prs(db) == 49, "the first page stays committed"


def test_a_full_disk_ends_the_sync_as_an_error_with_last_error_and_the_cursor_kept(fake, db_path, monkeypatch):
    import ghsync.store.sqlite as sqlite_store

    connect = sqlite_store._connect_and_migrate

    def small_disk(path: Path):
        db = connect(path)
        # SQLite's page limit answers SQLITE_FULL exactly like a full file system would.
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 12}")
        return db

    monkeypatch.setattr(sqlite_store, "_connect_and_migrate", small_disk)
    result = invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path))
    assert result.exit_code == 1 and "full" in result.stderr and "unexpected" not in result.stderr
    row = repository_row(db_path)
    assert row["sync_status"] == "error" and "full" in row["last_error"]
    monkeypatch.undo()
    assert invoke("sync", *cli_flags(fake, db_path)).exit_code == 0
    assert repository_row(db_path)["sync_status"] == "complete"
