"""The only DDL: append-only named migrations, applied in one write transaction."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from ghsync.errors import StoreError
from ghsync.timefmt import now_iso

# --- migrations -------------------------------------------------------------------------------
# Append-only: a released migration is never edited; a schema change is a new function at the end.


def m001_create_tables(db: sqlite_utils.Database) -> None:
    db.table("repositories").create(
        {
            "id": int,
            "full_name": str,
            "owner": str,
            "name": str,
            "days_back": int,
            "sync_status": str,
            "sync_progress": int,
            "sync_prs_total": int,
            "sync_prs_completed": int,
            "sync_started_at": str,
            "sync_finished_at": str,
            "rate_limit_remaining": int,
            "rate_limit_reset_at": str,
            "last_synced_at": str,
            "last_error": str,
            "created_at": str,
            # Newest updatedAt GitHub showed at the last complete sync: where the next incremental starts.
            "sync_watermark": str,
            "current_sync_id": int,
            "notify_to": str,
        },
        pk="id",
        not_null={"full_name", "owner", "name", "sync_status", "created_at"},
        defaults={"sync_status": "pending", "sync_progress": 0, "sync_prs_total": 0, "sync_prs_completed": 0},
    )
    db.table("repositories").create_index(["full_name"], unique=True)

    # One row per sync job: an initial or incremental sync from its start to `complete`, however many
    # process runs (rate-limit stops, crashes) it takes. The cursor lives here.
    db.table("syncs").create(
        {
            "id": int,
            "repository_id": int,
            "kind": str,
            "since": str,
            # The current pass reads PRs updated at or after pass_since: the window for the main pass,
            # the head seen when the previous pass began for a catch-up pass.
            "pass_since": str,
            "phase": str,
            "cursor": str,
            "head_updated_at": str,
            "started_at": str,
            "finished_at": str,
            "outcome": str,
            "runs": int,
            "graphql_points": int,
            "rest_calls": int,
            "prs_total": int,
            "error": str,
            "email_status": str,
        },
        pk="id",
        foreign_keys=[("repository_id", "repositories", "id")],
        defaults={"runs": 0, "graphql_points": 0, "rest_calls": 0, "prs_total": 0},
    )
    db.table("syncs").create_index(["repository_id"])

    db.table("pull_requests").create(
        {
            "id": int,
            "repository_id": int,
            "number": int,
            "title": str,
            "state": str,
            "is_draft": int,
            "author": str,
            "created_at": str,
            "updated_at": str,
            "closed_at": str,
            "merged_at": str,
            "merged_by": str,
            "additions": int,
            "deletions": int,
            "changed_files": int,
            "commits": int,
            "base_ref": str,
            "head_ref": str,
            "labels": str,
            "url": str,
            # The sync job that last wrote this row: counts a job's progress exactly across resumes.
            "sync_id": int,
        },
        pk="id",
        foreign_keys=[("repository_id", "repositories", "id"), ("sync_id", "syncs", "id")],
        not_null={"repository_id", "number", "title", "state", "created_at", "updated_at"},
    )
    db.table("pull_requests").create_index(["repository_id", "number"], unique=True)
    db.table("pull_requests").create_index(["repository_id", "updated_at"])
    db.table("pull_requests").create_index(["repository_id", "sync_id"])
    db.table("pull_requests").enable_fts(["title"], create_triggers=True, tokenize="unicode61")

    db.table("reviews").create(
        {"id": int, "pull_request_id": int, "author": str, "state": str, "submitted_at": str},
        pk="id",
        foreign_keys=[("pull_request_id", "pull_requests", "id")],
        not_null={"pull_request_id", "state"},
    )
    db.table("reviews").create_index(["pull_request_id"])


def m002_weekly_metrics(db: sqlite_utils.Database) -> None:
    db.table("weekly_metrics").create(
        {
            "repository_id": int,
            "week": str,
            "prs_opened": int,
            "authors_active": int,
            "prs_merged": int,
            "prs_closed_unmerged": int,
            "cycle_time_p50_hours": float,
            "cycle_time_p75_hours": float,
            "time_to_first_review_p50_hours": float,
            "review_to_merge_p50_hours": float,
            "reviews_submitted": int,
            "reviewers_active": int,
            "pr_size_p50": float,
        },
        pk=("repository_id", "week"),
        foreign_keys=[("repository_id", "repositories", "id")],
    )


# "ghsy": marks the file as ghsync's, so another program's SQLite file is never mistaken for one.
APPLICATION_ID = 0x67687379


def m003_application_id(db: sqlite_utils.Database) -> None:
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def m004_analyst_views_indexes_and_github_ids(db: sqlite_utils.Database) -> None:
    """For the analyst who opens the file: GitHub's ids on repositories, PRs and reviews (to join with
    other GitHub data), indexes for the usual filters, views without joins, and the missing foreign key
    on repositories.current_sync_id."""
    for table in ("repositories", "pull_requests", "reviews"):
        db.table(table).add_column("node_id", str)
        db.table(table).add_column("database_id", int)
    # A current_sync_id whose job is gone would fail the new constraint: it points nowhere anyway.
    db.execute(
        "UPDATE repositories SET current_sync_id = NULL "
        "WHERE current_sync_id IS NOT NULL AND current_sync_id NOT IN (SELECT id FROM syncs)"
    )
    db.table("repositories").transform(add_foreign_keys=[("current_sync_id", "syncs", "id")])
    db.table("repositories").create_index(["node_id"], unique=True, if_not_exists=True)
    # The usual filters only: every index is paid for on each page written.
    for columns in (["created_at"], ["merged_at"], ["author"]):
        db.table("pull_requests").create_index(columns, if_not_exists=True)
    for columns in (["author"], ["submitted_at"]):
        db.table("reviews").create_index(columns, if_not_exists=True)
    db.execute(
        """
        CREATE VIEW pull_requests_view AS
        SELECT r.full_name AS repository, p.number, p.title, p.state, p.is_draft, p.author,
               p.created_at, p.updated_at, p.closed_at, p.merged_at, p.merged_by,
               p.additions, p.deletions, p.changed_files, p.commits, p.base_ref, p.head_ref,
               p.labels, p.url, p.node_id, p.database_id, p.id AS pull_request_id, p.repository_id
        FROM pull_requests p JOIN repositories r ON r.id = p.repository_id
        """
    )
    db.execute(
        """
        CREATE VIEW reviews_view AS
        SELECT r.full_name AS repository, p.number AS pr_number, p.title AS pr_title, p.author AS pr_author,
               v.author, v.state, v.submitted_at, v.node_id, v.database_id,
               v.id AS review_id, v.pull_request_id, p.repository_id
        FROM reviews v
        JOIN pull_requests p ON p.id = v.pull_request_id
        JOIN repositories r ON r.id = p.repository_id
        """
    )


def m005_window_coverage(db: sqlite_utils.Database) -> None:
    """What the stored PRs cover, so a wider window fetches only the older part: the whole history, or
    every PR updated since `coverage_since`, the pass that read them having stopped at `coverage_cursor`."""
    db.table("repositories").add_column("coverage_whole_history", int)
    db.table("repositories").add_column("coverage_since", str)
    db.table("repositories").add_column("coverage_cursor", str)
    # Where a sync job's main pass reached the window's start (the cursor that page was asked with).
    db.table("syncs").add_column("window_boundary", str)


def m006_team_metrics(db: sqlite_utils.Database) -> None:
    """Issue #12: coverage, actor kinds, first commits, the new weekly columns, imported teams."""
    # The instant from which a repository's stored data is complete (set when an initial sync completes).
    db.table("repositories").add_column("coverage_start", str)
    # GraphQL __typename of the author: User, Bot, Organization, Mannequin; NULL for a deleted account
    # (and for rows stored before this migration, until the PR is fetched again).
    db.table("pull_requests").add_column("author_type", str)
    db.table("pull_requests").add_column("first_commit_at", str)
    db.table("reviews").add_column("author_type", str)
    weekly = db.table("weekly_metrics")
    for column, column_type in (
        ("cycle_time_p90_hours", float),
        ("coding_time_p50_hours", float),
        ("merged_without_review", int),
        ("review_top_share", float),
        ("complete", int),
    ):
        weekly.add_column(column, column_type)
    # Teams imported from GitHub (`ghsync team import`); config-file teams are not stored.
    db.table("teams").create(
        {"name": str, "organization": str, "slug": str, "members": str, "imported_at": str},
        pk="name",
        not_null={"organization", "slug", "members", "imported_at"},
    )
    # Existing databases: the window of the last completed initial sync is what their data covers;
    # with the whole history (since NULL), the oldest stored PR's creation.
    db.execute(
        """
        UPDATE repositories SET coverage_start = (
            SELECT COALESCE(s.since, (SELECT min(p.created_at) FROM pull_requests p
                                      WHERE p.repository_id = repositories.id), s.started_at)
            FROM syncs s
            WHERE s.repository_id = repositories.id AND s.kind = 'initial' AND s.outcome = 'complete'
            ORDER BY s.id DESC LIMIT 1)
        """
    )


def m007_owners(db: sqlite_utils.Database) -> None:
    # Remembered owners (organisations, users): each `sync` re-lists them with these filters.
    db.table("owners").create(
        {
            "id": int,
            "login": str,
            "days_back": int,
            "include_archived": int,
            "include_forks": int,
            # JSON lists of fnmatch globs on the repository name.
            "match": str,
            "exclude": str,
            "created_at": str,
            "listed_at": str,
        },
        pk="id",
        not_null={"login", "created_at"},
        defaults={"include_archived": 0, "include_forks": 0, "match": "[]", "exclude": "[]"},
    )
    db.table("owners").create_index(["login"], unique=True)
    # The owner that tracks the repository (NULL: tracked by hand); cleared when the owner is untracked.
    db.execute("ALTER TABLE repositories ADD COLUMN owner_id INTEGER")
    # What a page's `rateLimit { cost }` taught about an API host's prices (issue #13): whether it charges
    # a connection selected only for totalCount. No row: not known yet (the conservative model is used).
    db.table("api_prices").create({"api_url": str, "count_only_free": int, "learned_at": str}, pk="api_url")


def m008_digests(db: sqlite_utils.Database) -> None:
    # One row per delivery attempt of a weekly digest; a `sent` row keeps a retried cron job from
    # sending the same scope's week to the same channel again. Never the webhook URL or a password.
    db.table("digests").create(
        {
            "id": int,
            "scope": str,
            "week": str,
            "channel": str,
            "sent_at": str,
            "status": str,
            "detail": str,
        },
        pk="id",
        not_null={"scope", "week", "channel", "sent_at", "status"},
    )
    db.table("digests").create_index(["scope", "week", "channel"])


def m009_drop_api_prices(db: sqlite_utils.Database) -> None:
    """Drop api_prices: since the page reads the first commit, no query has a count-only connection to price."""
    db.execute("DROP TABLE IF EXISTS api_prices")


def m010_whole_history_synced_before_m005(db: sqlite_utils.Database) -> None:
    """A repository whose last completed initial sync read the whole history (`since` NULL) before m005 has
    every PR stored (no ghsync ever deleted a PR but with the repository), yet m005 left its coverage
    unknown: metrics and digests bounded it by its oldest PR, and a wider window re-synced it from the top."""
    db.execute(
        """
        UPDATE repositories SET coverage_whole_history = 1
        WHERE coverage_whole_history IS NULL AND (
            SELECT s.since IS NULL FROM syncs s
            WHERE s.repository_id = repositories.id AND s.kind = 'initial' AND s.outcome = 'complete'
            ORDER BY s.id DESC LIMIT 1)
        """
    )


def m011_window_jobs(db: sqlite_utils.Database) -> None:
    """Mark the jobs that start at a stored window's cursor (a wider window fetching only the older part):
    they bring no recent change, so finishing one must not make the data look freshly synced."""
    db.table("syncs").add_column("from_window_cursor", int)


def m012_window_jobs_started_before_m011(db: sqlite_utils.Database) -> None:
    """Mark the unfinished jobs m011 could not: a wider window's job started before it, stopped (rate limit,
    Ctrl-C) and resumed after the upgrade would otherwise call the data fresh when it finishes. Only such a job
    starts with a cursor and never reads the head (the engine reads it on a pass's first page, from the top)."""
    db.execute(
        "UPDATE syncs SET from_window_cursor = 1 WHERE from_window_cursor IS NULL AND kind = 'initial' "
        "AND finished_at IS NULL AND cursor IS NOT NULL AND head_updated_at IS NULL"
    )


def m013_rewrite_from(db: sqlite_utils.Database) -> None:
    """Incremental jobs remember from when an equal updatedAt proves nothing (a PR edited twice in the second
    the last sync read it): resumed after a stop, they must write the same records an unbroken run would."""
    db.table("syncs").add_column("rewrite_from", str)


def m014_views_with_every_column_and_the_owner_key(db: sqlite_utils.Database) -> None:
    """The views again, with the columns added since m004 (who counts as a bot, the first commit, the job that
    wrote a PR), and repositories.owner_id a foreign key to owners, as every other reference is."""
    db.execute("DROP VIEW IF EXISTS pull_requests_view")
    db.execute("DROP VIEW IF EXISTS reviews_view")
    # An owner_id whose owner is gone would fail the new constraint: it is tracked by no one.
    db.execute(
        "UPDATE repositories SET owner_id = NULL WHERE owner_id IS NOT NULL AND owner_id NOT IN (SELECT id FROM owners)"
    )
    db.table("repositories").transform(add_foreign_keys=[("owner_id", "owners", "id")])
    db.execute(
        """
        CREATE VIEW pull_requests_view AS
        SELECT r.full_name AS repository, p.number, p.title, p.state, p.is_draft, p.author, p.author_type,
               p.created_at, p.updated_at, p.closed_at, p.merged_at, p.merged_by, p.first_commit_at,
               p.additions, p.deletions, p.changed_files, p.commits, p.base_ref, p.head_ref,
               p.labels, p.url, p.node_id, p.database_id, p.id AS pull_request_id, p.repository_id, p.sync_id
        FROM pull_requests p JOIN repositories r ON r.id = p.repository_id
        """
    )
    db.execute(
        """
        CREATE VIEW reviews_view AS
        SELECT r.full_name AS repository, p.number AS pr_number, p.title AS pr_title, p.author AS pr_author,
               v.author, v.author_type, v.state, v.submitted_at, v.node_id, v.database_id,
               v.id AS review_id, v.pull_request_id, p.repository_id
        FROM reviews v
        JOIN pull_requests p ON p.id = v.pull_request_id
        JOIN repositories r ON r.id = p.repository_id
        """
    )


Migration = Callable[[sqlite_utils.Database], None]


MIGRATIONS: tuple[Migration, ...] = (
    m001_create_tables,
    m002_weekly_metrics,
    m003_application_id,
    m004_analyst_views_indexes_and_github_ids,
    m005_window_coverage,
    m006_team_metrics,
    m007_owners,
    m008_digests,
    m009_drop_api_prices,
    m010_whole_history_synced_before_m005,
    m011_window_jobs,
    m012_window_jobs_started_before_m011,
    m013_rewrite_from,
    m014_views_with_every_column_and_the_owner_key,
)


def pending_migrations(db: sqlite_utils.Database) -> list[Migration]:
    """The migrations this database lacks, in order; a StoreError if a newer ghsync wrote it."""
    known = {migration.__name__ for migration in MIGRATIONS}
    applied = set()
    if db.table("_ghsync_migrations").exists():
        applied = {row[0] for row in db.execute("SELECT name FROM _ghsync_migrations")}
    newer = sorted(applied - known)
    if newer:
        raise StoreError(
            f"{db_path_of(db)} was written by a newer ghsync (migration {newer[-1]}); upgrade ghsync to use it"
        )
    return [migration for migration in MIGRATIONS if migration.__name__ not in applied]


def apply_migrations(db: sqlite_utils.Database, migrations: list[Migration]) -> None:
    """Run the migrations and record them; the caller holds the write transaction."""
    if not db.table("_ghsync_migrations").exists():
        db.table("_ghsync_migrations").create({"name": str, "applied_at": str}, pk="name")
    for migration in migrations:
        migration(db)
        db.table("_ghsync_migrations").insert({"name": migration.__name__, "applied_at": now_iso()})


def db_path_of(db: sqlite_utils.Database) -> str:
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] if row and row[2] else ":memory:"
