"""Issue #14, "the first hour": what a new user and an analyst trip over."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ghsync_testing import REPO, cli_flags, database, invoke, repository_row

from ghsync.config import load_settings


def _fake_gh(tmp_path: Path, monkeypatch, script: str) -> Path:
    """A `gh` first on PATH running `script` (sh), recording its arguments in gh-args.txt."""
    folder = tmp_path / "fake-gh-bin"
    folder.mkdir()
    log = tmp_path / "gh-args.txt"
    (folder / "gh").write_text(f'#!/bin/sh\necho "$@" >> {log}\n{script}\n')
    (folder / "gh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return log


# --- item 4: tokens as gh does them -------------------------------------------------------------


def test_gh_token_comes_before_github_token(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "from-github-token")
    monkeypatch.setenv("GH_TOKEN", "from-gh-token")
    assert load_settings().github_tokens() == ["from-gh-token"]


def test_without_variables_the_token_of_gh_auth_is_used_for_the_api_host(monkeypatch, tmp_path):
    log = _fake_gh(tmp_path, monkeypatch, "echo gho_stored_by_gh")
    assert load_settings().github_tokens() == ["gho_stored_by_gh"]
    assert log.read_text().split() == ["auth", "token", "--hostname", "github.com"]
    log.unlink()
    settings = load_settings(api_url="https://ghe.example.com/api/v3")
    assert settings.github_tokens() == ["gho_stored_by_gh"]
    assert log.read_text().split() == ["auth", "token", "--hostname", "ghe.example.com"]


def test_gh_is_not_asked_when_a_variable_is_set(monkeypatch, tmp_path):
    log = _fake_gh(tmp_path, monkeypatch, "echo gho_stored_by_gh")
    monkeypatch.setenv("GITHUB_TOKEN", "env")
    assert load_settings().github_tokens() == ["env"]
    assert not log.exists()


def test_gh_not_logged_in_means_no_token_and_the_error_names_gh_auth_login(monkeypatch, tmp_path, db_path):
    _fake_gh(tmp_path, monkeypatch, "echo 'not logged in' >&2; exit 1")
    assert load_settings().github_tokens() == []
    result = invoke("track", REPO, "--db", db_path)
    assert result.exit_code == 2
    assert "gh auth login" in result.stderr


def test_enterprise_tokens_for_an_enterprise_host_only(monkeypatch):
    monkeypatch.setenv("GH_ENTERPRISE_TOKEN", "ghe-1")
    monkeypatch.setenv("GITHUB_ENTERPRISE_TOKEN", "ghe-2")
    monkeypatch.setenv("GH_TOKEN", "dotcom")
    assert load_settings(api_url="https://ghe.example.com/api/v3").github_tokens() == ["ghe-1"]
    assert load_settings().github_tokens() == ["dotcom"]
    monkeypatch.delenv("GH_ENTERPRISE_TOKEN")
    assert load_settings(api_url="https://ghe.example.com/api/v3").github_tokens() == ["ghe-2"]


# --- item 5: repository names as people paste them ------------------------------------------------

PASTED = [
    "https://github.com/o/r",
    "https://github.com/o/r/",
    "http://github.com/o/r.git",
    "github.com/o/r",
    "www.github.com/o/r/pulls",
    "o/r.git",
    "o/r/",
    "git@github.com:o/r.git",
    "ssh://git@github.com/o/r.git",
]


@pytest.mark.parametrize("pasted", PASTED)
def test_pasted_forms_of_a_repository_mean_owner_slash_name(pasted):
    from ghsync.validate import parse_repository_slug

    assert parse_repository_slug(pasted) == "o/r"


@pytest.mark.parametrize(
    "pasted", ["https://ghe.example.com/o/r", "ghe.example.com/o/r.git", "git@ghe.example.com:o/r.git"]
)
def test_pasted_forms_of_the_enterprise_host_mean_owner_slash_name(pasted):
    from ghsync.validate import parse_repository_slug

    assert parse_repository_slug(pasted, "ghe.example.com") == "o/r"


@pytest.mark.parametrize("pasted", ["https://gitlab.com/o/r", "git@gitlab.com:o/r.git", "https://ghe.example.com/o/r"])
def test_a_url_of_another_host_is_bad_usage_naming_both_hosts(pasted):
    from ghsync.errors import UsageError
    from ghsync.validate import parse_repository_slug

    with pytest.raises(UsageError, match="github.com") as caught:
        parse_repository_slug(pasted)
    assert "--api-url" in str(caught.value)


def test_a_github_com_url_while_talking_to_another_server_gives_github_coms_api_url():
    from ghsync.errors import UsageError
    from ghsync.validate import parse_repository_slug

    with pytest.raises(UsageError, match=r"--api-url https://api\.github\.com$"):
        parse_repository_slug("https://github.com/o/r", "ghe.example.com")
    with pytest.raises(UsageError, match=r"--api-url https://gitlab\.com/api/v3 if it is a GitHub Enterprise server$"):
        parse_repository_slug("https://gitlab.com/o/r")


def test_track_with_a_pasted_url_tracks_owner_slash_name_without_asking_github_twice(fake, db_path):
    result = invoke("track", f"https://127.0.0.1:{fake.url.rsplit(':', 1)[1]}/{REPO}.git", *cli_flags(fake, db_path))
    assert result.exit_code == 0, result.stderr
    assert repository_row(db_path)["full_name"] == REPO
    other = invoke("track", f"https://gitlab.com/{REPO}", *cli_flags(fake, db_path))
    assert other.exit_code == 2
    assert "gitlab.com" in other.stderr


# --- item 7: empty states are not errors ----------------------------------------------------------


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["sync"]])
def test_before_anything_is_tracked_read_only_commands_succeed_without_creating_the_database(command, fake, db_path):
    result = invoke(*command, *cli_flags(fake, db_path))
    assert result.exit_code == 0, result.stderr
    if "--json" in command:
        assert result.stdout.strip() == "[]"
    else:
        assert result.stdout == ""
        assert "No repositories tracked yet. Start with: ghsync track OWNER/REPO" in result.stderr
    assert not db_path.exists()


def test_metrics_of_an_untracked_repository_creates_no_database(fake, db_path):
    result = invoke("metrics", REPO, *cli_flags(fake, db_path))
    assert result.exit_code != 0
    assert not db_path.exists()


def test_sync_after_the_last_untrack_is_the_same_friendly_empty_state(fake, db_path):
    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    assert invoke("untrack", REPO, *cli_flags(fake, db_path)).exit_code == 0
    for command in (["sync"], ["status"]):
        result = invoke(*command, *cli_flags(fake, db_path))
        assert result.exit_code == 0, result.stderr
        assert "No repositories tracked yet" in result.stderr


# --- item 11: the README path works as written ----------------------------------------------------


def _demo_hint(tmp_path, monkeypatch, argv0: str, env: dict[str, str]) -> str:
    import sys

    monkeypatch.setattr(sys, "argv", [argv0])
    result = invoke("demo", "--prs", 5, "--db", tmp_path / "demo.db", env=env)
    assert result.exit_code == 0, result.stderr
    return next(line for line in result.stdout.splitlines() if line.startswith("Try: "))


def test_demo_hint_says_uv_run_when_ghsync_came_through_uv_and_is_not_on_path(tmp_path, monkeypatch):
    hint = _demo_hint(tmp_path, monkeypatch, str(tmp_path / "venv" / "bin" / "ghsync"), {"UV": "/usr/bin/uv"})
    assert hint == f"Try: uv run ghsync status --db {tmp_path / 'demo.db'}"


def test_demo_hint_says_ghsync_when_that_is_what_is_on_path(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "ghsync").write_text("#!/bin/sh\n")
    (folder / "ghsync").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("UV", raising=False)
    hint = _demo_hint(tmp_path, monkeypatch, str(folder / "ghsync"), {})
    assert hint.startswith("Try: ghsync status --db ")


def test_demo_hint_under_uv_run_says_uv_run_even_though_uv_put_ghsync_on_path(tmp_path, monkeypatch):
    # `uv run` prepends the project's .venv/bin to PATH for its child only.
    folder = tmp_path / ".venv" / "bin"
    folder.mkdir(parents=True)
    (folder / "ghsync").write_text("#!/bin/sh\n")
    (folder / "ghsync").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    hint = _demo_hint(tmp_path, monkeypatch, str(folder / "ghsync"), {"UV": "/usr/bin/uv"})
    assert hint.startswith("Try: uv run ghsync status --db ")


def test_a_first_sync_checks_the_repository_with_its_first_page_and_no_rest_call(fake, db_path):
    # No round trip of its own: the page that proves the repository is there is the first one stored.
    assert invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path)).exit_code == 0
    from ghsync_testing import current_job

    job = current_job(db_path)
    assert job["rest_calls"] == fake.stats["rest_calls"] == 0
    assert job["graphql_points"] == fake.stats["graphql_points"] == fake.stats["graphql_requests"]
    row = repository_row(db_path)
    assert row["node_id"].startswith("R_") and row["database_id"] > 0


def test_the_lock_message_names_the_repository_once(fake, db_path):
    from ghsync.store.lock import repository_lock

    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    with repository_lock(db_path, REPO):
        result = invoke("sync", *cli_flags(fake, db_path))
    assert result.exit_code == 75
    assert result.stderr.count(REPO) == 1, result.stderr


def test_uv_run_is_not_told_to_recompile_bytecode_on_every_start():
    # uv (astral-sh/uv#12202) re-compiles the whole environment on every `uv run` when the project sets
    # compile-bytecode, printing "Bytecode compiled N files" on stderr even with --quiet.
    import tomllib

    from ghsync_testing import REPO_ROOT

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "compile-bytecode" not in project.get("tool", {}).get("uv", {})


def test_quiet_status_with_nothing_tracked_prints_nothing(fake, db_path):
    result = invoke("status", "--quiet", *cli_flags(fake, db_path))
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""


# --- item 1: status readable at every width -------------------------------------------------------


def _status(full_name="octo-org/octo-repo", *, status="syncing", completed=1470, total=3028, error=None, stored=0):
    from ghsync.models import Repository, RepositoryStatus, SyncStatus

    percent = completed * 100 // total if total else 100
    repository = Repository(
        id=1,
        full_name=full_name,
        owner=full_name.split("/")[0],
        name=full_name.split("/")[1],
        days_back=None,
        sync_status=SyncStatus(status),
        sync_progress=percent,
        sync_prs_total=total,
        sync_prs_completed=completed,
        sync_started_at="2026-12-01T13:00:00Z",
        sync_finished_at=None,
        rate_limit_remaining=2695,
        rate_limit_reset_at="2026-12-01T14:08:34Z",
        last_synced_at="2026-11-30T10:00:00Z",
        last_error=error,
        created_at="2026-11-01T00:00:00Z",
        sync_watermark=None,
        current_sync_id=1,
        notify_to=(),
    )
    return RepositoryStatus(repository=repository, process_alive=True, prs_stored=stored)


def _rendered(renderable, width: int) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, file=open(os.devnull, "w"), color_system=None)  # noqa: SIM115
    console.print(renderable)
    text = console.export_text()
    assert all(len(line) <= width for line in text.splitlines()), text
    return text


ERROR = "GitHub answered 502 Bad Gateway three times for the page after cursor Y3Vyc29yOnYyOpK5MjAyNi0xMS0zMFQ"


@pytest.mark.parametrize("width", range(60, 201, 5))
def test_status_shows_repository_status_percentage_prs_and_error_in_full_at_every_width(width):
    from ghsync.cli.render import status_table

    rows = [_status(error=ERROR, status="rate_limited"), _status("acme/rockets", completed=12, total=40)]
    text = _rendered(status_table(rows, now=1796220000.0, width=width), width)
    flat = " ".join(text.split())
    for expected in ("octo-org/octo-repo", "rate_limited", "48%", "1,470/3,028", "acme/rockets", "30%", "12/40"):
        assert expected in text, f"{expected!r} missing at width {width}:\n{text}"
    assert ERROR in flat, f"last error cut at width {width}:\n{text}"
    assert "…" not in text


def test_status_at_120_columns_through_the_cli_shows_the_last_error(fake, db_path):
    import sqlite_utils

    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    sqlite_utils.Database(db_path)["repositories"].update(repository_row(db_path)["id"], {"last_error": ERROR})
    result = invoke("status", *cli_flags(fake, db_path), env={"COLUMNS": "120"})
    assert ERROR in " ".join(result.stdout.split())
    assert "…" not in result.stdout


# --- item 3: labelled times, no 0/0 --------------------------------------------------------------


def test_watch_line_without_a_total_shows_the_stored_prs():
    from ghsync.cli.render import status_line

    line = status_line(_status(status="complete", completed=0, total=0, stored=3028))
    assert "0/0" not in line and "3,028 stored" in line


def _row(**changes):
    import dataclasses

    return dataclasses.replace(_status().repository, **changes)


def test_the_first_log_line_does_not_say_0_of_0():
    import io

    from rich.console import Console

    from ghsync.cli.render import SyncProgressDisplay

    out = io.StringIO()
    with SyncProgressDisplay(Console(file=out, width=200), interactive=False) as display:
        display.update(_row(sync_prs_total=0, sync_prs_completed=0, sync_progress=0))
    assert "0/0" not in out.getvalue() and "0%" not in out.getvalue()
    assert "counting PRs" in out.getvalue()


@pytest.mark.parametrize("with_a_bar", [False, True])
def test_a_wait_on_a_terminal_shows_its_countdown_before_any_bar_and_on_the_run_bar(with_a_bar):
    # sync --wait meets the threshold at an owner's listing, before any repository has a bar.
    import io

    from rich.console import Console

    from ghsync.cli.render import SyncProgressDisplay
    from ghsync.models import RunPlan

    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=True, color_system=None)
    with SyncProgressDisplay(console, interactive=True) as display:
        if with_a_bar:
            display.start_run(RunPlan({"acme/api": 3, "acme/web": 4}))
        display.wait(1.2, "2026-12-01T10:00:00Z")
    assert "waiting for rate-limit reset" in out.getvalue()


def _bar(row, width=200) -> str:
    import io

    from rich.console import Console

    from ghsync.cli.render import SyncProgressDisplay

    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system=None)
    with SyncProgressDisplay(console, interactive=True) as display:
        display.update(row)
    return out.getvalue()


def test_the_bar_labels_its_two_times_and_shows_the_stored_percentage():
    # 1470/3028 is 48.5%: the stored sync_progress (48) is the truth; rich alone would print 49%.
    text = _bar(_row(sync_prs_completed=1470, sync_prs_total=3028, sync_progress=48))
    assert "elapsed" in text and "left" in text
    assert " 48%" in text and "49%" not in text


# --- item 8: one message per rate-limit stop ----------------------------------------------------


def test_a_rate_limit_stop_is_told_once_without_an_error_line(small_repository, db_path):
    import copy

    from ghsync_testing import FakeGitHub

    with FakeGitHub([copy.deepcopy(small_repository)]) as fake:
        fake.set_remaining("graphql", 103)
        for command in (["track", REPO, "--days", "all"], ["sync"]):
            result = invoke(*command, *cli_flags(fake, db_path))
            assert result.exit_code == 75
            assert result.stderr.count("resets at") == 1, result.stderr
            assert "Error:" not in result.stderr and "resumes after" not in result.stderr


# --- item 9: --notify without email set up; unknown config keys ------------------------------------


def test_track_notify_without_smtp_warns_and_the_job_says_why_no_mail_came(fake, db_path):
    from ghsync_testing import current_job

    result = invoke("track", REPO, "--notify", "me@example.com", *cli_flags(fake, db_path))
    assert result.exit_code == 0, result.stderr
    assert "Warning:" in result.stderr and "email is not configured: set GHSYNC_SMTP_HOST" in result.stderr
    assert "email is not configured" in current_job(db_path)["email_status"]


def test_an_unknown_config_key_is_warned_about_naming_the_closest_known_one(fake, db_path, tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('smtp_hostt = "smtp.example.com"\nmin_remaining = 50\n')
    monkeypatch.setenv("GHSYNC_CONFIG", str(config))
    result = invoke("status", *cli_flags(fake, db_path))
    assert result.exit_code == 0
    assert result.stderr.count("smtp_hostt") == 1
    assert "did you mean 'smtp_host'" in result.stderr
    assert "min_remaining" not in result.stderr and result.stdout == ""


def test_token_variables_are_known_config_keys(tmp_path, monkeypatch):
    from ghsync.config import config_file_warnings

    config = tmp_path / "config.toml"
    config.write_text('gh_token = "x"\ntokens = "a,b"\nsmtp_host = "h"\n')
    monkeypatch.setenv("GHSYNC_CONFIG", str(config))
    assert config_file_warnings() == []
    assert load_settings().github_tokens() == ["x", "a", "b"]


# --- item 6: options where people type them -------------------------------------------------------


def _completions(args: list[str], incomplete: str, env: dict[str, str] | None = None) -> list[str]:
    """What bash completion offers after `ghsync ARGS INCOMPLETE`, through the app's own completion hook."""
    from typer.testing import CliRunner

    from ghsync.cli import app

    words = ["ghsync", *args, incomplete]
    environment = {
        "_GHSYNC_COMPLETE": "complete_bash",
        "COMP_WORDS": " ".join(words),
        "COMP_CWORD": str(len(words) - 1),
        **(env or {}),
    }
    result = CliRunner().invoke(app, [], env=environment, prog_name="ghsync")
    return [line.split(",", 1)[1] if "," in line else line for line in result.stdout.splitlines() if line]


def test_completion_offers_tracked_repositories_from_the_database(fake, db_path, monkeypatch):
    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    assert _completions(["--db", str(db_path), "metrics"], "ac") == [REPO]
    assert _completions(["status", "--db", str(db_path)], "") == [REPO]
    monkeypatch.setenv("GHSYNC_DB", str(db_path))
    assert _completions(["sync"], "acme/") == [REPO]
    assert _completions(["untrack"], "zz") == []
    assert _completions(["untrack"], "acme/") == [REPO]


def test_completion_without_a_database_offers_nothing_and_creates_nothing(tmp_path):
    missing = tmp_path / "none.db"
    assert _completions(["--db", str(missing), "metrics"], "") == []
    assert not missing.exists()
    (tmp_path / "junk.db").write_text("not sqlite")
    assert _completions(["--db", str(tmp_path / "junk.db"), "metrics"], "") == []


def test_completion_offers_format_and_by_values():
    assert set(_completions(["metrics", "o/r", "--format"], "")) == {"table", "csv", "json"}
    assert set(_completions(["metrics", "o/r", "--by"], "")) == {"repo", "author", "team"}


@pytest.mark.parametrize("position", ["before", "after"])
def test_shared_options_are_accepted_before_and_after_the_command(position, fake, db_path):
    flags = cli_flags(fake, db_path)
    args = [*flags, "status", "--json"] if position == "before" else ["status", "--json", *flags]
    result = invoke(*args)
    assert result.exit_code == 0 and result.stdout.strip() == "[]"


def test_metrics_has_json_and_help_shows_no_python_types(fake, db_path):
    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    import json

    assert isinstance(json.loads(invoke("metrics", REPO, "--json", *cli_flags(fake, db_path)).stdout), list)
    for command in ("sync", "metrics", "track", "status"):
        text = invoke(command, "--help", env={"COLUMNS": "120"}).stdout
        assert "<list" not in text and "[str]" not in text


# --- item 2: metrics --by author keeps its key column -------------------------------------------


@pytest.mark.parametrize("columns", [60, 80, 100, 140])
@pytest.mark.parametrize("by", [[], ["--by", "author"]])
def test_metrics_table_keeps_week_and_author_and_whole_headers_at_any_width(columns, by, fake, db_path):
    assert invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path)).exit_code == 0
    result = invoke("metrics", REPO, "--weeks", 520, *by, *cli_flags(fake, db_path), env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= columns for line in lines), result.stdout
    assert "…" not in result.stdout
    header = next(i for i, line in enumerate(lines) if line.startswith("Week"))
    assert "Week" in lines[header]
    if by:
        assert "Author" in lines[header]
    assert "Opened" in lines[header] and "Merged" in lines[header]
    if columns <= 60:  # each section (flow, reviews) fits 80 columns whole
        assert "not shown at this width:" in result.stdout


# --- item 12: for the analyst who opens the file ----------------------------------------------------


def _m003_database(path: Path, fake_db_from: Path | None = None):
    """A database as ghsync left it before m004: migrations m001..m003 only."""
    import sqlite_utils

    from ghsync.store.migrations import MIGRATIONS, apply_migrations

    db = sqlite_utils.Database(path)
    apply_migrations(db, [m for m in MIGRATIONS if m.__name__ < "m004"])
    return db


def _schema_facts(path: Path) -> dict:
    import sqlite_utils

    db = sqlite_utils.Database(path)
    return {
        "views": set(db.view_names()),
        "pr_columns": set(db["pull_requests"].columns_dict),
        "review_columns": set(db["reviews"].columns_dict),
        "repository_columns": set(db["repositories"].columns_dict),
        "pr_indexes": {tuple(index.columns) for index in db["pull_requests"].indexes},
        "review_indexes": {tuple(index.columns) for index in db["reviews"].indexes},
        "repository_fks": {(fk.column, fk.other_table) for fk in db["repositories"].foreign_keys},
    }


def _assert_m004(path: Path) -> None:
    facts = _schema_facts(path)
    assert {"pull_requests_view", "reviews_view"} <= facts["views"]
    for columns in ("pr_columns", "review_columns", "repository_columns"):
        assert {"node_id", "database_id"} <= facts[columns]
    assert {("created_at",), ("merged_at",), ("author",)} <= facts["pr_indexes"]
    assert {("author",), ("submitted_at",)} <= facts["review_indexes"]
    assert ("current_sync_id", "syncs") in facts["repository_fks"]


def test_a_blank_database_has_the_analyst_views_indexes_ids_and_foreign_key(fake, db_path):
    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    _assert_m004(db_path)


def test_an_m003_database_with_data_upgrades_keeping_every_row(fake, db_path):
    from ghsync.store import open_store

    _m003_database(db_path)
    import sqlite_utils

    db = sqlite_utils.Database(db_path)
    db["repositories"].insert(
        {
            "id": 1,
            "full_name": REPO,
            "owner": "acme",
            "name": "rockets",
            "sync_status": "complete",
            "created_at": "2026-11-01T00:00:00Z",
            "current_sync_id": 1,
        }
    )
    db["syncs"].insert({"id": 1, "repository_id": 1, "kind": "initial", "started_at": "2026-11-01T00:00:00Z"})
    db["pull_requests"].insert(
        {
            "id": 1,
            "repository_id": 1,
            "number": 7,
            "title": "t",
            "state": "MERGED",
            "created_at": "2026-11-01T00:00:00Z",
            "updated_at": "2026-11-02T00:00:00Z",
            "merged_at": "2026-11-02T00:00:00Z",
            "author": "alice",
        }
    )
    db["reviews"].insert(
        {"pull_request_id": 1, "author": "bob", "state": "APPROVED", "submitted_at": "2026-11-01T05:00:00Z"}
    )
    db.conn.close()
    open_store(db_path).close()
    _assert_m004(db_path)
    after = sqlite_utils.Database(db_path)
    assert after["repositories"].get(1)["current_sync_id"] == 1
    assert list(after.query("SELECT repository, number, author FROM pull_requests_view")) == [
        {"repository": REPO, "number": 7, "author": "alice"}
    ]
    assert list(after.query("SELECT repository, pr_number, author FROM reviews_view")) == [
        {"repository": REPO, "pr_number": 7, "author": "bob"}
    ]
    status = invoke("status", "--json", *cli_flags(fake, db_path))
    assert status.exit_code == 0 and '"acme/rockets"' in status.stdout


def test_github_ids_are_stored_for_repositories_prs_and_reviews(fake, db_path, small_repository):
    from ghsync.fakegithub.graphql_api import node_id

    assert invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path)).exit_code == 0
    db = database(db_path)
    repository = repository_row(db_path)
    assert repository["database_id"] == small_repository.database_id
    assert repository["node_id"] == node_id("R", small_repository.database_id)
    pr = small_repository.pull_requests[0]
    row = next(db.query("SELECT * FROM pull_requests_view WHERE number = ?", [pr.number]))
    assert (row["database_id"], row["node_id"]) == (
        pr.database_id,
        node_id("PR", small_repository.database_id, pr.database_id),
    )
    reviews = list(
        db.query("SELECT node_id, database_id FROM reviews_view WHERE node_id IS NULL OR database_id IS NULL")
    )
    assert reviews == []
    assert db["reviews"].count > 0


def test_the_views_show_every_column_of_their_tables_and_owner_id_is_a_foreign_key(fake, db_path):
    # For the analyst: a column added to a table (author_type, first_commit_at …) is in its view too.
    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    db = database(db_path)
    renamed = {"id": "pull_request_id"}
    assert {renamed.get(c, c) for c in db["pull_requests"].columns_dict} <= set(db["pull_requests_view"].columns_dict)
    renamed = {"id": "review_id"}
    assert {renamed.get(c, c) for c in db["reviews"].columns_dict} <= set(db["reviews_view"].columns_dict)
    assert ("owner_id", "owners") in {(fk.column, fk.other_table) for fk in db["repositories"].foreign_keys}


def test_purge_still_works_with_the_foreign_key_on_current_sync_id(fake, db_path):
    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    assert invoke("untrack", REPO, "--purge", "--yes", *cli_flags(fake, db_path)).exit_code == 0
    assert database(db_path)["repositories"].count == 0


def test_db_path_prints_the_database_location(tmp_path):
    result = invoke("db-path", "--db", tmp_path / "here.db")
    assert result.exit_code == 0 and result.stdout == f"{tmp_path / 'here.db'}\n"
    assert not (tmp_path / "here.db").exists()


# --- item 10: changing the window does what it says ------------------------------------------------


@pytest.fixture(scope="module")
def busy_repository():
    from ghsync_testing import generate_repository

    return generate_repository(REPO, 1500, seed=11, span_days=365)


def _stored_numbers(db_path) -> set[int]:
    return {row["number"] for row in database(db_path).query("SELECT number FROM pull_requests")}


def _updated_since(repository, days: int | None) -> set[int]:
    import time

    from ghsync.timefmt import iso

    start = None if days is None else iso(time.time() - days * 86400)
    return {pr.number for pr in repository.pull_requests if start is None or pr.updated_at >= start}


def _pages_and_points(fake, requests, action):
    pages, points = len(requests.pages), fake.stats["graphql_points"]
    result = action()
    return result, requests.pages[pages:], fake.stats["graphql_points"] - points


@pytest.mark.parametrize("wider", [60, None], ids=["60-days", "all"])
def test_widening_the_window_fetches_only_the_older_part(busy_repository, db_path, wider):
    import copy
    import math

    from ghsync_testing import FakeGitHub, GraphQLRequests

    with FakeGitHub([copy.deepcopy(busy_repository)]) as fake:
        requests = GraphQLRequests(fake)
        flags = cli_flags(fake, db_path)
        assert invoke("track", REPO, "--days", 30, *flags).exit_code == 0
        watermark = repository_row(db_path)["sync_watermark"]
        days = "all" if wider is None else wider
        result, pages, points = _pages_and_points(fake, requests, lambda: invoke("track", REPO, "--days", days, *flags))
    assert result.exit_code == 0, result.stderr
    older = _updated_since(busy_repository, wider) - _updated_since(busy_repository, 30)
    page_size = pages[0]["variables"]["pageSize"]
    print(f"widening 30 -> {days}: {len(older)} older PRs, {len(pages)} pages of {page_size}, {points} points")
    assert len(pages) <= math.ceil(len(older) / page_size) + 1
    assert _stored_numbers(db_path) == _updated_since(busy_repository, wider)
    row = repository_row(db_path)
    assert row["sync_watermark"] == watermark and row["days_back"] == wider


def test_widening_within_what_is_stored_fetches_nothing_and_narrowing_keeps_the_prs(busy_repository, db_path):
    import copy
    import json

    from ghsync_testing import FakeGitHub, GraphQLRequests

    with FakeGitHub([copy.deepcopy(busy_repository)]) as fake:
        requests = GraphQLRequests(fake)
        flags = cli_flags(fake, db_path)
        assert invoke("track", REPO, "--days", 60, *flags).exit_code == 0
        stored = _stored_numbers(db_path)
        before = json.loads(invoke("status", "--json", *flags).stdout)[0]
        narrowed, pages, points = _pages_and_points(fake, requests, lambda: invoke("track", REPO, "--days", 45, *flags))
        assert narrowed.exit_code == 0 and pages == [] and points == 0
        assert "narrowed" in narrowed.stderr and f"{len(stored):,} stored PRs are kept" in narrowed.stderr
        assert len(narrowed.stderr.strip().splitlines()) == 1
        after = json.loads(invoke("status", "--json", *flags).stdout)[0]
        assert after["sync_prs_total"] == before["sync_prs_total"] == len(stored)
        assert after["days_back"] == 45 and _stored_numbers(db_path) == stored
        widened, pages, points = _pages_and_points(fake, requests, lambda: invoke("track", REPO, "--days", 60, *flags))
        assert widened.exit_code == 0 and pages == [] and points == 0
        assert "already stored" in widened.stderr


def test_the_first_log_line_after_a_refill_does_not_show_the_stale_budget():
    import io

    from rich.console import Console

    from ghsync.cli.render import SyncProgressDisplay

    out = io.StringIO()
    # Stopped at 99 left with a reset in the past: the bucket has refilled since.
    row = _row(rate_limit_remaining=99, rate_limit_reset_at="2020-01-01T00:00:00Z")
    with SyncProgressDisplay(Console(file=out, width=200), interactive=False) as display:
        display.update(row)
    assert "budget left 99" not in out.getvalue()
    fresh = io.StringIO()
    with SyncProgressDisplay(Console(file=fresh, width=200), interactive=False) as display:
        display.update(_row(rate_limit_remaining=99, rate_limit_reset_at="2999-01-01T00:00:00Z"))
    assert "budget left 99" in fresh.getvalue()
