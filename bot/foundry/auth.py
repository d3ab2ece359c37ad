"""Bearer tokens for Foundry from azure-identity, cached until shortly before they expire.

Foundry accepts Entra ID tokens only, for the scope ``https://ai.azure.com/.default``, on both the
agents API and ``/openai/v1``. ``DefaultAzureCredential`` covers a developer's ``az login``, a
managed identity, workload identity, and the emulator's managed-identity endpoint alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError

from bot.errors import FoundrySignInFailed

SCOPE = "https://ai.azure.com/.default"


class TokenSource(Protocol):
    """**Protocol:** hands out a bearer token for Foundry."""

    async def token(self) -> str:
        """A token valid for at least a few more minutes."""
        ...

    def invalidate(self) -> None:
        """Forget the cached token, e.g. after the server refused it."""
        ...


class CachedToken:
    """Wraps an async azure-identity credential; one fetch at a time, reused until near expiry."""

    def __init__(
        self,
        credential: AsyncTokenCredential,
        *,
        scope: str = SCOPE,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credential = credential
        self._scope = scope
        self._margin = refresh_margin
        self._clock = clock
        self._cached: AccessToken | None = None
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        """A cached token, or a fresh one when the cached one is within the margin of expiry."""
        async with self._lock:
            cached = self._cached
            if cached is None or cached.expires_on - self._margin <= self._clock():
                cached = self._cached = await self._fetch()
            return cached.token

    def invalidate(self) -> None:
        """Drop the cached token so the next call fetches a new one."""
        self._cached = None

    async def _fetch(self) -> AccessToken:
        try:
            return await self._credential.get_token(self._scope)
        except AzureError as exc:
            # The credential chain's own message lists what it tried; it holds no secret.
            raise FoundrySignInFailed(f"could not obtain a token for {self._scope}: {exc}") from exc
