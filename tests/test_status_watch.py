"""`ghsync status --watch` follows a sync running in another process, from the database alone."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import threading
import time

from ghsync_testing import REPO, TOKEN, FakeGitHub, GraphQLRequests

GHSYNC = [sys.executable, "-m", "ghsync"]


def test_status_watch_sees_progress_rise_while_another_process_syncs(small_repository, tmp_path):
    db_path = tmp_path / "watched.db"
    watching = threading.Event()
    with FakeGitHub([copy.deepcopy(small_repository)], latency=0.15) as fake:
        # The sync's second page waits until the watcher shows its first line: however slowly the
        # watcher starts, it sees the sync under way, not only its end.
        GraphQLRequests(fake).at(2, lambda: watching.wait(30))
        env = {**os.environ, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url, "GHSYNC_DB": str(db_path)}
        sync = subprocess.Popen(
            [*GHSYNC, "track", REPO, "--days", "all"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            while not db_path.exists() or fake.stats["graphql_requests"] == 0:
                assert time.monotonic() < deadline, "the sync never started"
                time.sleep(0.05)
            watch = subprocess.Popen(
                [*GHSYNC, "status", "--watch", "--interval", "0.1"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert watch.stdout is not None
            first = watch.stdout.readline()
            watching.set()
            rest, stderr = watch.communicate(timeout=60)
        finally:
            watching.set()
            assert sync.wait(timeout=60) == 0
    assert watch.returncode == 0, stderr
    output = first + rest
    percents = [int(m) for m in re.findall(r" (\d+)% ", output)]
    assert len(set(percents)) >= 3, output
    assert percents == sorted(percents)
    assert output.splitlines()[-1].split()[2:4] == ["complete", "100%"]
