"""Where ghsync keeps its data: the SQLite file (migrations, the JobStore) and the per-repository locks."""

from ghsync.store.sqlite import SqliteStore, check_creatable, open_store, tracked_names

__all__ = ["SqliteStore", "check_creatable", "open_store", "tracked_names"]
