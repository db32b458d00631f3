"""Email when a sync completes: a full `track` read back from a real SMTP server on loopback."""

from __future__ import annotations

from ghsync_testing import REPO, TOKEN, current_job, database, invoke
from smtp_server import SmtpTestServer, credential_forms, unused_port


def base_env(fake, db_path):
    return {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url, "GHSYNC_DB": str(db_path)}


def test_completed_track_emails_the_repository_recipients(fake, db_path):
    with SmtpTestServer(security="none") as smtp:
        env = {**base_env(fake, db_path), **smtp.env()}
        result = invoke(
            "track", REPO, "--days", "all", "--notify", "lead@example.com", "--notify", "ops@example.com", env=env
        )
        assert result.exit_code == 0, result.stderr
        (message,) = smtp.wait_for_messages(1)
    assert set(smtp.envelopes[0].rcpt_tos) == {"lead@example.com", "ops@example.com"}
    assert REPO in message["Subject"] and "300" in message["Subject"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "300" in body and f"ghsync metrics {REPO}" in body
    assert message.get_body(preferencelist=("html",)) is not None


def test_default_recipients_come_from_the_environment(fake, db_path):
    with SmtpTestServer(security="none") as smtp:
        env = {**base_env(fake, db_path), **smtp.env(), "GHSYNC_NOTIFY_TO": "team@example.com"}
        assert invoke("track", REPO, "--days", "all", env=env).exit_code == 0
        smtp.wait_for_messages(1)
    assert list(smtp.envelopes[0].rcpt_tos) == ["team@example.com"]


def test_smtp_down_is_a_warning_that_changes_neither_exit_code_nor_data(fake, db_path):
    env = {
        **base_env(fake, db_path),
        "GHSYNC_SMTP_HOST": "127.0.0.1",
        "GHSYNC_SMTP_PORT": str(unused_port()),
        "GHSYNC_SMTP_SECURITY": "none",
        "GHSYNC_SMTP_PASSWORD": "hunter2-secret",
    }
    result = invoke("track", REPO, "--days", "all", "--notify", "lead@example.com", env=env)
    assert result.exit_code == 0
    assert "Warning:" in result.stderr and "email not sent" in result.stderr
    assert "hunter2-secret" not in result.stderr
    assert database(db_path)["pull_requests"].count == 300
    job = current_job(db_path)
    assert job["email_status"].startswith("email not sent")


def test_credentials_a_server_echoes_reach_neither_stderr_nor_the_stored_email_status(fake, db_path):
    password = "hunter2-Sup3rSecret"
    with SmtpTestServer(security="none", auth=("bob", "the-right-one"), echo_credentials=True) as smtp:
        env = {**base_env(fake, db_path), **smtp.env(), "GHSYNC_SMTP_PASSWORD": password}
        result = invoke("track", REPO, "--days", "all", "--notify", "lead@example.com", env=env)
    assert result.exit_code == 0
    assert smtp.error_replies  # the server did quote the credentials
    email_status = current_job(db_path)["email_status"]
    stderr = "".join(result.stderr.split())  # the terminal may wrap a long warning
    for form, secret in credential_forms("bob", password).items():
        assert secret.rstrip("=") not in stderr, f"{form} on stderr"
        assert secret.rstrip("=") not in email_status, f"{form} in syncs.email_status"


def test_incremental_sync_mails_only_when_asked(fake, db_path):
    with SmtpTestServer(security="none") as smtp:
        env = {**base_env(fake, db_path), **smtp.env()}
        invoke("track", REPO, "--days", "all", "--notify", "lead@example.com", env=env)
        smtp.wait_for_messages(1)
        fake.touch_pull_request(REPO, 3, title="changed")
        assert invoke("sync", env=env).exit_code == 0
        assert len(smtp.messages) == 1
        fake.touch_pull_request(REPO, 4, title="changed again")
        assert invoke("sync", "--notify-on", "update", env=env).exit_code == 0
        smtp.wait_for_messages(2)
    # The total is the database's 300 PRs; the one changed is the one counted (PR 3, updated as the sync
    # before began, is read again to be sure, but unchanged it is not "changed").
    assert smtp.messages[1]["Subject"].endswith("updated — 1 PR changed, 300 total")


def test_notify_test_reports_exactly_what_failed(tmp_path):
    env = {"GHSYNC_SMTP_HOST": "127.0.0.1", "GHSYNC_SMTP_PORT": str(unused_port()), "GHSYNC_SMTP_SECURITY": "none"}
    result = invoke("notify-test", "--to", "me@example.com", env=env)
    assert result.exit_code == 1
    assert "cannot connect to 127.0.0.1" in result.stderr


def test_notify_test_delivers_a_message(tmp_path):
    with SmtpTestServer(security="none") as smtp:
        result = invoke("notify-test", "--to", "me@example.com", env=smtp.env())
        assert result.exit_code == 0, result.stderr
        smtp.wait_for_messages(1)
    assert list(smtp.envelopes[0].rcpt_tos) == ["me@example.com"]


def test_notify_test_without_a_server_or_with_a_bad_address_is_bad_usage_as_digest_to_is():
    unconfigured = invoke("notify-test", "--to", "me@example.com")
    assert unconfigured.exit_code == 2 and "GHSYNC_SMTP_HOST" in unconfigured.stderr
    bad = invoke("notify-test", "--to", "not an address", env={"GHSYNC_SMTP_HOST": "127.0.0.1"})
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: --to: ")


def test_notify_test_is_silent_with_quiet_when_the_message_went():
    with SmtpTestServer(security="none") as smtp:
        result = invoke("notify-test", "--to", "me@example.com", "--quiet", env=smtp.env())
        assert (result.exit_code, result.stderr) == (0, "")
        smtp.wait_for_messages(1)


def test_bad_smtp_setting_is_a_clear_usage_error_before_anything_is_fetched(fake, db_path):
    env = {**base_env(fake, db_path), "GHSYNC_SMTP_HOST": "127.0.0.1", "GHSYNC_SMTP_SECURITY": "carrier-pigeon"}
    result = invoke("track", REPO, env=env)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "GHSYNC_SMTP_SECURITY" in result.stderr
    assert fake.stats["graphql_requests"] == 0
