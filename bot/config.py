"""Settings, read once from the environment (and ``.env``) through pydantic-settings.

Nothing else in the bot reads ``os.environ``: ``bot.cli`` loads :class:`Settings` once and
passes it down. A missing or malformed value becomes one line naming the variable and what it
expects (see :func:`load_settings`).
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError, StorageError
from storage.url import parse_database_url

_AGENT_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}

CommaList = Annotated[list[str], NoDecode]
_MISSING_IN_HTTP_MODE = "missing_in_http_mode"
#: False while settings are read for a command that serves nothing (``sweep``, ``teardown``),
#: which has no use for the signing secret that HTTP mode otherwise requires.
_SERVING: ContextVar[bool] = ContextVar("serving", default=True)
_NOT_POSITIVE = "must be longer than zero: every session would end at once"
#: Ten years: "never" for a thread, and far from the calendar's end (idle cut-offs are dates).
MAX_THREAD_IDLE_TTL = timedelta(days=3650)
#: Shorter, and a thread would end (its files and sandbox deleted) while people still read the answer.
MIN_THREAD_IDLE_TTL = timedelta(minutes=5)


class Settings(BaseSettings):
    """Everything the bot can be told. Field descriptions say what each variable expects."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False)

    # Slack
    slack_bot_token: SecretStr = Field(description="the bot token (xoxb-…) from OAuth & Permissions")
    slack_app_token: SecretStr | None = Field(
        default=None, description="an app-level token (xapp-…) with connections:write; set = Socket Mode"
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validate_default=True,  # so its absence in HTTP mode is reported with the other problems
        description="the signing secret from Basic Information (required in HTTP mode, when SLACK_APP_TOKEN is unset)",
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="the Slack Web API base URL, ending in /api/"
    )

    # Microsoft Foundry
    azure_ai_project_endpoint: str = Field(
        description="the Foundry project endpoint, https://<account>.services.ai.azure.com/api/projects/<project>"
    )
    azure_ai_model_deployment_name: str = Field(
        min_length=1, description="the name of a model deployment in the project (e.g. gpt-5-mini)"
    )
    agent_name: str = Field(
        default="slack-code-interpreter",
        description="a Foundry agent name: letters, digits and inner hyphens, at most 63 characters",
    )
    agent_file_slots: int = Field(
        default=20, ge=1, le=100, description="how many files one turn can hand to the sandbox (1-100)"
    )
    deployment_id: str | None = Field(
        default=None,
        max_length=64,
        description="a tag naming this deployment on everything it creates (defaults to AGENT_NAME)",
    )
    foundry_timeout_s: float = Field(
        default=120.0, gt=0, description="seconds to wait for one Foundry HTTP call before giving up"
    )
    foundry_max_retries: int = Field(
        default=4, ge=0, le=10, description="retries of a throttled or failed Foundry call (0-10)"
    )

    # Storage and HTTP
    database_url: str = Field(
        default="sqlite:///data/bot.db",
        description="sqlite:///<path> to a database file (four slashes for an absolute path)",
    )
    host: str = Field(default="0.0.0.0", description="the address the HTTP server listens on")  # noqa: S104
    port: int = Field(default=3000, ge=0, le=65535, description="a TCP port number (0-65535)")

    # Policies
    max_file_mb: int = Field(
        default=100, ge=1, le=512, description="the largest file accepted, in MB (1-512; Foundry's limit is 512)"
    )
    thread_idle_ttl: timedelta = Field(
        default=timedelta(days=7), description="a duration such as 7d, 12h or 90m (or seconds; at least 5m)"
    )
    max_concurrent_sessions: int = Field(
        default=10, ge=1, description="how many threads may run in the sandbox at once (at least 1)"
    )
    thread_replies: Literal["all", "mentions"] = Field(
        default="all", description="all (every reply in a live thread is a turn) or mentions"
    )
    file_drop_mode: Literal["offer", "auto", "ignore"] = Field(
        default="offer", description="offer, auto or ignore (files dropped without a mention)"
    )
    max_output_files: int = Field(
        default=10, ge=1, le=50, description="how many generated files one turn posts back (1-50)"
    )
    show_code: Literal["button", "always"] = Field(
        default="button", description="button (Show code on each answer) or always (post the code every time)"
    )
    archive_reaction: str = Field(
        default="white_check_mark", min_length=1, description="an emoji name, with or without colons"
    )

    # Governance: who may use the bot, how much, and what it costs
    allowed_teams: CommaList = Field(
        default_factory=list, description="comma-separated workspace ids (T…); empty means every workspace"
    )
    allowed_channels: CommaList = Field(
        default_factory=list, description="comma-separated channel ids (C…, G…); empty means every channel"
    )
    allowed_users: CommaList = Field(
        default_factory=list, description="comma-separated user ids (U…, W…); empty means everyone"
    )
    admin_users: CommaList = Field(
        default_factory=list, description="comma-separated user ids who see the workspace's usage"
    )
    external_users: Literal["deny", "allow"] = Field(
        default="deny", description="deny or allow (people from other organisations in shared channels)"
    )
    max_turns_per_user_per_day: int | None = Field(
        default=None, ge=1, description="a whole number of questions per person per UTC day (unset = no limit)"
    )
    max_sessions_per_channel_per_day: int | None = Field(
        default=None,
        ge=1,
        description="a whole number of new sandbox sessions per channel per UTC day (unset = no limit)",
    )
    price_per_session: float | None = Field(default=None, ge=0, description="a price per sandbox session, e.g. 0.03")
    price_per_1k_input_tokens: float | None = Field(
        default=None, ge=0, description="a price per 1,000 input tokens, e.g. 0.00025"
    )
    price_per_1k_output_tokens: float | None = Field(
        default=None, ge=0, description="a price per 1,000 output tokens, e.g. 0.002"
    )
    price_currency: str = Field(default="$", min_length=1, max_length=5, description="a currency symbol or code")
    show_cost: bool = Field(default=False, description="true or false (a cost line under each answer)")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="DEBUG, INFO, WARNING or ERROR"
    )

    @field_validator("slack_bot_token", mode="before")
    @classmethod
    def _bot_token_trimmed(cls, value: Any) -> Any:
        """Spaces or a line break pasted around the token, as for the other secrets (blank stays malformed)."""
        return _stripped(value)

    @field_validator("archive_reaction", mode="before")
    @classmethod
    def _reaction_name(cls, value: Any) -> Any:
        """``:white_check_mark:`` as typed in Slack means ``white_check_mark``, the name events carry."""
        return value.strip().strip(":") if isinstance(value, str) else value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must start with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must start with xapp-")
        return value

    @field_validator("slack_signing_secret", "slack_app_token", mode="before")
    @classmethod
    def _secret_trimmed(cls, value: Any) -> Any:
        """Spaces or a line break pasted around a secret would fail every check of it; blank is unset
        (``SLACK_APP_TOKEN=`` in a ``.env`` template means HTTP mode)."""
        value = _stripped(value)
        return (value or None) if isinstance(value, str) else value

    @field_validator("slack_api_url")
    @classmethod
    def _slack_url(cls, value: str) -> str:
        _require_safe_url(value)
        return value if value.endswith("/") else value + "/"

    @field_validator("azure_ai_project_endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        _require_safe_url(value)
        if "/api/projects/" not in value:
            raise ValueError("must contain /api/projects/<project>")
        return value.rstrip("/")

    @field_validator("agent_name")
    @classmethod
    def _agent_name(cls, value: str) -> str:
        if not _AGENT_NAME.match(value):
            raise ValueError("not a valid agent name")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            parse_database_url(value)
        except StorageError as exc:
            raise ValueError(str(exc).removeprefix("DATABASE_URL ").rstrip(".")) from None
        return value

    @field_validator("thread_idle_ttl", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        """``7d``, ``12h``, ``90m`` or seconds; anything else goes on to pydantic (ISO 8601, ``12:00:00``)."""
        if isinstance(value, str) and value.strip().startswith("-"):
            raise ValueError(_NOT_POSITIVE)
        if isinstance(value, str) and (match := _DURATION.match(value.lower())):
            try:
                return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])
            except OverflowError:
                raise ValueError(f"far too long: at most {MAX_THREAD_IDLE_TTL.days}d") from None
        return value

    @field_validator("thread_idle_ttl")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError(_NOT_POSITIVE)
        if value < MIN_THREAD_IDLE_TTL:
            raise ValueError(
                f"{value.total_seconds():g} s is too short: at least {MIN_THREAD_IDLE_TTL.seconds // 60}m, or threads "
                "end while people still read the answer; a bare number counts seconds, so write 30m, 12h or 7d"
            )
        if value > MAX_THREAD_IDLE_TTL:
            raise ValueError(f"too long: at most {MAX_THREAD_IDLE_TTL.days}d (for threads that never expire)")
        return value

    @field_validator("thread_replies", "file_drop_mode", "show_code", "external_users", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("allowed_teams", "allowed_channels", "allowed_users", "admin_users", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator(
        "max_turns_per_user_per_day",
        "max_sessions_per_channel_per_day",
        "price_per_session",
        "price_per_1k_input_tokens",
        "price_per_1k_output_tokens",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("slack_signing_secret")
    @classmethod
    def _http_mode_needs_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Fields are checked in order: the app token's outcome is known here (absent if it was malformed).
        if not _SERVING.get():
            return value
        if value is None and "slack_app_token" in info.data and info.data["slack_app_token"] is None:
            raise PydanticCustomError(_MISSING_IN_HTTP_MODE, "required in HTTP mode")
        return value

    @property
    def socket_mode(self) -> bool:
        """Socket Mode when an app-level token is set; HTTP mode otherwise."""
        return self.slack_app_token is not None

    @property
    def deployment(self) -> str:
        """The tag written on every Foundry resource this deployment creates."""
        return self.deployment_id or self.agent_name

    @property
    def max_file_bytes(self) -> int:
        """``MAX_FILE_MB`` in bytes."""
        return self.max_file_mb * 1024 * 1024


def _stripped(value: Any) -> Any:
    """A secret's text without the spaces or line break pasted around it; anything else as it came."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value.strip() if isinstance(value, str) else value


def _require_safe_url(value: str) -> None:
    """Bearer tokens travel on these URLs: https, or plain http to this machine only."""
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return
    raise ValueError("must be an https:// URL (http:// only for localhost)")


def load_settings(*, serving: bool = True, **overrides: Any) -> Settings:
    """Read the settings, turning every problem into one line that names its variable.

    ``serving=False`` for commands that receive nothing from Slack: the signing secret is not required.
    """
    token = _SERVING.set(serving)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError([_describe(error) for error in exc.errors()]) from None
    finally:
        _SERVING.reset(token)


def _describe(error: Any) -> str:
    """One line for one pydantic error, naming the environment variable, never echoing a secret."""
    loc = error.get("loc") or ()
    if not loc:  # model-level checks carry their own full sentence
        return str(error.get("msg", "invalid settings")).removeprefix("Value error, ")
    name = str(loc[0])
    variable = name.upper()
    field = Settings.model_fields.get(name)
    expected = field.description if field is not None and field.description else "a valid value"
    if error.get("type") in ("missing", _MISSING_IN_HTTP_MODE):
        return f"{variable} is missing: expected {expected}."
    reason = str(error.get("msg", "")).removeprefix("Value error, ")
    return f"{variable} is malformed ({reason}): expected {expected}."
