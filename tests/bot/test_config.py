"""Settings: read once, and every problem named by its variable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigError

REQUIRED = {
    "SLACK_BOT_TOKEN": "xoxb-1-test",
    "SLACK_SIGNING_SECRET": "signing-secret",
    "AZURE_AI_PROJECT_ENDPOINT": "https://acct.services.ai.azure.com/api/projects/proj",
    "AZURE_AI_MODEL_DEPLOYMENT_NAME": "gpt-5-mini",
}


def _set(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def _expected(field: str) -> str:
    return str(Settings.model_fields[field].description)


def _problems(**overrides: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    return caught.value.problems


def test_settings_load_from_environment_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The four required variables are enough; everything else has a sensible default."""
    _set(monkeypatch, REQUIRED)
    settings = load_settings()
    assert settings.slack_bot_token.get_secret_value() == "xoxb-1-test"
    assert settings.socket_mode is False
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.agent_name == "slack-code-interpreter"
    assert settings.database_url == "sqlite:///data/bot.db"
    assert (settings.host, settings.port) == ("0.0.0.0", 3000)
    assert settings.thread_idle_ttl == timedelta(days=7)
    assert settings.deployment == "slack-code-interpreter"
    assert settings.max_file_bytes == 100 * 1024 * 1024


@pytest.mark.parametrize("variable", sorted(REQUIRED))
def test_each_missing_required_variable_is_named(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    """Leaving out one required variable gives exactly one line that names it and what it expects."""
    _set(monkeypatch, {k: v for k, v in REQUIRED.items() if k != variable})
    problems = _problems()
    assert len(problems) == 1
    assert problems[0].startswith(variable)
    assert "expected" in problems[0] or "required" in problems[0]


def test_signing_secret_is_optional_in_socket_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """With an app-level token the bot runs in Socket Mode and needs no signing secret."""
    _set(monkeypatch, {k: v for k, v in REQUIRED.items() if k != "SLACK_SIGNING_SECRET"})
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-test")
    assert load_settings().socket_mode is True


@pytest.mark.parametrize("blank", ["", "  ", "\n"])
def test_blank_app_token_means_http_mode(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    """``SLACK_APP_TOKEN=`` (a .env template's empty line) is unset: HTTP mode, not a malformed token."""
    _set(monkeypatch, {**REQUIRED, "SLACK_APP_TOKEN": blank})
    settings = load_settings()
    assert settings.socket_mode is False
    assert settings.slack_app_token is None


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_blank_signing_secret_in_http_mode_is_named(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    """A blank secret would refuse every event while the health check says ok: start-up stops instead."""
    _set(monkeypatch, {**REQUIRED, "SLACK_SIGNING_SECRET": blank})
    [problem] = _problems()
    assert problem.startswith("SLACK_SIGNING_SECRET is missing")
    assert "HTTP mode" in problem


def test_every_missing_variable_is_listed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing set, one run names all four variables HTTP mode needs, the signing secret included."""
    for name in REQUIRED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    problems = _problems(_env_file=None)
    assert sorted(p.split(" ", 1)[0] for p in problems) == sorted(REQUIRED)


def test_signing_secret_loses_the_spaces_pasted_around_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret copied with a trailing line break still verifies Slack's signatures."""
    _set(monkeypatch, {**REQUIRED, "SLACK_SIGNING_SECRET": " 8f742231b10e8888abcd99yyyzzz85a5\n"})
    secret = load_settings().slack_signing_secret
    assert secret is not None
    assert secret.get_secret_value() == "8f742231b10e8888abcd99yyyzzz85a5"


def test_a_command_that_serves_nothing_does_without_the_signing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """`sweep` and `teardown` receive nothing from Slack; `run` and `check` still ask for the secret."""
    _set(monkeypatch, {k: v for k, v in REQUIRED.items() if k != "SLACK_SIGNING_SECRET"})
    assert load_settings(serving=False).slack_signing_secret is None
    assert _problems() == ["SLACK_SIGNING_SECRET is missing: expected " + _expected("slack_signing_secret") + "."]


def test_bot_token_loses_the_spaces_pasted_around_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like the other secrets: a token copied with a leading space is the token, not a malformed one."""
    _set(monkeypatch, {**REQUIRED, "SLACK_BOT_TOKEN": " xoxb-1-test\n"})
    assert load_settings().slack_bot_token.get_secret_value() == "xoxb-1-test"


@pytest.mark.parametrize("typed", ["white_check_mark", ":white_check_mark:", " :white_check_mark: "])
def test_archive_reaction_is_the_emoji_name_however_it_is_typed(monkeypatch: pytest.MonkeyPatch, typed: str) -> None:
    """Slack's reaction events carry the name without colons; the setting is compared with that."""
    _set(monkeypatch, {**REQUIRED, "ARCHIVE_REACTION": typed})
    assert load_settings().archive_reaction == "white_check_mark"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "xoxb-"),
        ("SLACK_APP_TOKEN", "xoxb-not-an-app-token", "xapp-"),
        ("PORT", "eighty", "TCP port"),
        ("MAX_FILE_MB", "1024", "512"),
        ("THREAD_REPLIES", "sometimes", "mentions"),
        ("FILE_DROP_MODE", "always", "offer"),
        ("AZURE_AI_PROJECT_ENDPOINT", "http://example.com/api/projects/p", "https://"),
        ("AZURE_AI_PROJECT_ENDPOINT", "https://acct.services.ai.azure.com/", "/api/projects/"),
        ("SLACK_API_URL", "ftp://slack.com/api/", "https://"),
        ("AGENT_NAME", "-bad-name-", "agent name"),
        ("THREAD_IDLE_TTL", "soon", "duration"),
        ("THREAD_IDLE_TTL", "-5", "longer than zero"),
        ("THREAD_IDLE_TTL", "9999999999w", "too long"),
        ("THREAD_IDLE_TTL", "1000000d", "at most 3650d"),
        ("THREAD_IDLE_TTL", "0", "longer than zero"),
        ("THREAD_IDLE_TTL", "30", "write 30m, 12h or 7d"),
        ("THREAD_IDLE_TTL", "4m", "240 s is too short: at least 5m"),
        ("DATABASE_URL", "mysql://db/bot", "sqlite:///"),
        ("DATABASE_URL", "postgresql://bot@db/bot", "PostgreSQL is not available yet"),
        ("DATABASE_URL", "sqlite:///", "must name a database file"),
        ("DATABASE_URL", "sqlite://data/bot.db", "three slashes"),
        ("DATABASE_URL", "sqlite:/data/bot.db", "three slashes"),
    ],
)
def test_malformed_value_names_variable_and_expectation(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, fragment: str
) -> None:
    """A malformed value gives one line naming the variable, why it is wrong and what is expected."""
    _set(monkeypatch, REQUIRED)
    monkeypatch.setenv(variable, value)
    problems = _problems()
    assert len(problems) == 1
    assert problems[0].startswith(f"{variable} is malformed")
    assert fragment in problems[0]


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("THREAD_REPLIES", "ALL", "thread_replies", "all"),
        ("FILE_DROP_MODE", " Auto", "file_drop_mode", "auto"),
        ("SHOW_CODE", "Always", "show_code", "always"),
        ("EXTERNAL_USERS", "ALLOW", "external_users", "allow"),
        ("LOG_LEVEL", "debug ", "log_level", "DEBUG"),
    ],
)
def test_choice_settings_take_any_capitalisation(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str, expected: str
) -> None:
    """A choice is read whatever its case and surrounding spaces, the same for every such setting."""
    _set(monkeypatch, {**REQUIRED, variable: value})
    assert getattr(load_settings(), field) == expected


@pytest.mark.parametrize(
    ("value", "seconds"), [("7d", 604800), ("90m", 5400), ("600", 600), ("P1D", 86400), ("12:00:00", 43200)]
)
def test_idle_ttl_takes_short_forms_and_iso_durations(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: int
) -> None:
    """THREAD_IDLE_TTL reads 7d/12h/90m/seconds, and the ISO 8601 and clock forms pydantic knows."""
    _set(monkeypatch, {**REQUIRED, "THREAD_IDLE_TTL": value})
    assert load_settings().thread_idle_ttl == timedelta(seconds=seconds)


def test_zero_idle_ttl_given_directly_is_refused() -> None:
    """The check holds for a value given in code too, not only for one read from the environment."""
    with pytest.raises(ValueError, match="longer than zero"):
        Settings(_env_file=None, **{k.lower(): v for k, v in REQUIRED.items()}, thread_idle_ttl=timedelta(0))


def test_malformed_secret_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The message about a malformed token does not repeat the token."""
    _set(monkeypatch, REQUIRED)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-very-secret-value")
    assert "very-secret" not in _problems()[0]


def test_settings_repr_hides_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Printing or logging the settings never shows a token or the signing secret."""
    _set(monkeypatch, REQUIRED)
    text = repr(load_settings()) + str(load_settings().model_dump())
    assert "xoxb-1-test" not in text
    assert "signing-secret" not in text


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    """Values in .env in the working directory are used when the environment lacks them."""
    (tmp_path / ".env").write_text("\n".join(f"{k}={v}" for k, v in REQUIRED.items()) + "\nPORT=8080\n")
    assert load_settings().port == 8080


def test_environment_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A variable set in the environment overrides the same name in .env."""
    (tmp_path / ".env").write_text("\n".join(f"{k}={v}" for k, v in REQUIRED.items()) + "\nPORT=8080\n")
    monkeypatch.setenv("PORT", "9090")
    assert load_settings().port == 9090


@pytest.mark.parametrize(("text", "expected"), [("7d", 7 * 86400), ("12h", 43200), ("90m", 5400), ("600", 600)])
def test_durations_accept_units(monkeypatch: pytest.MonkeyPatch, text: str, expected: int) -> None:
    """THREAD_IDLE_TTL takes seconds or a number with s, m, h, d or w."""
    _set(monkeypatch, REQUIRED)
    monkeypatch.setenv("THREAD_IDLE_TTL", text)
    assert load_settings().thread_idle_ttl.total_seconds() == expected


def test_comma_separated_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """Allowlists are comma-separated ids; blanks and spaces are ignored."""
    _set(monkeypatch, REQUIRED)
    monkeypatch.setenv("ALLOWED_CHANNELS", "C1, C2,,C3 ")
    assert load_settings().allowed_channels == ["C1", "C2", "C3"]


def test_loopback_http_endpoints_are_allowed() -> None:
    """Plain http is accepted only for this machine, where the emulators run."""
    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-1",
        slack_signing_secret="s",
        slack_api_url="http://127.0.0.1:9000/api",
        azure_ai_project_endpoint="http://localhost:9001/api/projects/demo/",
        azure_ai_model_deployment_name="m",
    )
    assert settings.slack_api_url == "http://127.0.0.1:9000/api/"
    assert settings.azure_ai_project_endpoint == "http://localhost:9001/api/projects/demo"


def test_governance_settings_read_lists_limits_and_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Allowlists are comma lists, limits and prices are optional numbers, and blank means unset."""
    _set(monkeypatch, REQUIRED)
    _set(
        monkeypatch,
        {
            "ALLOWED_TEAMS": "T1, T2",
            "ALLOWED_CHANNELS": "C1",
            "EXTERNAL_USERS": "allow",
            "MAX_TURNS_PER_USER_PER_DAY": "20",
            "MAX_SESSIONS_PER_CHANNEL_PER_DAY": "",
            "PRICE_PER_1K_INPUT_TOKENS": "0.25",
            "SHOW_COST": "true",
        },
    )
    settings = load_settings()
    assert settings.allowed_teams == ["T1", "T2"]
    assert settings.allowed_channels == ["C1"]
    assert settings.allowed_users == []
    assert settings.external_users == "allow"
    assert settings.max_turns_per_user_per_day == 20
    assert settings.max_sessions_per_channel_per_day is None
    assert settings.price_per_1k_input_tokens == 0.25
    assert settings.price_per_session is None
    assert settings.show_cost is True


def test_governance_defaults_deny_external_people_and_set_no_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    _set(monkeypatch, REQUIRED)
    settings = load_settings()
    assert settings.external_users == "deny"
    assert settings.max_turns_per_user_per_day is None
    assert settings.show_cost is False


def test_malformed_governance_settings_name_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    _set(monkeypatch, REQUIRED)
    _set(monkeypatch, {"EXTERNAL_USERS": "maybe", "MAX_TURNS_PER_USER_PER_DAY": "0", "PRICE_PER_SESSION": "-1"})
    problems = _problems()
    assert any(p.startswith("EXTERNAL_USERS is malformed") and "deny or allow" in p for p in problems)
    assert any(p.startswith("MAX_TURNS_PER_USER_PER_DAY is malformed") for p in problems)
    assert any(p.startswith("PRICE_PER_SESSION is malformed") for p in problems)
