"""Input checks: repository slugs and --days."""

import pytest

from ghsync.errors import UsageError
from ghsync.validate import parse_days, parse_repository_slug


@pytest.mark.parametrize("slug", ["octocat/hello-world", "a/b", "my-org/repo.name_1", "A1/.github"])
def test_valid_slugs_are_accepted(slug):
    assert parse_repository_slug(slug) == slug


@pytest.mark.parametrize("slug", ["foo", "a/b/c", "../x", "/x", "x/", "-a/b", "a--/b", "a/..", "a/b c", ""])
def test_malformed_slugs_are_refused(slug):
    with pytest.raises(UsageError):
        parse_repository_slug(slug)


@pytest.mark.parametrize("value,expected", [("30", 30), ("60", 60), ("90", 90), ("7", 7), ("all", None), ("ALL", None)])
def test_days_accepts_numbers_and_all(value, expected):
    assert parse_days(value) == expected


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1.5", "", "99999999"])
def test_days_refuses_non_positive_and_non_numbers(value):
    with pytest.raises(UsageError, match="--days"):
        parse_days(value)
