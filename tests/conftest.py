"""Shared fixtures: the bundled fake GitHub on loopback, settings pointing at it, real SQLite files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ghsync_testing import REPO, TOKEN, FakeGitHub, generate_repository

from ghsync.config import load_settings


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    # No test may read the developer's token, database or config.
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GHSYNC_TOKENS", "GHSYNC_DB", "GITHUB_API_URL", "GHSYNC_MIN_REMAINING"):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("GHSYNC_SMTP") or name in ("GHSYNC_NOTIFY_TO", "GHSYNC_NOTIFY_ON", "GHSYNC_CONFIG"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GHSYNC_CONFIG", str(tmp_path / "no-config.toml"))


@pytest.fixture(scope="session")
def small_repository():
    return generate_repository(REPO, 300, seed=7)


@pytest.fixture
def fake(small_repository):
    import copy

    with FakeGitHub([copy.deepcopy(small_repository)]) as server:
        yield server


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "ghsync.db"


@pytest.fixture
def settings(fake, db_path):
    return load_settings(db=db_path, tokens=[TOKEN], api_url=fake.url)
