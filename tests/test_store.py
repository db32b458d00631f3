"""The store: migrations, private files, atomic pages, clear errors for bad database files."""

import os
import sqlite3
import stat
from datetime import datetime

import pytest

from ghsync.errors import NotTracked, StoreError
from ghsync.models import PageProgress, PullRequestRecord, RateLimitBudget, ReviewRecord, Spend, SyncKind
from ghsync.store import open_store
from ghsync.store.migrations import MIGRATIONS, m001_create_tables
from ghsync.store.sqlite import sync_progress_percent


def make_pr(number: int, **changes) -> PullRequestRecord:
    fields = {
        "number": number,
        "title": f"PR {number}",
        "state": "MERGED",
        "is_draft": False,
        "author": "alice",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-02T00:00:00Z",
        "closed_at": "2026-01-02T00:00:00Z",
        "merged_at": "2026-01-02T00:00:00Z",
        "merged_by": "bob",
        "additions": 10,
        "deletions": 2,
        "changed_files": 1,
        "commits": 1,
        "base_ref": "main",
        "head_ref": f"feature-{number}",
        "labels": ("bug",),
        "url": f"https://github.com/o/r/pull/{number}",
        "reviews": (ReviewRecord(author="bob", state="APPROVED", submitted_at="2026-01-01T12:00:00Z"),),
    }
    fields.update(changes)
    return PullRequestRecord(**fields)


@pytest.fixture
def store(tmp_path):
    return open_store(tmp_path / "ghsync.db")


@pytest.fixture
def db(store):
    """The same file through sqlite-utils, as an analyst (or a test) reads it."""
    return store.db


def new_job(store):
    repository = store.add_repository("o/r", days_back=None, now="2026-01-01T00:00:00Z")
    return store.start_job(repository, kind=SyncKind.INITIAL, since=None, started_at="2026-01-01T00:00:00Z")


def save(store, job, records, cursor="c"):
    budget = RateLimitBudget(resource="graphql", remaining=4000, reset_at=1767229200)  # 2026-01-01T01:00:00Z
    return store.save_page(job, records, PageProgress(cursor=cursor, prs_total=10, spent=Spend(1, 0), budget=budget))


def test_blank_database_gets_every_migration(tmp_path):
    db = open_store(tmp_path / "new.db").db
    applied = [row["name"] for row in db["_ghsync_migrations"].rows]
    assert applied == [m.__name__ for m in MIGRATIONS]
    assert {"repositories", "pull_requests", "reviews", "syncs", "weekly_metrics"} <= set(db.table_names())
    assert "api_prices" not in db.table_names()


def test_database_from_first_release_is_upgraded_keeping_its_rows(tmp_path):
    path = tmp_path / "old.db"
    import sqlite_utils

    old = sqlite_utils.Database(path)
    old["_ghsync_migrations"].create({"name": str, "applied_at": str}, pk="name")
    m001_create_tables(old)
    old["_ghsync_migrations"].insert({"name": "m001_create_tables", "applied_at": "2026-01-01T00:00:00Z"})
    old["repositories"].insert(
        {"full_name": "o/r", "owner": "o", "name": "r", "sync_status": "complete", "created_at": "x"}
    )
    old.close()
    store = open_store(path)
    assert "weekly_metrics" in store.db.table_names()
    assert store.get_repository("o/r").sync_status == "complete"


def _database_before_m006(path):
    import sqlite_utils

    from ghsync.store.migrations import apply_migrations, m002_weekly_metrics, m003_application_id

    old = sqlite_utils.Database(path)
    apply_migrations(old, [m001_create_tables, m002_weekly_metrics, m003_application_id])
    return old


def test_upgrading_to_m006_sets_coverage_from_the_last_complete_initial_sync(tmp_path):
    old = _database_before_m006(tmp_path / "old.db")
    for name in ("o/windowed", "o/whole", "o/never"):
        old["repositories"].insert(
            {"full_name": name, "owner": "o", "name": name[2:], "sync_status": "complete", "created_at": "x"}
        )
    old["syncs"].insert_all([
        {"repository_id": 1, "kind": "initial", "since": "2026-01-01T00:00:00Z", "outcome": "complete", "started_at": "s"},
        {"repository_id": 1, "kind": "initial", "since": "2025-10-01T00:00:00Z", "outcome": "complete", "started_at": "s"},
        {"repository_id": 1, "kind": "incremental", "since": "2026-02-01T00:00:00Z", "outcome": "complete", "started_at": "s"},
        {"repository_id": 2, "kind": "initial", "since": None, "outcome": "complete", "started_at": "s"},
        {"repository_id": 3, "kind": "initial", "since": "2026-01-01T00:00:00Z", "outcome": "rate_limited", "started_at": "s"},
    ])  # fmt: skip
    for number, created in ((1, "2024-05-06T07:08:09Z"), (2, "2023-01-02T03:04:05Z")):
        old["pull_requests"].insert(
            {
                "repository_id": 2,
                "number": number,
                "title": "t",
                "state": "OPEN",
                "created_at": created,
                "updated_at": created,
            }
        )
    old.close()
    store = open_store(tmp_path / "old.db")
    # the widened (later) window, the oldest PR of a whole-history sync, nothing for a sync never completed
    assert [store.get_repository(n).coverage_start for n in ("o/windowed", "o/whole", "o/never")] == [
        "2025-10-01T00:00:00Z", "2023-01-02T03:04:05Z", None,
    ]  # fmt: skip


def test_upgrading_to_m006_adds_the_new_columns_and_keeps_old_weekly_rows_readable(tmp_path):
    old = _database_before_m006(tmp_path / "old.db")
    old["repositories"].insert(
        {"full_name": "o/r", "owner": "o", "name": "r", "sync_status": "complete", "created_at": "x"}
    )
    old["weekly_metrics"].insert({"repository_id": 1, "week": "2026-03-02", "prs_opened": 1, "authors_active": 1, "prs_merged": 0, "prs_closed_unmerged": 0, "reviews_submitted": 0, "reviewers_active": 0})  # fmt: skip
    old.close()
    store = open_store(tmp_path / "old.db")
    db = store.db
    assert {"author_type", "first_commit_at"} <= set(db["pull_requests"].columns_dict)
    assert "author_type" in db["reviews"].columns_dict and "coverage_start" in db["repositories"].columns_dict
    assert {
        "cycle_time_p90_hours",
        "coding_time_p50_hours",
        "merged_without_review",
        "review_top_share",
        "complete",
    } <= set(db["weekly_metrics"].columns_dict)
    (row,) = store.weekly_metrics_rows(1)
    assert row.prs_opened == 1 and row.complete is True and row.merged_without_review == 0


def test_database_from_a_newer_ghsync_is_refused(tmp_path):
    path = tmp_path / "newer.db"
    db = open_store(path).db
    db["_ghsync_migrations"].insert({"name": "m999_from_the_future", "applied_at": "x"})
    db.close()
    with pytest.raises(StoreError, match="newer ghsync"):
        open_store(path)


def test_new_database_file_and_directory_are_private(tmp_path):
    path = tmp_path / "private" / "dir" / "ghsync.db"
    open_store(path, create_parent=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_file_that_is_not_a_database_gives_a_clear_error(tmp_path):
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not sqlite at all, just text" * 100)
    with pytest.raises(StoreError, match="not a ghsync database"):
        open_store(path)


def test_missing_database_is_an_error_when_not_creating(tmp_path):
    with pytest.raises(StoreError, match="no database"):
        open_store(tmp_path / "absent.db", create=False)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_gives_a_clear_error(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir(mode=0o500)
    with pytest.raises(StoreError):
        open_store(directory / "ghsync.db")


def test_explicit_path_in_a_missing_directory_is_an_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "typo" / "ghsync.db")


def test_unwritable_location_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create"):
        open_store(blocker / "sub" / "ghsync.db")


def test_sqlite_utils_plugins_do_not_run_on_ghsyncs_connection(tmp_path):
    # A plugin installed beside ghsync would otherwise run its code on the connection (and finding
    # plugins reads every installed package's metadata at each start).
    from sqlite_utils import hookimpl
    from sqlite_utils.plugins import pm

    prepared = []

    class Plugin:
        @hookimpl
        def prepare_connection(self, conn):
            prepared.append(conn)

    plugin = Plugin()
    pm.register(plugin, name="test-plugin")
    try:
        open_store(tmp_path / "ghsync.db").close()
    finally:
        pm.unregister(plugin)
    assert prepared == []


def test_page_is_stored_with_progress_and_cursor(store):
    job = new_job(store)
    job = save(store, job, [make_pr(1), make_pr(2)], cursor="after-2")
    repository = store.get_repository("o/r")
    assert (repository.sync_prs_completed, repository.sync_prs_total, repository.sync_progress) == (2, 10, 20)
    assert job.cursor == "after-2"
    assert (repository.rate_limit_remaining, repository.rate_limit_reset_at) == (4000, "2026-01-01T01:00:00Z")


def test_saving_a_page_twice_duplicates_nothing(store, db):
    job = new_job(store)
    save(store, job, [make_pr(1), make_pr(2)])
    save(store, job, [make_pr(1), make_pr(2)])
    assert db["pull_requests"].count == 2
    assert db["reviews"].count == 2


def test_a_pr_seen_again_by_the_same_job_is_counted_once(store):
    job = new_job(store)
    job = save(store, job, [make_pr(1), make_pr(2)])
    save(store, job, [make_pr(2), make_pr(3), make_pr(3)])  # page overlap, and a duplicate within a page
    assert store.get_repository("o/r").sync_prs_completed == 3


def test_a_new_job_counts_again_from_zero_the_prs_it_rewrites(store, db):
    job = new_job(store)
    save(store, job, [make_pr(1), make_pr(2)])
    store.finish_job(
        job, finished_at="2026-01-01T00:01:00Z", spent=Spend(1, 0), budget=RateLimitBudget("graphql", 4000)
    )
    repository = store.get_repository("o/r")
    again = store.start_job(repository, kind=SyncKind.INCREMENTAL, since=None, started_at="2026-01-01T00:02:00Z")
    save(store, again, [make_pr(2, title="Changed"), make_pr(3)])
    assert store.get_repository("o/r").sync_prs_completed == 2
    assert store.job_counts(again) == (2, 2)


def test_a_pr_read_again_exactly_as_stored_stays_with_the_job_that_wrote_it(store, db):
    # The overlap an incremental sync re-checks: nothing to write, nothing to count as updated.
    job = new_job(store)
    save(store, job, [make_pr(1), make_pr(2)])
    store.finish_job(
        job, finished_at="2026-01-01T00:01:00Z", spent=Spend(1, 0), budget=RateLimitBudget("graphql", 4000)
    )
    again = store.start_job(
        store.get_repository("o/r"), kind=SyncKind.INCREMENTAL, since=None, started_at="2026-01-01T00:02:00Z"
    )
    save(store, again, [make_pr(1), make_pr(2, title="Changed")])
    assert store.job_counts(again)[0] == 1
    assert {row["number"]: row["sync_id"] for row in db["pull_requests"].rows} == {1: job.id, 2: again.id}


def test_a_pr_fetched_again_replaces_its_reviews(store, db):
    job = new_job(store)
    save(store, job, [make_pr(1)])
    save(store, job, [make_pr(1, reviews=())])
    assert db["reviews"].count == 0


def test_a_failing_page_leaves_nothing_half_written(store, db):
    job = new_job(store)
    save(store, job, [make_pr(1)], cursor="first")
    db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON reviews WHEN NEW.author = 'crash' BEGIN SELECT RAISE(ABORT, 'boom'); END"
    )
    bad = make_pr(3, reviews=(ReviewRecord(author="crash", state="APPROVED", submitted_at=None),))
    with pytest.raises(StoreError, match="boom"):  # a constraint failing is the run's error, not a crash
        save(store, job, [make_pr(2), bad], cursor="second")
    assert [row["number"] for row in db["pull_requests"].rows] == [1]
    assert store.current_job(store.get_repository("o/r")).cursor == "first"
    assert store.get_repository("o/r").sync_prs_completed == 1


def test_stored_pull_requests_read_back_equal_to_what_was_written(store):
    job = new_job(store)
    records = [make_pr(2, author=None, title="日本語 🎉 " * 20, labels=()), make_pr(1, merged_by=None, additions=None)]
    save(store, job, records)
    assert list(store.iter_pull_requests(job.repository_id)) == sorted(records, key=lambda r: r.number)


def test_titles_are_full_text_searchable(store, db):
    job = new_job(store)
    save(store, job, [make_pr(1, title="Fix the flux capacitor"), make_pr(2, title="Docs")])
    hits = list(db.query("SELECT rowid FROM pull_requests_fts WHERE pull_requests_fts MATCH 'capacitor'"))
    assert len(hits) == 1


def test_unknown_repository_is_not_tracked(store):
    with pytest.raises(NotTracked):
        store.get_repository("nobody/nothing")


def test_progress_reaches_100_only_when_finished():
    assert sync_progress_percent(10, 10, finished=False) == 99
    assert sync_progress_percent(10, 10, finished=True) == 100
    assert sync_progress_percent(0, 0, finished=False) == 0


def test_the_pull_request_table_has_a_column_for_every_registry_field(db):
    from ghsync.models import PULL_REQUEST_FIELDS

    assert {spec.name for spec in PULL_REQUEST_FIELDS} <= set(db["pull_requests"].columns_dict)


def _foreign_database(path, *tables: str) -> bytes:
    conn = sqlite3.connect(path)
    for table in tables:
        conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, note TEXT)")
    conn.execute("INSERT INTO " + tables[0] + " (note) VALUES ('mine')")
    conn.commit()
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize("tables", [("notes",), ("pull_requests",)], ids=["unrelated", "clashing"])
def test_a_sqlite_file_of_another_program_is_refused_and_left_byte_identical(tmp_path, tables):
    path = tmp_path / "notes.db"
    before = _foreign_database(path, *tables)
    with pytest.raises(StoreError, match="not a ghsync database"):
        open_store(path)
    assert path.read_bytes() == before


def test_an_empty_file_becomes_a_ghsync_database(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    assert "repositories" in open_store(path).db.table_names()


def test_a_ghsync_database_is_marked_as_such(tmp_path):
    from ghsync.store.migrations import APPLICATION_ID

    db = open_store(tmp_path / "new.db").db
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_a_database_from_before_digests_gains_the_digests_table_keeping_its_rows(tmp_path):
    import sqlite_utils

    from ghsync.store.migrations import m002_weekly_metrics, m003_application_id

    path = tmp_path / "before-digests.db"
    old = sqlite_utils.Database(path)
    old["_ghsync_migrations"].create({"name": str, "applied_at": str}, pk="name")
    for migration in (m001_create_tables, m002_weekly_metrics, m003_application_id):
        migration(old)
        old["_ghsync_migrations"].insert({"name": migration.__name__, "applied_at": "2026-01-01T00:00:00Z"})
    old["repositories"].insert(
        {"full_name": "o/r", "owner": "o", "name": "r", "sync_status": "complete", "created_at": "x"}
    )
    old.close()
    store = open_store(path)
    assert store.db["digests"].columns_dict == {
        "id": int,
        "scope": str,
        "week": str,
        "channel": str,
        "sent_at": str,
        "status": str,
        "detail": str,
    }
    assert store.digest_deliveries() == [] and store.get_repository("o/r").sync_status == "complete"


def test_a_database_at_m008_upgrades_losing_the_unused_api_prices_table_and_keeping_its_rows(tmp_path):
    import sqlite_utils

    from ghsync.store.migrations import MIGRATIONS, apply_migrations

    path = tmp_path / "m008.db"
    old = sqlite_utils.Database(path)
    apply_migrations(old, [m for m in MIGRATIONS if m.__name__ < "m009"])
    assert "api_prices" in old.table_names()
    old["api_prices"].insert({"api_url": "https://api.github.com", "count_only_free": 0, "learned_at": "x"})
    old["repositories"].insert(
        {"full_name": "o/r", "owner": "o", "name": "r", "sync_status": "complete", "created_at": "x"}
    )
    old.close()
    store = open_store(path)
    assert "api_prices" not in store.db.table_names()
    applied = [row["name"] for row in store.db["_ghsync_migrations"].rows]
    assert applied == [m.__name__ for m in MIGRATIONS] and "m009_drop_api_prices" in applied
    assert store.get_repository("o/r").sync_status == "complete"


def test_a_whole_history_synced_before_m005_counts_as_the_whole_history_after_upgrading(tmp_path):
    import sqlite_utils

    from ghsync.store.migrations import MIGRATIONS, apply_migrations

    path = tmp_path / "m004.db"
    old = sqlite_utils.Database(path)
    apply_migrations(old, [m for m in MIGRATIONS if m.__name__ < "m005"])
    for name in ("o/whole", "o/windowed", "o/stopped"):
        old["repositories"].insert(
            {"full_name": name, "owner": "o", "name": name[2:], "sync_status": "complete", "created_at": "x"}
        )
    old["syncs"].insert_all([
        {"repository_id": 1, "kind": "initial", "since": None, "outcome": "complete", "started_at": "s"},
        {"repository_id": 1, "kind": "incremental", "since": "2026-02-01T00:00:00Z", "outcome": "complete", "started_at": "s"},
        {"repository_id": 2, "kind": "initial", "since": "2026-01-01T00:00:00Z", "outcome": "complete", "started_at": "s"},
        {"repository_id": 3, "kind": "initial", "since": None, "outcome": "rate_limited", "started_at": "s"},
    ])  # fmt: skip
    old.close()
    store = open_store(path)
    # A window's cursor was never recorded before m005: that one stays unknown (a wider window re-syncs it).
    assert [store.get_repository(n).whole_history_stored for n in ("o/whole", "o/windowed", "o/stopped")] == [
        True, False, False,
    ]  # fmt: skip


def test_a_wider_windows_job_left_unfinished_before_m011_is_marked_as_one_on_upgrading(tmp_path):
    import sqlite_utils

    from ghsync.store.migrations import MIGRATIONS, apply_migrations

    path = tmp_path / "m010.db"
    old = sqlite_utils.Database(path)
    apply_migrations(old, [m for m in MIGRATIONS if m.__name__ < "m011"])
    old["repositories"].insert(
        {"full_name": "o/r", "owner": "o", "name": "r", "sync_status": "rate_limited", "created_at": "x"}
    )
    old["syncs"].insert_all([
        # A wider window's job: it started at the stored cursor and never read the head.
        {"repository_id": 1, "kind": "initial", "since": None, "cursor": "c2", "started_at": "s"},
        # An ordinary initial job stopped after some pages: it read the head on its first one.
        {"repository_id": 1, "kind": "initial", "since": None, "cursor": "c9", "head_updated_at": "h", "started_at": "s"},
        # Finished, and not started yet: neither is changed.
        {"repository_id": 1, "kind": "initial", "since": None, "cursor": None, "started_at": "s", "finished_at": "f"},
        {"repository_id": 1, "kind": "initial", "since": None, "cursor": None, "started_at": "s"},
    ])  # fmt: skip
    old.close()
    store = open_store(path)
    assert [row["from_window_cursor"] for row in store.db["syncs"].rows] == [1, None, None, None]


def test_metrics_read_prs_and_reviews_without_sorting_them_in_memory(store, db):
    # The refresh after every complete sync reads all of a repository's PRs: a temporary sort of them
    # (and of their reviews) was the peak of a 50,000-PR sync's memory.
    seen = []
    db.conn.set_trace_callback(seen.append)
    try:
        list(store.metric_pull_requests([1, 2]))
    finally:
        db.conn.set_trace_callback(None)
    reads = [sql for sql in seen if sql.lstrip().upper().startswith("SELECT") and "pull_requests" in sql]
    assert len(reads) == 2
    for sql in reads:
        plan = " / ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql).fetchall())
        assert "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize(
    "text",
    ["2026-03-04T05:06:07Z", "2026-03-02T00:00:00Z", "1970-01-01T00:00:00Z", "2026-03-04T05:06:07+02:00", None],
)
def test_metrics_epoch_seconds_are_the_same_before_and_after_sqlite_3_38(db, text):
    # unixepoch() where SQLite has it, strftime('%s') before: both must give the same whole seconds.
    from ghsync.store.sqlite import _EPOCH, _EPOCH_BEFORE_3_38

    expected = None if text is None else int(datetime.fromisoformat(text).timestamp())
    assert db.execute(f"SELECT {_EPOCH.format('?')}, {_EPOCH_BEFORE_3_38.format('?')}", [text, text]).fetchone() == (
        expected,
        expected,
    )
