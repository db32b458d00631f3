"""The command line: the typer `app` and `main`, the `ghsync` console script (`ghsync.cli:main`)."""

from ghsync.cli.app import app, main

__all__ = ["app", "main"]
