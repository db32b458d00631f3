"""Text from GitHub, SMTP, files or users reaches the terminal literally: never as rich markup, never
as escape sequences or line breaks (issue #11, item 4). What is stored stays exact."""

from __future__ import annotations

import io
import json

from ghsync_testing import (
    REPO,
    TOKEN,
    FakeGitHub,
    GraphQLRequests,
    cli_flags,
    database,
    invoke,
    repository_record,
    repository_row,
    sync_report,
    tracked,
)

# Closes a markup tag that was never opened (rich raises MarkupError), paints the background red,
# retitles the terminal window and hides a link: all from one string a server chose.
HOSTILE = "[/]oops [bold red]x[/] \x1b[41mred\x1b[0m \x1b]0;PWNED\x07 \x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\ a\r\nb"
# What a person should read instead.
SHOWN = "[/]oops [bold red]x[/] red  link a b"
WIDE = {"COLUMNS": "200"}


def assert_shown_literally(output: str) -> None:
    assert "\x1b" not in output and "\x07" not in output and "\r" not in output
    assert "PWNED" not in output and "evil.example" not in output
    assert "[/]oops [bold red]x[/]" in output


def write(db_path, sql: str, *params: str) -> None:
    db = database(db_path)
    with db.conn:
        db.execute(sql, list(params))
    db.close()


def store_last_error(db_path, text: str) -> None:
    write(db_path, "UPDATE repositories SET last_error = ? WHERE full_name = ?", text, REPO)


def test_printable_removes_escape_sequences_and_turns_line_breaks_into_spaces():
    from ghsync.cli.render import printable

    assert printable(HOSTILE) == SHOWN
    assert printable("tab\there\x00\x9b31mX\x7f") == "tab hereX"


def test_a_graphql_error_message_is_one_literal_line_after_error(fake, db_path):
    body = {"errors": [{"type": "SOMETHING", "message": HOSTILE}]}
    fake.inject(200, body=body, times=10, path="/graphql")
    result = invoke("track", REPO, *cli_flags(fake, db_path), env=WIDE)
    assert result.exit_code == 1
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert_shown_literally(result.stderr)
    assert error.endswith(SHOWN)


def test_the_stored_error_stays_exact_and_status_shows_it_literally(fake, db_path):
    # On the second page: the first is the repository's check, and a failed check stores nothing.
    error = {"errors": [{"type": "SOMETHING", "message": HOSTILE}]}
    GraphQLRequests(fake).at(2, lambda: fake.inject(200, body=error, times=10, path="/graphql"))
    invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path))
    assert repository_row(db_path)["last_error"].endswith(HOSTILE)
    result = invoke("status", "--db", db_path, env=WIDE)
    assert result.exit_code == 0, result.stderr
    assert_shown_literally(result.stdout)


def test_status_on_a_narrow_terminal_shows_the_error_literally(fake, db_path):
    store_last_error(tracked(fake, db_path), HOSTILE)
    result = invoke("status", "--db", db_path, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    assert_shown_literally(result.stdout.replace("\n", " "))


def test_status_json_keeps_the_stored_text_exact(fake, db_path):
    store_last_error(tracked(fake, db_path), HOSTILE)
    result = invoke("status", "--json", "--db", db_path)
    assert json.loads(result.stdout)[0]["last_error"] == HOSTILE


def test_an_author_login_is_shown_literally_by_metrics_by_author(fake, db_path):
    tracked(fake, db_path)
    write(db_path, "UPDATE pull_requests SET author = ?", HOSTILE)
    result = invoke("metrics", REPO, "--by", "author", "--weeks", "5200", "--db", db_path, env=WIDE)
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout and "PWNED" not in result.stdout
    assert "[/]oops" in result.stdout


def test_metrics_csv_and_json_carry_no_raw_control_character_of_a_login(fake, db_path):
    # A CSV or JSON printed to a terminal (the README's example) must not retitle it: C1's 0x9b is a CSI too.
    tracked(fake, db_path)
    write(db_path, "UPDATE pull_requests SET author = ?", HOSTILE + "\x9b31m\x7f")
    for output in ("csv", "json"):
        result = invoke("metrics", REPO, "--by", "author", "--weeks", "5200", "--format", output, "--db", db_path)
        assert result.exit_code == 0, result.stderr
        assert not any(0x7F <= ord(c) <= 0x9F or (ord(c) < 0x20 and c != "\n") for c in result.stdout), output
    rows = json.loads(invoke("metrics", REPO, "--by", "author", "--weeks", "5200", "--json", "--db", db_path).stdout)
    assert HOSTILE + "\x9b31m\x7f" in {row["author"] for row in rows}  # JSON escapes, the value stays exact


def test_an_account_login_is_shown_literally_by_rate_limit():
    with FakeGitHub([], tokens={TOKEN: "[/]x[bold red]y[/]"}) as fake:
        result = invoke("rate-limit", "--api-url", fake.url, "--token", TOKEN, env=WIDE)
    assert result.exit_code == 0, result.stderr
    assert "[/]x[bold red]y[/]" in result.stdout


def test_a_repository_name_in_the_database_reaches_sync_report_lines_literally(fake, db_path):
    tracked(fake, db_path)
    write(db_path, "UPDATE repositories SET full_name = ?", REPO + HOSTILE)
    result = invoke("sync", *cli_flags(fake, db_path), env=WIDE)
    assert result.exit_code == 0, result.stderr
    assert_shown_literally(result.stderr)


def test_the_metrics_title_and_chart_show_the_repository_literally():
    from rich.console import Console

    from ghsync.cli.metrics_render import metrics_chart, metrics_table

    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True)
    console.print(metrics_table([], title=HOSTILE))
    console.print(metrics_chart([], title=HOSTILE))
    text = out.getvalue()
    assert "PWNED" not in text and "\x07" not in text and "evil.example" not in text
    assert text.count("[/]oops [bold red]x[/]") == 2


def progress_row(name: str):
    from dataclasses import replace

    from ghsync.models import SyncStatus

    row = repository_record(
        sync_status=SyncStatus.SYNCING,
        sync_progress=50,
        sync_prs_total=10,
        sync_prs_completed=5,
        rate_limit_remaining=900,
    )
    return replace(row, full_name=name)  # whatever GitHub sent, not a parsed OWNER/REPO


def test_the_progress_bar_shows_the_repository_literally():
    from rich.console import Console

    from ghsync.cli.render import SyncProgressDisplay

    out = io.StringIO()
    with SyncProgressDisplay(Console(file=out, width=160, force_terminal=True), interactive=True) as display:
        display.update(progress_row(HOSTILE))
    text = out.getvalue()
    assert "PWNED" not in text and "\x07" not in text and "evil.example" not in text
    assert "[/]oops [bold red]x[/]" in text


def test_progress_lines_without_a_terminal_show_the_repository_literally():
    from rich.console import Console

    from ghsync.cli.render import SyncProgressDisplay

    out = io.StringIO()
    with SyncProgressDisplay(Console(file=out, width=300), interactive=False) as display:
        display.update(progress_row(HOSTILE))
    assert_shown_literally(out.getvalue())


def test_report_lines_show_the_repository_literally():
    from ghsync.cli.render import report_line

    report = sync_report(
        full_name=HOSTILE,
        prs_synced=1,
        prs_total=1,
        finished_at="2026-01-01T00:00:01Z",
        duration_seconds=1.0,
        graphql_points_spent=1,
        rest_calls_spent=1,
    )
    assert_shown_literally(report_line(report))


def test_warning_lines_show_server_text_literally(capsys):
    from ghsync.cli.app import warn

    warn(HOSTILE)
    assert_shown_literally(capsys.readouterr().err)
