"""Fixtures for the Foundry emulator tests: a running emulator, an authorised client, an agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.emulators.foundry import EmulatorConfig, FoundryEmulator

AGENT = "slack-ci"
SLOTS = ("f1", "f2", "f3")


class FakeClock:
    """A clock that only moves when told to, for expiry tests."""

    def __init__(self, start: float = 1_760_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def agent_definition(**overrides: Any) -> dict[str, Any]:
    """A prompt agent with code interpreter and three file slots, as the bot defines it."""
    definition: dict[str, Any] = {
        "kind": "prompt",
        "model": "gpt-5-mini",
        "instructions": "Use the python tool for any data work. Files are under /mnt/data.",
        "tools": [
            {
                "type": "code_interpreter",
                "container": {"type": "auto", "file_ids": [f"{{{{{slot}}}}}" for slot in SLOTS]},
            }
        ],
        "structured_inputs": {
            slot: {"description": "file slot", "default_value": "", "schema": {"type": "string"}} for slot in SLOTS
        },
    }
    definition.update(overrides)
    return definition


async def create_agent(http: httpx.AsyncClient, name: str = AGENT, **overrides: Any) -> dict[str, Any]:
    """Create an agent version over plain HTTP and return its JSON."""
    response = await http.post(
        f"/agents/{name}/versions", params={"api-version": "v1"}, json={"definition": agent_definition(**overrides)}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def upload(http: httpx.AsyncClient, path: Path, name: str | None = None) -> dict[str, Any]:
    """Upload a file with purpose ``assistants`` and return the file object."""
    response = await http.post(
        "/openai/v1/files",
        data={"purpose": "assistants"},
        files={"file": (name or path.name, path.read_bytes())},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def respond(http: httpx.AsyncClient, prompt: str, **body: Any) -> dict[str, Any]:
    """Create a non-streamed response from the test agent and return its JSON."""
    payload = {"agent_reference": {"type": "agent_reference", "name": AGENT}, "input": prompt, **body}
    response = await http.post("/openai/v1/responses", json=payload)
    assert response.status_code == 200, response.text
    return dict(response.json())


def message_text(response: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The assistant message's text and annotations."""
    [message] = [item for item in response["output"] if item["type"] == "message"]
    [part] = message["content"]
    return part["text"], part["annotations"]


@pytest.fixture(name="config")
def _config() -> EmulatorConfig:
    """The emulator's configuration; tests override this fixture (or build their own)."""
    return EmulatorConfig(run_timeout_s=20.0)


@pytest.fixture(name="emulator")
async def _emulator(config: EmulatorConfig) -> AsyncIterator[FoundryEmulator]:
    """A running emulator on a free loopback port."""
    async with FoundryEmulator(config) as emu:
        yield emu


@pytest.fixture(name="http")
async def _http(emulator: FoundryEmulator) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the project endpoint with a valid bearer token."""
    headers = {"Authorization": f"Bearer {emulator.issue_token()}"}
    async with httpx.AsyncClient(base_url=emulator.endpoint, headers=headers, timeout=30.0) as client:
        yield client


@pytest.fixture(name="agent")
async def _agent(http: httpx.AsyncClient) -> dict[str, Any]:
    """The test agent, version 1."""
    return await create_agent(http)


@pytest.fixture(name="sales_csv")
def _sales_csv(data_dir: Path) -> Path:
    """The 24-row sample table (month, region, revenue, units)."""
    return data_dir / "valid" / "sales.csv"
