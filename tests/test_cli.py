"""The command line through Typer's CliRunner: exit codes, stdout for data, stderr for people."""

from __future__ import annotations

import json
import re

import pytest
from ghsync_testing import (
    REPO,
    TOKEN,
    cli_flags,
    database,
    invoke,
    repository_row,
    stored_records,
    sync_report,
    tracked,
)

from ghsync.models import STATUS_FIELDS
from ghsync.store import open_store


def test_track_syncs_and_reports_on_stderr(fake, db_path):
    result = invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "synced 300 PRs" in result.stderr
    assert TOKEN not in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("track", REPO, "--days", "all"),
        ("sync",),
        ("status",),
        ("metrics",),
        ("digest", "--dry-run"),
        ("untrack", REPO, "--yes"),
    ],
    ids=lambda c: c[0],
)
def test_a_command_closes_its_database_when_done(command, fake, db_path):
    # sqlite3 keeps each connection in a reference cycle, so an unclosed one would live (with its
    # WAL unmerged) until a garbage collection that the exiting `main()` skips: each command closes it.
    import gc

    tracked(fake, db_path)
    gc.disable()
    try:
        result = invoke(*command, *cli_flags(fake, db_path))
        assert result.exit_code == 0, result.stderr
        assert not db_path.with_name(db_path.name + "-wal").exists()
    finally:
        gc.enable()


def test_settings_come_from_the_environment_alone(fake, db_path):
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url, "GHSYNC_DB": str(db_path)}
    assert invoke("track", REPO, "--days", "all", env=env).exit_code == 0
    status = invoke("status", "--json", env=env)
    assert json.loads(status.stdout)[0]["sync_status"] == "complete"


def test_gh_token_works_too(fake, db_path):
    env = {"GH_TOKEN": TOKEN, "GITHUB_API_URL": fake.url, "GHSYNC_DB": str(db_path)}
    assert invoke("track", REPO, env=env).exit_code == 0


# A bare name is an owner since issue #13 (`track ORG`): one with an underscore is still malformed.
@pytest.mark.parametrize("slug", ["fo_o", "a/b/c", "../x"])
def test_malformed_slug_is_one_line_usage_error_and_writes_nothing(slug, fake, db_path):
    result = invoke("track", slug, *cli_flags(fake, db_path))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert not db_path.exists()
    assert fake.stats["graphql_requests"] == 0


def test_nonexistent_repository_is_one_line_error_and_creates_no_database(fake, db_path):
    result = invoke("track", "acme/no-such-repo", *cli_flags(fake, db_path))
    assert result.exit_code == 1
    assert "not found" in result.stderr and result.stderr.count("\n") == 1
    assert not db_path.exists() and not db_path.with_name(f"{db_path.name}.locks").exists()


def test_nonexistent_repository_writes_nothing_to_an_existing_database(fake, db_path):
    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    before = [dict(row) for row in database(db_path)["repositories"].rows]
    result = invoke("track", "acme/no-such-repo", *cli_flags(fake, db_path))
    assert result.exit_code == 1 and "not found" in result.stderr
    assert [dict(row) for row in database(db_path)["repositories"].rows] == before


def test_a_renamed_repositorys_old_name_is_refused_naming_the_new_one_and_writes_nothing(fake, db_path):
    owner, name = REPO.split("/")
    fake.rename_repository(REPO, f"{owner}/{name}-renamed")
    result = invoke("track", REPO, *cli_flags(fake, db_path))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert f"GitHub calls it {owner}/{name}-renamed now" in result.stderr
    assert f"ghsync track {owner}/{name}-renamed" in result.stderr
    assert not db_path.exists()
    assert fake.stats["rest_calls"] == 0


def test_tracking_at_the_rate_limit_threshold_records_the_repository_and_exits_75_for_sync_to_resume(fake, db_path):
    fake.set_remaining("graphql", 50)
    stopped = invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path))
    assert stopped.exit_code == 75 and fake.stats["graphql_requests"] == 0
    # There are PRs; none was fetched yet: not "no PRs to fetch".
    assert f"{REPO}: rate_limited, no PRs written by this sync" in stopped.stderr
    assert repository_row(db_path)["sync_status"] == "rate_limited"
    fake.set_remaining("graphql", 5000)
    assert invoke("sync", *cli_flags(fake, db_path)).exit_code == 0
    assert repository_row(db_path)["sync_status"] == "complete" and repository_row(db_path)["node_id"]


def test_the_checked_first_page_is_stored_even_if_it_took_the_budget_to_the_threshold(fake, db_path):
    fake.set_remaining("graphql", 100)  # the default --min-remaining: the check spends the 100th point
    stopped = invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path))
    assert stopped.exit_code == 75 and fake.stats["graphql_points"] == 1
    assert repository_row(db_path)["sync_prs_completed"] == 49  # the page paid for is kept
    fake.set_remaining("graphql", 5000)
    fake.reset_stats()
    assert invoke("sync", *cli_flags(fake, db_path)).exit_code == 0
    resumed = fake.stats["graphql_points"]
    fake.reset_stats()
    assert invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path.with_name("clean.db"))).exit_code == 0
    assert resumed == fake.stats["graphql_points"] - 1  # from the second page on: the first was not paid twice


def test_a_repository_renamed_before_its_put_off_check_is_refused_by_the_sync_that_makes_it(fake, db_path):
    fake.set_remaining("graphql", 50)
    assert invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path)).exit_code == 75
    owner, name = REPO.split("/")
    fake.rename_repository(REPO, f"{owner}/{name}-renamed")
    fake.set_remaining("graphql", 5000)
    result = invoke("sync", *cli_flags(fake, db_path))
    assert result.exit_code == 1 and f"GitHub calls it {owner}/{name}-renamed now" in result.stderr
    assert database(db_path)["pull_requests"].count == 0
    untracked = invoke("untrack", REPO, "--db", db_path)
    assert untracked.exit_code == 0
    assert invoke("track", f"{owner}/{name}-renamed", "--days", "all", *cli_flags(fake, db_path)).exit_code == 0


def test_a_name_reused_by_another_repository_stops_the_sync_and_stores_nothing_of_the_new_one(fake, db_path):
    # GitHub follows a renamed repository's old name only until someone creates a repository with it.
    from ghsync_testing import generate_repository

    assert invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path)).exit_code == 0
    before = stored_records(db_path)
    owner, name = REPO.split("/")
    fake.rename_repository(REPO, f"{owner}/{name}-renamed")
    newcomer = generate_repository(REPO, 30, seed=99)
    newcomer.database_id += 1  # another repository, as GitHub numbers it
    fake.add_repository(newcomer)
    result = invoke("sync", *cli_flags(fake, db_path))
    assert result.exit_code == 1 and f"{REPO} now names another repository on GitHub" in result.stderr
    assert stored_records(db_path) == before
    assert repository_row(db_path)["sync_status"] == "error"


def test_the_same_repository_under_a_node_id_of_another_format_is_not_taken_for_another(fake, db_path):
    # GitHub moved node ids from the legacy MDEw… format: the number (databaseId) is what stays.
    assert invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path)).exit_code == 0
    database(db_path)["repositories"].update(repository_row(db_path)["id"], {"node_id": "MDEwOlJlcG9zaXRvcnkxMjM="})
    fake.touch_pull_request(REPO, 1, title="changed")
    assert invoke("sync", *cli_flags(fake, db_path)).exit_code == 0


def test_a_renamed_repository_goes_on_syncing_under_the_name_it_was_tracked_by(fake, db_path):
    assert invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path)).exit_code == 0
    owner, name = REPO.split("/")
    fake.rename_repository(REPO, f"{owner}/{name}-renamed")
    fake.touch_pull_request(f"{owner}/{name}-renamed", 1, title="after the rename")
    assert invoke("sync", *cli_flags(fake, db_path)).exit_code == 0
    titles = [row["title"] for row in database(db_path).query("SELECT title FROM pull_requests WHERE number = 1")]
    assert titles == ["after the rename"]


def test_bad_token_is_one_line_error_and_writes_nothing(fake, db_path):
    from ghsync_testing import FakeGitHub

    with FakeGitHub([], tokens={TOKEN: "octocat"}) as strict:
        result = invoke("track", REPO, "--db", db_path, "--api-url", strict.url, "--token", "wrong-token-abcdef")
    assert result.exit_code == 1
    assert "rejected the token" in result.stderr and result.stderr.count("\n") == 1
    assert "wrong-token-abcdef" not in result.stderr
    assert not db_path.exists()


def test_missing_token_is_a_usage_error(fake, db_path):
    result = invoke("track", REPO, "--db", db_path, "--api-url", fake.url)
    assert result.exit_code == 2
    assert "no GitHub token" in result.stderr


@pytest.mark.parametrize("days", ["0", "-5", "abc"])
def test_bad_days_is_a_usage_error(days, fake, db_path):
    result = invoke("track", REPO, "--days", days, *cli_flags(fake, db_path))
    assert result.exit_code == 2
    assert "--days" in result.stderr


def test_status_json_has_the_stored_progress_fields(fake, db_path):
    invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path))
    rows = json.loads(invoke("status", "--json", "--db", db_path).stdout)
    assert set(STATUS_FIELDS) <= set(rows[0])
    assert rows[0]["sync_progress"] == 100 and rows[0]["sync_prs_completed"] == 300


def test_status_table_goes_to_stdout(fake, db_path):
    invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path))
    result = invoke("status", "--db", db_path)
    assert result.exit_code == 0
    assert REPO in result.stdout and "complete" in result.stdout


def test_demo_runs_without_token_or_network(tmp_path):
    result = invoke("demo", "--prs", "120", "--db", tmp_path / "demo.db")
    assert result.exit_code == 0, result.stderr
    assert "demo-org/widgets" in result.stdout
    assert "synced 120 PRs" in result.stderr
    assert database(tmp_path / "demo.db")["pull_requests"].count == 120


def test_the_demo_with_quiet_prints_only_where_the_database_is(tmp_path):
    result = invoke("demo", "--prs", "30", "--db", tmp_path / "demo.db", "--quiet")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == f"Database: {tmp_path / 'demo.db'}\n"


def test_the_demo_leaves_the_users_mail_and_threshold_settings_alone(tmp_path):
    from smtp_server import SmtpTestServer

    with SmtpTestServer(security="none") as smtp:
        env = {**smtp.env(), "GHSYNC_NOTIFY_TO": "boss@example.com", "GHSYNC_MIN_REMAINING": "4999"}
        result = invoke("demo", "--prs", "60", "--db", tmp_path / "demo.db", env=env)
        assert result.exit_code == 0, result.stderr
        assert "waiting" not in result.stderr  # a threshold above the fake's budget would wait an hour
    assert smtp.messages == []  # nobody is mailed about a demo


def test_version_flag():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("ghsync ")


def test_corrupt_database_is_a_one_line_error(fake, tmp_path):
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"\x00garbage" * 512)
    result = invoke("status", "--db", path)
    assert result.exit_code == 1
    assert "not a ghsync database" in result.stderr and result.stderr.count("\n") == 1
    assert path.read_bytes() == b"\x00garbage" * 512


def test_database_from_a_newer_ghsync_is_refused_untouched(fake, db_path):
    invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path))
    db = database(db_path)
    db["_ghsync_migrations"].insert({"name": "m999_future", "applied_at": "x"})
    db.close()
    result = invoke("status", "--db", db_path)
    assert result.exit_code == 1 and "newer ghsync" in result.stderr


def test_database_in_a_missing_directory_is_a_one_line_error(fake, tmp_path):
    for target in (REPO, "acme"):  # a repository, an owner
        result = invoke("track", target, *cli_flags(fake, tmp_path / "no" / "such" / "dir" / "g.db"))
        assert result.exit_code == 1
        assert "does not exist" in result.stderr and result.stderr.count("\n") == 1
    assert fake.stats["graphql_requests"] == 0  # the path is checked before GitHub is asked


def test_database_under_a_file_says_that_file_is_not_a_directory(fake, tmp_path):
    (tmp_path / "afile").write_text("")
    result = invoke("track", REPO, *cli_flags(fake, tmp_path / "afile" / "g.db"))
    assert result.exit_code == 1 and "afile is not a directory" in result.stderr
    assert fake.stats["graphql_requests"] == 0


def test_status_without_a_database_says_how_to_start(tmp_path):
    # An empty state, not an error (issue 14 item 7), and no file created by looking.
    result = invoke("status", "--db", tmp_path / "none.db")
    assert result.exit_code == 0 and "ghsync track" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_github_answering_html_is_a_one_line_error(fake, db_path):
    fake.inject(
        200,
        body="<html><body>Unicorn! This page is taking too long</body></html>",
        headers={"Content-Type": "text/html"},
        times=10,
        path="/graphql",
    )
    result = invoke("track", REPO, *cli_flags(fake, db_path))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert errors == [result.stderr.splitlines()[-1]] and "not JSON" in errors[0]
    assert not db_path.exists()  # its first page is its check: nothing is tracked, no database created


def test_unreachable_github_is_a_one_line_error(db_path, tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = invoke("track", REPO, "--db", db_path, "--api-url", f"http://127.0.0.1:{port}", "--token", TOKEN)
    assert result.exit_code == 1
    assert "cannot reach" in result.stderr and result.stderr.count("\n") == 1


def test_quiet_track_prints_nothing_on_success(fake, db_path):
    result = invoke("track", REPO, "--quiet", *cli_flags(fake, db_path))
    assert result.exit_code == 0 and result.stderr == "" and result.stdout == ""


def test_untrack_purge_without_terminal_needs_yes(fake, db_path):
    invoke("track", REPO, *cli_flags(fake, db_path))
    refused = invoke("untrack", REPO, "--purge", "--db", db_path)
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    done = invoke("untrack", REPO, "--purge", "--yes", "--db", db_path)
    assert done.exit_code == 0
    db = database(db_path)
    assert db["repositories"].count == 0 and db["pull_requests"].count == 0 and db["reviews"].count == 0


def test_untrack_keeps_data_and_hides_the_repository(fake, db_path):
    invoke("track", REPO, *cli_flags(fake, db_path))
    assert invoke("untrack", REPO, "--db", db_path).exit_code == 0
    assert json.loads(invoke("status", "--json", "--db", db_path).stdout) == []
    assert database(db_path)["pull_requests"].count > 0


def test_syncing_an_untracked_repository_by_name_is_bad_usage_saying_how_to_track_it_again(fake, db_path):
    invoke("track", REPO, *cli_flags(fake, db_path))
    assert invoke("untrack", REPO, "--db", db_path).exit_code == 0
    fake.reset_stats()
    result = invoke("sync", REPO, *cli_flags(fake, db_path))
    assert result.exit_code == 2
    assert f"{REPO} is untracked (by hand, with `ghsync untrack`)" in result.stderr
    assert f"ghsync track {REPO}" in result.stderr
    assert fake.stats["graphql_requests"] == 0


def test_syncing_named_repositories_one_of_them_untracked_syncs_the_others(small_repository, db_path):
    import copy

    from ghsync_testing import FakeGitHub

    other = copy.deepcopy(small_repository)
    other.name, other.database_id = "second", other.database_id + 1
    with FakeGitHub([copy.deepcopy(small_repository), other]) as fake:
        for name in (REPO, other.full_name):
            assert invoke("track", name, *cli_flags(fake, db_path)).exit_code == 0
        assert invoke("untrack", other.full_name, "--db", db_path).exit_code == 0
        fake.touch_pull_request(REPO, 1, title="changed")
        result = invoke("sync", REPO, other.full_name, *cli_flags(fake, db_path))
    assert result.exit_code == 2 and f"{other.full_name} is untracked" in result.stderr
    assert f"{REPO}: updated 1 PR" in result.stderr


def test_syncing_named_repositories_one_of_them_never_tracked_syncs_the_others(fake, db_path):
    # A crontab that names a repository since purged must not stop the others.
    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    fake.touch_pull_request(REPO, 1, title="changed")
    result = invoke("sync", REPO, "nobody/gone", *cli_flags(fake, db_path))
    assert result.exit_code == 2 and "nobody/gone is not tracked in this database" in result.stderr
    assert f"{REPO}: updated 1 PR" in result.stderr


def test_rate_limit_shows_accounts_never_tokens(fake):
    result = invoke("rate-limit", "--json", "--api-url", fake.url, "--token", TOKEN)
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {row["resource"] for row in rows} == {"core", "graphql"}
    assert all(row["account"] == "octocat" for row in rows)
    assert TOKEN not in result.stdout


def test_rate_limit_shows_a_revoked_token_of_a_pool_as_a_row_and_the_others_budgets(small_repository):
    from ghsync_testing import FakeGitHub

    with FakeGitHub([small_repository], tokens={TOKEN: "octocat"}) as fake:
        pool = invoke("rate-limit", "--json", "--api-url", fake.url, "--token", TOKEN, "--token", "revoked-one")
        alone = invoke("rate-limit", "--json", "--api-url", fake.url, "--token", "revoked-one")
    assert pool.exit_code == 0, pool.stderr
    rows = json.loads(pool.stdout)
    assert {(row["account"], row["resource"]) for row in rows} == {
        ("octocat", "core"),
        ("octocat", "graphql"),
        ("token #2", "rejected by GitHub (401)"),
    }
    assert "revoked-one" not in pool.stdout
    assert alone.exit_code == 1 and "rejected the token" in alone.stderr
    assert [row["rejected"] for row in rows if row["account"] == "token #2"] == [True]
    with FakeGitHub([small_repository], tokens={TOKEN: "octocat"}) as fake:
        table = invoke("rate-limit", "--api-url", fake.url, "--token", TOKEN, "--token", "revoked-one")
    rejected_row = next(line for line in table.stdout.splitlines() if "token #2" in line)
    assert "∞" not in rejected_row and "no limit" not in rejected_row  # not a server without limits


def test_a_reader_that_closed_stdout_gets_no_error_line(tmp_path):
    # `ghsync status --json | head -0`: nothing to tell a reader that went away, and no "unexpected" error.
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)
    env = {**os.environ, "GHSYNC_DB": str(tmp_path / "none.db"), "GHSYNC_CONFIG": str(tmp_path / "none.toml")}
    try:
        child = subprocess.run(
            [sys.executable, "-c", "from ghsync.cli import main; main()", "status", "--json"],
            check=False,
            stdout=write,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert (child.returncode, child.stderr) == (1, "")


def test_help_lists_exit_codes():
    result = invoke("--help")
    assert "75" in result.stdout and "Exit codes" in result.stdout


def test_tracking_an_untracked_repository_again_resumes_it(fake, db_path):
    invoke("track", REPO, *cli_flags(fake, db_path))
    invoke("untrack", REPO, "--db", db_path)
    result = invoke("track", REPO, *cli_flags(fake, db_path))
    assert result.exit_code == 0
    assert json.loads(invoke("status", "--json", "--db", db_path).stdout)[0]["sync_status"] == "complete"


def test_track_of_a_repository_another_process_holds_exits_75_and_writes_nothing(fake, db_path):
    from ghsync.store.lock import repository_lock

    open_store(db_path).close()
    with repository_lock(db_path, REPO):
        result = invoke("track", REPO, *cli_flags(fake, db_path))
    assert result.exit_code == 75 and "being synced by process" in result.stderr
    assert database(db_path)["repositories"].count == 0


def test_track_without_days_keeps_the_window_of_a_tracked_repository(fake, db_path):
    invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path))
    result = invoke("track", REPO, "--notify", "lead@example.com", *cli_flags(fake, db_path))
    assert result.exit_code == 0
    assert repository_row(db_path)["days_back"] is None


def test_status_on_another_programs_database_is_one_line_and_changes_nothing(tmp_path):
    import sqlite3

    path = tmp_path / "notes.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    result = invoke("status", "--db", path)
    assert result.exit_code == 1 and "not a ghsync database" in result.stderr and result.stderr.count("\n") == 1
    assert path.read_bytes() == before


# --- shared options: declared once, before or after the command name ---------------------------

COMMANDS = ["track", "sync", "status", "demo", "metrics", "untrack", "rate-limit", "notify-test"]


def test_shared_options_before_the_command_name(fake, db_path):
    assert invoke(*cli_flags(fake, db_path), "track", REPO, "--days", "all").exit_code == 0
    rows = json.loads(invoke("--db", db_path, "status", "--json").stdout)
    assert rows[0]["sync_prs_completed"] == 300


def test_shared_options_on_both_sides_of_the_command_name(fake, db_path):
    result = invoke("--db", db_path, "--api-url", fake.url, "track", REPO, "--token", TOKEN, "--quiet")
    assert result.exit_code == 0 and result.stderr == ""
    assert repository_row(db_path)["sync_status"] == "complete"


def test_an_option_after_the_command_name_wins_over_the_same_option_before_it(fake, db_path, tmp_path):
    invoke("track", REPO, *cli_flags(fake, db_path))
    result = invoke("--db", tmp_path / "other.db", "status", "--json", "--db", db_path)
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["full_name"] == REPO


def test_quiet_commands_print_nothing_when_they_succeed(fake, db_path, tmp_path):
    # cron mails whatever a job prints: with --quiet, success is silent in every command.
    assert invoke("track", REPO, "--days", "10", "--quiet", *cli_flags(fake, db_path)).exit_code == 0
    config = tmp_path / "teams.toml"
    config.write_text(f'[teams.platform]\nrepos = ["{REPO}"]\n')
    for args in (
        ("metrics", "--quiet", "--format", "csv"),  # 10 days: earlier weeks left out, said without --quiet
        ("metrics", "--quiet", "--json", "--team", "platform"),
        ("untrack", REPO, "--quiet"),
        ("metrics", REPO, "--quiet", "--json"),
    ):
        result = invoke(*args, "--db", db_path, env={"GHSYNC_CONFIG": str(config)})
        assert (result.exit_code, result.stderr) == (0, ""), args


def test_team_list_without_teams_says_how_to_add_one_brackets_and_all(db_path):
    result = invoke("team", "list", "--db", db_path)
    assert "add [teams.NAME] to the config file" in " ".join(result.stdout.split())


def test_quiet_before_the_command_name_silences_the_report(fake, db_path):
    result = invoke("-q", "track", REPO, *cli_flags(fake, db_path))
    assert result.exit_code == 0 and result.stderr == ""


@pytest.mark.parametrize("args", [["--debug", "metrics", REPO], ["metrics", REPO, "--debug"]], ids=["before", "after"])
def test_debug_before_or_after_the_command_shows_the_traceback_then_the_error(args, tmp_path):
    result = invoke(*args, "--db", tmp_path / "none.db")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "NoDatabase" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: no database")


@pytest.mark.parametrize("args", [["status", REPO], ["untrack", REPO], ["metrics", REPO], ["metrics"]])
def test_a_missing_database_is_bad_usage_as_a_repository_not_tracked_is(args, tmp_path):
    # `status foo/bar` was exit 1 without a database and exit 2 with one: the same mistake either way.
    result = invoke(*args, "--db", tmp_path / "none.db")
    assert result.exit_code == 2 and result.stderr.startswith("Error: no database at")


def test_a_bad_choice_reads_without_pydantics_value_error_prefix(tmp_path):
    result = invoke("metrics", "--format", "yaml", "--db", tmp_path / "x.db")
    assert result.exit_code == 2
    assert "Invalid value for '--format': 'yaml' is not one of 'table', 'csv', 'json'." in result.stderr
    assert "Value error" not in result.stderr


def test_without_debug_an_error_has_no_traceback(tmp_path):
    result = invoke("metrics", REPO, "--db", tmp_path / "none.db")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_lists_the_shared_options_in_its_help(command):
    text = invoke(command, "--help", env={"COLUMNS": "120"}).stdout
    for option in ("--db", "--token", "--api-url", "--min-remaining", "--notify-on", "--quiet", "--debug"):
        assert option in text


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_shows_no_python_types(command):
    text = invoke(*([command] if command else []), "--help", env={"COLUMNS": "120"}).stdout
    assert not re.search(r"<(str|int|float|bool|path|list\[\w+\])>", text, re.IGNORECASE), text


def test_help_lists_each_shared_option_once():
    text = invoke("--help", env={"COLUMNS": "120"}).stdout
    assert text.count("--install-completion") == 1 and text.count("--db") == 1


# --- interruptions --------------------------------------------------------------------------


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_ctrl_c_in_status_watch_says_only_interrupted(fake, db_path, monkeypatch):
    invoke("track", REPO, *cli_flags(fake, db_path))
    monkeypatch.setattr("ghsync.service.status.repository_statuses", interrupt)
    result = invoke("status", "--watch", "--db", db_path)
    assert result.exit_code == 130
    assert result.stderr == "Error: interrupted\n"


def test_ctrl_c_in_sync_says_that_sync_resumes(fake, db_path, monkeypatch):
    invoke("track", REPO, *cli_flags(fake, db_path))
    monkeypatch.setattr("ghsync.service.sync.sync_tracked", interrupt)
    result = invoke("sync", *cli_flags(fake, db_path))
    assert result.exit_code == 130
    assert "committed pages are kept and `ghsync sync` resumes" in result.stderr


# --- exit codes -----------------------------------------------------------------------------


def test_a_rate_limited_stop_is_exit_75_and_a_complete_sync_or_nothing_to_do_is_0():
    from ghsync.cli.errors import exit_code

    assert exit_code([sync_report(outcome="rate_limited")]) == 75
    assert exit_code([sync_report(outcome="complete")]) == 0
    assert exit_code([None]) == 0


def test_with_several_repositories_a_failure_outranks_bad_input_which_outranks_try_later():
    from ghsync.cli.errors import exit_code
    from ghsync.errors import GitHubError, NotTracked

    assert exit_code([sync_report(outcome="rate_limited"), NotTracked("x"), GitHubError("y")]) == 1
    assert exit_code([sync_report(outcome="rate_limited"), NotTracked("x")]) == 2
    assert exit_code([sync_report(outcome="complete"), sync_report(outcome="rate_limited")]) == 75
