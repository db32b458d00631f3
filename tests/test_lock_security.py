"""The per-repository lock cannot be turned against its user: no symlinks followed, no file truncated,
no folder shared with other users, and one lock per database file however its path is spelled."""

from __future__ import annotations

import os
import stat

import pytest
from ghsync_testing import REPO, cli_flags, invoke, repository_row

from ghsync.store.lock import lock_dir, lock_path, repository_lock


def test_the_lock_folder_is_created_private(fake, db_path):
    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    assert stat.S_IMODE(os.stat(lock_dir(db_path)).st_mode) == 0o700


def test_a_lock_file_planted_as_a_symlink_is_refused_and_its_target_left_intact(fake, db_path, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    lock_dir(db_path).mkdir(mode=0o700)
    lock_path(db_path, REPO).symlink_to(victim)
    result = invoke("track", REPO, *cli_flags(fake, db_path))
    assert result.exit_code == 1 and "symlink" in result.stderr and result.stderr.count("\n") == 1
    assert victim.read_text() == "precious"


def test_a_lock_file_hard_linked_to_another_file_is_refused_and_left_intact(fake, db_path, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    lock_dir(db_path).mkdir(mode=0o700)
    os.link(victim, lock_path(db_path, REPO))
    result = invoke("track", REPO, *cli_flags(fake, db_path))
    assert result.exit_code == 1 and "link" in result.stderr
    assert victim.read_text() == "precious"


def test_a_lock_folder_writable_by_others_is_refused(fake, db_path):
    lock_dir(db_path).mkdir()
    os.chmod(lock_dir(db_path), 0o777)
    result = invoke("track", REPO, *cli_flags(fake, db_path))
    assert result.exit_code == 1 and "writable by others" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can hand a folder to another user")
def test_a_lock_folder_of_another_user_is_refused(fake, db_path):
    lock_dir(db_path).mkdir(mode=0o700)
    os.chown(lock_dir(db_path), 65534, 65534)
    result = invoke("track", REPO, *cli_flags(fake, db_path))
    assert result.exit_code == 1 and "another user" in result.stderr


def test_a_lock_folder_that_is_a_symlink_is_refused(fake, db_path, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    lock_dir(db_path).symlink_to(elsewhere)
    result = invoke("track", REPO, *cli_flags(fake, db_path))
    assert result.exit_code == 1 and "not a folder" in result.stderr
    assert list(elsewhere.iterdir()) == []


def test_a_symlink_to_the_database_shares_its_locks(fake, db_path, tmp_path):
    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    link = tmp_path / "link-to.db"
    link.symlink_to(db_path)
    with repository_lock(db_path, REPO):
        result = invoke("sync", *cli_flags(fake, link))
    assert result.exit_code == 75 and f"process {os.getpid()}" in result.stderr


def test_another_spelling_of_the_database_path_shares_its_locks(fake, db_path, tmp_path, monkeypatch):
    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    monkeypatch.chdir(tmp_path)
    spelled = os.path.join(".", "sub", "..", db_path.name)
    (tmp_path / "sub").mkdir()
    with repository_lock(db_path, REPO):
        result = invoke("sync", *cli_flags(fake, spelled))
    assert result.exit_code == 75


def test_a_finished_sync_leaves_the_lock_free_for_the_next_one(fake, db_path):
    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    assert invoke("sync", *cli_flags(fake, db_path)).exit_code == 0
    assert repository_row(db_path)["sync_status"] == "complete"


def test_a_database_with_a_second_hard_link_is_refused_by_either_name(fake, db_path, tmp_path):
    # Each name would get its own write-ahead log and its own lock folder: two syncs of one repository at once.
    assert invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path)).exit_code == 0
    other = tmp_path / "other.db"
    os.link(db_path, other)
    for name in (db_path, other):
        result = invoke("sync", *cli_flags(fake, name))
        assert result.exit_code == 1 and "has 2 hard links" in result.stderr and result.stderr.count("\n") == 1
    other.unlink()
    assert invoke("sync", *cli_flags(fake, db_path)).exit_code == 0
