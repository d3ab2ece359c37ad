"""Every fault class the service can throw, provoked for real on the emulator, and what the client makes of it."""

from __future__ import annotations

import time

import httpx
import pytest
from azure.core.credentials import AccessToken

from bot.emulators.foundry import Fault, FoundryEmulator
from bot.errors import FoundryAuthError, FoundryRateLimited, FoundryUnavailable
from bot.foundry.auth import CachedToken
from bot.foundry.client import FoundryClient
from bot.foundry.connect import open_foundry
from bot.foundry.retry import RetryPolicy
from bot.foundry.transport import Transport

from .conftest import FAST, settings_for


def calls(emulator: FoundryEmulator, route: str) -> int:
    """How many requests the emulator received for one route."""
    return sum(1 for r in emulator.requests if r.route == route)


async def test_429_waits_as_told_then_succeeds(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """A 429 with retry-after-ms is waited out for that long, then the call goes through."""
    emulator.faults.add(
        Fault(route="conversations.create", kind="status", status=429, count=2, retry_after_ms=150, retry_after_s=1)
    )
    started = time.monotonic()
    conversation = await foundry.create_conversation({})
    assert time.monotonic() - started >= 0.3
    assert conversation.id.startswith("conv_")
    assert calls(emulator, "conversations.create") == 3
    assert emulator.counters()["conversations"] == 1


async def test_429_asking_for_too_long_is_not_retried(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """A server that asks for more than 120 s gets no retry; the error carries its hint."""
    emulator.faults.add(Fault(route="conversations.create", kind="status", status=429, count=1, retry_after_s=600))
    with pytest.raises(FoundryRateLimited) as caught:
        await foundry.create_conversation({})
    assert caught.value.retry_after == 600
    assert calls(emulator, "conversations.create") == 1


async def test_429_beyond_retries_is_rate_limited(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """Throttling that outlasts every retry ends as FoundryRateLimited with a plain user message."""
    emulator.faults.add(Fault(route="conversations.create", kind="status", status=429, count=10, retry_after_ms=1))
    with pytest.raises(FoundryRateLimited) as caught:
        await foundry.create_conversation({})
    assert calls(emulator, "conversations.create") == FAST.max_retries + 1
    assert "busy" in caught.value.user_message


async def test_5xx_on_a_read_is_retried_then_typed(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """A read that keeps failing with 500 is retried up to the bound, then raises FoundryUnavailable."""
    emulator.faults.add(Fault(route="agents.list_versions", kind="status", status=500, count=10))
    with pytest.raises(FoundryUnavailable):
        await foundry.list_agent_versions("any")
    assert calls(emulator, "agents.list_versions") == FAST.max_retries + 1


async def test_5xx_on_a_read_recovers(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """Two 503s and then success: the caller only sees the success."""
    emulator.faults.add(Fault(route="agents.list_versions", kind="status", status=503, count=2))
    assert await foundry.list_agent_versions("any") == []
    assert calls(emulator, "agents.list_versions") == 3


async def test_5xx_on_a_create_is_not_repeated(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """A create that failed with 500 may have happened, so it is not sent twice."""
    emulator.faults.add(Fault(route="conversations.create", kind="status", status=500, count=1))
    with pytest.raises(FoundryUnavailable):
        await foundry.create_conversation({})
    assert calls(emulator, "conversations.create") == 1


async def test_dropped_connection_on_a_read_is_retried(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """A connection closed without an answer is retried for a safe call."""
    emulator.faults.add(Fault(route="agents.list_versions", kind="drop", count=1))
    assert await foundry.list_agent_versions("any") == []
    assert calls(emulator, "agents.list_versions") == 2


async def test_dropped_connection_on_a_create_is_unavailable(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """A create whose connection dropped raises FoundryUnavailable rather than risking a duplicate."""
    emulator.faults.add(Fault(route="conversations.create", kind="drop", count=1))
    with pytest.raises(FoundryUnavailable):
        await foundry.create_conversation({})


@pytest.mark.parametrize(("status", "hint"), [(401, "credential"), (403, "Azure AI User")])
async def test_auth_failures_explain_the_fix(
    foundry: FoundryClient, emulator: FoundryEmulator, status: int, hint: str
) -> None:
    """401 and 403 become FoundryAuthError; the log detail says what to fix and the user hears about the role."""
    emulator.faults.add(Fault(route="conversations.create", kind="status", status=status, count=3))
    with pytest.raises(FoundryAuthError) as caught:
        await foundry.create_conversation({})
    assert hint in str(caught.value)
    assert "Azure AI User" in caught.value.user_message


class StaticToken:
    """A token source that always hands out the same (wrong) token."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def token(self) -> str:
        return self._token

    def invalidate(self) -> None:
        return None


async def test_request_without_valid_token_is_refused(emulator: FoundryEmulator) -> None:
    """The emulator refuses a token it never issued, and the client reports an auth error."""
    async with httpx.AsyncClient() as http:
        client = FoundryClient(Transport(http, emulator.endpoint, StaticToken("forged"), FAST))
        with pytest.raises(FoundryAuthError):
            await client.create_conversation({})


async def test_slow_response_times_out_as_unavailable(emulator: FoundryEmulator) -> None:
    """A response slower than the configured timeout becomes FoundryUnavailable, not a hang."""
    emulator.faults.add(Fault(route="conversations.create", kind="delay", delay_s=3.0, count=1))
    settings = settings_for(emulator, foundry_timeout_s=0.3)
    async with open_foundry(settings, policy=RetryPolicy(max_retries=0)) as client:
        started = time.monotonic()
        with pytest.raises(FoundryUnavailable) as caught:
            await client.create_conversation({})
    assert time.monotonic() - started < 2.5
    assert "timed out" in str(caught.value)


async def test_token_is_fetched_once_and_reused(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """DefaultAzureCredential's token comes from the managed-identity endpoint once and is then cached."""
    for _ in range(5):
        await foundry.create_conversation({})
    assert calls(emulator, "identity.token") == 1


class CountingCredential:
    """An azure-identity style credential that issues numbered tokens living one hour."""

    def __init__(self, clock: list[float]) -> None:
        self.issued = 0
        self._clock = clock

    async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        assert scopes == ("https://ai.azure.com/.default",)
        self.issued += 1
        return AccessToken(f"token-{self.issued}", int(self._clock[0]) + 3600)

    async def close(self) -> None:
        return None


async def test_token_is_refreshed_shortly_before_expiry() -> None:
    """A cached token is reused until it is within the refresh margin of expiry, then replaced."""
    now = [1_000_000.0]
    credential = CountingCredential(now)
    tokens = CachedToken(credential, refresh_margin=300, clock=lambda: now[0])  # type: ignore[arg-type]
    assert await tokens.token() == "token-1"
    now[0] += 3000
    assert await tokens.token() == "token-1"
    now[0] += 400  # 200 s before expiry: inside the margin
    assert await tokens.token() == "token-2"
    tokens.invalidate()
    assert await tokens.token() == "token-3"
