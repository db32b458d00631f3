"""`ghsync metrics`: stored after every sync, shown as table, CSV, JSON and chart."""

from __future__ import annotations

import csv
import io
import json

import pytest
from ghsync_testing import REPO, TOKEN, cli_flags, database, invoke

from ghsync.cli.metrics_render import metric_columns


def tracked(fake, db_path):
    result = invoke("track", REPO, "--days", "all", *cli_flags(fake, db_path))
    assert result.exit_code == 0, result.stderr
    return db_path


def test_a_completed_sync_stores_weekly_metrics(fake, db_path):
    db = database(tracked(fake, db_path))
    assert db["weekly_metrics"].count > 50


def test_json_has_exactly_the_documented_fields(fake, db_path):
    rows = json.loads(invoke("metrics", REPO, "--db", tracked(fake, db_path), "--format", "json").stdout)
    assert len(rows) == 12
    assert list(rows[0]) == list(metric_columns())


def test_csv_has_a_header_and_one_row_per_week(fake, db_path):
    text = invoke("metrics", REPO, "--db", tracked(fake, db_path), "--format", "csv", "--weeks", "4").stdout
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(metric_columns()) and len(rows) == 5


def test_table_and_chart_render(fake, db_path):
    result = invoke("metrics", REPO, "--db", tracked(fake, db_path), "--chart")
    assert result.exit_code == 0 and "weekly metrics" in result.stdout


def test_by_author_breaks_rows_down_per_author(fake, db_path):
    rows = json.loads(
        invoke(
            "metrics", REPO, "--db", tracked(fake, db_path), "--by", "author", "--format", "json", "--weeks", "52"
        ).stdout
    )
    assert rows and "author" in rows[0]


def test_metrics_are_refreshed_after_an_incremental_sync_changes_a_pr(fake, db_path):
    tracked(fake, db_path)
    before = json.loads(invoke("metrics", REPO, "--db", db_path, "--format", "json", "--weeks", "1").stdout)
    opened_before = before[-1]["prs_opened"] if before else 0
    fake.add_pull_request(REPO, title="brand new", author="newcomer")
    assert invoke("sync", "--db", db_path, "--api-url", fake.url, "--token", TOKEN).exit_code == 0
    after = json.loads(invoke("metrics", REPO, "--db", db_path, "--format", "json", "--weeks", "1").stdout)
    assert after[-1]["prs_opened"] == opened_before + 1


def test_bad_format_and_bad_dates_are_usage_errors(fake, db_path):
    tracked(fake, db_path)
    assert invoke("metrics", REPO, "--db", db_path, "--format", "xml").exit_code == 2
    assert invoke("metrics", REPO, "--db", db_path, "--since", "yesterday").exit_code == 2


def test_metrics_of_an_untracked_repository_is_a_usage_error(fake, db_path):
    tracked(fake, db_path)
    result = invoke("metrics", "someone/else", "--db", db_path)
    assert result.exit_code == 2 and "not tracked" in result.stderr


def test_json_flag_is_the_same_as_format_json(fake, db_path):
    tracked(fake, db_path)
    shorthand = invoke("metrics", REPO, "--db", db_path, "--json")
    assert shorthand.exit_code == 0
    assert shorthand.stdout == invoke("metrics", REPO, "--db", db_path, "--format", "json").stdout


def test_json_flag_with_another_format_is_a_usage_error(fake, db_path):
    result = invoke("metrics", REPO, "--db", tracked(fake, db_path), "--json", "--format", "csv")
    assert result.exit_code == 2 and "--json means --format json" in result.stderr


@pytest.mark.parametrize("option, value", [("--format", "xml"), ("--by", "reviewer")])
def test_a_choice_outside_the_list_is_refused_naming_the_choices(option, value, fake, db_path):
    result = invoke("metrics", REPO, "--db", tracked(fake, db_path), option, value)
    assert result.exit_code == 2 and value in result.stderr


def test_help_lists_the_format_and_breakdown_choices():
    text = invoke("metrics", "--help", env={"COLUMNS": "120"}).stdout
    assert "table|csv|json" in text and "--by [author]" in text


def test_help_explains_every_column_from_the_metrics_registry():
    from ghsync.metrics import METRICS

    text = " ".join(invoke("metrics", "--help", env={"COLUMNS": "200"}).stdout.split())
    for metric in METRICS:
        assert metric.definition in text


def test_an_absurd_number_of_weeks_is_a_usage_error(fake, db_path):
    result = invoke("metrics", REPO, "--db", tracked(fake, db_path), "--weeks", "100000000")
    assert result.exit_code == 2 and "unexpected" not in result.stderr
