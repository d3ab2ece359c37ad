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
from bot.http_client import http_client

#: Idle connections kept for reuse, where the pool applies such a cap. httpx's own pool checks
#: every idle connection each time a request starts or ends, so there a cap mattered (``bench.relay``,
#: 200 threads: 30-33 ms of CPU per turn with every idle connection kept, 24-25 ms with 20).
#: :mod:`bot.http_client` does not apply it: aiohttp's pool keeps idle connections until their
#: keep-alive time ends, at no cost per request.
IDLE_CONNECTIONS = 20


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
        # A streamed turn holds a connection for its whole run: the pool has room for every session
        # allowed to run at once, plus uploads, downloads and clean-up alongside.
        size = settings.max_concurrent_sessions + 20
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=IDLE_CONNECTIONS)
        async with http_client(timeout=timeout, limits=limits) as http:
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
