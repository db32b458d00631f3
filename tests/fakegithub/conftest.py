"""Fixtures for the fake GitHub's own tests: real HTTP on loopback, driven by PyGithub and requests."""

from __future__ import annotations

import pytest
import requests
from fakegithub_support import NOW, Clock

from ghsync.fakegithub import FakeGitHub, generate_repository


@pytest.fixture(scope="session")
def widgets():
    """A generated 600-PR repository (shared read-only by tests that do not mutate it)."""
    return generate_repository("demo/widgets", 600, seed=7, now=NOW)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(widgets, clock):
    tokens = {"t-alice": "alice", "t-alice-2": "alice", "t-bob": "bob"}
    with FakeGitHub([widgets], tokens=tokens, clock=clock) as f:
        yield f


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s
