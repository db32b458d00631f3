"""The command line through Typer's CliRunner: exit codes, stdout for data, stderr for people."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ghsync import store
from ghsync.cli import app

from ghsync_testing import REPO, TOKEN

runner = CliRunner()


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env or {}, catch_exceptions=False)


def common(settings_db, fake):
    return ["--db", settings_db, "--api-url", fake.url, "--token", TOKEN]


def test_track_syncs_and_reports_on_stderr(fake, db_path):
    result = invoke("track", REPO, "--days", "all", *common(db_path, fake))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "synced 300 PRs" in result.stderr
    assert TOKEN not in result.stderr


def test_settings_come_from_the_environment_alone(fake, db_path):
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url, "GHSYNC_DB": str(db_path)}
    assert invoke("track", REPO, "--days", "all", env=env).exit_code == 0
    status = invoke("status", "--json", env=env)
    assert json.loads(status.stdout)[0]["sync_status"] == "complete"


def test_gh_token_works_too(fake, db_path):
    env = {"GH_TOKEN": TOKEN, "GITHUB_API_URL": fake.url, "GHSYNC_DB": str(db_path)}
    assert invoke("track", REPO, env=env).exit_code == 0


@pytest.mark.parametrize("slug", ["foo", "a/b/c", "../x"])
def test_malformed_slug_is_one_line_usage_error_and_writes_nothing(slug, fake, db_path):
    result = invoke("track", slug, *common(db_path, fake))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert not db_path.exists()
    assert fake.stats["graphql_requests"] == 0


def test_nonexistent_repository_is_one_line_error_and_writes_nothing(fake, db_path):
    result = invoke("track", "acme/no-such-repo", *common(db_path, fake))
    assert result.exit_code == 1
    assert "not found" in result.stderr and result.stderr.count("\n") == 1
    db = store.open_store(db_path)
    assert db["repositories"].count == 0 and db["pull_requests"].count == 0


def test_bad_token_is_one_line_error_and_writes_nothing(fake, db_path):
    from ghsync_testing import FakeGitHub

    with FakeGitHub([], tokens={TOKEN: "octocat"}) as strict:
        result = invoke("track", REPO, "--db", db_path, "--api-url", strict.url, "--token", "wrong-token-abcdef")
    assert result.exit_code == 1
    assert "rejected the token" in result.stderr and result.stderr.count("\n") == 1
    assert "wrong-token-abcdef" not in result.stderr
    db = store.open_store(db_path)
    assert db["repositories"].count == 0


def test_missing_token_is_a_usage_error(fake, db_path):
    result = invoke("track", REPO, "--db", db_path, "--api-url", fake.url)
    assert result.exit_code == 2
    assert "no GitHub token" in result.stderr


@pytest.mark.parametrize("days", ["0", "-5", "abc"])
def test_bad_days_is_a_usage_error(days, fake, db_path):
    result = invoke("track", REPO, "--days", days, *common(db_path, fake))
    assert result.exit_code == 2
    assert "--days" in result.stderr


def test_status_json_has_the_stored_progress_fields(fake, db_path):
    invoke("track", REPO, "--days", "all", *common(db_path, fake))
    rows = json.loads(invoke("status", "--json", "--db", db_path).stdout)
    assert set(store.REPOSITORY_STATUS_FIELDS) <= set(rows[0])
    assert rows[0]["sync_progress"] == 100 and rows[0]["sync_prs_completed"] == 300


def test_status_table_goes_to_stdout(fake, db_path):
    invoke("track", REPO, "--days", "all", *common(db_path, fake))
    result = invoke("status", "--db", db_path)
    assert result.exit_code == 0
    assert REPO in result.stdout and "complete" in result.stdout


def test_demo_runs_without_token_or_network(tmp_path):
    result = invoke("demo", "--prs", "120", "--db", tmp_path / "demo.db")
    assert result.exit_code == 0, result.stderr
    assert "demo-org/widgets" in result.stdout
    assert "synced 120 PRs" in result.stderr
    assert store.open_store(tmp_path / "demo.db")["pull_requests"].count == 120


def test_version_flag():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("ghsync ")
