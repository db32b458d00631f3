"""Email notifications, against a real SMTP server on loopback (no mocked smtplib)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ghsync.errors import NotifyError
from ghsync.models import SyncReport
from ghsync.notify.message import render_run_email, render_sync_email, should_notify
from ghsync.notify.settings import SmtpSettings, parse_recipients
from ghsync.notify.smtp import notify_sync_result, send_email, send_test_email
from tests.smtp_server import credential_forms, unused_port

PASSWORD = "hunter2-Sup3rSecret"


def make_report(**overrides) -> SyncReport:
    values = {
        "full_name": "apache/devlake",
        "kind": "initial",
        "outcome": "complete",
        "days_back": 90,
        "prs_synced": 1234,
        "reviews_synced": 5678,
        "prs_total": 1234,
        "started_at": "2024-05-01T13:00:00Z",
        "finished_at": "2024-05-01T13:03:12Z",
        "duration_seconds": 192.4,
        "graphql_points_spent": 1020,
        "rest_calls_spent": 3,
        "rate_limit_remaining": 3980,
    }
    values.update(overrides)
    return SyncReport(**values)


def make_message(to=("dev@example.com",)):
    return render_sync_email(make_report(), recipients=list(to), sender="ghsync@test.invalid")


def plain_body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_body(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


# -- delivery -------------------------------------------------------------------------------


def test_plain_smtp_delivers_the_message(smtp_server_factory):
    server = smtp_server_factory(security="none")

    send_email(server.smtp_settings(), make_message())

    [received] = server.messages
    assert received["Subject"] == "ghsync: apache/devlake synced — 1,234 PRs"
    assert server.envelopes[0].rcpt_tos == ("dev@example.com",)
    assert server.envelopes[0].mail_from == "ghsync@test.invalid"
    assert server.envelopes[0].tls is False
    assert received["Date"] and received["Message-ID"]


def test_starttls_with_the_self_signed_ca_trusted_via_ca_file(smtp_server_factory):
    server = smtp_server_factory(security="starttls")
    assert server.ca_file

    send_email(server.smtp_settings(), make_message())

    assert len(server.messages) == 1
    assert server.envelopes[0].tls is True


def test_starttls_without_trusting_the_ca_fails_with_a_certificate_error(smtp_server_factory):
    server = smtp_server_factory(security="starttls")

    with pytest.raises(NotifyError) as caught:
        send_email(server.smtp_settings(ca_file=None), make_message())

    text = str(caught.value)
    assert text.startswith(f"TLS handshake with 127.0.0.1:{server.port} failed: certificate verify failed")
    assert "ca_file" in text
    assert server.messages == []


def test_starttls_refuses_a_server_that_does_not_offer_it(smtp_server_factory):
    server = smtp_server_factory(security="none")

    # The advice names the setting as people set it.
    with pytest.raises(NotifyError, match="does not support STARTTLS.*GHSYNC_SMTP_SECURITY=none"):
        send_email(server.smtp_settings(security="starttls"), make_message())

    assert server.messages == []


def test_implicit_tls_delivers_the_message(smtp_server_factory):
    server = smtp_server_factory(security="ssl")

    send_email(server.smtp_settings(), make_message())

    assert len(server.messages) == 1
    assert server.envelopes[0].tls is True


def test_implicit_tls_without_trusting_the_ca_fails_with_a_certificate_error(smtp_server_factory):
    server = smtp_server_factory(security="ssl")

    with pytest.raises(NotifyError, match=r"^TLS handshake with .* failed: certificate verify failed"):
        send_email(server.smtp_settings(ca_file=None), make_message())


def test_auth_with_correct_credentials_delivers(smtp_server_factory):
    server = smtp_server_factory(security="starttls", auth=("bob", PASSWORD))

    send_email(server.smtp_settings(), make_message())

    assert server.envelopes[0].login == "bob"


def test_auth_over_implicit_tls_delivers(smtp_server_factory):
    server = smtp_server_factory(security="ssl", auth=("bob", PASSWORD))

    send_email(server.smtp_settings(), make_message())

    assert server.envelopes[0].login == "bob"


def test_auth_with_wrong_credentials_names_the_user_not_the_password(smtp_server_factory):
    server = smtp_server_factory(security="starttls", auth=("bob", "the-right-one"))

    with pytest.raises(NotifyError) as caught:
        send_email(server.smtp_settings(password=PASSWORD), make_message())

    text = str(caught.value)
    assert text.startswith("SMTP authentication failed for user 'bob' (535")
    assert PASSWORD not in text
    assert PASSWORD not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert server.messages == []


def test_missing_login_against_a_server_requiring_auth_says_so(smtp_server_factory):
    server = smtp_server_factory(security="starttls", auth=("bob", PASSWORD))

    with pytest.raises(NotifyError, match="530.*set user and password"):
        send_email(server.smtp_settings(user=None, password=None), make_message())


def test_server_down_says_cannot_connect():
    port = unused_port()
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=5)

    with pytest.raises(NotifyError) as caught:
        send_email(settings, make_message())

    assert str(caught.value) == f"cannot connect to 127.0.0.1:{port}: Connection refused"


def test_rejected_recipient_is_named(smtp_server_factory):
    server = smtp_server_factory(reject_recipients={"nobody@example.com"})

    with pytest.raises(NotifyError) as caught:
        send_email(server.smtp_settings(), make_message(to=["nobody@example.com"]))

    assert str(caught.value).startswith("recipient rejected: nobody@example.com (550 5.1.1")


def test_partly_rejected_recipients_are_named_and_the_others_still_get_it(smtp_server_factory):
    server = smtp_server_factory(reject_recipients={"nobody@example.com"})

    with pytest.raises(NotifyError, match=r"^recipient rejected: nobody@example\.com .*delivered to 1 other"):
        send_email(server.smtp_settings(), make_message(to=["dev@example.com", "nobody@example.com"]))

    assert server.envelopes[0].rcpt_tos == ("dev@example.com",)


# -- notify_sync_result ------------------------------------------------------------------------


def test_notify_sync_result_sends_and_returns_none(smtp_server_factory):
    server = smtp_server_factory(security="starttls")

    warning = notify_sync_result(
        server.smtp_settings(), make_report(), recipients=["dev@example.com"], db_path="/tmp/gh.db"
    )

    assert warning is None
    assert "ghsync metrics apache/devlake --db /tmp/gh.db" in plain_body(server.messages[0])


def test_notify_sync_result_never_raises_and_returns_the_warning():
    port = unused_port()
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", user="bob", password=PASSWORD)

    warning = notify_sync_result(settings, make_report(), recipients=["dev@example.com"])

    assert warning == f"email not sent: cannot connect to 127.0.0.1:{port}: Connection refused"


def test_notify_sync_result_turns_an_unexpected_crash_into_a_warning():
    def broken_send(settings, message):
        raise RuntimeError(f"boom {PASSWORD}")

    settings = SmtpSettings(host="smtp.example.com", password=PASSWORD, user="bob")
    warning = notify_sync_result(settings, make_report(), recipients=["a@example.com"], send=broken_send)

    assert warning is not None and warning.startswith("email not sent: unexpected RuntimeError: boom")
    assert PASSWORD not in warning


def test_notify_sync_result_does_nothing_without_host_or_recipients():
    calls = []

    def send(settings, message):
        calls.append(message)

    disabled = SmtpSettings()
    assert notify_sync_result(disabled, make_report(), recipients=["a@example.com"], send=send) is None
    enabled = SmtpSettings(host="smtp.example.com")
    assert notify_sync_result(enabled, make_report(), recipients=[], send=send) is None
    assert notify_sync_result(enabled, make_report(), recipients=None, send=send) is None
    assert calls == []


def test_notify_sync_result_falls_back_to_default_recipients():
    calls = []
    settings = SmtpSettings(host="smtp.example.com", default_recipients="a@example.com, b@example.com")

    notify_sync_result(settings, make_report(), recipients=None, send=lambda s, m: calls.append(m))

    assert calls[0]["To"] == "a@example.com, b@example.com"


def test_notify_sync_result_reports_an_invalid_recipient():
    settings = SmtpSettings(host="smtp.example.com")

    warning = notify_sync_result(settings, make_report(), recipients=["bob"], send=lambda s, m: None)

    assert warning == "email not sent: invalid email address 'bob': expected name@domain, e.g. alice@example.com"


# -- the password never leaks -----------------------------------------------------------------


def test_password_never_appears_in_repr_str_or_errors(smtp_server_factory):
    settings = SmtpSettings(host="127.0.0.1", port=unused_port(), security="none", user="bob", password=PASSWORD)
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings)
    assert PASSWORD not in settings.describe()

    server = smtp_server_factory(security="starttls", auth=("bob", "other"))
    failures = [
        settings,  # connection refused
        server.smtp_settings(password=PASSWORD),  # login refused
        server.smtp_settings(password=PASSWORD, ca_file=None),  # certificate refused
    ]
    for failing in failures:
        with pytest.raises(NotifyError) as caught:
            send_email(failing, make_message())
        assert PASSWORD not in str(caught.value)
        assert PASSWORD not in repr(caught.value)


def assert_no_credentials(text: str, user: str = "bob", password: str = PASSWORD) -> None:
    for form, secret in credential_forms(user, password).items():
        assert secret.rstrip("=") not in text, f"{form} leaked"


def test_a_failed_auth_is_reported_by_its_code_without_the_servers_text(smtp_server_factory):
    server = smtp_server_factory(security="starttls", auth=("bob", "the-right-one"), echo_credentials=True)

    with pytest.raises(NotifyError) as caught:
        send_email(server.smtp_settings(password=PASSWORD), make_message())

    assert str(caught.value) == "SMTP authentication failed for user 'bob' (535)"


def test_credentials_echoed_by_a_failed_auth_stay_out_of_the_error(smtp_server_factory):
    server = smtp_server_factory(security="starttls", auth=("bob", "the-right-one"), echo_credentials=True)

    with pytest.raises(NotifyError) as caught:
        send_email(server.smtp_settings(password=PASSWORD), make_message())

    assert any(credential_forms("bob", PASSWORD)["AUTH PLAIN blob"] in reply for reply in server.error_replies)
    assert_no_credentials(str(caught.value))
    assert_no_credentials(repr(caught.value))


def test_credentials_echoed_by_a_failed_auth_stay_out_of_the_warning(smtp_server_factory):
    server = smtp_server_factory(security="none", auth=("bob", "the-right-one"), echo_credentials=True)

    warning = notify_sync_result(server.smtp_settings(password=PASSWORD), make_report(), recipients=["a@example.com"])

    assert warning is not None and server.error_replies
    assert_no_credentials(warning)


def test_credentials_echoed_in_a_later_reply_are_scrubbed_in_clear_and_base64(smtp_server_factory):
    server = smtp_server_factory(
        security="starttls", auth=("bob", PASSWORD), echo_credentials=True, reject_recipients=["gone@example.com"]
    )

    with pytest.raises(NotifyError) as caught:
        send_email(server.smtp_settings(), make_message(to=["gone@example.com"]))

    assert any(credential_forms("bob", PASSWORD)["base64 password (AUTH LOGIN)"] in r for r in server.error_replies)
    assert str(caught.value).startswith("recipient rejected: gone@example.com (550 5.1.1")
    assert_no_credentials(str(caught.value))


def test_password_is_not_echoed_by_validation_errors():
    with pytest.raises(ValidationError) as caught:
        SmtpSettings(host="smtp.example.com", password=PASSWORD, port="not-a-port")

    assert PASSWORD not in str(caught.value)


# -- rendering ---------------------------------------------------------------------------------


def test_rendered_email_has_subject_and_recipients():
    message = render_sync_email(
        make_report(), recipients=["a@example.com", "b@example.com"], sender="ghsync@example.com"
    )

    assert message["Subject"] == "ghsync: apache/devlake synced — 1,234 PRs"
    assert message["To"] == "a@example.com, b@example.com"
    assert message["From"] == "ghsync@example.com"
    assert message["Date"] is None  # pure: the sender adds it


def test_rendered_plain_body_has_counts_window_duration_budget_and_times():
    body = plain_body(render_sync_email(make_report(), recipients=["a@example.com"], sender="g@example.com"))

    assert "last 90 days" in body
    assert "1,234" in body and "5,678" in body
    assert "3 min 12 s" in body
    assert "1,020 GraphQL points, 3 REST calls" in body
    assert "2024-05-01 13:00:00 UTC" in body and "2024-05-01 13:03:12 UTC" in body
    assert "ghsync metrics apache/devlake" in body
    assert "--db" not in body


def test_rendered_full_history_window():
    body = plain_body(
        render_sync_email(make_report(days_back=None), recipients=["a@example.com"], sender="g@example.com")
    )

    assert "full history" in body


def test_rendered_incremental_update_subject():
    report = make_report(kind="incremental", prs_synced=12, prs_total=1246)

    message = render_sync_email(report, recipients=["a@example.com"], sender="g@example.com")

    assert message["Subject"] == "ghsync: apache/devlake updated — 12 PRs changed, 1,246 total"


def test_rendered_rate_limited_subject_names_the_reset_time():
    report = make_report(
        full_name="o/r",
        outcome="rate_limited",
        rate_limit_reset_at="2024-05-01T14:05:00Z",
        error="GraphQL budget below 100 points",
    )

    message = render_sync_email(report, recipients=["a@example.com"], sender="g@example.com")

    assert message["Subject"] == "ghsync: o/r rate-limited — resumes at 14:05 UTC"
    assert "2024-05-01 14:05:00 UTC" in plain_body(message)


def test_rendered_failure_subject_and_error():
    report = make_report(full_name="o/r", outcome="error", error="GitHub answered 502 twice")

    message = render_sync_email(report, recipients=["a@example.com"], sender="g@example.com")

    assert message["Subject"] == "ghsync: o/r sync failed"
    assert "GitHub answered 502 twice" in plain_body(message)
    assert "GitHub answered 502 twice" in html_body(message)


def test_rendered_html_alternative_is_present_and_escaped():
    report = make_report(full_name="o/<script>alert(1)</script>", outcome="error", error='bad "<b>" & worse')

    message = render_sync_email(report, recipients=["a@example.com"], sender="g@example.com")

    assert message.get_content_type() == "multipart/alternative"
    html = html_body(message)
    assert "<table" in html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&quot;&lt;b&gt;&quot; &amp; worse" in html


def test_rendered_metrics_command_quotes_the_db_path():
    message = render_sync_email(
        make_report(), recipients=["a@example.com"], sender="g@example.com", db_path="/data/my dbs/gh.db"
    )

    assert "ghsync metrics apache/devlake --db '/data/my dbs/gh.db'" in plain_body(message)


def test_rendered_email_survives_the_wire(smtp_server_factory):
    server = smtp_server_factory()
    report = make_report(error="naïve — unicode ✓")

    send_email(server.smtp_settings(), render_sync_email(report, recipients=["a@example.com"], sender="g@x.org"))

    [received] = server.messages
    assert received["Subject"] == "ghsync: apache/devlake synced — 1,234 PRs"
    assert "naïve — unicode ✓" in plain_body(received)
    assert "<table" in html_body(received)


# -- policy ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "kind", "notify_on", "expected"),
    [
        ("complete", "initial", set(), True),
        ("complete", "initial", {"update", "error", "rate_limited"}, True),
        ("complete", "incremental", set(), False),
        ("complete", "incremental", {"update"}, True),
        ("complete", "incremental", {"error"}, False),
        ("rate_limited", "initial", set(), False),
        ("rate_limited", "initial", {"rate_limited"}, True),
        ("rate_limited", "incremental", {"rate_limited"}, True),
        ("rate_limited", "incremental", {"update"}, False),
        ("error", "initial", set(), False),
        ("error", "incremental", {"error"}, True),
        ("error", "initial", {"error"}, True),
        ("error", "initial", {"update", "rate_limited"}, False),
        ("syncing", "initial", {"update", "error", "rate_limited"}, False),
        ("pending", "initial", {"update", "error", "rate_limited"}, False),
    ],
)
def test_should_notify_policy(outcome, kind, notify_on, expected):
    assert should_notify(outcome, kind, notify_on) is expected


# -- send_test_email ---------------------------------------------------------------------------


def test_send_test_email_arrives_and_describes_settings_without_the_password(smtp_server_factory):
    server = smtp_server_factory(security="starttls", auth=("bob", PASSWORD))

    send_test_email(server.smtp_settings(), to=["dev@example.com"])

    [received] = server.messages
    assert received["Subject"] == "ghsync test message"
    body = received.get_content()
    assert "127.0.0.1" in body and str(server.port) in body and "starttls" in body and "bob" in body
    assert PASSWORD not in body


def test_send_test_email_raises_the_precise_failure():
    port = unused_port()

    with pytest.raises(NotifyError, match=f"^cannot connect to 127.0.0.1:{port}: Connection refused$"):
        send_test_email(SmtpSettings(host="127.0.0.1", port=port, security="none"), to=["a@example.com"])


# -- settings ----------------------------------------------------------------------------------


def test_settings_parse_comma_separated_recipients():
    settings = SmtpSettings(default_recipients=" a@example.com, b@example.org ,, A@example.com")

    assert settings.default_recipients == ("a@example.com", "b@example.org")


def test_settings_reject_an_invalid_address_with_a_clear_message():
    with pytest.raises(ValidationError) as caught:
        SmtpSettings(default_recipients="a@example.com, bob")

    [error] = caught.value.errors()
    assert error["loc"] == ("default_recipients",)
    assert error["msg"] == "invalid email address 'bob': expected name@domain, e.g. alice@example.com"


@pytest.mark.parametrize(
    "value",
    ["a@b.c\r\nBcc: x@y.z", "a@b.c\nBcc: x@y.z", "a@b.c\r\n", "a@b.c\x00", "a@b.c,\tb@c.d", "a@b.c\x7f"],
)
def test_parse_recipients_rejects_line_breaks_and_control_characters(value):
    with pytest.raises(ValueError, match="it contains a line break or another control character$"):
        parse_recipients(value)


def test_parse_recipients_names_the_injected_address_on_one_line():
    with pytest.raises(ValueError) as caught:
        parse_recipients(["ok@example.com", "a@b.c\r\nBcc: x@y.z"])

    message = str(caught.value)
    assert (
        message
        == "invalid email address 'a@b.c\\r\\nBcc: x@y.z': it contains a line break or another control character"
    )


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_settings_default_port_follows_security(security, port):
    assert SmtpSettings(host="smtp.example.com", security=security).port == port


def test_settings_explicit_port_wins():
    assert SmtpSettings(security="ssl", port=2465).port == 2465


def test_settings_enabled_only_with_a_host():
    assert SmtpSettings().enabled is False
    assert SmtpSettings(host="smtp.example.com").enabled is True


def test_settings_default_sender_uses_the_local_host_name():
    assert SmtpSettings(host="smtp.example.com").from_addr.startswith("ghsync@")


def test_settings_reject_a_port_in_the_host_name():
    with pytest.raises(ValidationError, match="give the port separately"):
        SmtpSettings(host="smtp.example.com:587")


def test_a_run_over_several_repositories_is_one_message_with_a_line_each():
    from ghsync.models import Outcome, SyncKind
    from tests.ghsync_testing import sync_report

    reports = [
        sync_report(full_name="acme/api", prs_synced=7, prs_total=7),
        sync_report(full_name="acme/web", kind=SyncKind.INCREMENTAL, prs_synced=2, prs_total=12),
        sync_report(full_name="acme/<b>x</b>", outcome=Outcome.ERROR, error="GitHub answered 502"),
    ]
    message = render_run_email(reports, recipients=["lead@example.com"], sender="ghsync@example.com")
    assert message["Subject"] == "ghsync: 3 repositories — 1 synced, 1 updated, 1 failed"
    plain = " ".join(message.get_body(preferencelist=("plain",)).get_content().split())
    assert "acme/api: complete (initial sync): 7 PRs synced, 7 in the database" in plain
    assert "acme/web: complete (incremental sync): 2 PRs synced, 12 in the database" in plain
    assert "Error: GitHub answered 502" in plain and "ghsync status" in plain
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "acme/&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_a_run_email_needs_two_reports():
    from tests.ghsync_testing import sync_report

    with pytest.raises(ValueError, match="two reports or more"):
        render_run_email([sync_report()], recipients=["lead@example.com"], sender="")
