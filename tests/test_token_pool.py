"""The token pool and the budget: spend whichever account has points, count an account once, stop at the
earliest reset when all are low, treat a server without rate limits as unlimited, and never leak a token."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ghsync_testing import (
    REPO,
    FakeGitHub,
    expected_records,
    generate_repository,
    invoke,
    repository_row,
    stored_records,
)

from ghsync.config import load_settings
from ghsync.service.sync import SyncHooks, track_repository

THRESHOLD = 100
ALICE = "test_tok_aliceSecret0000000000000000000000000A"
ALICE_2 = "test_tok_aliceSecondToken111111111111111111111A"
BOB = "test_tok_bobSecret22222222222222222222222222222B"
POOL = {ALICE: "alice", BOB: "bob"}

# Fixed data (the generator's output depends on `now`), older than any moment a test touches a PR.
GENERATED_AT = datetime(2025, 9, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def repository():
    return generate_repository(REPO, 600, seed=21, now=GENERATED_AT)


@pytest.fixture
def pool_fake(repository):
    with FakeGitHub([copy.deepcopy(repository)], tokens={ALICE: "alice", ALICE_2: "alice", BOB: "bob"}) as fake:
        yield fake


pytestmark = pytest.mark.usefixtures("never_wait_for_a_reset")


def track(fake: FakeGitHub, db: Path, tokens: list[str], **settings):
    config = load_settings(db=db, tokens=tokens, api_url=settings.pop("api_url", fake.url), min_remaining=THRESHOLD)
    return track_repository(config, REPO, days="all", hooks=SyncHooks(sleep=lambda s: None))


def graphql(fake: FakeGitHub, login: str) -> dict:
    return fake.rate_limit(login, "graphql")


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- spending across accounts ----------------------------------------------------------------


def test_pool_spends_the_other_account_when_one_is_low(pool_fake, tmp_path):
    pool_fake.set_remaining("graphql", THRESHOLD - 50, login="alice")
    result = track(pool_fake, tmp_path / "g.db", [ALICE, BOB])
    assert result.report.outcome == "complete"
    assert stored_records(tmp_path / "g.db") == expected_records(pool_fake.repositories[0])
    assert graphql(pool_fake, "alice")["remaining"] == THRESHOLD - 50
    assert graphql(pool_fake, "bob")["used"] >= 600 // 49


def test_a_revoked_token_in_a_pool_is_dropped_and_the_others_sync(pool_fake, tmp_path):
    result = track(pool_fake, tmp_path / "g.db", ["test_tok_revokedToken0000000000000000000000000", BOB])
    assert result.report.outcome == "complete"
    assert graphql(pool_fake, "bob")["used"] >= 600 // 49


def test_pool_adds_up_what_its_accounts_have_above_the_threshold(pool_fake, tmp_path):
    # Each account alone has 9 points above the threshold: less than the 14 a full sync needs.
    pool_fake.set_remaining("graphql", THRESHOLD + 8, login="alice")
    pool_fake.set_remaining("graphql", THRESHOLD + 8, login="bob")
    result = track(pool_fake, tmp_path / "g.db", [ALICE, BOB])
    assert result.report.outcome == "complete"
    assert stored_records(tmp_path / "g.db") == expected_records(pool_fake.repositories[0])
    assert min(graphql(pool_fake, "alice")["remaining"], graphql(pool_fake, "bob")["remaining"]) >= THRESHOLD - 1


def test_track_with_every_account_below_the_threshold_records_rate_limited_at_the_earliest_reset(pool_fake, tmp_path):
    now = time.time()
    pool_fake.set_remaining("graphql", THRESHOLD - 50, login="alice", reset_at=now + 1800)
    pool_fake.set_remaining("graphql", THRESHOLD - 40, login="bob", reset_at=now + 900)
    result = track(pool_fake, tmp_path / "g.db", [ALICE, BOB])
    assert result.report.outcome == "rate_limited"
    repository = repository_row(tmp_path / "g.db")
    assert repository["sync_status"] == "rate_limited"
    assert repository["rate_limit_reset_at"] == iso(now + 900)
    assert pool_fake.stats["graphql_points"] == 0


def test_sync_with_every_account_below_the_threshold_stops_at_the_earliest_reset_and_exits_75(pool_fake, tmp_path):
    db = tmp_path / "g.db"
    pool_fake.set_remaining("graphql", THRESHOLD + 3, login="alice")
    pool_fake.set_remaining("graphql", THRESHOLD + 3, login="bob")
    assert track(pool_fake, db, [ALICE, BOB]).report.outcome == "rate_limited"
    now = time.time()
    pool_fake.set_remaining("graphql", THRESHOLD - 50, login="alice", reset_at=now + 1800)
    pool_fake.set_remaining("graphql", THRESHOLD - 40, login="bob", reset_at=now + 900)
    pool_fake.reset_stats()
    result = invoke(
        "sync", "--db", db, "--api-url", pool_fake.url, "--token", ALICE, "--token", BOB, "--min-remaining", THRESHOLD
    )
    assert result.exit_code == 75, result.stderr
    repository = repository_row(db)
    assert repository["sync_status"] == "rate_limited"
    assert repository["rate_limit_reset_at"] == iso(now + 900)
    assert pool_fake.stats["graphql_points"] == 0
    earliest = datetime.fromtimestamp(now + 900).astimezone().strftime("%H:%M")
    assert earliest in result.stderr or iso(now + 900)[11:16] in result.stderr, result.stderr


def test_two_tokens_of_one_account_stop_where_one_token_would(pool_fake, tmp_path):
    pool_fake.set_remaining("graphql", THRESHOLD + 5, login="alice")
    alone = track(pool_fake, tmp_path / "one.db", [ALICE])
    pool_fake.set_remaining("graphql", THRESHOLD + 5, login="alice")
    pair = track(pool_fake, tmp_path / "two.db", [ALICE, ALICE_2])
    assert alone.report.outcome == pair.report.outcome == "rate_limited"
    assert pair.report.prs_synced == alone.report.prs_synced
    assert graphql(pool_fake, "alice")["remaining"] >= THRESHOLD - 1


def test_an_account_drained_by_another_program_mid_sync_hands_over_to_the_other(pool_fake, tmp_path):
    pool_fake.set_remaining("graphql", 4000, login="bob")  # alice (5000) is spent first

    def another_program_spends_alice(path, payload, seen=None):
        if seen is None:
            seen = [0]
        if path == "/graphql":
            seen[0] += 1
            if seen[0] == 3:
                pool_fake.set_remaining("graphql", 0, login="alice")

    pool_fake.before_request = another_program_spends_alice
    result = track(pool_fake, tmp_path / "g.db", [ALICE, BOB])
    assert result.report.outcome == "complete"
    assert stored_records(tmp_path / "g.db") == expected_records(pool_fake.repositories[0])


def test_ghsync_tokens_environment_variable_makes_a_pool(pool_fake, tmp_path):
    pool_fake.set_remaining("graphql", THRESHOLD - 50, login="alice")
    env = {"GHSYNC_TOKENS": f"{ALICE},{BOB}", "GITHUB_API_URL": pool_fake.url, "GHSYNC_DB": str(tmp_path / "g.db")}
    result = invoke("track", REPO, "--days", "all", env=env)
    assert result.exit_code == 0, result.stderr
    assert stored_records(tmp_path / "g.db") == expected_records(pool_fake.repositories[0])
    assert graphql(pool_fake, "alice")["remaining"] == THRESHOLD - 50
    assert graphql(pool_fake, "bob")["used"] > 0


# --- secrets ---------------------------------------------------------------------------------


def test_no_token_appears_in_the_database_files_output_or_status_json(pool_fake, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = data / "g.db"
    flags = ["--db", db, "--api-url", pool_fake.url]
    outputs = []
    pool_fake.set_remaining("graphql", THRESHOLD - 50, login="alice")
    outputs.append(invoke("track", REPO, "--days", "all", *flags, "--token", ALICE, "--token", BOB))
    pool_fake.touch_pull_request(REPO, 1, title="Changed")
    pool_fake.set_remaining("graphql", THRESHOLD - 50, login="bob")
    outputs.append(invoke("sync", *flags, "--token", ALICE, "--token", BOB))  # rate-limited
    # The wrong token is dropped from the pool; alice alone is below the threshold: rate-limited.
    outputs.append(invoke("sync", *flags, "--token", ALICE, "--token", "test_tok_wrongToken999999999999999999999999X"))
    outputs.append(invoke("status", "--json", "--db", db))
    outputs.append(invoke("status", "--db", db))
    outputs.append(invoke("rate-limit", "--json", "--api-url", pool_fake.url, "--token", ALICE, "--token", BOB))
    env = {"GHSYNC_TOKENS": f"{ALICE},{BOB}", "GITHUB_API_URL": pool_fake.url, "GHSYNC_DB": str(db)}
    outputs.append(invoke("sync", env=env))
    assert [o.exit_code for o in outputs] == [0, 75, 75, 0, 0, 0, 75]
    secrets = [ALICE, BOB, "test_tok_wrongToken999999999999999999999999X", "aliceSecret", "bobSecret", "wrongToken"]
    for output in outputs:
        for secret in secrets:
            assert secret not in output.stdout and secret not in output.stderr
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.name.endswith("-wal") or p.name == "g.db" for p in files)
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"{secret} is in {path.name}"


# --- GitHub Enterprise Server without rate limiting ------------------------------------------


def test_a_server_whose_rate_limit_endpoint_is_404_is_treated_as_unlimited(pool_fake, tmp_path):
    pool_fake.inject(404, path="/rate_limit", times=1000)
    pool_fake.set_remaining("graphql", THRESHOLD - 60, login="alice")  # headers say "low": not a budget
    result = track(pool_fake, tmp_path / "g.db", [ALICE], api_url=pool_fake.url + "/api/v3")
    assert result.report.outcome == "complete"
    assert stored_records(tmp_path / "g.db") == expected_records(pool_fake.repositories[0])
    assert repository_row(tmp_path / "g.db")["rate_limit_remaining"] is None


def test_enterprise_server_without_rate_limiting_is_synced_as_unlimited(repository, tmp_path):
    with FakeGitHub([copy.deepcopy(repository)], rate_limiting=False) as fake:
        result = track(fake, tmp_path / "g.db", [ALICE], api_url=fake.url + "/api/v3")
    assert result.report.outcome == "complete"
    assert stored_records(tmp_path / "g.db") == expected_records(repository)
    status = repository_row(tmp_path / "g.db")
    assert status["rate_limit_remaining"] is None and status["rate_limit_reset_at"] is None
