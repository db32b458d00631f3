"""What each index costs a sync in WAL writes: replay a synced ghsync database, page by page, into copies of
its schema with and without each analyst index, and count the WAL frames each copy writes.

    uv run python tests/benchmarks/bench.py --sizes 50000 --keep     # leaves full-50000.db behind
    uv run python tests/benchmarks/wal_frames.py /tmp/ghsync-bench-.../full-50000.db

A sync commits each page (49 PRs and their reviews) in one transaction, and SQLite writes every page of the
file that the transaction changed to the WAL: an index whose entries land on scattered leaves costs a frame
per leaf per commit. The replay inserts the stored rows in their original order (by id), 49 PRs a
transaction, with checkpoints off, so the WAL's frame count at the end is every frame written (the schema's
creation included; a real sync also rewrites its `repositories` and `syncs` rows each page, a few frames
more). Not a pytest module (no `test_` prefix) and not part of bench.py: a diagnosis, run by hand.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

PAGE = 49  # PRs per page (and per transaction) in a full-history sync
ANALYST_INDEXES = (
    "idx_pull_requests_created_at",
    "idx_pull_requests_merged_at",
    "idx_pull_requests_author",
    "idx_reviews_author",
    "idx_reviews_submitted_at",
)


def replay(source: sqlite3.Connection, target: Path, *, without: frozenset[str]) -> tuple[int, float, int]:
    """(frames written, CPU seconds, commits) for the rows of `source` replayed into a fresh `target`."""
    database = sqlite3.connect(target, isolation_level=None)
    database.execute("PRAGMA journal_mode = WAL")
    database.execute("PRAGMA wal_autocheckpoint = 0")
    for name, sql in source.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"):
        # FTS5's shadow tables are created by its virtual table; sqlite_* tables by SQLite.
        if name in without or name.startswith(("pull_requests_fts_", "sqlite_")):
            continue
        database.execute(sql)
    columns = {
        table: [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
        for table in ("pull_requests", "reviews")
    }
    insert = {
        table: f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        for table, names in columns.items()
    }
    reviews: dict[int, list[tuple]] = {}
    for row in source.execute("SELECT * FROM reviews ORDER BY id"):
        reviews.setdefault(row[columns["reviews"].index("pull_request_id")], []).append(row)
    pull_requests = source.execute("SELECT * FROM pull_requests ORDER BY id").fetchall()
    started = time.process_time()
    commits = 0
    for start in range(0, len(pull_requests), PAGE):
        page = pull_requests[start : start + PAGE]
        database.execute("BEGIN")
        database.executemany(insert["pull_requests"], page)
        database.executemany(insert["reviews"], [review for pr in page for review in reviews.get(pr[0], [])])
        database.execute("COMMIT")
        commits += 1
    cpu = time.process_time() - started
    frames = database.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    database.close()
    return frames, cpu, commits


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    source = sqlite3.connect(f"file:{argv[0]}?mode=ro", uri=True)
    variants = [("every index", frozenset()), ("without the five analyst indexes", frozenset(ANALYST_INDEXES))]
    variants += [(f"without {name}", frozenset({name})) for name in ANALYST_INDEXES]
    with tempfile.TemporaryDirectory(prefix="ghsync-wal-frames-") as directory:
        for number, (label, without) in enumerate(variants):
            frames, cpu, commits = replay(source, Path(directory) / f"{number}.db", without=without)
            if not commits:
                print(f"{argv[0]} holds no pull requests: nothing to replay")
                return 1
            print(f"{label:<45} {frames:>9,} frames  {frames / commits:6.1f} per commit  CPU {cpu:5.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
