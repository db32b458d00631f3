"""What each command does: the only composer of settings, store, GitHub source, engine and notifier.

Every function takes Settings and returns typed results; nothing here prints, prompts or exits. One
module per group of commands, imported by the commands that use it: `status` (status, db-path, shell
completion), `sync` (track, sync, untrack), `weekly` (metrics and teams), `digest`; `common` holds what
they share. So `status` starts without compiling or importing the engine, metrics, notifier or digest.
"""
