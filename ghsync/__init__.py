"""ghsync: a local SQLite copy of a GitHub repository's pull-request history."""

__version__ = "0.1.0"
