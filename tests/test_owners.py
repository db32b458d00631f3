"""Issue #13: tracking whole organisations (and users), remembered owners, untracked reasons, and the
cheap, batched sync of many repositories against the fake GitHub."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ghsync_testing import (
    TOKEN,
    FakeGitHub,
    GraphQLRequests,
    cli_flags,
    database,
    expected_records,
    generate_repository,
    invoke,
    repository_record,
    repository_row,
    stored_records,
)

from ghsync.store.lock import repository_lock

SYNC_SCRIPT = Path(__file__).with_name("sync_subprocess.py")
# PR counts of acme's ordinary repositories: small ones share requests, `big` needs several pages.
SIZES = {"api": 7, "web": 12, "docs": 0, "cli": 3, "infra": 19, "big": 120, "tools": 5, "sandbox-1": 2}


def acme_repositories() -> list:
    # Last updated minutes before any sync: a PR updated in the minute before a sync began is read again by
    # the next one (engine.rewrite_from), which tests of what "nothing changed" costs must not meet.
    now = datetime.now(UTC) - timedelta(minutes=5)
    repositories = [generate_repository(f"acme/{name}", count, seed=13, now=now) for name, count in SIZES.items()]
    archived = generate_repository("acme/old", 4, seed=13, now=now)
    archived.is_archived = True
    fork = generate_repository("acme/forked", 6, seed=13, now=now)
    fork.is_fork = True
    stranger = generate_repository("other/thing", 3, seed=13, now=now)
    return [*repositories, archived, fork, stranger]


@pytest.fixture(scope="module")
def acme_data():
    return acme_repositories()


@pytest.fixture
def org(acme_data):
    with FakeGitHub(copy.deepcopy(acme_data)) as server:
        yield server


def ghsync(org: FakeGitHub, db_path: Path, *args: object):
    return invoke(*args, *cli_flags(org, db_path))


def fake_repository(fake: FakeGitHub, full_name: str):
    return next(r for r in fake.repositories if r.full_name == full_name)


def tracked(db_path: Path) -> dict[str, str]:
    return {row["full_name"]: row["sync_status"] for row in database(db_path)["repositories"].rows}


def assert_exact(fake: FakeGitHub, db_path: Path, full_names) -> None:
    for full_name in full_names:
        assert stored_records(db_path, full_name) == expected_records(fake_repository(fake, full_name)), full_name


ORDINARY = sorted(f"acme/{name}" for name in SIZES)


def page_sized_pull_request(fake: FakeGitHub, full_name: str) -> int:
    """A PR whose reviews fit in its page: changing it needs no follow-up query. (The generated data
    depends on the second it is generated in, so which PR has 150 reviews varies.)"""
    return next(pr.number for pr in fake_repository(fake, full_name).pull_requests if len(pr.reviews) <= 100)


# --- tracking an owner --------------------------------------------------------------------------


def test_track_owner_stores_every_ordinary_repository_exactly(org, db_path):
    result = ghsync(org, db_path, "track", "acme", "--days", "all")
    assert result.exit_code == 0, result.stderr
    assert tracked(db_path) == {name: "complete" for name in ORDINARY}
    assert_exact(org, db_path, ORDINARY)


def test_track_owner_accepts_the_owner_slash_star_form(org, db_path):
    assert ghsync(org, db_path, "track", "acme/*", "--days", "all").exit_code == 0
    assert sorted(tracked(db_path)) == ORDINARY


def test_archived_repositories_and_forks_are_tracked_only_when_asked(org, db_path):
    result = ghsync(org, db_path, "track", "acme", "--days", "all", "--include-archived", "--include-forks")
    assert result.exit_code == 0, result.stderr
    assert sorted(tracked(db_path)) == sorted([*ORDINARY, "acme/old", "acme/forked"])
    assert_exact(org, db_path, ["acme/old", "acme/forked"])


def test_a_tracked_fork_left_out_by_a_later_listing_says_it_may_be_a_fork(org, db_path):
    assert ghsync(org, db_path, "track", "acme", "--include-forks", "--days", "all").exit_code == 0
    # Filters given again replace the remembered ones as a whole (`--match '*'`: every name, forks left out).
    assert ghsync(org, db_path, "track", "acme", "--match", "*").exit_code == 0
    row = repository_row(db_path, "acme/forked")
    assert row["sync_status"] == "untracked" and row["last_error"].endswith("or a fork)")


def test_tracking_a_remembered_owner_again_keeps_its_window_and_filters_unless_given(org, db_path):
    assert ghsync(org, db_path, "track", "acme", "--days", "all", "--exclude", "big").exit_code == 0
    again = ghsync(org, db_path, "track", "acme")
    assert again.exit_code == 0 and "window changed" not in again.stderr and "filters changed" not in again.stderr
    assert "acme/big" not in tracked(db_path)
    assert {row["days_back"] for row in database(db_path)["repositories"].rows} == {None}
    narrowed = ghsync(org, db_path, "track", "acme", "--days", "7")
    assert "acme: window changed from the whole history to the last 7 days; stored PRs are kept" in narrowed.stderr
    assert "acme/big" not in tracked(db_path)  # the remembered --exclude still applies
    refiltered = ghsync(org, db_path, "track", "acme", "--match", "*")
    assert "acme: filters changed to --match *" in refiltered.stderr
    assert tracked(db_path)["acme/big"] == "complete"


def test_tracking_a_remembered_owner_again_leaves_a_repository_untracked_by_hand_untracked(org, db_path):
    assert ghsync(org, db_path, "track", "acme", "--days", "all").exit_code == 0
    assert invoke("untrack", "acme/web", "--db", db_path).exit_code == 0
    assert ghsync(org, db_path, "track", "acme", "--days", "90").exit_code == 0
    assert tracked(db_path)["acme/web"] == "untracked"
    # After `untrack acme`, tracking it is new again: every repository it lists is taken back.
    assert invoke("untrack", "acme", "--db", db_path).exit_code == 0
    assert ghsync(org, db_path, "track", "acme").exit_code == 0
    assert tracked(db_path)["acme/web"] == "complete"


def test_match_and_exclude_choose_repositories_by_name(org, db_path):
    result = ghsync(org, db_path, "track", "acme", "--days", "all", "--match", "*i*", "--exclude", "sandbox-*")
    assert result.exit_code == 0, result.stderr
    assert sorted(tracked(db_path)) == ["acme/api", "acme/big", "acme/cli", "acme/infra"]


def test_every_repository_gets_the_owners_window(org, db_path):
    assert ghsync(org, db_path, "track", "acme", "--days", "45").exit_code == 0
    rows = database(db_path)["repositories"].rows
    assert {row["days_back"] for row in rows} == {45}
    owner = next(database(db_path)["owners"].rows)
    assert (owner["login"], owner["days_back"]) == ("acme", 45)


def test_an_unknown_owner_is_one_line_and_exit_1_with_nothing_stored(org, db_path):
    result = ghsync(org, db_path, "track", "nobody-here", "--days", "all")
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "nobody-here" in result.stderr
    assert not db_path.exists()


def test_a_listed_repository_name_github_could_not_have_given_is_refused_before_anything_is_stored(db_path):
    hostile = generate_repository("evil/bad name\x1b]0;pwned\x07", 2, seed=13)
    with FakeGitHub([generate_repository("evil/fine", 2, seed=13), hostile]) as fake:
        result = ghsync(fake, db_path, "track", "evil", "--days", "all")
    assert result.exit_code == 1 and "nameWithOwner" in result.stderr
    assert "\x1b" not in result.stderr and result.stderr.count("\n") == 1
    assert not (db_path.parent / f"{db_path.name}.locks").exists() or not any(
        "bad" in p.name for p in (db_path.parent / f"{db_path.name}.locks").iterdir()
    )
    assert "evil/bad name\x1b]0;pwned\x07" not in tracked(db_path)


def test_an_owner_with_no_repository_left_after_filters_exits_0_and_says_so(org, db_path):
    result = ghsync(org, db_path, "track", "acme", "--match", "nothing-matches-*")
    assert result.exit_code == 0
    assert "no repositories to track" in result.stderr
    assert tracked(db_path) == {}


def test_filters_are_for_owners_not_single_repositories(org, db_path):
    result = ghsync(org, db_path, "track", "acme/api", "--include-forks")
    assert result.exit_code == 2


# --- remembered owners ----------------------------------------------------------------------------


def test_sync_tracks_a_new_repository_of_the_owner_with_its_window(org, db_path):
    ghsync(org, db_path, "track", "acme", "--days", "all")
    org.add_repository(generate_repository("acme/newcomer", 9, seed=13))
    result = ghsync(org, db_path, "sync")
    assert result.exit_code == 0, result.stderr
    assert repository_row(db_path, "acme/newcomer")["days_back"] is None
    assert_exact(org, db_path, ["acme/newcomer"])


def test_a_repository_that_became_archived_is_untracked_with_the_reason_and_keeps_its_data(org, db_path):
    ghsync(org, db_path, "track", "acme", "--days", "all")
    fake_repository(org, "acme/api").is_archived = True
    result = ghsync(org, db_path, "sync")
    assert result.exit_code == 0
    row = repository_row(db_path, "acme/api")
    assert row["sync_status"] == "untracked" and "archived" in row["last_error"]
    assert len(stored_records(db_path, "acme/api")) == SIZES["api"]
    (line,) = [line for line in result.stderr.splitlines() if "no longer tracked" in line]
    assert "acme/api (archived on GitHub" in line


def test_an_untracking_is_not_an_error_so_sync_quiet_says_nothing_of_it(org, db_path):
    ghsync(org, db_path, "track", "acme", "--days", "all")
    fake_repository(org, "acme/api").is_archived = True
    result = ghsync(org, db_path, "sync", "--quiet")
    assert (result.exit_code, result.stderr) == (0, "")
    assert repository_row(db_path, "acme/api")["sync_status"] == "untracked"


def test_a_renamed_repository_is_untracked_under_its_old_name_and_tracked_under_its_new_one(org, db_path):
    assert ghsync(org, db_path, "track", "acme", "--days", "all").exit_code == 0
    org.rename_repository("acme/api", "acme/api2")
    result = ghsync(org, db_path, "sync")
    assert result.exit_code == 0, result.stderr
    assert tracked(db_path)["acme/api"] == "untracked" and tracked(db_path)["acme/api2"] == "complete"
    # GitHub's ids stay with the row that had them first: the old name's.
    assert repository_row(db_path, "acme/api")["node_id"] and repository_row(db_path, "acme/api2")["node_id"] is None
    assert_exact(org, db_path, ["acme/api2"])


def test_a_name_taken_by_a_new_repository_is_an_error_until_purged_then_tracked_afresh(org, db_path):
    assert ghsync(org, db_path, "track", "acme", "--days", "all").exit_code == 0
    old_api = stored_records(db_path, "acme/api")
    org.rename_repository("acme/api", "acme/api2")
    assert ghsync(org, db_path, "sync").exit_code == 0  # acme/api untracked, acme/api2 tracked
    newcomer = generate_repository("acme/api", 9, seed=77)
    newcomer.database_id += 1
    org.add_repository(newcomer)
    result = ghsync(org, db_path, "sync")
    assert result.exit_code == 1 and "acme/api now names another repository on GitHub" in result.stderr
    assert stored_records(db_path, "acme/api") == old_api  # nothing of the newcomer under the old one's rows
    assert invoke("untrack", "acme/api", "--purge", "--yes", "--db", db_path).exit_code == 0
    assert ghsync(org, db_path, "sync").exit_code == 0  # the owner's next run takes the name afresh
    assert_exact(org, db_path, ["acme/api", "acme/api2"])


def test_a_deleted_repository_is_untracked_with_the_reason(org, db_path):
    ghsync(org, db_path, "track", "acme", "--days", "all")
    del org._repos["acme/web"]
    result = ghsync(org, db_path, "sync")
    assert result.exit_code == 0
    row = repository_row(db_path, "acme/web")
    assert row["sync_status"] == "untracked" and "no longer listed" in row["last_error"]
    assert len(stored_records(db_path, "acme/web")) == SIZES["web"]


def test_a_repository_that_no_longer_matches_is_untracked_with_the_reason(org, db_path):
    ghsync(org, db_path, "track", "acme", "--days", "all", "--match", "a*")
    org.add_repository(generate_repository("acme/beta", 2, seed=13))
    ghsync(org, db_path, "track", "acme", "--days", "all", "--match", "b*")
    row = repository_row(db_path, "acme/api")
    assert row["sync_status"] == "untracked" and "--match b*" in row["last_error"]
    assert tracked(db_path)["acme/beta"] == "complete"


def test_a_run_stopped_at_the_threshold_says_so_in_one_line_not_one_per_repository(org, db_path):
    org.set_remaining("graphql", 102)  # the listing and two requests, then the default threshold of 100
    result = ghsync(org, db_path, "track", "acme", "--days", "all")
    assert result.exit_code == 75
    stops = [line for line in result.stderr.splitlines() if "stopped at the rate-limit threshold" in line]
    assert len(stops) == 1 and "repositories stopped at the rate-limit threshold" in stops[0]
    assert "resets at" in stops[0] and "ghsync sync --wait" in stops[0]
    assert sum(status == "rate_limited" for status in tracked(db_path).values()) >= 2  # each row says so


def test_an_owner_untracked_while_a_sync_lists_it_is_skipped_not_a_failed_run(org, db_path):
    # `untrack acme` finishes between the sync's listing and its taking the owner's lock.
    assert ghsync(org, db_path, "track", "acme", "--days", "all").exit_code == 0
    org.add_repository(generate_repository("acme/newcomer", 2, seed=13))
    GraphQLRequests(org).at(1, lambda: invoke("untrack", "acme", "--db", db_path))  # the owner's listing
    result = ghsync(org, db_path, "sync")
    assert result.exit_code == 0, result.stderr
    assert "acme/newcomer" not in tracked(db_path)
    assert set(tracked(db_path).values()) == {"untracked"}


def test_untrack_of_an_owner_of_a_thousand_repositories_holds_few_files_open(db_path):
    # One repository at a time under the owner's lock: a first version held every lock at once and ran out
    # of file descriptors at about 1,000 repositories. Here the process may open 64 files in all.
    import resource

    from ghsync.models import OwnerFilters
    from ghsync.store import open_store

    with open_store(db_path) as store:
        owner = store.save_owner("acme", days_back=None, filters=OwnerFilters(), now="2026-01-01T00:00:00Z")
        for n in range(1000):
            store.add_repository(f"acme/r{n:04d}", days_back=None, now="2026-01-01T00:00:00Z", owner_id=owner.id)

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    code = "from ghsync.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "untrack", "acme", "--db", str(db_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=few_files,
        env={**os.environ, "GHSYNC_CONFIG": str(db_path.with_name("none.toml"))},
    )
    assert done.returncode == 0, done.stderr
    assert set(tracked(db_path).values()) == {"untracked"} and len(tracked(db_path)) == 1000


def test_untracking_an_owner_of_one_repository_says_so_in_the_singular(org, db_path):
    assert ghsync(org, db_path, "track", "acme", "--match", "api").exit_code == 0
    result = ghsync(org, db_path, "untrack", "acme")
    assert "acme: no longer tracked; its repository keeps its data" in result.stderr


def test_untrack_owner_keeps_the_data_and_stops_picking_up_new_repositories(org, db_path):
    ghsync(org, db_path, "track", "acme", "--days", "all")
    result = ghsync(org, db_path, "untrack", "acme")
    assert result.exit_code == 0, result.stderr
    assert "acme: no longer tracked; its 8 repositories keep their data" in result.stderr
    assert set(tracked(db_path).values()) == {"untracked"}
    org.add_repository(generate_repository("acme/newcomer", 2, seed=13))
    nothing = ghsync(org, db_path, "sync")  # nothing is tracked any more: an empty state, not an error
    assert nothing.exit_code == 0 and "No repositories tracked yet" in nothing.stderr
    assert "acme/newcomer" not in tracked(db_path)
    assert len(stored_records(db_path, "acme/big")) == SIZES["big"]


def test_an_owners_new_window_leaves_a_repository_being_synced_alone_until_the_next_run(org, db_path):
    assert ghsync(org, db_path, "track", "acme", "--days", "1").exit_code == 0
    with repository_lock(db_path, "acme/big"):  # as a sync running in another process holds it
        widened = ghsync(org, db_path, "track", "acme", "--days", "all")
        assert repository_row(db_path, "acme/big")["days_back"] == 1  # its running job's window, untouched
    assert "acme/big is being synced by another process: acme's window applies to it on the next run" in (
        widened.stderr
    )
    assert ghsync(org, db_path, "sync").exit_code == 0
    assert repository_row(db_path, "acme/big")["days_back"] is None
    assert_exact(org, db_path, ["acme/big"])


def test_untracking_an_owner_while_one_of_its_repositories_syncs_leaves_that_one_and_exits_75(org, db_path):
    assert ghsync(org, db_path, "track", "acme", "--days", "all").exit_code == 0
    with repository_lock(db_path, "acme/big"):
        refused = ghsync(org, db_path, "untrack", "acme")
    assert refused.exit_code == 75
    assert "acme/big is being synced by process" in refused.stderr and refused.stderr.count("\n") == 1
    assert "run `ghsync untrack acme` again" in refused.stderr
    states = tracked(db_path)
    assert states.pop("acme/big") == "complete" and set(states.values()) == {"untracked"}  # the sync's own
    assert ghsync(org, db_path, "status", "acme").exit_code == 0  # the owner is still remembered
    assert ghsync(org, db_path, "untrack", "acme").exit_code == 0
    assert set(tracked(db_path).values()) == {"untracked"}


def test_a_repository_tracked_by_hand_then_adopted_by_its_owner_is_synced_once_in_that_run(org, db_path):
    assert ghsync(org, db_path, "track", "acme", "--days", "all").exit_code == 0
    org.add_repository(generate_repository("acme/newcomer", 9, seed=13))
    assert ghsync(org, db_path, "track", "acme/newcomer", "--days", "all").exit_code == 0
    org.touch_pull_request("acme/newcomer", page_sized_pull_request(org, "acme/newcomer"), title="changed")
    assert ghsync(org, db_path, "sync").exit_code == 0
    newcomer = repository_row(db_path, "acme/newcomer")
    jobs = list(database(db_path)["syncs"].rows_where("repository_id = ?", [newcomer["id"]]))
    assert [job["kind"] for job in jobs] == ["initial", "incremental"]


def test_a_repository_untracked_by_hand_is_not_taken_back_by_the_owners_listing(org, db_path):
    ghsync(org, db_path, "track", "acme", "--days", "all")
    ghsync(org, db_path, "untrack", "acme/docs")
    ghsync(org, db_path, "sync")
    assert tracked(db_path)["acme/docs"] == "untracked"


# --- the cheap incremental check -------------------------------------------------------------------


def test_sync_with_nothing_changed_reads_only_the_listing(org, db_path):
    ghsync(org, db_path, "track", "acme", "--days", "all")
    org.reset_stats()
    result = ghsync(org, db_path, "sync")
    assert result.exit_code == 0
    assert (org.stats["graphql_requests"], org.stats["graphql_points"]) == (1, 1)
    assert "8 repositories unchanged" in result.stderr


def test_sync_after_changes_fetches_only_the_changed_repositories(org, db_path):
    ghsync(org, db_path, "track", "acme", "--days", "all")
    for name in ("acme/api", "acme/infra", "acme/big"):
        org.touch_pull_request(name, page_sized_pull_request(org, name), title=f"Changed in {name}")
    requests = GraphQLRequests(org)
    org.reset_stats()
    assert ghsync(org, db_path, "sync").exit_code == 0
    assert_exact(org, db_path, ORDINARY)
    # The listing, then one request carrying the three changed repositories' first pages.
    assert org.stats["graphql_points"] == 2
    assert [p["query"].count("repository(") for p in requests.payloads] == [0, 3]


def test_repositories_tracked_one_by_one_are_checked_in_one_aliased_request(org, db_path):
    for name in ("acme/api", "acme/web", "acme/cli"):
        assert ghsync(org, db_path, "track", name, "--days", "all").exit_code == 0
    org.reset_stats()
    assert ghsync(org, db_path, "sync").exit_code == 0
    assert (org.stats["graphql_requests"], org.stats["graphql_points"]) == (1, 1)


# --- batched initial pages ------------------------------------------------------------------------


def test_small_repositories_share_one_point_requests(org, db_path):
    requests = GraphQLRequests(org)
    assert ghsync(org, db_path, "track", "acme", "--days", "all").exit_code == 0
    small = sum(count for count in SIZES.values() if count < 49)
    batched = [p for p in requests.pages if p["query"].count("repository(") > 1]
    assert batched, "no request carried several repositories"
    # listing + big's three pages + the small ones at ~49 PRs a point, never more than one point each
    assert org.stats["graphql_points"] <= 1 + 3 + -(-small // 40) + 1
    shared = [entry for entry in org.request_log if entry["query"].count("repository(") > 1]
    assert shared and all(entry["cost"] == 1 for entry in shared)


def test_companions_gone_mid_run_fail_only_themselves(org, db_path):
    assert ghsync(org, db_path, "track", "acme", "--days", "all").exit_code == 0
    changed = ("acme/api", "acme/cli", "acme/infra", "acme/tools", "acme/web")
    for name in changed:
        org.touch_pull_request(name, page_sized_pull_request(org, name), title=f"Changed in {name}")
    # Deleted after the listing: GitHub then fails the shared request with two NOT_FOUND errors.
    requests = GraphQLRequests(org).at(2, lambda: [org._repos.pop(name) for name in ("acme/tools", "acme/web")])
    result = ghsync(org, db_path, "sync")
    assert result.exit_code == 1
    assert {name: tracked(db_path)[name] for name in changed} == {
        "acme/api": "complete",
        "acme/cli": "complete",
        "acme/infra": "complete",
        "acme/tools": "error",
        "acme/web": "error",
    }
    assert_exact(org, db_path, ["acme/api", "acme/cli", "acme/infra"])
    # The listing, the failed shared request, then each repository alone once.
    assert len(requests.payloads) == 2 + len(changed)


def test_a_repository_tracked_by_hand_that_is_gone_costs_its_own_page_not_everyones(org, db_path):
    names = ["acme/api", "acme/web", "acme/cli", "acme/infra", "acme/tools", "acme/sandbox-1"]
    for name in names:
        assert ghsync(org, db_path, "track", name, "--days", "all").exit_code == 0
    del org._repos["acme/web"]
    org.reset_stats()
    result = ghsync(org, db_path, "sync")
    assert result.exit_code == 1 and "acme/web: Could not resolve to a Repository" in result.stderr
    # The heads of all six in one point (GitHub's NOT_FOUND for web, data for the rest), then web's own page.
    assert (org.stats["graphql_requests"], org.stats["graphql_points"]) == (2, 2)
    assert "5 repositories unchanged" in result.stderr


def test_a_window_is_counted_per_repository_in_a_batch(org, db_path):
    assert ghsync(org, db_path, "track", "acme", "--days", "30").exit_code == 0
    for name in ORDINARY:
        expected = {n: r for n, r in expected_records(fake_repository(org, name)).items()}
        stored = stored_records(db_path, name)
        assert set(stored) <= set(expected)
        assert all(stored[n] == expected[n] for n in stored)
        row = repository_row(db_path, name)
        assert row["sync_prs_completed"] == row["sync_prs_total"] == len(stored)


# --- stops and kills in the middle of an owner ------------------------------------------------------


def test_a_rate_limit_stop_mid_owner_resumes_every_repository_exactly(org, db_path):
    requests = GraphQLRequests(org)
    requests.at(3, lambda: org.set_remaining("graphql", 50))
    result = invoke("--min-remaining", 100, "track", "acme", "--days", "all", *cli_flags(org, db_path))
    assert result.exit_code == 75
    statuses = tracked(db_path)
    assert "rate_limited" in statuses.values() and "complete" in statuses.values()
    for name in ORDINARY:
        row = repository_row(db_path, name)
        assert row["rate_limit_remaining"] is not None or row["sync_status"] == "complete"
    org.set_remaining("graphql", 5000)
    assert ghsync(org, db_path, "sync").exit_code == 0
    assert set(tracked(db_path).values()) == {"complete"}
    assert_exact(org, db_path, ORDINARY)


def start_child(fake: FakeGitHub, db: Path, *args: str, env: dict) -> subprocess.Popen:
    environment = {**os.environ, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url, "GHSYNC_DB": str(db), **env}
    return subprocess.Popen(
        [sys.executable, str(SYNC_SCRIPT), *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("at", [1, 8, 30, 60])
def test_kill_9_mid_owner_then_sync_stores_every_repository_exactly(org, db_path, tmp_path, at):
    marker = tmp_path / "paused"
    child = start_child(
        org,
        db_path,
        "track",
        "acme",
        "--days",
        "all",
        env={"GHSYNC_TEST_PAUSE_AT_UPSERT": str(at), "GHSYNC_TEST_MARKER": str(marker)},
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert marker.exists(), child.communicate()[1]
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    assert child.returncode == -signal.SIGKILL
    result = ghsync(org, db_path, "sync")
    assert result.exit_code == 0, result.stderr
    assert tracked(db_path) == {name: "complete" for name in ORDINARY}
    assert_exact(org, db_path, ORDINARY)


# --- status with many repositories -------------------------------------------------------------------


@pytest.fixture
def many(acme_data):
    repositories = [generate_repository(f"wide/r{index:02d}", index % 3, seed=5) for index in range(22)]
    with FakeGitHub([*copy.deepcopy(acme_data), *repositories]) as server:
        yield server


def test_status_of_more_than_20_repositories_is_one_line_per_owner(many, db_path):
    assert ghsync(many, db_path, "track", "wide", "--days", "all").exit_code == 0
    assert ghsync(many, db_path, "track", "acme", "--days", "all").exit_code == 0
    result = invoke("status", "--db", db_path)
    assert result.exit_code == 0
    owner_lines = [line for line in result.stdout.splitlines() if line.startswith(("wide:", "acme:"))]
    assert owner_lines == [
        f"acme: {len(SIZES)} repositories ({len(SIZES)} complete); {sum(SIZES.values()):,} PRs; "
        + owner_lines[0].split("; ", 2)[2],
        "wide: 22 repositories (22 complete); " + owner_lines[1].split("; ", 1)[1],
    ]
    assert "wide/r01" not in result.stdout


def test_the_owner_summary_leaves_out_a_budget_whose_reset_has_passed(many, db_path):
    assert ghsync(many, db_path, "track", "wide", "--days", "all").exit_code == 0
    db = database(db_path)
    db.execute("UPDATE repositories SET rate_limit_remaining = 3, rate_limit_reset_at = '2020-01-01T00:00:00Z'")
    db.conn.commit()
    (line,) = [line for line in invoke("status", "--db", db_path).stdout.splitlines() if line.startswith("wide:")]
    assert "budget 3 left" not in line


def test_status_lists_the_repositories_needing_attention_under_the_summary(many, db_path):
    ghsync(many, db_path, "track", "wide", "--days", "all")
    ghsync(many, db_path, "track", "acme", "--days", "all")
    database(db_path)["repositories"].update(
        repository_row(db_path, "wide/r05")["id"], {"sync_status": "error", "last_error": "boom"}
    )
    result = invoke("status", "--db", db_path)
    assert "wide/r05" in result.stdout and "boom" in result.stdout
    assert "wide/r06" not in result.stdout


def test_status_all_and_status_owner_list_every_repository(many, db_path):
    ghsync(many, db_path, "track", "wide", "--days", "all")
    ghsync(many, db_path, "track", "acme", "--days", "all")
    assert "wide/r21" in invoke("status", "--all", "--db", db_path).stdout
    owner = invoke("status", "acme", "--db", db_path, "--json")
    assert sorted(row["full_name"] for row in __import__("json").loads(owner.stdout)) == ORDINARY


def test_status_all_shows_the_untracked_repositories_an_owners_run_points_to(org, db_path):
    # `track`/`sync` say "no longer tracked, data kept: ... (see `ghsync status --all`)": it must show them.
    assert ghsync(org, db_path, "track", "acme", "--days", "all").exit_code == 0
    fake_repository(org, "acme/cli").is_archived = True
    synced = ghsync(org, db_path, "sync")
    assert "acme/cli (archived on GitHub (owner acme))" in synced.stderr and "status --all" in synced.stderr
    assert "acme/cli" not in invoke("status", "--db", db_path).stdout
    listed = invoke("status", "--all", "--json", "--db", db_path)
    rows = {row["full_name"]: row for row in __import__("json").loads(listed.stdout)}
    assert rows["acme/cli"]["sync_status"] == "untracked" and "archived" in rows["acme/cli"]["last_error"]
    table = invoke("status", "--all", "--db", db_path, env={"COLUMNS": "200"}).stdout
    assert "Repositories, untracked ones too" in table
    assert "acme/cli: untracked: archived on GitHub (owner acme)" in table


# --- one progress bar for a run ----------------------------------------------------------------------


def progress_row(full_name: str, status: str, total: int, completed: int):
    from ghsync.models import SyncStatus

    return repository_record(
        full_name,
        sync_status=SyncStatus(status),
        sync_prs_total=total,
        sync_prs_completed=completed,
        rate_limit_remaining=4000,
    )


def test_a_run_over_several_repositories_shows_one_bar_with_repositories_and_prs_done():
    import io

    from rich.console import Console

    from ghsync.cli.render import SyncProgressDisplay
    from ghsync.models import RunPlan

    out = io.StringIO()
    with SyncProgressDisplay(Console(file=out, width=200, force_terminal=True), interactive=True) as display:
        display.start_run(RunPlan({"acme/api": 7, "acme/web": 12, "acme/cli": 3}))
        display.update(progress_row("acme/api", "complete", 7, 7))
        display.update(progress_row("acme/web", "syncing", 12, 5))
    text = out.getvalue()
    last = [line for line in text.splitlines() if "repositories" in line][-1]
    assert "acme/web" in last and "12/22" in last and "1/3 repositories" in last
    assert "acme/api" not in last
    assert text.count("acme/web") >= 1 and "acme/cli" not in text


def run_bar_percents(plan: dict[str, int], rows) -> list[int]:
    import io

    from rich.console import Console

    from ghsync.cli.render import SyncProgressDisplay
    from ghsync.models import RunPlan

    percents = []
    with SyncProgressDisplay(Console(file=io.StringIO(), width=200, force_terminal=True), interactive=True) as display:
        display.start_run(RunPlan(plan))
        for row in rows:
            display.update(row)
            percents.append(display._progress.tasks[display._run_task].fields["percent"])  # as drawn
    return percents


def test_the_run_bar_never_goes_back_when_a_repository_proves_larger_than_planned():
    rows = [progress_row("a/x", "complete", 100, 100), progress_row("a/y", "syncing", 900, 50)]
    assert run_bar_percents({"a/x": 100, "a/y": 0}, rows) == [99, 99]


def test_the_run_bar_is_not_100_percent_when_a_repository_stopped_short():
    rows = [progress_row("a/x", "complete", 100, 100), progress_row("a/y", "rate_limited", 900, 50)]
    assert run_bar_percents({"a/x": 100, "a/y": 900}, rows)[-1] == 15
    done = [progress_row("a/x", "complete", 100, 100), progress_row("a/y", "complete", 900, 900)]
    assert run_bar_percents({"a/x": 100, "a/y": 900}, done)[-1] == 100


# --- page plans, whatever a host charges for count-only connections --------------------------------------


def page_sizes(fake: FakeGitHub) -> list[int]:
    return [entry["variables"]["pageSize"] for entry in fake.request_log if "pageSize" in entry["variables"]]


def rocket_owner() -> list:
    return [generate_repository("rocket/boosters", 300, seed=8), generate_repository("rocket/engines", 300, seed=7)]


@pytest.mark.parametrize("free", [False, True], ids=["charged", "free"])
def test_pages_read_the_first_commit_so_no_connection_is_count_only_and_every_page_costs_one_point(db_path, free):
    # `commits(first: 1)` carries the first commit (coding time): a page's price is the same whether or
    # not a host charges count-only connections.
    with FakeGitHub(rocket_owner(), count_only_connections_free=free) as fake:
        assert ghsync(fake, db_path, "track", "rocket", "--days", "all").exit_code == 0
        assert set(page_sizes(fake)) <= {48, 49}
        assert all(entry["cost"] == 1 for entry in fake.request_log)
        assert_exact(fake, db_path, ["rocket/boosters", "rocket/engines"])


def test_a_single_repository_reads_49_pr_pages(db_path):
    with FakeGitHub(rocket_owner()) as fake:
        assert ghsync(fake, db_path, "track", "rocket/boosters", "--days", "all").exit_code == 0
        assert set(page_sizes(fake)) == {49}


def test_tracking_an_owner_sends_one_email_for_all_its_repositories(org, db_path):
    # Default recipients and 8 repositories synced in one run: one message with a line each, not 8 messages.
    from smtp_server import SmtpTestServer

    with SmtpTestServer(security="none") as smtp:
        env = {**smtp.env(), "GHSYNC_NOTIFY_TO": "platform@example.com"}
        result = invoke("track", "acme", "--days", "all", *cli_flags(org, db_path), env=env)
        assert result.exit_code == 0, result.stderr
    (message,) = smtp.messages
    assert list(smtp.envelopes[0].rcpt_tos) == ["platform@example.com"]
    assert message["Subject"] == f"ghsync: {len(ORDINARY)} repositories — {len(ORDINARY)} synced"
    body = message.get_body(preferencelist=("plain",)).get_content()
    for full_name in ORDINARY:
        assert f"{full_name}:" in body
    statuses = {row["email_status"] for row in database(db_path).query("SELECT email_status FROM syncs")}
    assert statuses == {"sent to platform@example.com"}


def test_a_rate_limit_stop_mid_owner_reports_every_outcome_in_one_email(org, db_path):
    from smtp_server import SmtpTestServer

    GraphQLRequests(org).at(3, lambda: org.set_remaining("graphql", 50))
    with SmtpTestServer(security="none") as smtp:
        env = {**smtp.env(), "GHSYNC_NOTIFY_TO": "platform@example.com", "GHSYNC_NOTIFY_ON": "rate_limited"}
        result = invoke("--min-remaining", 100, "track", "acme", "--days", "all", *cli_flags(org, db_path), env=env)
        assert result.exit_code == 75
    (message,) = smtp.messages
    statuses = tracked(db_path)
    synced = sum(1 for status in statuses.values() if status == "complete")
    paused = sum(1 for status in statuses.values() if status == "rate_limited")
    assert synced and paused
    assert message["Subject"] == f"ghsync: {synced + paused} repositories — {synced} synced, {paused} rate-limited"
