"""Faults: transient ones (502, 504, secondary limits, timeouts of big pages) are retried until the data
is exactly a clean run's; permanent ones stop at once with the cursor kept, and `sync` resumes."""

from __future__ import annotations

import copy
import json
import sqlite3
from datetime import UTC, datetime

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
    stored_records,
)

from ghsync.config import load_settings
from ghsync.service.sync import SyncHooks, track_repository

# Fixed data (the generator's output depends on `now`), older than any moment a test touches a PR.
GENERATED_AT = datetime(2025, 9, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def repository():
    return generate_repository(REPO, 600, seed=9, now=GENERATED_AT)


def serve(repository, **options) -> FakeGitHub:
    return FakeGitHub([copy.deepcopy(repository)], **options)


def track(fake: FakeGitHub, db, sleeps: list[float]):
    settings = load_settings(db=db, tokens=[TOKEN], api_url=fake.url)
    return track_repository(settings, REPO, days="all", hooks=SyncHooks(sleep=sleeps.append))


def job_count(db) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM syncs").fetchone()[0]


# --- transient faults ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 6, 7, 43])
def test_five_percent_faults_leave_the_data_identical_to_a_clean_run(seed, repository, tmp_path):
    sleeps: list[float] = []
    with serve(repository, fault_rate=0.05, fault_seed=seed) as fake:
        result = track(fake, tmp_path / "g.db", sleeps)
        faults = fake.stats["faults_injected"]
        by_status = fake.stats["requests_by_status"]
    assert faults > 0
    assert result.report.outcome == "complete"
    assert stored_records(tmp_path / "g.db") == expected_records(repository)
    assert len(sleeps) >= faults  # every fault was waited out, none was slept through for real
    assert sum(1 for s in sleeps if s >= 1) >= by_status.get(403, 0)


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_retry_after_is_honoured(status, repository, tmp_path):
    sleeps: list[float] = []
    with serve(repository) as fake:
        GraphQLRequests(fake).at(3, lambda: fake.inject(status, headers={"retry-after": "7"}, path="/graphql"))
        result = track(fake, tmp_path / "g.db", sleeps)
    assert result.report.outcome == "complete"
    assert sleeps == [7.0]
    assert stored_records(tmp_path / "g.db") == expected_records(repository)


def test_secondary_rate_limit_without_retry_after_waits_a_minute(repository, tmp_path):
    sleeps: list[float] = []
    body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
    with serve(repository) as fake:
        GraphQLRequests(fake).at(3, lambda: fake.inject(403, body=body, path="/graphql"))
        result = track(fake, tmp_path / "g.db", sleeps)
    assert result.report.outcome == "complete"
    assert sleeps == [60.0]


@pytest.mark.parametrize("status", [502, 504, 403])
def test_a_transient_fault_on_the_first_page_which_checks_the_repository_is_retried(status, repository, tmp_path):
    sleeps: list[float] = []
    with serve(repository) as fake:
        fake.inject(status, path="/graphql")
        result = track(fake, tmp_path / "g.db", sleeps)
    assert result.report.outcome == "complete"
    assert stored_records(tmp_path / "g.db") == expected_records(repository)


def test_a_gateways_html_page_is_told_by_its_words_not_its_markup(repository, tmp_path):
    from ghsync.errors import TransientGitHubError

    with serve(repository) as fake, pytest.raises(TransientGitHubError) as raised:
        fake.inject(504, times=10, path="/graphql")  # GitHub's own 504 is an HTML page
        track(fake, tmp_path / "g.db", [])
    assert str(raised.value) == "GitHub answered 504: 504 Gateway Time-out The server didn't respond in time."


def test_pages_that_time_out_are_halved_until_they_fit_and_the_data_is_identical(repository, tmp_path):
    sleeps: list[float] = []
    with serve(repository, timeout_page_size=20) as fake:
        result = track(fake, tmp_path / "g.db", sleeps)
        timeouts = fake.stats["requests_by_status"].get(502, 0)
    assert result.report.outcome == "complete"
    assert stored_records(tmp_path / "g.db") == expected_records(repository)
    # A 502 is retried once at the same size, then halved (49, 24, 12: 4 failures); growing back is
    # tried after 16 good pages, and after a failed try only after twice as many (2 more).
    assert 0 < timeouts <= 6, "the halved size is kept until growing back is worth a try"
    assert len(sleeps) == timeouts


def test_a_fault_that_outlasts_every_retry_is_a_temporary_failure_exit_75(repository, tmp_path):
    # Retry-After: 0 keeps the six attempts instant; cron's next run goes on from the last committed page.
    body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
    with serve(repository) as fake:
        GraphQLRequests(fake).at(
            3, lambda: fake.inject(403, body=body, headers={"Retry-After": "0"}, times=10, path="/graphql")
        )
        result = invoke("track", REPO, "--days", "all", "--quiet", "--db", tmp_path / "g.db", *_flags(fake))
    assert result.exit_code == 75
    assert "secondary rate limit" in result.stderr and result.stderr.count("\n") == 1
    assert current_job(tmp_path / "g.db")["cursor"] is not None


def test_a_first_page_github_cannot_give_now_leaves_the_repository_tracked_for_sync(repository, tmp_path):
    body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
    db = tmp_path / "g.db"
    with serve(repository) as fake:
        fake.inject(403, body=body, headers={"Retry-After": "0"}, times=6, path="/graphql")
        result = invoke("track", REPO, "--days", "all", "--quiet", "--db", db, *_flags(fake))
        assert result.exit_code == 75 and result.stderr.count("\n") == 1
        assert repository_row(db)["sync_status"] == "pending"
        assert invoke("sync", "--quiet", "--db", db, *_flags(fake)).exit_code == 0
    assert stored_records(db) == expected_records(repository)


def test_a_name_server_that_does_not_answer_is_retried_and_temporary(monkeypatch):
    import socket

    from ghsync.errors import TransientGitHubError
    from ghsync.github.client import GitHubClient

    def offline(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    with pytest.raises(TransientGitHubError, match="name resolution failed") as raised:
        GitHubClient(TOKEN, api_url="https://api.github.example").rate_limits()
    assert raised.value.exit_code == 75


def test_a_database_locked_past_the_busy_timeout_is_a_temporary_failure_exit_75(repository, tmp_path, monkeypatch):
    from ghsync.store import sqlite as store_module

    db = tmp_path / "g.db"
    with serve(repository) as fake:
        assert invoke("track", REPO, "--days", "all", "--quiet", "--db", db, *_flags(fake)).exit_code == 0
        monkeypatch.setattr(store_module, "BUSY_TIMEOUT_SECONDS", 0.2)
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            result = invoke("sync", "--quiet", "--db", db, *_flags(fake))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert result.exit_code == 75
    assert "is locked by another program" in result.stderr and result.stderr.count("\n") == 1


def _flags(fake: FakeGitHub) -> tuple[str, ...]:
    return ("--api-url", fake.url, "--token", TOKEN)


# --- permanent faults ------------------------------------------------------------------------


def _bad_credentials(fake):
    return lambda: fake.inject(401, path="/graphql")


def _forbidden_query(fake):
    body = {"data": None, "errors": [{"type": "FORBIDDEN", "message": "Resource not accessible by integration"}]}
    return lambda: fake.inject(200, body=body, path="/graphql")


def _repository_gone(fake):
    body = {
        "data": {"repository": None},
        "errors": [
            {
                "type": "NOT_FOUND",
                "path": ["repository"],
                "message": "Could not resolve to a Repository with the name 'acme/rockets'.",
            }
        ],
    }
    return lambda: fake.inject(200, body=body, path="/graphql")


PERMANENT = pytest.mark.parametrize(
    "fault", [_bad_credentials, _forbidden_query, _repository_gone], ids=["401", "FORBIDDEN", "NOT_FOUND"]
)


@PERMANENT
def test_permanent_fault_mid_sync_fails_fast_with_one_line_keeping_the_cursor(fault, repository, tmp_path):
    db = tmp_path / "g.db"
    with serve(repository) as fake:
        GraphQLRequests(fake).at(3, fault(fake))
        result = invoke("track", REPO, "--days", "all", "--quiet", "--db", db, "--api-url", fake.url, "--token", TOKEN)
        requests = fake.stats["graphql_requests"]
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert TOKEN not in result.stderr
    assert requests == 3, "a permanent fault is not retried"
    repository_status = repository_row(db)
    assert repository_status["sync_status"] == "error"
    assert repository_status["last_error"]
    assert current_job(db)["cursor"] is not None
    assert repository_status["sync_prs_completed"] > 0


@PERMANENT
def test_sync_after_a_permanent_fault_resumes_from_the_cursor(fault, repository, tmp_path):
    db = tmp_path / "g.db"
    with serve(repository) as fake:
        GraphQLRequests(fake).at(3, fault(fake))
        invoke("track", REPO, "--days", "all", "--quiet", "--db", db, "--api-url", fake.url, "--token", TOKEN)
        cursor = current_job(db)["cursor"]
        requests = GraphQLRequests(fake)
        result = invoke("sync", "--db", db, "--api-url", fake.url, "--token", TOKEN)
        assert result.exit_code == 0, result.stderr
        assert cursor in json.dumps(requests.payloads[0].get("variables")), "the resumed run starts at the cursor"
        assert stored_records(db) == expected_records(fake.repositories[0])
    assert job_count(db) == 1
    assert (repository_row(db)["sync_status"], repository_row(db)["last_error"]) == ("complete", None)
