"""Old address of `ghsync.cli.render`, kept for tests that patch `ghsync.render.SyncProgressDisplay`."""

from ghsync.cli.render import SyncProgressDisplay

__all__ = ["SyncProgressDisplay"]
