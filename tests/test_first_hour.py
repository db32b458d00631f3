"""Issue #14, "the first hour": what a new user and an analyst trip over."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ghsync.config import load_settings
from ghsync_testing import REPO, TOKEN, cli_flags, database, invoke, repository_row


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
