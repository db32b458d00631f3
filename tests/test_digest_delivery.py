"""`ghsync digest`: scope, delivery by email (a real SMTP server on loopback) and to a Slack stand-in
(http.server on loopback), once per scope, week and channel; secrets kept out of output and database."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from ghsync_testing import database, invoke, pull_request, store_pull_requests
from slack_server import SECRET_PATH, SlackTestServer
from smtp_server import SmtpTestServer, credential_forms

from ghsync.config import load_settings
from ghsync.digest.build import digest_week
from ghsync.errors import UsageError
from ghsync.models import RateLimitBudget, Spend, SyncKind
from ghsync.service.digest import digest_scope, send_digest
from ghsync.store import open_store
from ghsync.timefmt import iso

REPO = "acme/rockets"
PINNED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # the digest's week: 2026-11-23


def z(moment: datetime) -> str:
    return iso(moment.timestamp())


def last_monday(now: datetime) -> datetime:
    return datetime.combine(digest_week(now), time(), UTC)


def week_of(now: datetime | None = None) -> str:
    return digest_week(now or datetime.now(UTC)).isoformat()


def store_week(db_path, full_name=REPO, *, now: datetime | None = None, days_back=None, synced_at=None):
    """One PR merged in the digest's week, one the week before, one waiting, one by a bot."""
    now = now or datetime.now(UTC)
    monday = last_monday(now)
    records = [
        pull_request(1, created_at=z(monday + timedelta(hours=1)), merged_at=z(monday + timedelta(hours=11))),
        pull_request(2, created_at=z(monday - timedelta(days=6)), merged_at=z(monday - timedelta(days=5))),
        pull_request(3, created_at=z(monday - timedelta(days=20)), title="Please review me"),
        pull_request(
            4,
            created_at=z(monday + timedelta(hours=2)),
            author="dependabot[bot]",
            merged_at=z(monday + timedelta(hours=3)),
        ),
    ]
    store_pull_requests(db_path, full_name, records, synced_at=synced_at or z(now), days_back=days_back)
    return db_path


def digests(db_path) -> list[dict]:
    return list(database(db_path)["digests"].rows)


def env_for(db_path, *parts: dict[str, str]) -> dict[str, str]:
    merged = {"GHSYNC_DB": str(db_path)}
    for part in parts:
        merged.update(part)
    return merged


# -- email ------------------------------------------------------------------------------------------


def test_the_digest_is_emailed_with_a_text_and_an_html_part(db_path):
    store_week(db_path)
    with SmtpTestServer(security="none") as smtp:
        result = invoke("digest", "--to", "lead@example.com", env=env_for(db_path, smtp.env()))
        assert result.exit_code == 0, result.stderr
        (message,) = smtp.wait_for_messages(1)
    assert list(smtp.envelopes[0].rcpt_tos) == ["lead@example.com"]
    assert (
        message["Subject"]
        == f"ghsync weekly — all repositories — week of {week_of()}: 1 merged (=), cycle p50 10.0 h (▼58%)"
    )
    text = message.get_body(("plain",)).get_content()
    assert "1. acme/rockets#3 Please review me — alice, waiting" in text
    assert "<table" in message.get_body(("html",)).get_content()
    assert f"email: digest of the week of {week_of()} sent to lead@example.com" in result.stderr


def test_recipients_default_to_GHSYNC_NOTIFY_TO(db_path):
    store_week(db_path)
    with SmtpTestServer(security="none") as smtp:
        env = env_for(db_path, smtp.env(), {"GHSYNC_NOTIFY_TO": "team@example.com"})
        assert invoke("digest", env=env).exit_code == 0
        smtp.wait_for_messages(1)
    assert list(smtp.envelopes[0].rcpt_tos) == ["team@example.com"]


def test_a_recipient_the_server_refuses_is_an_error_once_and_the_others_are_not_mailed_again(db_path):
    store_week(db_path)
    with SmtpTestServer(security="none", reject_recipients=["gone@example.com"]) as smtp:
        env = env_for(db_path, smtp.env())
        first = invoke("digest", "--to", "lead@example.com", "--to", "gone@example.com", env=env)
        smtp.wait_for_messages(1)
        again = invoke("digest", "--to", "lead@example.com", "--to", "gone@example.com", env=env)
    assert first.exit_code == 1 and first.stderr.startswith(
        "Error: email: digest sent, but recipient rejected: gone@example.com"
    )
    assert again.exit_code == 0 and "already sent" in again.stderr
    assert [list(envelope.rcpt_tos) for envelope in smtp.envelopes] == [["lead@example.com"]]
    (row,) = digests(db_path)
    assert row["status"] == "sent" and "gone@example.com" in row["detail"]


# -- Slack ------------------------------------------------------------------------------------------


def test_slack_gets_one_json_post_of_block_kit_sections(db_path):
    store_week(db_path)
    with SlackTestServer() as slack:
        result = invoke("digest", "--slack-webhook", slack.webhook_url, env=env_for(db_path))
    assert result.exit_code == 0, result.stderr
    (request,) = slack.requests
    assert request["path"] == SECRET_PATH and request["headers"]["Content-Type"].startswith("application/json")
    payload = slack.payloads[0]
    assert payload["text"].startswith(f"ghsync weekly — all repositories — week of {week_of()}: 1 merged")
    assert payload["blocks"][0]["type"] == "header"
    assert "acme/rockets#3 Please review me&gt;" not in request["body"]
    assert "|acme/rockets#3 Please review me>" in request["body"]


@pytest.mark.parametrize(
    ("status", "error"), [(400, "invalid_payload"), (404, "no_service"), (410, "channel_is_archived")]
)
def test_a_slack_error_is_reported_with_slacks_text_and_email_still_goes_out(db_path, status, error):
    store_week(db_path)
    with SmtpTestServer(security="none") as smtp, SlackTestServer(status=status, body=error) as slack:
        env = env_for(db_path, smtp.env(), slack.env())
        result = invoke("digest", "--to", "lead@example.com", env=env)
        smtp.wait_for_messages(1)
    assert result.exit_code == 1
    assert f"Error: slack: digest not sent: Slack answered HTTP {status}: {error}" in result.stderr
    assert [(row["channel"], row["status"]) for row in digests(db_path)] == [("email", "sent"), ("slack", "failed")]
    assert digests(db_path)[1]["detail"] == f"Slack answered HTTP {status}: {error}"


def test_slack_not_answering_in_time_is_a_clear_failure(db_path):
    store_week(db_path)
    with SlackTestServer(hang=True) as slack:
        result = invoke("digest", env=env_for(db_path, slack.env(), {"GHSYNC_SLACK_TIMEOUT": "0.5"}))
    assert result.exit_code == 1
    assert "Error: slack: digest not sent: Slack did not answer within 0.5 s" in result.stderr


def test_a_webhook_that_is_not_https_is_bad_usage_and_not_echoed(db_path):
    store_week(db_path)
    result = invoke(
        "digest", "--slack-webhook", "http://hooks.example.com/services/T0/B0/XyzSecret", env=env_for(db_path)
    )
    assert result.exit_code == 2
    assert "must start with https://" in result.stderr and "XyzSecret" not in result.stderr


def test_a_webhook_with_a_space_is_bad_usage_and_its_secret_is_neither_printed_nor_stored(db_path):
    # http.client would refuse it later, quoting the URL's secret path in its error.
    store_week(db_path)
    env = env_for(db_path, {"GHSYNC_SLACK_WEBHOOK": "https://127.0.0.1:9/services/T000/B000/SECRET XYZ"})
    result = invoke("digest", env=env)
    assert result.exit_code == 2 and "SECRET" not in result.stderr
    assert digests(db_path) == []


# -- once per scope, week and channel ---------------------------------------------------------------


def test_a_second_run_sends_nothing_again_and_says_so(db_path):
    store_week(db_path)
    with SmtpTestServer(security="none") as smtp, SlackTestServer() as slack:
        env = env_for(db_path, smtp.env(), slack.env(), {"GHSYNC_NOTIFY_TO": "lead@example.com"})
        assert invoke("digest", env=env).exit_code == 0
        smtp.wait_for_messages(1)
        again = invoke("digest", env=env)
    assert again.exit_code == 0
    assert len(smtp.messages) == 1 and len(slack.requests) == 1
    assert f"email: the week of {week_of()} was already sent (--force sends it again)" in again.stderr
    assert f"slack: the week of {week_of()} was already sent" in again.stderr
    rows = digests(db_path)
    assert [(r["scope"], r["week"], r["channel"], r["status"]) for r in rows] == [
        ("all", week_of(), "email", "sent"),
        ("all", week_of(), "slack", "sent"),
    ]


def test_force_sends_again_and_records_it(db_path):
    store_week(db_path)
    with SlackTestServer() as slack:
        env = env_for(db_path, slack.env())
        assert invoke("digest", env=env).exit_code == 0
        assert invoke("digest", "--force", env=env).exit_code == 0
    assert len(slack.requests) == 2
    assert [row["status"] for row in digests(db_path)] == ["sent", "sent"]


def test_a_failed_channel_is_sent_by_the_next_run_and_the_delivered_one_is_not(db_path):
    store_week(db_path)
    with SmtpTestServer(security="none") as smtp:
        with SlackTestServer(status=404, body="no_service") as broken:
            assert (
                invoke("digest", "--to", "lead@example.com", env=env_for(db_path, smtp.env(), broken.env())).exit_code
                == 1
            )
        smtp.wait_for_messages(1)
        with SlackTestServer() as slack:
            result = invoke("digest", "--to", "lead@example.com", env=env_for(db_path, smtp.env(), slack.env()))
    assert result.exit_code == 0, result.stderr
    assert len(smtp.messages) == 1 and len(slack.requests) == 1


def test_a_database_too_busy_to_record_the_attempt_sends_nothing_so_the_retry_sends_once(db_path, monkeypatch):
    import sqlite3

    from ghsync.store import sqlite as store_module

    store_week(db_path)
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_SECONDS", 0.2)
    with SmtpTestServer(security="none") as smtp:
        env = env_for(db_path, smtp.env(), {"GHSYNC_NOTIFY_TO": "lead@example.com"})
        writer = sqlite3.connect(db_path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # another program holds the write lock past the busy timeout
        try:
            busy = invoke("digest", env=env)
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        assert busy.exit_code == 75 and smtp.messages == []
        retried = invoke("digest", env=env)
        smtp.wait_for_messages(1)
    assert retried.exit_code == 0, retried.stderr
    assert len(smtp.messages) == 1
    assert [row["status"] for row in digests(db_path)] == ["sent"]


def test_another_scope_is_another_digest(db_path):
    store_week(db_path)
    with SlackTestServer() as slack:
        env = env_for(db_path, slack.env())
        assert invoke("digest", env=env).exit_code == 0
        assert invoke("digest", REPO, env=env).exit_code == 0
        assert invoke("digest", "--owner", "ACME", env=env).exit_code == 0
    assert [row["scope"] for row in digests(db_path)] == ["all", "repos:acme/rockets", "owner:acme"]
    assert len(slack.requests) == 3


def test_a_run_overlapping_another_of_the_same_scope_sends_nothing_and_says_try_later(db_path):
    from ghsync.store.lock import digest_lock

    store_week(db_path)
    with SlackTestServer() as slack, digest_lock(db_path, "all"):
        result = invoke("digest", env=env_for(db_path, slack.env()))
    assert result.exit_code == 75 and "is sending this digest; try again when it finishes" in result.stderr
    assert slack.requests == [] and digests(db_path) == []


def test_dry_run_prints_the_text_and_sends_and_records_nothing(db_path):
    store_week(db_path)
    with SmtpTestServer(security="none") as smtp, SlackTestServer() as slack:
        env = env_for(db_path, smtp.env(), slack.env(), {"GHSYNC_NOTIFY_TO": "lead@example.com"})
        result = invoke("digest", "--dry-run", env=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"ghsync weekly — all repositories — week of {week_of()}\n")
    assert "Waiting longest for a first review" in result.stdout
    assert smtp.messages == [] and slack.requests == [] and digests(db_path) == []


def test_dry_run_needs_no_channel(db_path):
    store_week(db_path)
    assert invoke("digest", "--dry-run", env=env_for(db_path)).exit_code == 0


# -- bad input --------------------------------------------------------------------------------------


def test_no_channel_is_bad_usage(db_path):
    store_week(db_path)
    result = invoke("digest", env=env_for(db_path))
    assert result.exit_code == 2 and "no channel to send the digest to" in result.stderr


def test_recipients_without_an_smtp_server_are_bad_usage(db_path):
    store_week(db_path)
    result = invoke("digest", "--to", "lead@example.com", env=env_for(db_path))
    assert result.exit_code == 2 and "GHSYNC_SMTP_HOST" in result.stderr


def test_an_unknown_team_is_bad_usage_and_nothing_is_sent(db_path):
    store_week(db_path)
    with SlackTestServer() as slack:
        result = invoke("digest", "--team", "platform", env=env_for(db_path, slack.env()))
    assert result.exit_code == 2 and "unknown team platform" in result.stderr
    assert slack.requests == []


def test_a_config_teams_digest_counts_only_its_members_prs(db_path, tmp_path, monkeypatch):
    now = datetime.now(UTC)
    monday = last_monday(now)
    records = [
        pull_request(
            1, author="alice", created_at=z(monday + timedelta(hours=1)), merged_at=z(monday + timedelta(hours=5))
        ),
        pull_request(
            2, author="bob", created_at=z(monday + timedelta(hours=1)), merged_at=z(monday + timedelta(hours=9))
        ),
        pull_request(
            3, author="carol", created_at=z(monday + timedelta(hours=2)), merged_at=z(monday + timedelta(hours=3))
        ),
    ]
    store_pull_requests(db_path, REPO, records, synced_at=z(now), days_back=None)
    config = tmp_path / "teams.toml"
    config.write_text('[teams.platform]\nmembers = ["alice", "bob"]\n')
    monkeypatch.setenv("GHSYNC_CONFIG", str(config))
    result = invoke("digest", "--team", "platform", "--dry-run", env=env_for(db_path))
    assert result.exit_code == 0, result.stderr
    assert "platform" in result.stdout
    with open_store(db_path) as store:
        scope = digest_scope(load_settings(db=db_path), store, (), None, "platform")
        assert scope.key == "team:platform"
        assert sorted(pr.number for _, pr in scope.pull_requests()) == [1, 2]


def test_repositories_owner_and_team_exclude_each_other(db_path):
    store_week(db_path)
    result = invoke("digest", REPO, "--owner", "acme", "--dry-run", env=env_for(db_path))
    assert result.exit_code == 2 and "not several" in result.stderr


# -- secrets ----------------------------------------------------------------------------------------


def test_the_webhook_url_and_smtp_password_appear_in_no_output_and_nowhere_in_the_database(db_path):
    store_week(db_path)
    password = "hunter2-Sup3rSecret"
    with (
        SmtpTestServer(security="none", auth=("bob", "the-right-one"), echo_credentials=True) as smtp,
        SlackTestServer(status=400, body="invalid_payload", echo_path=True) as slack,
    ):
        env = env_for(db_path, smtp.env(), {"GHSYNC_SMTP_PASSWORD": password, "GHSYNC_NOTIFY_TO": "lead@example.com"})
        failed = invoke("digest", "--slack-webhook", slack.webhook_url, env=env)
    with SlackTestServer() as slack:
        sent = invoke("digest", "--slack-webhook", slack.webhook_url, "--force", env=env_for(db_path))
    assert failed.exit_code == 1 and sent.exit_code == 0
    secrets = {"webhook path": SECRET_PATH, "webhook token": SECRET_PATH.rsplit("/", 1)[1]}
    secrets.update(credential_forms("bob", password))
    stored = b"".join(path.read_bytes() for path in db_path.parent.glob(db_path.name + "*") if path.is_file())
    for result in (failed, sent):
        output = "".join((result.stdout + result.stderr).split())
        for form, secret in secrets.items():
            assert secret.rstrip("=") not in output, f"{form} printed"
    for form, secret in secrets.items():
        assert secret.rstrip("=").encode() not in stored, f"{form} in the database"
    assert "Slack answered HTTP 400: invalid_payload for ***" in failed.stderr


# -- the scope (the function the team-metrics scope will replace) -----------------------------------


def test_prs_by_bots_are_left_out_of_the_scope(db_path):
    records = [
        pull_request(n, created_at="2026-11-24T00:00:00Z", author=author)
        for n, author in enumerate(
            [
                "alice",
                "dependabot[bot]",
                "Dependabot",
                "renovate-bot",
                "RENOVATE[bot]",
                "github-actions[bot]",
                "robert",
            ],
            start=1,
        )
    ]
    store_pull_requests(db_path, REPO, records, synced_at=z(PINNED))
    with open_store(db_path) as store:
        scope = digest_scope(load_settings(db=db_path), store, (), None, None)
        assert [pr.author for _, pr in scope.pull_requests()] == ["alice", "robert"]


def test_owner_scope_pools_every_tracked_repository_of_that_owner(db_path):
    store_week(db_path, "acme/a", now=PINNED)
    store_week(db_path, "acme/b", now=PINNED)
    store_week(db_path, "other/c", now=PINNED)
    result = send_digest(load_settings(db=db_path), owner="acme", dry_run=True, now=PINNED)
    assert (result.scope_key, result.digest.scope_name) == ("owner:acme", "acme")
    assert result.digest.change("prs_merged").current == 2
    assert [pr.repository for pr in result.digest.waiting] == ["acme/a", "acme/b"]


def test_an_owner_without_tracked_repositories_is_bad_usage(db_path):
    store_week(db_path, now=PINNED)
    with open_store(db_path) as store, pytest.raises(UsageError, match="no tracked repository belongs to nobody"):
        digest_scope(load_settings(db=db_path), store, (), "nobody", None)


def test_a_window_that_starts_after_the_week_before_is_a_coverage_line(db_path):
    # days_back 10 before Tue 2026-12-01 09:00: the data starts 2026-11-21, after Mon 2026-11-16.
    store_week(db_path, now=PINNED, days_back=10)
    result = send_digest(load_settings(db=db_path), dry_run=True, now=PINNED)
    assert result.digest.notices == (
        (
            "acme/rockets: the stored data starts on 2026-11-21, after the start of the week of 2026-11-16: "
            "the comparison is incomplete."
        ),
        "The chart leaves out 7 earlier weeks: the stored data of acme/rockets starts on 2026-11-21.",
    )


def test_a_window_tracked_long_ago_and_kept_up_to_date_is_no_coverage_line(db_path):
    # --days 10 first synced 60 days ago: incremental syncs keep every PR since then, so the stored
    # data covers both weeks (and the chart's eight) although `now - 10 days` is after the week before began.
    store_week(db_path, now=PINNED, days_back=10, synced_at=z(PINNED - timedelta(days=60)))
    with open_store(db_path) as store:
        repository = store.find_repository(REPO)
        assert repository is not None
        job = store.start_job(
            repository, kind=SyncKind.INCREMENTAL, since=z(PINNED - timedelta(days=2)), started_at=z(PINNED)
        )
        store.finish_job(
            job, finished_at=z(PINNED - timedelta(hours=1)), spent=Spend(), budget=RateLimitBudget.unlimited()
        )
    assert send_digest(load_settings(db=db_path), dry_run=True, now=PINNED).digest.notices == ()


def test_a_whole_history_whose_first_pr_is_recent_is_no_coverage_line(db_path):
    # Its oldest PR is from the digest's own week: nothing before it can be missing.
    monday = last_monday(PINNED)
    records = [pull_request(1, created_at=z(monday + timedelta(hours=1)), merged_at=z(monday + timedelta(hours=2)))]
    store_pull_requests(db_path, REPO, records, synced_at=z(PINNED), days_back=None)
    assert send_digest(load_settings(db=db_path), dry_run=True, now=PINNED).digest.notices == ()


def test_a_last_sync_before_the_week_ended_says_the_week_is_incomplete(db_path):
    store_week(db_path, now=PINNED, synced_at="2026-11-28T06:00:00Z")
    text = send_digest(load_settings(db=db_path), dry_run=True, now=PINNED).text
    assert (
        "! acme/rockets: last synced 2026-11-28 06:00 UTC, before the week of 2026-11-23 ended: "
        "its numbers for that week are incomplete.\n"
    ) in text
