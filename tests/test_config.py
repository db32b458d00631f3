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


# --- settings built without pydantic-settings ---------------------------------------------------
# With no config file and no JSON-valued variable, load_settings builds Settings from the flags and the
# environment itself (importing pydantic-settings is a fifth of `status`'s start). Whatever it builds
# must be exactly what pydantic-settings builds from the same flags and environment.

_ALIASES = [
    "GHSYNC_DB",
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "GHSYNC_TOKENS",
    "GITHUB_API_URL",
    "GHSYNC_MIN_REMAINING",
    "GHSYNC_ALLOW_INSECURE_HTTP",
    "GHSYNC_REQUEST_TIMEOUT",
    "GHSYNC_SMTP_HOST",
    "GHSYNC_SMTP_PORT",
    "GHSYNC_SMTP_USER",
    "GHSYNC_SMTP_PASSWORD",
    "GHSYNC_SMTP_SECURITY",
    "GHSYNC_SMTP_FROM",
    "GHSYNC_SMTP_CA_FILE",
    "GHSYNC_NOTIFY_TO",
    "GHSYNC_SLACK_WEBHOOK",
    "GHSYNC_SLACK_TIMEOUT",
    "GHSYNC_NOTIFY_ON",
    "GHSYNC_TEAMS",
    "GHSYNC_EXCLUDE_AUTHORS",
]
# pydantic-settings also reads a field from a variable named like the field (populate_by_name).
_FIELD_NAMES = [
    "db",
    "tokens",
    "api_url",
    "min_remaining",
    "smtp_port",
    "notify_on",
    "env_gh",
    "teams",
    "DB",
    "Api_Url",
]
_VALUES = [
    "",
    "0",
    "1",
    "-1",
    "70000",
    "true",
    "no",
    "abc",
    " 7 ",
    "3.5",
    "/tmp/x.db",
    "https://ghe.example.com/api/v3/",
    "http://127.0.0.1:9",
    "ftp://x",
    "update, error",
    "nonsense",
    "ghp_a,ghp_b",
    "a@example.com",
    '["bot*"]',
    "{}",
]


def _environment_names():
    from hypothesis import strategies as st

    cased = st.sampled_from(_ALIASES).flatmap(lambda name: st.sampled_from([name, name.lower(), name.title()]))
    return st.one_of(cased, st.sampled_from(_FIELD_NAMES))


def _flags():
    from hypothesis import strategies as st

    return st.fixed_dictionaries(
        {},
        optional={
            "db": st.sampled_from(["/tmp/flag.db", "relative.db"]),
            "tokens": st.sampled_from([["ghp_flag"], ["a", "b"], []]),
            "api_url": st.sampled_from(["https://api.github.com", "nonsense"]),
            "min_remaining": st.sampled_from([0, 50]),
            "notify_on": st.sampled_from(["error", "bogus"]),
            "allow_insecure_http": st.just(True),
        },
    )


def test_settings_built_directly_are_those_pydantic_settings_builds(tmp_path):
    import os
    from unittest import mock

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from ghsync import config

    absent_file = str(tmp_path / "absent.toml")

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.dictionaries(_environment_names(), st.sampled_from(_VALUES), max_size=6), _flags())
    def check(environment, flags):
        base = {key: value for key, value in os.environ.items() if key in ("HOME", "PATH")}
        with mock.patch.dict(os.environ, {**base, **environment, "GHSYNC_CONFIG": absent_file}, clear=True):
            given_flags = {key: value for key, value in flags.items() if value is not None}
            if isinstance(given_flags.get("tokens"), list):
                tokens = given_flags.pop("tokens")
                if tokens:
                    given_flags["tokens"] = ",".join(tokens)
                    given_flags.update(env_gh=None, env_github=None, env_gh_enterprise=None, env_github_enterprise=None)
            direct = config._loaded_directly(given_flags)
            if direct is None:
                return  # pydantic-settings builds it (or reports the error) as it always did
            loaded = config._loaded_by_pydantic_settings()(**given_flags)
            assert direct.model_dump() == loaded.model_dump()
            assert repr(direct) == repr(loaded)

    check()


def test_settings_are_built_directly_only_without_a_config_file_or_json_values(monkeypatch, tmp_path):
    from ghsync import config

    monkeypatch.setenv("GHSYNC_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("GHSYNC_DB", str(tmp_path / "env.db"))
    assert config._loaded_directly({}) is not None
    monkeypatch.setenv("GHSYNC_EXCLUDE_AUTHORS", '["bot*"]')
    assert config._loaded_directly({}) is None
    monkeypatch.delenv("GHSYNC_EXCLUDE_AUTHORS")
    (tmp_path / "config.toml").write_text('db = "file.db"\n')
    assert config._loaded_directly({}) is None
    assert load_settings().db == tmp_path / "env.db"  # the environment still wins over the file


@pytest.mark.parametrize("with_config_file", [False, True])
def test_only_the_documented_variables_are_read_not_a_settings_bare_name(monkeypatch, tmp_path, with_config_file):
    # API_URL, DB, TOKENS … are common in containers and cron: read as settings, API_URL would send the token
    # to whatever host it names.
    if with_config_file:
        (tmp_path / "config.toml").write_text("[teams.platform]\nmembers = ['alice']\n")
    monkeypatch.setenv("GHSYNC_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("GITHUB_TOKEN", "real")
    for name, value in {"API_URL": "https://evil.example", "DB": str(tmp_path / "x.db"), "TOKENS": "stolen"}.items():
        monkeypatch.setenv(name, value)
        monkeypatch.setenv(name.lower(), value)
    settings = load_settings()
    assert settings.api_url == "https://api.github.com"
    assert settings.db != tmp_path / "x.db"
    assert settings.github_tokens() == ["real"]


def test_a_json_variable_that_is_not_json_is_a_config_error_naming_it(monkeypatch):
    monkeypatch.setenv("GHSYNC_TEAMS", "{bad")
    with pytest.raises(ConfigError, match=r"^invalid setting GHSYNC_TEAMS: not valid JSON$"):
        load_settings()


def test_an_api_url_with_credentials_in_it_is_refused_without_echoing_them(monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", "http://user:hunter2@127.0.0.1:1")
    with pytest.raises(ConfigError, match="must not carry a user or password") as raised:
        load_settings()
    assert "hunter2" not in str(raised.value)


# --- the config file below the environment, key by key ------------------------------------------


def _config(monkeypatch, tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text)
    monkeypatch.setenv("GHSYNC_CONFIG", str(path))
    return path


def _config_or_none(monkeypatch, tmp_path, with_config_file: bool) -> None:
    """A config file (setting min_remaining = 7), or none: settings are loaded one of two ways, one for each."""
    if with_config_file:
        _config(monkeypatch, tmp_path, "min_remaining = 7\n")
    else:
        monkeypatch.setenv("GHSYNC_CONFIG", str(tmp_path / "absent.toml"))


def test_a_token_in_the_environment_beats_the_config_files_token_of_the_same_tier(monkeypatch, tmp_path):
    # gh's order (GH_TOKEN before GITHUB_TOKEN) is among the variables of one source, never across sources;
    # the file's pool (tokens) is still the pool.
    _config(monkeypatch, tmp_path, 'gh_token = "from-file"\ntokens = "file-a,file-b"\n')
    monkeypatch.setenv("GITHUB_TOKEN", "from-environment")
    assert load_settings().github_tokens() == ["from-environment", "file-a", "file-b"]
    monkeypatch.setenv("GHSYNC_TOKENS", "env-a")
    assert load_settings().github_tokens() == ["from-environment", "env-a"]


def test_an_enterprise_hosts_own_token_in_the_file_beats_a_github_com_token_in_the_environment(monkeypatch, tmp_path):
    # The github.com token must not be sent to the Enterprise server because it came from the environment.
    _config(monkeypatch, tmp_path, 'api_url = "https://ghe.example.com/api/v3"\ngh_enterprise_token = "ghe-file"\n')
    monkeypatch.setenv("GITHUB_TOKEN", "dotcom-environment")
    assert load_settings().github_tokens() == ["ghe-file"]


def test_an_enterprise_variable_does_not_hide_the_files_github_com_token(monkeypatch, tmp_path):
    _config(monkeypatch, tmp_path, 'gh_token = "dotcom-file"\n')
    monkeypatch.setenv("GITHUB_ENTERPRISE_TOKEN", "ghe-environment")
    assert load_settings().github_tokens() == ["dotcom-file"]


def test_a_variable_of_spaces_is_unset_like_an_empty_one(monkeypatch, tmp_path):
    _config(monkeypatch, tmp_path, 'tokens = "file-a"\n')
    monkeypatch.setenv("GH_TOKEN", "   ")
    monkeypatch.setenv("GITHUB_TOKEN", "the-token")
    monkeypatch.setenv("GHSYNC_TOKENS", "  ")
    assert load_settings().github_tokens() == ["the-token", "file-a"]


def test_the_config_files_tokens_serve_when_the_environment_has_none(monkeypatch, tmp_path):
    _config(monkeypatch, tmp_path, 'gh_token = "from-file"\ntokens = "file-a"\n')
    monkeypatch.setenv("GITHUB_TOKEN", "  ")  # set but empty: gives no token
    assert load_settings().github_tokens() == ["from-file", "file-a"]


def test_ghsync_teams_replaces_the_config_files_teams(monkeypatch, tmp_path):
    _config(monkeypatch, tmp_path, "[teams.web]\nmembers = ['alice']\n")
    monkeypatch.setenv("GHSYNC_TEAMS", '{"ops": {"members": ["bob"]}}')
    assert list(load_settings().teams) == ["ops"]


def test_an_unknown_key_of_the_config_file_is_really_ignored(monkeypatch, tmp_path):
    # The warning says so: a variable's name (ghsync_db) or a field's (env_gh) in the file sets nothing.
    _config(monkeypatch, tmp_path, f'ghsync_db = "{tmp_path / "x.db"}"\nenv_gh = "sneaky"\n')
    settings = load_settings()
    assert settings.db != tmp_path / "x.db"
    assert settings.env_gh is None


def test_a_bad_value_in_the_config_file_names_the_file_and_its_key(monkeypatch, tmp_path):
    path = _config(monkeypatch, tmp_path, 'min_remaining = "lots"\n')
    with pytest.raises(ConfigError, match=rf"^config file {path}: invalid min_remaining: .*integer"):
        load_settings()


def test_a_bad_value_in_the_environment_still_names_the_variable_with_a_config_file(monkeypatch, tmp_path):
    _config(monkeypatch, tmp_path, "min_remaining = 5\n")
    monkeypatch.setenv("GHSYNC_MIN_REMAINING", "lots")
    with pytest.raises(ConfigError, match=r"^invalid setting --min-remaining / GHSYNC_MIN_REMAINING: "):
        load_settings()


def test_a_typo_inside_a_team_table_names_the_team_and_the_closest_key(monkeypatch, tmp_path):
    # Fatal, not a warning: ignored, `member` would make the team everyone.
    path = _config(monkeypatch, tmp_path, "[teams.web]\nmember = ['alice']\n")
    with pytest.raises(
        ConfigError, match=rf"^config file {path}: \[teams.web\] has an unknown key 'member'; did you mean 'members'\?$"
    ):
        load_settings()


def test_a_config_path_that_is_a_directory_is_a_config_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GHSYNC_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError, match="is a directory"):
        load_settings()


def test_a_bad_mail_setting_in_the_config_file_names_the_file_and_its_key(monkeypatch, tmp_path):
    path = _config(monkeypatch, tmp_path, 'smtp_host = "smtp.example.com"\nsmtp_security = "sometimes"\n')
    with pytest.raises(ConfigError, match=rf"^config file {path}: invalid smtp_security: "):
        load_settings().smtp()
    monkeypatch.setenv("GHSYNC_SMTP_SECURITY", "never")
    with pytest.raises(ConfigError, match=r"^invalid setting GHSYNC_SMTP_SECURITY: "):
        load_settings().smtp()


@pytest.mark.parametrize("with_config_file", [False, True])
def test_an_empty_variable_is_unset(monkeypatch, tmp_path, with_config_file):
    # `GITHUB_API_URL=` in a crontab or a compose file; gh reads an empty GH_TOKEN the same way.
    _config_or_none(monkeypatch, tmp_path, with_config_file)
    for name in ("GITHUB_API_URL", "GHSYNC_MIN_REMAINING", "GHSYNC_DB", "GH_TOKEN"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("GITHUB_TOKEN", "the-token")
    settings = load_settings()
    assert settings.api_url == "https://api.github.com"
    assert settings.min_remaining == (7 if with_config_file else 100)
    assert settings.db.name == "ghsync.db"
    assert settings.github_tokens() == ["the-token"]


def test_a_team_table_whose_members_are_not_a_list_says_how_to_write_one(monkeypatch, tmp_path):
    path = _config(monkeypatch, tmp_path, '[teams.web]\nmembers = "alice"\n')
    with pytest.raises(
        ConfigError,
        match=rf'^config file {path}: \[teams.web\] members must be a list, e.g. members = \["alice", "bob"\]$',
    ):
        load_settings()


def test_a_validators_message_reads_without_pydantics_value_error_prefix(monkeypatch):
    with pytest.raises(
        ConfigError, match=r"^invalid setting --notify-on / GHSYNC_NOTIFY_ON: unknown event 'sometimes'"
    ):
        load_settings(notify_on="sometimes")


@pytest.mark.parametrize("with_config_file", [False, True])
def test_a_blank_variable_does_not_hide_the_same_variable_in_another_case(monkeypatch, tmp_path, with_config_file):
    # Both ways of loading settings read the environment alike (one runs when a config file exists).
    _config_or_none(monkeypatch, tmp_path, with_config_file)
    monkeypatch.setenv("GH_TOKEN", "tok")
    monkeypatch.setenv("gh_token", " ")
    assert load_settings().github_tokens() == ["tok"]
