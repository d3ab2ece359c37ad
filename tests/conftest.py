"""Fixtures shared by every test: a clean environment and a working directory of its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Prefixes of the variables the bot and azure-identity read; none may leak in from the machine.
_ENV_PREFIXES = ("SLACK_", "AZURE_", "IDENTITY_", "MSI_", "IMDS_", "AGENT_", "DATABASE_", "FOUNDRY_")
_ENV_NAMES = {
    "HOST",
    "PORT",
    "MAX_FILE_MB",
    "THREAD_IDLE_TTL",
    "MAX_CONCURRENT_SESSIONS",
    "THREAD_REPLIES",
    "FILE_DROP_MODE",
    "ARCHIVE_REACTION",
    "ALLOWED_CHANNELS",
    "ALLOWED_USERS",
    "ADMIN_USERS",
    "DEPLOYMENT_ID",
    "LOG_LEVEL",
}


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test starts without the bot's variables and in an empty folder (so no stray .env)."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(name="data_dir")
def _data_dir() -> Path:
    """The folder of sample files the tests use."""
    return Path(__file__).parent / "data"
