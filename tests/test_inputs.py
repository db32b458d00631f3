"""Inputs that could never work are refused up front as bad usage (exit 2), before anything is stored."""

from __future__ import annotations

from ghsync_testing import REPO, cli_flags, invoke


def test_a_threshold_above_the_buckets_limit_is_refused(fake, db_path):
    result = invoke("track", REPO, "--min-remaining", "10000", *cli_flags(fake, db_path))
    assert result.exit_code == 2 and "above the GraphQL budget's limit (5000" in result.stderr


def test_a_threshold_above_the_limit_is_refused_with_wait_too_instead_of_sleeping_forever(fake, db_path):
    assert invoke("track", REPO, *cli_flags(fake, db_path)).exit_code == 0
    result = invoke("sync", "--wait", "--min-remaining", "10000", *cli_flags(fake, db_path))
    assert result.exit_code == 2 and "--min-remaining 10000" in result.stderr


def test_a_notify_address_with_a_line_break_is_refused_and_nothing_is_stored(fake, db_path):
    result = invoke("track", REPO, "--notify", "lead@example.com\r\nBcc: spy@example.net", *cli_flags(fake, db_path))
    assert result.exit_code == 2 and "--notify" in result.stderr and result.stderr.count("\n") == 1
    assert not db_path.exists()


def test_a_notify_value_that_is_not_an_address_is_refused(fake, db_path):
    result = invoke("track", REPO, "--notify", "not-an-address", *cli_flags(fake, db_path))
    assert result.exit_code == 2 and "not-an-address" in result.stderr
