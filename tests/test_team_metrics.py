"""Issue #12 end to end: covered weeks only, several repositories pooled, teams, no bots — through the
fake GitHub on loopback, real SQLite files and the command line. Expected values are computed by hand
from PRs placed at known times relative to the current week."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from ghsync_testing import FakeGitHub, cli_flags, database, invoke, repository_row

from ghsync.fakegithub import FakePullRequest, FakeRepository, FakeReview, FakeTeam

NOW = datetime.now(UTC)
THIS_MONDAY = (NOW - timedelta(days=NOW.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def week(weeks_ago: int) -> str:
    """The label (Monday) of the week `weeks_ago` weeks before the current one."""
    return (THIS_MONDAY - timedelta(weeks=weeks_ago)).date().isoformat()


def at(weeks_ago: int, hours: float = 36.0) -> datetime:
    """`hours` after the Monday of that week (default: Tuesday noon)."""
    return THIS_MONDAY - timedelta(weeks=weeks_ago) + timedelta(hours=hours)


_numbers: dict[str, int] = {}


def pull(
    repo: str,
    author: str | None,
    created: datetime,
    *,
    merged: datetime | None = None,
    reviews: tuple[FakeReview, ...] = (),
    bot: bool = False,
    first_commit: datetime | None = None,
    updated: datetime | None = None,
) -> FakePullRequest:
    number = _numbers[repo] = _numbers.get(repo, 0) + 1
    times = [created, *(t for t in (merged, updated) if t is not None)]
    return FakePullRequest(
        number=number, title=f"PR {number}", state="MERGED" if merged else "OPEN", is_draft=False,
        author=author, author_is_bot=bot, created_at=iso(created), updated_at=iso(max(times)),
        closed_at=iso(merged) if merged else None, merged_at=iso(merged) if merged else None,
        merged_by=author if merged else None, additions=10, deletions=5, changed_files=1, commits=1,
        base_ref="main", head_ref=f"topic-{number}", reviews=list(reviews),
        first_commit_at=iso(first_commit) if first_commit else None,
    )  # fmt: skip


def review(author: str | None, submitted: datetime, *, bot: bool = False, state: str = "APPROVED") -> FakeReview:
    return FakeReview(author, state, iso(submitted), bot)


def repository(full_name: str, prs: list[FakePullRequest]) -> FakeRepository:
    owner, name = full_name.split("/")
    return FakeRepository(owner, name, prs)


def track(fake: FakeGitHub, db_path, full_name: str, days: str = "all"):
    result = invoke("track", full_name, "--days", days, *cli_flags(fake, db_path))
    assert result.exit_code == 0, result.stderr
    return result


def metrics(db_path, *args: str, env: dict[str, str] | None = None):
    result = invoke("metrics", *args, "--db", db_path, "--json", env=env)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def row_of(rows: list[dict], week_label: str, **keys: str) -> dict:
    (found,) = [r for r in rows if r["week"] == week_label and all(r.get(k) == v for k, v in keys.items())]
    return found


# --- 1. only weeks the data really covers -------------------------------------------------------


@pytest.fixture
def ten_weeks():
    """One PR opened and merged (2 h later) in each of the last 10 weeks, plus an old PR opened 8 weeks
    ago and merged last week: a 30-day window brings it in, so week 8 would look like 1 opened, 0 merged."""
    prs = [pull("acme/rockets", "alice", at(n), merged=at(n, 38)) for n in range(10, 0, -1)]
    prs.append(pull("acme/rockets", "bob", at(8, 40), merged=at(1, 50)))
    return repository("acme/rockets", prs)


def test_a_30_day_sync_records_coverage_start_as_the_start_of_its_window(ten_weeks, db_path):
    with FakeGitHub([ten_weeks]) as fake:
        track(fake, db_path, "acme/rockets", days="30")
    row = repository_row(db_path, "acme/rockets")
    started = datetime.fromisoformat(row["sync_started_at"])
    coverage = datetime.fromisoformat(row["coverage_start"])
    assert abs((started - timedelta(days=30) - coverage).total_seconds()) < 5
    (status,) = json.loads(invoke("status", "--db", db_path, "--json").stdout)
    assert status["coverage_start"] == row["coverage_start"]


def test_metrics_after_a_30_day_sync_show_only_weeks_starting_after_coverage_and_say_how_to_widen(ten_weeks, db_path):
    with FakeGitHub([ten_weeks]) as fake:
        track(fake, db_path, "acme/rockets", days="30")
    coverage = repository_row(db_path, "acme/rockets")["coverage_start"]
    rows, stderr = metrics(db_path, "acme/rockets")
    first_covered = next(n for n in range(10, -1, -1) if f"{week(n)}T00:00:00Z" >= coverage)
    assert [r["week"] for r in rows] == [week(n) for n in range(first_covered, -1, -1)]
    assert "left out" in stderr and "ghsync track acme/rockets --days " in stderr
    # the full history of last week: its own PR and the old one merged in it
    assert (row_of(rows, week(1))["prs_opened"], row_of(rows, week(1))["prs_merged"]) == (1, 2)


def test_the_widening_hint_for_since_on_a_weekday_covers_that_whole_week(ten_weeks, db_path):
    import re

    with FakeGitHub([ten_weeks]) as fake:
        track(fake, db_path, "acme/rockets", days="10")
        thursday = (THIS_MONDAY - timedelta(weeks=4) + timedelta(days=3)).date()
        _, stderr = metrics(db_path, "acme/rockets", "--since", thursday.isoformat())
        days = int(re.search(r"ghsync track acme/rockets --days (\d+)", stderr).group(1))
        # Following the hint covers the Monday of --since's week: the same metrics then leave nothing out.
        track(fake, db_path, "acme/rockets", days=str(days))
    _, after = metrics(db_path, "acme/rockets", "--since", thursday.isoformat())
    assert "left out" not in after


def test_the_week_in_progress_is_complete_false_and_every_earlier_week_true(ten_weeks, db_path):
    with FakeGitHub([ten_weeks]) as fake:
        track(fake, db_path, "acme/rockets")
    rows, _ = metrics(db_path, "acme/rockets")
    assert rows[-1]["week"] == week(0) and rows[-1]["complete"] is False
    assert all(r["complete"] is True for r in rows[:-1])
    table = invoke("metrics", "acme/rockets", "--db", db_path).stdout
    assert "(so far)" in table


def _last_synced(db_path, full_name: str, moment: datetime) -> None:
    db = database(db_path)
    db.execute("UPDATE repositories SET last_synced_at = ? WHERE full_name = ?", [iso(moment), full_name])
    db.conn.commit()


def test_weeks_that_ended_after_the_last_sync_are_not_complete_and_the_note_says_whose(ten_weeks, db_path):
    with FakeGitHub([ten_weeks]) as fake:
        track(fake, db_path, "acme/rockets")
    # Last synced on the Wednesday three weeks ago: that week and the two after it can still grow.
    _last_synced(db_path, "acme/rockets", at(3, 60))
    rows, stderr = metrics(db_path, "acme/rockets")
    assert [r["week"] for r in rows if not r["complete"]] == [week(3), week(2), week(1), week(0)]
    assert row_of(rows, week(4))["complete"] is True
    assert f"3 past weeks ended after acme/rockets was last synced ({iso(at(3, 60))})" in stderr


def test_a_sync_at_the_monday_midnight_that_ends_a_week_completes_it(ten_weeks, db_path):
    with FakeGitHub([ten_weeks]) as fake:
        track(fake, db_path, "acme/rockets")
    _last_synced(db_path, "acme/rockets", THIS_MONDAY)
    rows, stderr = metrics(db_path, "acme/rockets")
    assert [r["week"] for r in rows if not r["complete"]] == [week(0)]
    assert "last synced" not in stderr


def test_the_stalest_repository_of_several_bounds_the_complete_weeks(tracked_three):
    _last_synced(tracked_three, "octo-org/web", at(1, 60))
    rows, stderr = metrics(tracked_three, "--owner", "octo-org")
    assert row_of(rows, week(1))["complete"] is False and row_of(rows, week(2))["complete"] is True
    assert "1 past week ended after octo-org/web was last synced" in stderr


def test_with_the_whole_history_coverage_starts_at_the_oldest_prs_creation(ten_weeks, db_path):
    with FakeGitHub([ten_weeks]) as fake:
        track(fake, db_path, "acme/rockets")
    assert repository_row(db_path, "acme/rockets")["coverage_start"] == iso(at(10))
    rows, stderr = metrics(db_path, "acme/rockets", "--weeks", "10")
    assert [r["week"] for r in rows] == [week(n) for n in range(9, -1, -1)] and "left out" not in stderr


def test_widening_the_window_moves_coverage_back_once_the_wider_sync_completes(ten_weeks, db_path):
    with FakeGitHub([ten_weeks]) as fake:
        track(fake, db_path, "acme/rockets", days="30")
        narrow = repository_row(db_path, "acme/rockets")["coverage_start"]
        track(fake, db_path, "acme/rockets", days="all")
    assert repository_row(db_path, "acme/rockets")["coverage_start"] == iso(at(10)) < narrow


def test_several_repositories_are_covered_from_the_latest_of_their_coverage_starts(ten_weeks, db_path):
    # acme/other keeps a PR from 40 weeks ago outside its 20-day window: its stored PRs are not its whole history.
    other = repository("acme/other", [pull("acme/other", "carol", at(n)) for n in (40, 1)])
    with FakeGitHub([ten_weeks, other]) as fake:
        track(fake, db_path, "acme/rockets")
        track(fake, db_path, "acme/other", days="20")
    coverage = repository_row(db_path, "acme/other")["coverage_start"]
    rows, stderr = metrics(db_path)
    first_covered = next(n for n in range(10, -1, -1) if f"{week(n)}T00:00:00Z" >= coverage)
    assert rows[0]["week"] == week(first_covered)  # acme/other's window starts mid-week: that week is partial
    assert "left out" in stderr and "acme/other" in stderr


def test_a_repository_synced_with_its_whole_history_leaves_no_week_out(ten_weeks, db_path):
    # acme/other's only PR is from week 3, but with its whole history stored no PR of it can be missing
    # from an earlier week: the pooled weeks start at acme/rockets' first, week 10.
    other = repository("acme/other", [pull("acme/other", "carol", at(3))])
    with FakeGitHub([ten_weeks, other]) as fake:
        track(fake, db_path, "acme/rockets")
        track(fake, db_path, "acme/other")
    rows, stderr = metrics(db_path)
    assert rows[0]["week"] == week(10) and "left out" not in stderr


def test_the_week_of_the_oldest_pr_is_shown_when_the_whole_history_is_stored(ten_weeks, db_path):
    with FakeGitHub([ten_weeks]) as fake:
        track(fake, db_path, "acme/rockets")
    rows, stderr = metrics(db_path, "acme/rockets", "--weeks", "11")
    assert row_of(rows, week(10))["prs_opened"] == 1 and "left out" not in stderr


# --- 2. across repositories and for teams -------------------------------------------------------


@pytest.fixture
def two_repositories():
    """Last week: api has alice's PR merged after 10 h; web has bob's (20 h) and carol's (60 h),
    carol's reviewed by alice. Each repository's history starts with an open PR by dave 6 weeks ago."""
    api = repository(
        "octo-org/api", [pull("octo-org/api", "dave", at(6)), pull("octo-org/api", "alice", at(1), merged=at(1, 46))]
    )
    web = repository(
        "octo-org/web",
        [
            pull("octo-org/web", "dave", at(6)),
            pull("octo-org/web", "bob", at(1), merged=at(1, 56)),
            pull("octo-org/web", "carol", at(1), merged=at(1, 96), reviews=(review("alice", at(1, 40)),)),
        ],
    )
    elsewhere = repository(
        "someone/else", [pull("someone/else", "dave", at(6)), pull("someone/else", "erin", at(1), merged=at(1, 37))]
    )
    return [api, web, elsewhere]


@pytest.fixture
def tracked_three(two_repositories, db_path):
    with FakeGitHub(two_repositories) as fake:
        for repo in two_repositories:
            track(fake, db_path, repo.full_name)
    return db_path


def test_several_repositories_pool_their_prs_for_percentiles_and_sum_counts(tracked_three):
    rows, _ = metrics(tracked_three, "octo-org/api", "octo-org/web")
    last = row_of(rows, week(1))
    assert last["prs_merged"] == 3 and last["prs_opened"] == 3
    assert last["cycle_time_p50_hours"] == 20.0  # pooled [10, 20, 60]; a median of medians would be 25
    assert last["authors_active"] == 3 and last["reviewers_active"] == 1


def test_metrics_without_a_repository_cover_every_tracked_one_and_owner_narrows_them(tracked_three):
    everything, _ = metrics(tracked_three)
    assert row_of(everything, week(1))["prs_merged"] == 4
    octo, _ = metrics(tracked_three, "--owner", "octo-org")
    assert row_of(octo, week(1))["prs_merged"] == 3


def test_by_repo_gives_one_row_per_repository_and_week(tracked_three):
    rows, _ = metrics(tracked_three, "--owner", "octo-org", "--by", "repo")
    last = [(r["repository"], r["prs_merged"], r["cycle_time_p50_hours"]) for r in rows if r["week"] == week(1)]
    assert last == [("octo-org/api", 1, 10.0), ("octo-org/web", 2, 40.0)]


def test_by_repo_and_by_team_show_quiet_weeks_with_zero_counts_as_the_pooled_view_does(tracked_three, tmp_path):
    # The week in progress is quiet in this data: every repository and every team still has its row.
    env = _config(tmp_path, '[teams.backend]\nmembers = ["alice", "bob"]\n[teams.docs]\nmembers = ["nobody"]\n')
    by_repo, _ = metrics(tracked_three, "--owner", "octo-org", "--by", "repo", "--weeks", "2")
    quiet = [(r["repository"], r["prs_merged"], r["complete"]) for r in by_repo if r["week"] == week(0)]
    assert quiet == [("octo-org/api", 0, False), ("octo-org/web", 0, False)]
    by_team, _ = metrics(tracked_three, "--owner", "octo-org", "--by", "team", "--weeks", "2", env=env)
    assert [(r["week"], r["team"], r["prs_merged"]) for r in by_team] == [
        (week(1), "backend", 2),
        (week(1), "docs", 0),
        (week(0), "backend", 0),
        (week(0), "docs", 0),
    ]
    # Authors come and go: only those active in a week have its row.
    by_author, _ = metrics(tracked_three, "--owner", "octo-org", "--by", "author", "--weeks", "2")
    assert by_author and all(r["week"] == week(1) for r in by_author)


def test_since_on_a_day_other_than_monday_counts_that_whole_week(tracked_three):
    # The week shown is the one containing --since: its PRs of Monday to Wednesday count as well.
    thursday = (THIS_MONDAY - timedelta(weeks=1) + timedelta(days=3)).date().isoformat()
    default, _ = metrics(tracked_three)
    since, _ = metrics(tracked_three, "--since", thursday)
    assert row_of(since, week(1)) == row_of(default, week(1))
    assert row_of(since, week(1))["prs_merged"] > 0


def _config(tmp_path, text: str) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return {"GHSYNC_CONFIG": str(path)}


def test_a_config_team_counts_its_members_prs_in_its_repositories_and_the_reviews_on_them(tracked_three, tmp_path):
    env = _config(
        tmp_path, '[teams.platform]\nmembers = ["alice", "carol", "erin"]\nrepos = ["octo-org/api", "octo-org/web"]\n'
    )
    rows, _ = metrics(tracked_three, "--team", "platform", env=env)
    last = row_of(rows, week(1))
    # alice's (10 h) and carol's (60 h) PRs; erin's is in a repository the team does not cover
    assert (last["prs_merged"], last["cycle_time_p50_hours"], last["authors_active"]) == (2, 35.0, 2)
    assert (last["reviews_submitted"], last["reviewers_active"]) == (1, 1)


def test_a_config_team_without_repos_covers_every_tracked_repository(tracked_three, tmp_path):
    env = _config(tmp_path, '[teams.people]\nmembers = ["alice", "erin"]\n')
    rows, _ = metrics(tracked_three, "--team", "people", env=env)
    assert row_of(rows, week(1))["prs_merged"] == 2


def test_an_untracked_repository_a_team_names_is_left_out_and_said_to_be(tracked_three, tmp_path):
    env = _config(
        tmp_path, '[teams.platform]\nmembers = ["alice", "bob", "carol"]\nrepos = ["octo-org/api", "octo-org/web"]\n'
    )
    assert invoke("untrack", "octo-org/web", "--db", tracked_three).exit_code == 0
    rows, stderr = metrics(tracked_three, "--team", "platform", env=env)
    assert row_of(rows, week(1))["prs_merged"] == 1  # api's only
    assert "octo-org/web is untracked" in stderr and "`ghsync track octo-org/web` counts it again" in stderr
    digest = invoke("digest", "--team", "platform", "--dry-run", "--db", tracked_three, env=env)
    assert digest.exit_code == 0, digest.stderr
    assert "! octo-org/web is untracked" in digest.stdout


def test_a_team_whose_every_repository_is_untracked_is_a_usage_error_saying_so(tracked_three, tmp_path):
    env = _config(tmp_path, '[teams.web]\nmembers = ["bob"]\nrepos = ["octo-org/web"]\n')
    assert invoke("untrack", "octo-org/web", "--db", tracked_three).exit_code == 0
    result = invoke("metrics", "--team", "web", "--db", tracked_three, env=env)
    assert result.exit_code == 2
    assert "every repository it names is untracked (octo-org/web)" in result.stderr


def test_by_team_counts_a_pr_of_an_author_in_two_teams_in_both_rows(tracked_three, tmp_path):
    env = _config(
        tmp_path,
        '[teams.backend]\nmembers = ["alice", "bob"]\n[teams.frontend]\nmembers = ["alice", "carol"]\n',
    )
    rows, _ = metrics(tracked_three, "--owner", "octo-org", "--by", "team", env=env)
    last = {r["team"]: r["prs_merged"] for r in rows if r["week"] == week(1)}
    assert last == {"backend": 2, "frontend": 2}
    total, _ = metrics(tracked_three, "--owner", "octo-org", env=env)
    assert row_of(total, week(1))["prs_merged"] == 3


def test_an_unknown_team_is_a_usage_error_naming_the_known_ones(tracked_three, tmp_path):
    env = _config(tmp_path, '[teams.platform]\nmembers = ["alice"]\n')
    result = invoke("metrics", "--db", tracked_three, "--team", "nope", env=env)
    assert result.exit_code == 2 and "nope" in result.stderr and "platform" in result.stderr


@pytest.fixture
def org_with_team(two_repositories):
    members = ["alice", "carol", *(f"member-{n:03d}" for n in range(120))]
    return two_repositories, FakeTeam("octo-org", "platform-team", members, "Platform")


def test_team_import_reads_every_member_page_and_stores_the_team(org_with_team, db_path):
    repos, team = org_with_team
    with FakeGitHub(repos, teams=[team]) as fake:
        track(fake, db_path, "octo-org/api")
        fake.reset_stats()
        result = invoke("team", "import", "octo-org/platform-team", "--as", "platform", *cli_flags(fake, db_path))
        assert result.exit_code == 0, result.stderr
        assert fake.stats["graphql_points"] == 2  # 122 members: two pages of 100, one point each
    listed = json.loads(invoke("team", "list", "--db", db_path, "--json").stdout)
    assert [(t["name"], t["source"], len(t["members"])) for t in listed] == [
        ("platform", "github octo-org/platform-team", 122)
    ]


def test_metrics_of_an_imported_team_count_its_members_prs(org_with_team, db_path):
    repos, team = org_with_team
    with FakeGitHub(repos, teams=[team]) as fake:
        for repo in repos:
            track(fake, db_path, repo.full_name)
        assert invoke("team", "import", "octo-org/platform-team", *cli_flags(fake, db_path)).exit_code == 0
    rows, _ = metrics(db_path, "--team", "platform-team")
    last = row_of(rows, week(1))
    assert (last["prs_merged"], last["cycle_time_p50_hours"]) == (2, 35.0)  # alice 10 h, carol 60 h


def test_importing_a_team_again_refreshes_its_members(org_with_team, db_path):
    repos, team = org_with_team
    with FakeGitHub(repos, teams=[team]) as fake:
        assert invoke("team", "import", "octo-org/platform-team", *cli_flags(fake, db_path)).exit_code == 0
        fake.add_team(FakeTeam("octo-org", "platform-team", ["bob"]))
        assert invoke("team", "import", "octo-org/platform-team", *cli_flags(fake, db_path)).exit_code == 0
    listed = json.loads(invoke("team", "list", "--db", db_path, "--json").stdout)
    assert [t["members"] for t in listed] == [["bob"]]


def test_importing_another_organizations_team_under_a_taken_name_is_refused_before_any_request(org_with_team, db_path):
    repos, team = org_with_team
    with FakeGitHub(repos, teams=[team, FakeTeam("other-org", "platform-team", ["mallory"])]) as fake:
        assert invoke("team", "import", "octo-org/platform-team", *cli_flags(fake, db_path)).exit_code == 0
        fake.reset_stats()
        result = invoke("team", "import", "other-org/platform-team", *cli_flags(fake, db_path))
        assert fake.stats["graphql_points"] == 0
    assert result.exit_code == 2
    assert "already imported from octo-org/platform-team" in result.stderr and "--as" in result.stderr
    listed = json.loads(invoke("team", "list", "--db", db_path, "--json").stdout)
    assert [t["source"] for t in listed] == ["github octo-org/platform-team"]


def test_team_import_into_a_database_that_cannot_be_created_asks_github_nothing(org_with_team, tmp_path):
    repos, team = org_with_team
    with FakeGitHub(repos, teams=[team]) as fake:
        result = invoke("team", "import", "octo-org/platform-team", *cli_flags(fake, tmp_path / "no" / "dir" / "x.db"))
        assert fake.stats["graphql_requests"] == 0
    assert result.exit_code == 1 and "does not exist" in result.stderr


def test_team_remove_forgets_an_imported_team(org_with_team, db_path):
    repos, team = org_with_team
    with FakeGitHub(repos, teams=[team]) as fake:
        assert invoke("team", "import", "octo-org/platform-team", *cli_flags(fake, db_path)).exit_code == 0
    assert invoke("team", "remove", "platform-team", "--db", db_path, "--quiet").stderr == ""
    assert json.loads(invoke("team", "list", "--db", db_path, "--json").stdout) == []
    again = invoke("team", "remove", "platform-team", "--db", db_path, "--quiet")
    assert again.exit_code == 2 and "no imported team named 'platform-team'" in again.stderr


def test_team_remove_of_a_config_team_says_where_to_remove_it(db_path, tmp_path):
    env = _config(tmp_path, '[teams.platform]\nmembers = ["alice"]\n')
    result = invoke("team", "remove", "platform", "--db", db_path, env=env)
    assert result.exit_code == 2 and "config file" in result.stderr and "remove its table there" in result.stderr


def test_importing_a_team_of_an_unknown_organization_says_what_github_said(org_with_team, db_path):
    repos, team = org_with_team
    with FakeGitHub(repos, teams=[team]) as fake:
        result = invoke("team", "import", "nobody-org/platform-team", *cli_flags(fake, db_path))
    assert result.exit_code == 1
    assert "Could not resolve to an Organization with the login of 'nobody-org'" in result.stderr


def test_importing_an_unknown_team_of_a_known_organization_is_an_error_naming_it(org_with_team, db_path):
    repos, team = org_with_team
    with FakeGitHub(repos, teams=[team]) as fake:
        result = invoke("team", "import", "octo-org/ghosts", *cli_flags(fake, db_path))
    assert result.exit_code == 1 and "octo-org/ghosts" in result.stderr and "no team" in result.stderr


def test_a_config_team_and_an_imported_team_of_the_same_name_is_an_error_naming_both(org_with_team, db_path, tmp_path):
    repos, team = org_with_team
    with FakeGitHub(repos, teams=[team]) as fake:
        assert (
            invoke("team", "import", "octo-org/platform-team", "--as", "platform", *cli_flags(fake, db_path)).exit_code
            == 0
        )
        assert invoke("track", "octo-org/api", "--days", "all", *cli_flags(fake, db_path)).exit_code == 0
    env = _config(tmp_path, '[teams.platform]\nmembers = ["alice"]\n[teams.web]\nmembers = ["bob"]\n')
    result = invoke("metrics", "--team", "platform", "--db", db_path, env=env)
    assert result.exit_code == 2
    assert "config file" in result.stderr and "octo-org/platform-team" in result.stderr
    assert invoke("metrics", "--by", "team", "--db", db_path, env=env).exit_code == 2  # counts by every team
    # Another team is not held up by the clash: its metrics and its Monday digest go on.
    assert invoke("metrics", "--team", "web", "--db", db_path, env=env).exit_code == 0
    digest = invoke("digest", "--team", "web", "--dry-run", "--db", db_path, env=env)
    assert digest.exit_code == 0, digest.stderr
    # Only where a team is used: listing shows both, and metrics without a team are not held up by it.
    listed = invoke("team", "list", "--json", "--db", db_path, env=env)
    assert listed.exit_code == 0 and [t["name"] for t in json.loads(listed.stdout)] == ["platform", "platform", "web"]
    assert invoke("metrics", "--db", db_path, "--json", env=env).exit_code == 0


def test_team_list_shows_every_team_where_it_comes_from_and_its_members(org_with_team, db_path, tmp_path):
    repos, _team = org_with_team
    with FakeGitHub(repos, teams=[FakeTeam("octo-org", "web", ["bob", "dave"])]) as fake:
        assert invoke("team", "import", "octo-org/web", *cli_flags(fake, db_path)).exit_code == 0
    env = _config(tmp_path, '[teams.platform]\nmembers = ["alice"]\nrepos = ["octo-org/api"]\n')
    text = " ".join(invoke("team", "list", "--db", db_path, env=env).stdout.split())
    assert "platform config alice octo-org/api" in text
    assert "web github octo-org/web bob, dave every tracked repository" in text


# --- 3. people, not bots --------------------------------------------------------------------------


@pytest.fixture
def with_bots():
    """Since 6 weeks ago; last week: alice's PR (merged, reviewed by bob and by a review bot); dependabot's PR (a Bot,
    merged, reviewed by carol); "release-drafter[bot]" typed as a User (an app acting through a
    user account) opening a PR; bob's PR (a person whose login ends in b-o-b)."""
    prs = [
        pull("acme/rockets", "dave", at(6)),  # where the history starts
        pull("acme/rockets", "alice", at(1), merged=at(1, 40), reviews=(
            review("bob", at(1, 37)), review("coderabbitai", at(1, 37), bot=True, state="COMMENTED"))),
        pull("acme/rockets", "dependabot", at(1), merged=at(1, 48), bot=True, reviews=(review("carol", at(1, 39)),)),
        pull("acme/rockets", "release-drafter[bot]", at(1)),
        pull("acme/rockets", "bob", at(1)),
    ]  # fmt: skip
    return repository("acme/rockets", prs)


def test_author_and_reviewer_kinds_are_stored_from_graphql_typename(with_bots, db_path):
    with FakeGitHub([with_bots]) as fake:
        track(fake, db_path, "acme/rockets")
    db = database(db_path)
    assert dict(db.execute("SELECT author, author_type FROM pull_requests").fetchall()) == {
        "dave": "User", "alice": "User", "dependabot": "Bot", "release-drafter[bot]": "User", "bob": "User",
    }  # fmt: skip
    assert dict(db.execute("SELECT author, author_type FROM reviews").fetchall()) == {
        "bob": "User", "coderabbitai": "Bot", "carol": "User",
    }  # fmt: skip


def test_metrics_leave_out_bots_prs_with_their_reviews_and_bots_reviews(with_bots, db_path):
    with FakeGitHub([with_bots]) as fake:
        track(fake, db_path, "acme/rockets")
    last = row_of(metrics(db_path, "acme/rockets")[0], week(1))
    # alice's and bob's PRs; dependabot's (Bot) and release-drafter[bot]'s (pattern) are left out
    assert (last["prs_opened"], last["prs_merged"], last["authors_active"]) == (2, 1, 2)
    # bob's review on alice's PR only: carol's is on a bot's PR, coderabbitai is a Bot
    assert (last["reviews_submitted"], last["reviewers_active"], last["review_top_share"]) == (1, 1, 1.0)


def test_include_bots_counts_them_like_people(with_bots, db_path):
    with FakeGitHub([with_bots]) as fake:
        track(fake, db_path, "acme/rockets")
    last = row_of(metrics(db_path, "acme/rockets", "--include-bots")[0], week(1))
    assert (last["prs_opened"], last["prs_merged"], last["authors_active"]) == (4, 2, 4)
    assert (last["reviews_submitted"], last["reviewers_active"]) == (3, 3)


def test_exclude_authors_in_the_config_replaces_the_default_patterns(with_bots, db_path, tmp_path):
    with FakeGitHub([with_bots]) as fake:
        track(fake, db_path, "acme/rockets")
    env = _config(tmp_path, 'exclude_authors = ["BO?"]\n')
    last = row_of(metrics(db_path, "acme/rockets", env=env)[0], week(1))
    # dependabot is still a Bot by its type; bob now matches; release-drafter[bot] no longer does
    assert (last["prs_opened"], last["authors_active"]) == (2, 2)


def test_status_and_the_stored_prs_keep_the_bots(with_bots, db_path):
    with FakeGitHub([with_bots]) as fake:
        track(fake, db_path, "acme/rockets")
    (status,) = json.loads(invoke("status", "--db", db_path, "--json").stdout)
    assert status["prs_stored"] == 5


# --- 4. the new metrics through the sync -----------------------------------------------------------


def test_coding_time_comes_from_the_first_commit_github_reports(db_path):
    prs = [
        pull("acme/rockets", "dave", at(6)),  # where the history starts
        pull("acme/rockets", "alice", at(1, 40), first_commit=at(1, 30)),  # 10 h
        pull("acme/rockets", "bob", at(1, 40), first_commit=at(1, 44)),  # after the PR: 0 h
        pull("acme/rockets", "carol", at(1, 40), first_commit=at(1, 16)),  # 24 h
    ]
    with FakeGitHub([repository("acme/rockets", prs)]) as fake:
        track(fake, db_path, "acme/rockets")
    assert row_of(metrics(db_path, "acme/rockets")[0], week(1))["coding_time_p50_hours"] == 10.0


def test_merged_without_review_counts_through_the_sync(two_repositories, db_path):
    with FakeGitHub(two_repositories) as fake:
        track(fake, db_path, "octo-org/web")
    # bob's PR was merged unreviewed; carol's was reviewed by alice before the merge
    assert row_of(metrics(db_path, "octo-org/web")[0], week(1))["merged_without_review"] == 1


def test_a_full_sync_asks_for_the_first_commit_in_the_one_commits_field_at_one_point_a_page(fake, db_path):
    from ghsync_testing import GraphQLRequests

    requests = GraphQLRequests(fake)
    invoke("track", "acme/rockets", "--days", "all", *cli_flags(fake, db_path))
    (page, *_) = requests.pages
    assert page["query"].count("commits(") == 1 and "commits(first: 1)" in page["query"]
    assert all(entry["cost"] == 1 for entry in fake.request_log if "pullRequests(" in (entry.get("query") or ""))


def test_the_stored_weekly_table_is_refreshed_after_every_sync_with_the_new_columns(ten_weeks, db_path):
    with FakeGitHub([ten_weeks]) as fake:
        track(fake, db_path, "acme/rockets")
        fake.add_pull_request("acme/rockets", author="carol", state="MERGED")
        assert invoke("sync", *cli_flags(fake, db_path)).exit_code == 0
    stored = {r["week"]: r for r in database(db_path)["weekly_metrics"].rows}
    assert stored[week(0)]["prs_merged"] == 1 and stored[week(0)]["complete"] == 0
    assert stored[week(1)]["complete"] == 1 and stored[week(1)]["merged_without_review"] == 2
    assert stored[week(1)]["cycle_time_p90_hours"] is not None


def test_the_stored_weekly_table_holds_only_the_weeks_the_window_covers(ten_weeks, db_path):
    with FakeGitHub([ten_weeks]) as fake:
        track(fake, db_path, "acme/rockets", days="30")
    coverage = repository_row(db_path, "acme/rockets")["coverage_start"]
    stored = sorted(r["week"] for r in database(db_path)["weekly_metrics"].rows)
    shown, _ = metrics(db_path, "acme/rockets")
    assert stored == [r["week"] for r in shown]
    assert all(f"{label}T00:00:00Z" >= coverage for label in stored)


def test_a_sync_that_changes_nothing_still_refreshes_the_stored_weeks(ten_weeks, db_path):
    with FakeGitHub([ten_weeks]) as fake:
        track(fake, db_path, "acme/rockets")
        database(db_path).execute("DELETE FROM weekly_metrics")
        database(db_path).conn.commit()
        assert invoke("sync", *cli_flags(fake, db_path)).exit_code == 0
    assert database(db_path)["weekly_metrics"].count == 11


def test_the_last_weeks_read_only_recent_prs_yet_equal_the_same_weeks_computed_from_every_pr(fake, db_path):
    track(fake, db_path, "acme/rockets")
    recent, _ = metrics(db_path, "--weeks", "6")
    everything, _ = metrics(db_path, "--since", "2000-01-03")
    assert len(recent) == 6 and recent == everything[-6:]


def test_weeks_asked_before_a_windows_coverage_are_reported_even_without_partial_data(db_path):
    # The PR from 40 weeks ago is outside the window: the stored PRs are not the whole history.
    prs = [pull("acme/rockets", "alice", at(n)) for n in (40, 2, 1)]
    with FakeGitHub([repository("acme/rockets", prs)]) as fake:
        track(fake, db_path, "acme/rockets", days="30")
    coverage = repository_row(db_path, "acme/rockets")["coverage_start"]
    _rows, stderr = metrics(db_path, "acme/rockets", "--weeks", "12")
    before = sum(1 for n in range(11, -1, -1) if f"{week(n)}T00:00:00Z" < coverage)
    assert before >= 7 and f"{before} earlier weeks left out" in stderr
    assert "ghsync track acme/rockets --days " in stderr


def test_with_the_whole_history_no_week_is_left_out_and_no_widening_offered(db_path):
    prs = [pull("acme/rockets", "alice", at(n)) for n in (2, 1)]
    with FakeGitHub([repository("acme/rockets", prs)]) as fake:
        track(fake, db_path, "acme/rockets")
    rows, stderr = metrics(db_path, "acme/rockets", "--weeks", "12")
    assert [r["week"] for r in rows] == [week(2), week(1), week(0)]
    assert "left out" not in stderr and "--days" not in stderr


def test_a_window_that_brought_in_every_pr_counts_as_the_whole_history(db_path):
    # Every PR was updated inside the 30 days: the pass ran out of PRs, so none can be missing.
    prs = [pull("acme/rockets", "alice", at(n)) for n in (2, 1)]
    with FakeGitHub([repository("acme/rockets", prs)]) as fake:
        track(fake, db_path, "acme/rockets", days="30")
    rows, stderr = metrics(db_path, "acme/rockets", "--weeks", "12")
    assert [r["week"] for r in rows] == [week(2), week(1), week(0)] and "left out" not in stderr
