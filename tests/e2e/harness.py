"""The whole product on loopback: both emulators and the real bot between them.

The bot is built exactly as ``python -m bot run`` builds it (settings → ``open_services`` →
``create_app`` → ``serve``), over real HTTP or a real Socket Mode WebSocket, with the real
``DefaultAzureCredential`` fetching tokens from the Foundry emulator's managed-identity endpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from bot.app import CleanupTiming, Services, create_app, open_services
from bot.config import Settings
from bot.emulators.foundry import EmulatorConfig as FoundryConfig
from bot.emulators.foundry import FoundryEmulator
from bot.emulators.slack import EmulatorConfig as SlackConfig
from bot.emulators.slack import RetryPolicy as SlackRetry
from bot.emulators.slack import SlackEmulator
from bot.foundry.retry import RetryPolicy
from bot.metrics import render_metrics
from bot.server import preflight, serve
from storage import Clock, utc_now

#: Fast back-off for tests; Retry-After from the emulator still rules.
FAST = RetryPolicy(max_retries=3, initial_delay=0.01, max_delay=0.05)
#: A clean-up worker that looks often and retries quickly.
FAST_CLEANUP = CleanupTiming(interval=0.2, base_delay=0.05, max_attempts=8, lease=timedelta(seconds=2))


@dataclass
class Stack:
    """A running bot with its two emulators."""

    slack: SlackEmulator
    foundry: FoundryEmulator
    services: Services
    settings: Settings
    url: str


def bot_settings(slack: SlackEmulator, foundry: FoundryEmulator, db: Path, **overrides: Any) -> Settings:
    """The settings a deployment pointed at the emulators would have."""
    values: dict[str, Any] = {
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": slack.signing_secret,
        "slack_api_url": slack.api_url,
        "azure_ai_project_endpoint": foundry.endpoint,
        "azure_ai_model_deployment_name": "gpt-5-mini",
        "database_url": f"sqlite:///{db}",
        "host": "127.0.0.1",
        "port": 0,
        "agent_file_slots": 5,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@asynccontextmanager
async def running_bot(
    slack: SlackEmulator,
    foundry: FoundryEmulator,
    db: Path,
    *,
    socket_mode: bool = False,
    clock: Clock = utc_now,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    """Start the bot against running emulators; stop it (cleanly) on exit."""
    if socket_mode:
        overrides["slack_app_token"] = slack.app_token
    settings = bot_settings(slack, foundry, db, **overrides)
    await preflight(settings)
    async with open_services(settings, foundry_policy=FAST, clock=clock, cleanup=FAST_CLEANUP) as services:
        bolt = create_app(settings, services)
        async with serve(settings, bolt, metrics=partial(render_metrics, services.store)) as url:
            if socket_mode:
                slack.use_socket_mode()
                await slack.wait_for_socket_connection()
            else:
                slack.use_http(f"{url}/slack/events")
            yield Stack(slack, foundry, services, settings, url)


@asynccontextmanager
async def emulators(
    monkeypatch: pytest.MonkeyPatch,
    foundry_config: FoundryConfig | None = None,
    slack_config: SlackConfig | None = None,
) -> AsyncIterator[tuple[SlackEmulator, FoundryEmulator]]:
    """Both emulators, with azure-identity pointed at the Foundry emulator's identity endpoint."""
    async with AsyncExitStack() as stack:
        foundry = await stack.enter_async_context(FoundryEmulator(foundry_config or FoundryConfig()))
        slack = await stack.enter_async_context(SlackEmulator(slack_config or SlackConfig(retry=SlackRetry.fast())))
        monkeypatch.setenv("IDENTITY_ENDPOINT", foundry.identity_endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", foundry.identity_header)
        yield slack, foundry


def python(source: str) -> str:
    """A question the emulator's scripted model answers by running ``source`` in the sandbox."""
    return f"```python\n{source}\n```"


class ControlledClock:
    """The bot's clock, moved by the test (the emulators keep real time)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward by ``timedelta(**delta)``."""
        self.now += timedelta(**delta)


def ephemeral_texts(slack: SlackEmulator, user: Any) -> list[str]:
    """The text of every ephemeral message shown to ``user``."""
    return [m.text or "" for m in slack.ephemeral_messages(user)]


def bot_texts(slack: SlackEmulator, channel: Any, root_ts: str) -> list[str]:
    """The bot's messages in a thread, as text, in order."""
    return [m.text or "" for m in slack.thread(channel, root_ts) if m.user == slack.bot.id]


def runs(foundry: FoundryEmulator) -> int:
    """Responses the bot asked Foundry for."""
    return sum(1 for r in foundry.requests if r.route == "responses.create")


def thread_conversations(foundry: FoundryEmulator) -> dict[str, dict[str, str]]:
    """The conversations that belong to a thread, with their tags (a spare carries no thread tag)."""
    return {c.id: c.metadata for c in foundry.state.conversations.values() if "slack_thread_ts" in c.metadata}


def uploads(foundry: FoundryEmulator) -> int:
    """Files the bot uploaded to Foundry."""
    return sum(1 for r in foundry.requests if r.route == "files.create")
