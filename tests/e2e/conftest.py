"""Fixtures for end-to-end tests: emulators and a running bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.emulators.foundry import FoundryEmulator
from bot.emulators.slack import SlackEmulator

from .harness import Stack, emulators, running_bot


@pytest.fixture(name="pair")
async def _pair(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[SlackEmulator, FoundryEmulator]]:
    """Slack and Foundry emulators, running."""
    async with emulators(monkeypatch) as pair:
        yield pair


@pytest.fixture(name="stack")
async def _stack(pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path) -> AsyncIterator[Stack]:
    """The bot in HTTP mode between the two emulators."""
    slack, foundry = pair
    async with running_bot(slack, foundry, tmp_path / "bot.db") as stack:
        yield stack
