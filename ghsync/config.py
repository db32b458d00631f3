"""Settings from flags, environment and an optional TOML file (flags win, then environment, then file)."""

# No `from __future__ import annotations`: every command builds Settings, and pydantic would compile and
# evaluate each string annotation of its fields at import.
import functools
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

if TYPE_CHECKING:
    from pydantic_settings import PydanticBaseSettingsSource

from ghsync.errors import ConfigError

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_MIN_REMAINING = 100
DEFAULT_REQUEST_TIMEOUT = 60.0


def default_db_path() -> Path:
    from platformdirs import user_data_path

    return user_data_path("ghsync", appauthor=False) / "ghsync.db"


def default_config_path() -> Path:
    explicit = os.environ.get("GHSYNC_CONFIG")
    if explicit:
        return Path(explicit)
    from platformdirs import user_config_path

    return user_config_path("ghsync", appauthor=False) / "config.toml"


# Logins whose PRs and reviews metrics leave out by default (globs; `[bot]` is a literal suffix).
DEFAULT_EXCLUDE_AUTHORS = ["dependabot*", "renovate*", "*[bot]"]


class TeamConfig(BaseModel):
    """`[teams.NAME]` in the config file: PRs in `repos` (all tracked if absent) by `members` (anyone if absent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    members: tuple[str, ...] | None = None
    repos: tuple[str, ...] | None = None


class Settings(BaseModel):
    """Everything ghsync reads from its surroundings. Secrets are SecretStr so they never print.

    Built by load_settings: by pydantic-settings (the subclass of _loaded_by_pydantic_settings), or, when
    nothing needs it, from the flags and the plain environment values directly (see _loaded_directly).
    """

    # What pydantic-settings' BaseSettings validates with (it validates defaults too), so that both ways
    # of building Settings validate alike.
    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, frozen=True, validate_default=True, arbitrary_types_allowed=True
    )

    db: Path = Field(default_factory=default_db_path, validation_alias="GHSYNC_DB")
    # As GitHub's own CLI: GH_TOKEN wins over GITHUB_TOKEN; for an Enterprise host GH_ENTERPRISE_TOKEN,
    # then GITHUB_ENTERPRISE_TOKEN come first; with none of them, `gh auth token --hostname HOST`.
    # (Field names unlike the variables: pydantic-settings matches init keys to aliases ignoring case.)
    env_gh: SecretStr | None = Field(default=None, validation_alias="GH_TOKEN")
    env_github: SecretStr | None = Field(default=None, validation_alias="GITHUB_TOKEN")
    env_gh_enterprise: SecretStr | None = Field(default=None, validation_alias="GH_ENTERPRISE_TOKEN")
    env_github_enterprise: SecretStr | None = Field(default=None, validation_alias="GITHUB_ENTERPRISE_TOKEN")
    # The same four from the config file (gh_token …), kept apart: which token wins depends on the source as
    # well as the name (see github_tokens). No variable sets them.
    file_gh: SecretStr | None = None
    file_github: SecretStr | None = None
    file_gh_enterprise: SecretStr | None = None
    file_github_enterprise: SecretStr | None = None
    # Several tokens for a pool: a comma-separated list.
    tokens: str | None = Field(default=None, validation_alias="GHSYNC_TOKENS")
    api_url: str = Field(default=DEFAULT_API_URL, validation_alias="GITHUB_API_URL")
    min_remaining: int = Field(default=DEFAULT_MIN_REMAINING, ge=0, validation_alias="GHSYNC_MIN_REMAINING")
    # Plain http:// is refused for any host but this machine unless this is set (the token would travel in clear).
    allow_insecure_http: bool = Field(default=False, validation_alias="GHSYNC_ALLOW_INSECURE_HTTP")
    # Seconds one GitHub request may take in all (connect + the whole answer); then it counts as a timeout.
    request_timeout: float = Field(
        default=DEFAULT_REQUEST_TIMEOUT, gt=0, le=3600, validation_alias="GHSYNC_REQUEST_TIMEOUT"
    )

    smtp_host: str | None = Field(default=None, validation_alias="GHSYNC_SMTP_HOST")
    smtp_port: int | None = Field(default=None, ge=1, le=65535, validation_alias="GHSYNC_SMTP_PORT")
    smtp_user: str | None = Field(default=None, validation_alias="GHSYNC_SMTP_USER")
    smtp_password: SecretStr | None = Field(default=None, validation_alias="GHSYNC_SMTP_PASSWORD")
    smtp_security: str = Field(default="starttls", validation_alias="GHSYNC_SMTP_SECURITY")
    smtp_from: str | None = Field(default=None, validation_alias="GHSYNC_SMTP_FROM")
    smtp_ca_file: str | None = Field(default=None, validation_alias="GHSYNC_SMTP_CA_FILE")
    notify_to: str | None = Field(default=None, validation_alias="GHSYNC_NOTIFY_TO")
    # An incoming-webhook URL for `ghsync digest`: a secret (whoever has it can post to the channel).
    slack_webhook: SecretStr | None = Field(default=None, validation_alias="GHSYNC_SLACK_WEBHOOK")
    # Seconds the Slack POST may take in all before it counts as failed.
    slack_timeout: float = Field(default=10.0, gt=0, le=600, validation_alias="GHSYNC_SLACK_TIMEOUT")
    # Besides a completed initial sync (always mailed): any of update, rate_limited, error.
    notify_on: str = Field(default="", validation_alias="GHSYNC_NOTIFY_ON")

    # Config file only: teams for `metrics --team` / `--by team`, and who counts as a bot in metrics.
    teams: dict[str, TeamConfig] = Field(default_factory=dict, validation_alias="GHSYNC_TEAMS")
    exclude_authors: tuple[str, ...] = Field(
        default=tuple(DEFAULT_EXCLUDE_AUTHORS), validation_alias="GHSYNC_EXCLUDE_AUTHORS"
    )

    @field_validator("notify_on")
    @classmethod
    def _known_events(cls, value: str) -> str:
        events = {part.strip() for part in value.split(",") if part.strip()}
        unknown = events - {"update", "rate_limited", "error"}
        if unknown:
            raise ValueError(f"unknown event {min(unknown)!r}: use update, rate_limited, error")
        return ",".join(sorted(events))

    def notify_events(self) -> set[str]:
        return {part for part in self.notify_on.split(",") if part}

    def smtp(self):
        """The notifier's settings; a bad value is a ConfigError naming the variable."""
        from ghsync.notify.settings import SmtpSettings

        try:
            return SmtpSettings(
                host=self.smtp_host,
                port=self.smtp_port,
                user=self.smtp_user,
                password=self.smtp_password,
                security=self.smtp_security,
                from_addr=self.smtp_from,
                default_recipients=self.notify_to or (),
                ca_file=self.smtp_ca_file,
            )
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or "host"
            field = {"default_recipients": "notify_to", "from_addr": "from"}.get(where, where)
            field = field if field == "notify_to" else f"smtp_{field}"
            message = _said(first)
            if field in Settings.model_fields and not _environment_sets(field) and _file_sets(field):
                raise ConfigError(f"config file {default_config_path()}: invalid {field}: {message}") from None
            raise ConfigError(f"invalid setting {_VARIABLE_OF.get(field, field).upper()}: {message}") from None

    @field_validator("api_url")
    @classmethod
    def _api_url_is_http(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if "@" in urlsplit(value).netloc:
            # Credentials in the URL would be echoed by every error naming it: the token goes in --token.
            raise ValueError("must not carry a user or password (give the token with --token or GITHUB_TOKEN)")
        return value

    def github_tokens(self) -> list[str]:
        """Every configured token, de-duplicated, in order of preference."""
        found: list[str] = []
        # One token from the gh-style variables (several set is one token, not a pool, as in gh): GH_TOKEN, else
        # GITHUB_TOKEN; for an Enterprise host its own variables first, the github.com ones only after. Within
        # each of those tiers the environment beats the config file; a host's own tier beats the fallback.
        ordinary = [self.env_gh, self.env_github, self.file_gh, self.file_github]
        tiers = [ordinary]
        if self.is_enterprise():
            own = [
                self.env_gh_enterprise,
                self.env_github_enterprise,
                self.file_gh_enterprise,
                self.file_github_enterprise,
            ]
            tiers = [own, ordinary]
        candidates = [candidate for tier in tiers for candidate in tier]
        chosen = next((c for c in candidates if c is not None and c.get_secret_value().strip()), None)
        values = [chosen.get_secret_value()] if chosen is not None else []
        if self.tokens:
            values.extend(part for part in self.tokens.split(","))
        if not any(value.strip() for value in values):
            stored = gh_cli_token(self.github_host())
            values = [stored] if stored else []
        for number, value in enumerate(values, start=1):
            value = value.strip()
            if value and (any(ch.isspace() for ch in value) or not value.isascii()):
                # A pasted token with a line break or a curly quote would fail deep inside HTTP.
                raise ConfigError(
                    f"GitHub token #{number} contains spaces or non-ASCII characters; check how it was pasted"
                )
            if value and value not in found:
                found.append(value)
        return found

    def github_host(self) -> str:
        """The web host of the API URL, as `gh` names it: github.com for api.github.com."""
        host = urlsplit(self.api_url).netloc.lower()
        return "github.com" if host in ("api.github.com", "github.com") else host

    def is_enterprise(self) -> bool:
        return self.github_host() != "github.com"


GH_TIMEOUT_SECONDS = 3.0


def gh_cli_token(host: str) -> str | None:
    """The token GitHub's CLI stores for `host` (`gh auth token --hostname HOST`), or None.

    Never logged: on any failure (no gh, not logged in, a slow keyring) there is simply no token.
    """
    import shutil
    import subprocess

    executable = shutil.which("gh")
    if executable is None:
        return None
    try:
        done = subprocess.run(
            [executable, "auth", "token", "--hostname", host],
            capture_output=True,
            text=True,
            timeout=GH_TIMEOUT_SECONDS,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    token = done.stdout.strip()
    return token if done.returncode == 0 and token else None


def _file_keys() -> dict[str, str]:
    """The config file's keys and the field each sets: a field's name, but the token variables under their
    own lower-case names (gh_token, github_token …), as people know them."""
    return {
        (str(field.validation_alias).lower() if name.startswith("env_") else name): (
            name.replace("env_", "file_", 1) if name.startswith("env_") else name
        )
        for name, field in Settings.model_fields.items()
        if not name.startswith("file_")
    }


def _set(value: str) -> bool:
    """An empty variable, or one of spaces only, is unset (`GITHUB_API_URL=` in a crontab), as gh reads GH_TOKEN."""
    return bool(value.strip())


def _environment_sets(field: str) -> bool:
    """Whether a documented variable of the environment gives this field a value (any case, not blank)."""
    variable = _VARIABLE_OF.get(field)
    return variable is not None and any(name.lower() == variable and _set(value) for name, value in os.environ.items())


def _file_sets(field: str) -> bool:
    """Whether the config file (readable, as loaded) gives this field a value."""
    try:
        data = tomllib.loads(default_config_path().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return field in file_values(data)


def file_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the config file contributes, by field name: its known keys only (an unknown key is said to be
    ignored, so it must be), less the teams when GHSYNC_TEAMS is set (a table would otherwise be merged into
    it). Its token keys set the file_* fields, which github_tokens ranks below the environment's."""
    keys = _file_keys()
    values = {keys[key]: value for key, value in data.items() if key in keys}
    if _environment_sets("teams"):
        values.pop("teams", None)
    return values


def _config_path_checked() -> Path:
    path = default_config_path()
    if path.is_dir():
        raise ConfigError(f"config file {path} is a directory (GHSYNC_CONFIG names the file itself)")
    return path


def config_file_warnings() -> list[str]:
    """Keys of the config file that no setting reads (a typo is otherwise ignored silently), each with
    the closest known key. Unreadable files are left to load_settings to report."""
    import difflib

    path = default_config_path()
    try:
        keys = list(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    known = list(_file_keys())
    warnings = []
    for key in keys:
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
        warnings.append(f"config file {path}: unknown key '{key}' is ignored{hint}")
    return warnings


_TOKEN_NAMES = ("gh", "github", "gh_enterprise", "github_enterprise")

_FIELD_NAMES = {
    "db": "--db / GHSYNC_DB",
    "tokens": "--token / GHSYNC_TOKENS",
    "env_gh": "GH_TOKEN",
    "env_github": "GITHUB_TOKEN",
    "api_url": "--api-url / GITHUB_API_URL",
    "min_remaining": "--min-remaining / GHSYNC_MIN_REMAINING",
    "allow_insecure_http": "--allow-insecure-http / GHSYNC_ALLOW_INSECURE_HTTP",
    "request_timeout": "GHSYNC_REQUEST_TIMEOUT",
    "notify_on": "--notify-on / GHSYNC_NOTIFY_ON",
    "slack_webhook": "--slack-webhook / GHSYNC_SLACK_WEBHOOK",
    "slack_timeout": "GHSYNC_SLACK_TIMEOUT",
}


@functools.cache
def _loaded_by_pydantic_settings() -> type[Settings]:
    """Settings as pydantic-settings loads them: flags, then environment, then the TOML file.

    Imported only when needed (see _loaded_directly): pydantic-settings brings asyncio, argparse and
    dotenv with it, a fifth of `ghsync status`'s start."""
    from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

    class DocumentedVariablesOnly(EnvSettingsSource):
        """The environment by the documented names only (GHSYNC_DB, GITHUB_API_URL …). populate_by_name, which
        flags and the config file need, would also read a field's bare name: API_URL, DB or TOKENS, common
        in containers and cron, could then send the token elsewhere."""

        def _load_env_vars(self) -> Mapping[str, str | None]:
            # As _loaded_directly reads them: a blank variable is unset before names of other case are merged.
            return {
                name.lower(): value for name, value in os.environ.items() if name.lower() in _VARIABLES and _set(value)
            }

    class ConfigFile(TomlConfigSettingsSource):
        """The config file, below the environment: its known keys only, less what the environment replaces."""

        def _read_file(self, file_path: Any) -> dict[str, Any]:
            return file_values(super()._read_file(file_path))

    class LoadedSettings(BaseSettings, Settings):
        model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: "PydanticBaseSettingsSource",
            env_settings: "PydanticBaseSettingsSource",
            dotenv_settings: "PydanticBaseSettingsSource",
            file_secret_settings: "PydanticBaseSettingsSource",
        ) -> tuple["PydanticBaseSettingsSource", ...]:
            toml = ConfigFile(settings_cls, toml_file=default_config_path())
            return (init_settings, DocumentedVariablesOnly(settings_cls), toml)

    # It is the Settings people see (its repr, its errors).
    LoadedSettings.__name__ = LoadedSettings.__qualname__ = "Settings"
    return LoadedSettings


# Fields whose environment value pydantic-settings decodes as JSON.
_JSON_FIELDS = frozenset({"teams", "exclude_authors"})
# Each field's environment variable, lower-cased as pydantic-settings compares them: the only names read.
_VARIABLE_OF = {
    name: str(field.validation_alias).lower()
    for name, field in Settings.model_fields.items()
    if isinstance(field.validation_alias, str)
}
_VARIABLES = frozenset(_VARIABLE_OF.values())


def _loaded_directly(given: dict[str, Any]) -> Settings | None:
    """Settings from the flags and the environment, read as pydantic-settings reads them, when that is
    all there is: no config file, no JSON-valued variable. None when anything else is needed, or when
    a value is invalid (pydantic-settings then builds the same error as always)."""
    try:
        if _config_path_checked().exists():
            return None
    except OSError:
        return None
    # As pydantic-settings (case-insensitive): variables by lower-cased name, the last of equal ones winning;
    # a field is read from its documented variable only (see DocumentedVariablesOnly).
    environment = {name.lower(): value for name, value in os.environ.items() if _set(value)}
    values: dict[str, Any] = {}
    for name, variable in _VARIABLE_OF.items():
        if variable not in environment:
            continue
        if name in _JSON_FIELDS:
            return None
        values[name] = environment[variable]
    try:
        return Settings(**{**values, **given})
    except ValidationError:
        return None


def load_settings(**overrides: Any) -> Settings:
    """Build Settings; `overrides` are command-line flags, and a None flag means "not given"."""
    given = {key: value for key, value in overrides.items() if value is not None}
    if "tokens" in given and isinstance(given["tokens"], (list, tuple)):
        tokens = list(given.pop("tokens"))
        if tokens:
            # --token replaces every token variable.
            given["tokens"] = ",".join(tokens)
            given.update({f"{source}_{name}": None for source in ("env", "file") for name in _TOKEN_NAMES})
    direct = _loaded_directly(given)
    if direct is not None:
        return direct
    try:
        return _loaded_by_pydantic_settings()(**given)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {default_config_path()} is not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {default_config_path()} is not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {default_config_path()}: {error.strerror or error}") from None
    except ValidationError as error:
        raise _invalid_setting(error, given) from None
    except ValueError as error:
        from pydantic_settings import SettingsError

        if not isinstance(error, SettingsError):
            raise
        # A JSON-valued variable (GHSYNC_TEAMS, GHSYNC_EXCLUDE_AUTHORS) that is not JSON: bad usage, not a crash.
        named = next((name for name in _JSON_FIELDS if f'field "{name}"' in str(error)), None)
        label = _VARIABLE_OF[named].upper() if named else "settings"
        raise ConfigError(f"invalid setting {label}: not valid JSON") from None


def _invalid_setting(error: ValidationError, given: Mapping[str, Any]) -> ConfigError:
    """One line naming where the bad value came from: the flag, the variable, or the config file's key.

    pydantic echoes the input in its own str(); the message is built from parts to keep secrets out."""
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ())]
    message = _said(first)
    # pydantic-settings names a field by its variable (GHSYNC_TEAMS), a flag by the field's name.
    field_of = {variable: name for name, variable in _VARIABLE_OF.items()}
    field = field_of.get(location[0].lower(), location[0]) if location else "settings"
    location[:1] = [field] if location else []
    if field in given or field not in Settings.model_fields or _environment_sets(field):
        label = _FIELD_NAMES.get(field) or _VARIABLE_OF.get(field, field).upper()
        inside = f" ({'.'.join(location[1:])})" if len(location) > 1 else ""
        return ConfigError(f"invalid setting {label}{inside}: {message}")
    path = default_config_path()
    if field == "teams" and len(location) >= 2:
        team, key = location[1], ".".join(location[2:])
        if first.get("type") == "extra_forbidden":
            import difflib

            close = difflib.get_close_matches(key, list(TeamConfig.model_fields), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else "; known keys: members, repos"
            return ConfigError(f"config file {path}: [teams.{team}] has an unknown key '{key}'{hint}")
        if first.get("type") == "tuple_type" and key:
            return ConfigError(
                f'config file {path}: [teams.{team}] {key} must be a list, e.g. {key} = ["alice", "bob"]'
            )
        return ConfigError(f"config file {path}: [teams.{team}] {key or 'table'}: {message}")
    key = next((name for name, target in _file_keys().items() if target == field), field)
    return ConfigError(f"config file {path}: invalid {key}: {message}")


def _said(error: Any) -> str:
    """A pydantic error's message as people read it: without the "Value error, " of a validator's ValueError."""
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")
