"""`ghsync demo`: the real sync path against the bundled fake GitHub on loopback."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ghsync.config import Settings
from ghsync.models import RepositoryStatus, SyncReport
from ghsync.service.status import repository_statuses
from ghsync.service.sync import SyncHooks, track_repository

DEMO_REPOSITORY = "demo-org/widgets"
# The fake accepts any token; this one exists so the demo needs none of the user's.
DEMO_TOKEN = "demo-token-not-a-secret"


@dataclass
class DemoOutcome:
    db_path: Path
    report: SyncReport
    statuses: list[RepositoryStatus]


def run_demo(*, prs: int, db: Path | None, hooks: SyncHooks, latency: float = 0.005) -> DemoOutcome:
    from ghsync.fakegithub import FakeGitHub, generate_repository

    db_path = db or Path(tempfile.mkdtemp(prefix="ghsync-demo-")) / "ghsync.db"
    repository = generate_repository(DEMO_REPOSITORY, prs, seed=1)
    with FakeGitHub([repository], latency=latency) as fake:
        # Not the user's settings: their mail server, recipients or threshold have no business in a demo
        # (it would mail them, or wait an hour for a reset), and their tokens no business near the fake.
        settings = Settings(db=db_path, tokens=DEMO_TOKEN, api_url=fake.url)
        result = track_repository(settings, DEMO_REPOSITORY, days="all", hooks=hooks)
        report = result.report
        if report is None:  # already tracked in a --db given twice: sync it again instead
            from ghsync.service.sync import sync_tracked

            outcome = sync_tracked(settings, [DEMO_REPOSITORY], hooks=hooks).outcomes[0]
            if outcome.error is not None:
                raise outcome.error
            report = outcome.report
        statuses = repository_statuses(settings)
    assert report is not None
    return DemoOutcome(db_path=db_path, report=report, statuses=statuses)
