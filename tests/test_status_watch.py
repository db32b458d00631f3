"""`ghsync status --watch` follows a sync running in another process, from the database alone."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import time

from ghsync_testing import REPO, TOKEN, FakeGitHub

GHSYNC = [sys.executable, "-m", "ghsync"]


def test_status_watch_sees_progress_rise_while_another_process_syncs(small_repository, tmp_path):
    db_path = tmp_path / "watched.db"
    with FakeGitHub([copy.deepcopy(small_repository)], latency=0.15) as fake:
        env = {**os.environ, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url, "GHSYNC_DB": str(db_path)}
        sync = subprocess.Popen(
            [*GHSYNC, "track", REPO, "--days", "all"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            while not db_path.exists() or fake.stats["graphql_requests"] == 0:
                assert time.monotonic() < deadline, "the sync never started"
                time.sleep(0.05)
            watch = subprocess.run(
                [*GHSYNC, "status", "--watch", "--interval", "0.1"], env=env, capture_output=True, text=True, timeout=60
            )
        finally:
            assert sync.wait(timeout=60) == 0
    assert watch.returncode == 0, watch.stderr
    percents = [int(m) for m in re.findall(r" (\d+)% ", watch.stdout)]
    assert len(set(percents)) >= 3, watch.stdout
    assert percents == sorted(percents)
    assert watch.stdout.splitlines()[-1].split()[2:4] == ["complete", "100%"]
