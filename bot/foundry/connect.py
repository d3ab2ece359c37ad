"""Build a :class:`FoundryClient` from the settings, owning its HTTP client and credential."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import DefaultAzureCredential

from bot.config import Settings
from bot.foundry.auth import CachedToken
from bot.foundry.client import FoundryClient
from bot.foundry.retry import RetryPolicy
from bot.foundry.transport import Transport


@asynccontextmanager
async def open_foundry(
    settings: Settings, *, credential: AsyncTokenCredential | None = None, policy: RetryPolicy | None = None
) -> AsyncIterator[FoundryClient]:
    """A ready client; the HTTP pool and the credential are closed when the block ends.

    Without an explicit ``credential`` this uses ``DefaultAzureCredential``, which reads its own
    environment variables (``AZURE_CLIENT_ID``, ``IDENTITY_ENDPOINT``, …) as azure-identity documents.
    """
    timeout = httpx.Timeout(settings.foundry_timeout_s, connect=min(10.0, settings.foundry_timeout_s))
    owned = credential is None
    cred: AsyncTokenCredential = DefaultAzureCredential() if credential is None else credential
    try:
        # A streamed turn holds a connection for its whole run: size the pool for every session
        # allowed to run at once, plus room for uploads, downloads and clean-up alongside. Idle
        # connections are all kept, so a burst does not close and re-open TLS connections between
        # a turn's conversation call and its response.
        size = settings.max_concurrent_sessions + 20
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False) as http:
            transport = Transport(
                http,
                settings.azure_ai_project_endpoint,
                CachedToken(cred),
                policy or RetryPolicy(max_retries=settings.foundry_max_retries),
            )
            yield FoundryClient(transport)
    finally:
        if owned:
            await cred.close()
