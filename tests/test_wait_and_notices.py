"""`--wait` rides out a rate-limit reset; `--notify-on` mails stops as well as completions."""

from __future__ import annotations

import copy
import time

from ghsync_testing import REPO, TOKEN, FakeGitHub, invoke, repository_row
from smtp_server import SmtpTestServer


def flags(fake, db_path):
    return ["--db", db_path, "--api-url", fake.url, "--token", TOKEN, "--min-remaining", "100"]


def test_sync_wait_sleeps_until_the_reset_and_completes(small_repository, db_path):
    with FakeGitHub([copy.deepcopy(small_repository)]) as fake:
        fake.set_remaining("graphql", 103)
        stopped = invoke("track", REPO, "--days", "all", *flags(fake, db_path))
        assert stopped.exit_code == 75
        # The bucket resets two seconds from now; the fake refills it then.
        fake.set_remaining("graphql", 0, reset_at=time.time() + 2)
        started = time.monotonic()
        result = invoke("sync", "--wait", *flags(fake, db_path))
        waited = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    assert "rate limit reached: waiting" in result.stderr
    assert waited >= 2
    row = repository_row(db_path)
    assert (row["sync_status"], row["sync_prs_completed"]) == ("complete", 300)


def test_sync_without_wait_exits_75_and_says_when_to_resume(small_repository, db_path):
    with FakeGitHub([copy.deepcopy(small_repository)]) as fake:
        fake.set_remaining("graphql", 103)
        invoke("track", REPO, "--days", "all", *flags(fake, db_path))
        result = invoke("sync", *flags(fake, db_path))
    assert result.exit_code == 75
    assert "resets at" in result.stderr and "ghsync sync" in result.stderr


def test_notify_on_rate_limited_mails_the_stop(small_repository, db_path):
    with FakeGitHub([copy.deepcopy(small_repository)]) as fake, SmtpTestServer(security="none") as smtp:
        fake.set_remaining("graphql", 103)
        result = invoke(
            "track",
            REPO,
            "--days",
            "all",
            "--notify",
            "lead@example.com",
            "--notify-on",
            "rate_limited",
            *flags(fake, db_path),
            env=smtp.env(),
        )
        assert result.exit_code == 75
        (message,) = smtp.wait_for_messages(1)
    assert "rate-limited" in message["Subject"] and REPO in message["Subject"]


def test_rate_limited_stop_sends_nothing_unless_asked(small_repository, db_path):
    with FakeGitHub([copy.deepcopy(small_repository)]) as fake, SmtpTestServer(security="none") as smtp:
        fake.set_remaining("graphql", 103)
        result = invoke(
            "track", REPO, "--days", "all", "--notify", "lead@example.com", *flags(fake, db_path), env=smtp.env()
        )
        assert result.exit_code == 75
        time.sleep(0.3)
    assert smtp.messages == []


def test_an_initial_sync_over_several_runs_sends_one_email_at_the_end(small_repository, db_path):
    with FakeGitHub([copy.deepcopy(small_repository)]) as fake, SmtpTestServer(security="none") as smtp:
        fake.set_remaining("graphql", 103)
        first = invoke(
            "track", REPO, "--days", "all", "--notify", "lead@example.com", *flags(fake, db_path), env=smtp.env()
        )
        assert first.exit_code == 75
        fake.set_remaining("graphql", 5000)
        second = invoke("sync", *flags(fake, db_path), env=smtp.env())
        assert second.exit_code == 0, second.stderr
        (message,) = smtp.wait_for_messages(1)
        time.sleep(0.3)
    assert len(smtp.messages) == 1
    assert "synced" in message["Subject"] and "300" in message["Subject"]


def _two_repositories(small_repository):
    other = copy.deepcopy(small_repository)
    other.name = "second"
    other.database_id += 1  # another repository, as GitHub numbers it
    return [copy.deepcopy(small_repository), other]


def test_sync_wait_over_several_repositories_waits_at_their_heads_check(small_repository, db_path):
    # The one request that reads every repository's head is the first to meet the threshold.
    with FakeGitHub(_two_repositories(small_repository)) as fake:
        for repository in fake.repositories:
            assert invoke("track", repository.full_name, "--days", "all", *flags(fake, db_path)).exit_code == 0
        fake.set_remaining("graphql", 0, reset_at=time.time() + 2)
        result = invoke("sync", "--wait", *flags(fake, db_path))
    assert result.exit_code == 0, result.stderr
    assert "rate limit reached: waiting" in result.stderr


def test_sync_wait_of_an_owner_waits_at_its_listing(small_repository, db_path):
    owner = small_repository.owner
    with FakeGitHub(_two_repositories(small_repository)) as fake:
        assert invoke("track", owner, "--days", "all", *flags(fake, db_path)).exit_code == 0
        fake.set_remaining("graphql", 0, reset_at=time.time() + 2)
        result = invoke("sync", "--wait", *flags(fake, db_path))
        assert result.exit_code == 0, result.stderr
        fake.set_remaining("graphql", 0, reset_at=time.time() + 2)
        tracked_again = invoke("track", owner, "--wait", *flags(fake, db_path))
    assert tracked_again.exit_code == 0, tracked_again.stderr
    assert "rate limit reached: waiting" in result.stderr and "rate limit reached: waiting" in tracked_again.stderr


def _statuses(db_path):
    from ghsync_testing import database

    return {row["full_name"]: row["sync_status"] for row in database(db_path)["repositories"].rows}


def test_without_wait_a_stop_at_an_owners_listing_says_when_the_budget_resets_and_starts_no_job(
    small_repository, db_path
):
    owner = small_repository.owner
    with FakeGitHub(_two_repositories(small_repository)) as fake:
        assert invoke("track", owner, "--days", "all", *flags(fake, db_path)).exit_code == 0
        fake.set_remaining("graphql", 50)
        synced = invoke("sync", *flags(fake, db_path))
        tracked_again = invoke("track", owner, *flags(fake, db_path))
    for result in (synced, tracked_again):
        assert result.exit_code == 75
        assert "resets at" in result.stderr and "--wait" in result.stderr, result.stderr
    # Nothing was asked of them: they are as the last sync left them, not `rate_limited`.
    assert set(_statuses(db_path).values()) == {"complete"}


def test_without_wait_a_stop_at_the_heads_check_starts_no_job(small_repository, db_path):
    with FakeGitHub(_two_repositories(small_repository)) as fake:
        for repository in fake.repositories:
            assert invoke("track", repository.full_name, "--days", "all", *flags(fake, db_path)).exit_code == 0
        fake.set_remaining("graphql", 50)
        result = invoke("sync", *flags(fake, db_path))
    assert result.exit_code == 75
    assert "the check of 2 repositories: every token's GraphQL budget is below 100" in result.stderr
    assert "Error" not in result.stderr  # a stop at the threshold is not an error
    assert set(_statuses(db_path).values()) == {"complete"}
