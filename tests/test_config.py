"""Settings: flags win over environment, which wins over the config file; secrets never print."""

from __future__ import annotations

import pytest

from ghsync.config import load_settings
from ghsync.errors import ConfigError


def test_environment_alone_configures_db_token_and_api_url(monkeypatch, tmp_path):
    monkeypatch.setenv("GHSYNC_DB", str(tmp_path / "env.db"))
    monkeypatch.setenv("GITHUB_TOKEN", "env-token")
    monkeypatch.setenv("GITHUB_API_URL", "https://github.example.com/api/v3/")
    settings = load_settings()
    assert settings.db == tmp_path / "env.db"
    assert settings.github_tokens() == ["env-token"]
    assert settings.api_url == "https://github.example.com/api/v3"


def test_gh_token_wins_over_github_token_as_in_gh(monkeypatch):
    monkeypatch.setenv("GH_TOKEN", "gh")
    monkeypatch.setenv("GITHUB_TOKEN", "github")
    assert load_settings().github_tokens()[0] == "gh"


def test_flags_win_over_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GHSYNC_DB", str(tmp_path / "env.db"))
    monkeypatch.setenv("GITHUB_TOKEN", "env-token")
    settings = load_settings(db=tmp_path / "flag.db", tokens=["flag-token"])
    assert settings.db == tmp_path / "flag.db"
    assert settings.github_tokens() == ["flag-token"]


def test_token_pool_from_environment(monkeypatch):
    monkeypatch.setenv("GHSYNC_TOKENS", "a, b,,c")
    assert load_settings().github_tokens() == ["a", "b", "c"]


def test_config_file_is_read_below_environment(monkeypatch, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('smtp_host = "smtp.example.com"\nmin_remaining = 250\nnotify_to = "a@example.com"\n')
    monkeypatch.setenv("GHSYNC_CONFIG", str(config))
    monkeypatch.setenv("GHSYNC_MIN_REMAINING", "300")
    settings = load_settings()
    assert settings.smtp().host == "smtp.example.com"
    assert settings.smtp().default_recipients == ("a@example.com",)
    assert settings.min_remaining == 300


def test_bad_value_is_a_config_error_naming_the_setting(monkeypatch):
    monkeypatch.setenv("GHSYNC_MIN_REMAINING", "lots")
    with pytest.raises(ConfigError, match="GHSYNC_MIN_REMAINING"):
        load_settings()


def test_bad_recipient_is_a_config_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("GHSYNC_NOTIFY_TO", "not-an-address")
    with pytest.raises(ConfigError, match="GHSYNC_NOTIFY_TO"):
        load_settings().smtp()


def test_secrets_never_appear_in_repr(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "test_tok_supersecretvalue123")
    monkeypatch.setenv("GHSYNC_SMTP_PASSWORD", "mail-password-42")
    settings = load_settings()
    assert "test_tok_supersecretvalue123" not in repr(settings) + str(settings)
    assert "mail-password-42" not in repr(settings.smtp()) + repr(settings)


def test_unknown_notify_event_is_refused():
    with pytest.raises(ConfigError, match="notify-on"):
        load_settings(notify_on="sometimes")


def test_github_token_and_gh_token_together_are_one_token_not_a_pool(monkeypatch):
    monkeypatch.setenv("GH_TOKEN", "good")
    monkeypatch.setenv("GITHUB_TOKEN", "stale")
    assert load_settings().github_tokens() == ["good"]


def test_a_token_pasted_with_a_line_break_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "abc\ndef")
    with pytest.raises(ConfigError, match="token #1"):
        load_settings().github_tokens()


def test_malformed_config_file_is_a_config_error_naming_it(monkeypatch, tmp_path):
    config = tmp_path / "broken.toml"
    config.write_text("smtp_host = \n")
    monkeypatch.setenv("GHSYNC_CONFIG", str(config))
    with pytest.raises(ConfigError, match="broken.toml"):
        load_settings()


def test_a_config_file_that_is_not_utf8_is_a_one_line_usage_error(tmp_path, monkeypatch):
    from ghsync_testing import invoke

    config = tmp_path / "config.toml"
    config.write_bytes(b'db = "\xff\xfe"\n')
    monkeypatch.setenv("GHSYNC_CONFIG", str(config))
    result = invoke("status", "--db", tmp_path / "x.db")
    assert result.exit_code == 2 and "not UTF-8" in result.stderr and result.stderr.count("\n") == 1
