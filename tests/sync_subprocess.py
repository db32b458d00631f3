"""Run ghsync's command line in a child process, for the tests that kill -9 a sync or race two of them.

    python tests/sync_subprocess.py track acme/rockets --days all     # same arguments as `ghsync`

Settings come from the environment (GITHUB_TOKEN, GITHUB_API_URL, GHSYNC_DB, ...), as for `ghsync`.

With GHSYNC_TEST_PAUSE_AT_UPSERT=K and GHSYNC_TEST_MARKER=PATH, the child stops inside the page
write that stores its K-th pull request (the page's transaction is open, its rows written, its cursor
not yet): it creates PATH and sleeps, so the test can kill it exactly there.

With GHSYNC_TEST_START_AT=EPOCH, the child imports ghsync and then waits for that moment before it
runs the command: children started together begin (open the database) within a millisecond.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def _pause_inside_a_page_write(at: int, marker: Path) -> None:
    from ghsync.store import SqliteStore

    original = SqliteStore._upsert_pull_requests
    written = 0

    def upsert(store, job, records):
        # A page's PRs are written in one batch: stop after the batch that holds the K-th, before the
        # page's cursor and progress are written and its transaction commits.
        nonlocal written
        result = original(store, job, records)
        written += len(records)
        if written >= at:
            assert store.db.conn.in_transaction, "a page must be written inside one transaction"
            marker.write_text(str(os.getpid()))
            time.sleep(120)  # the test kills us here
        return result

    SqliteStore._upsert_pull_requests = upsert  # type: ignore[method-assign]


def main() -> None:
    pause_at = int(os.environ.get("GHSYNC_TEST_PAUSE_AT_UPSERT") or 0)
    if pause_at:
        _pause_inside_a_page_write(pause_at, Path(os.environ["GHSYNC_TEST_MARKER"]))
    from ghsync.cli import main as ghsync_main

    start_at = float(os.environ.get("GHSYNC_TEST_START_AT") or 0)
    if start_at:
        time.sleep(max(0.0, start_at - time.time()))
    sys.argv = ["ghsync", *sys.argv[1:]]
    ghsync_main()


if __name__ == "__main__":
    main()
