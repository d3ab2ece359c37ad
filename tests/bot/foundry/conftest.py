"""A Foundry emulator on loopback and the bot's real client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.emulators.foundry import EmulatorConfig, FoundryEmulator
from bot.foundry.client import FoundryClient
from bot.foundry.connect import open_foundry
from bot.foundry.retry import RetryPolicy

#: Fast back-off so retry tests take milliseconds; the server's Retry-After still rules.
FAST = RetryPolicy(max_retries=3, initial_delay=0.01, max_delay=0.05)


def settings_for(emulator: FoundryEmulator, **overrides: object) -> Settings:
    """Settings a deployment would use, pointed at the emulator."""
    values: dict[str, object] = {
        "slack_bot_token": "xoxb-1-test",
        "slack_signing_secret": "secret",
        "azure_ai_project_endpoint": emulator.endpoint,
        "azure_ai_model_deployment_name": "gpt-5-mini",
        "agent_file_slots": 3,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture(name="emulator")
async def _emulator(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FoundryEmulator]:
    """A running emulator whose managed-identity endpoint serves DefaultAzureCredential."""
    async with FoundryEmulator(EmulatorConfig(run_timeout_s=30.0)) as emulator:
        monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.identity_endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", emulator.identity_header)
        yield emulator


@pytest.fixture(name="foundry")
async def _foundry(emulator: FoundryEmulator) -> AsyncIterator[FoundryClient]:
    """The bot's client, built from settings, with the real DefaultAzureCredential."""
    async with open_foundry(settings_for(emulator), policy=FAST) as client:
        yield client


@pytest.fixture(name="sales_csv")
def _sales_csv(data_dir: Path) -> Path:
    """A real CSV of monthly revenue by region."""
    return data_dir / "valid" / "sales.csv"
