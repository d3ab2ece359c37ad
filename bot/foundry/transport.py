"""One authenticated, retried HTTP call to the Foundry project endpoint.

Everything that can go wrong on the wire (no connection, a timeout, an error status) leaves this
module as one of the bot's typed errors; callers never see ``httpx`` exceptions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

import httpx

from bot.errors import FoundryAuthError, FoundryError, FoundryUnavailable
from bot.foundry import failures
from bot.foundry.auth import TokenSource
from bot.foundry.retry import (
    RetryPolicy,
    server_retry_after,
    status_is_retryable,
    transport_error_is_retryable,
)

logger = logging.getLogger(__name__)

AGENTS_API_VERSION = "v1"
Body = bytes | AsyncIterator[bytes] | None


class _Failure(NamedTuple):
    error: FoundryError
    delay: float | None  # seconds to wait before a retry; None = do not retry


class Transport:
    """Sends requests relative to the project endpoint with a bearer token, retrying as allowed."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoint: str,
        tokens: TokenSource,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._endpoint = endpoint.rstrip("/")
        self._tokens = tokens
        self._policy = policy or RetryPolicy()
        self._sleep = sleep

    async def json(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        params: Mapping[str, str | int] | None = None,
        safe: bool,
    ) -> Any:
        """Send a JSON request and return the decoded JSON answer."""
        async with self.open(method, path, what=what, json_body=body, params=params, safe=safe) as response:
            await response.aread()
        try:
            return response.json()
        except ValueError as exc:
            raise FoundryError(f"{what}: the answer was not JSON (HTTP {response.status_code})") from exc

    @asynccontextmanager
    async def open(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json_body: Any = None,
        content: Body = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        safe: bool,
        retries: bool = True,
    ) -> AsyncIterator[httpx.Response]:
        """Open a successful response for streaming; it is closed when the block ends."""
        response = await self._send_with_retries(
            method, path, what, json_body, content, headers, params, safe=safe, retries=retries
        )
        try:
            yield response
        except httpx.TransportError as exc:
            raise FoundryUnavailable(f"{what}: the connection broke while reading: {exc!r}") from exc
        finally:
            await response.aclose()

    async def _send_with_retries(
        self,
        method: str,
        path: str,
        what: str,
        json_body: Any,
        content: Body,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str | int] | None,
        *,
        safe: bool,
        retries: bool,
    ) -> httpx.Response:
        attempts = self._policy.max_retries + 1 if retries else 1
        refreshed = False
        attempt = 0
        while True:
            request = await self._build(method, path, json_body, content, headers, params)
            outcome = await self._attempt(request, what, safe=safe, attempt=attempt)
            if isinstance(outcome, httpx.Response):
                return outcome
            error, delay = outcome
            if isinstance(error, FoundryAuthError) and error.status == 401 and not refreshed and retries:
                self._tokens.invalidate()  # a token revoked early: fetch a new one once
                refreshed = True
                continue
            attempt += 1
            if delay is None or attempt >= attempts:
                raise error
            logger.info("foundry %s failed (%s); retry %d in %.2fs", what, error, attempt, delay)
            await self._sleep(delay)

    async def _build(
        self,
        method: str,
        path: str,
        json_body: Any,
        content: Body,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str | int] | None,
    ) -> httpx.Request:
        query = dict(params or {})
        if path.startswith("/agents"):
            query["api-version"] = AGENTS_API_VERSION
        all_headers = {"Authorization": f"Bearer {await self._tokens.token()}", "Accept": "application/json"}
        all_headers.update(headers or {})
        return self._http.build_request(
            method, self._endpoint + path, params=query, json=json_body, content=content, headers=all_headers
        )

    async def _attempt(
        self, request: httpx.Request, what: str, *, safe: bool, attempt: int
    ) -> httpx.Response | _Failure:
        """Send once: the open response on success, else the error and the wait before a retry."""
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            reason = (
                f"timed out ({type(exc).__name__})"
                if isinstance(exc, httpx.TimeoutException)
                else (f"connection failed: {exc!r}")
            )
            delay = self._policy.backoff(attempt) if transport_error_is_retryable(exc, safe=safe) else None
            return _Failure(FoundryUnavailable(f"{what}: {reason}"), delay)
        if response.is_success:
            return response
        try:
            content = await response.aread()
        except httpx.TransportError:
            content = b""
        finally:
            await response.aclose()
        return self._failure(response, content, what, safe=safe, attempt=attempt)

    def _failure(self, response: httpx.Response, content: bytes, what: str, *, safe: bool, attempt: int) -> _Failure:
        asked = server_retry_after(response.headers)
        error = failures.from_status(response.status_code, content, response.headers, what=what, retry_after=asked)
        should = response.headers.get("x-should-retry")
        retryable = status_is_retryable(response.status_code, safe=safe) if should is None else should == "true"
        if not retryable:
            return _Failure(error, None)
        if asked is None:
            return _Failure(error, self._policy.backoff(attempt))
        # A server that asks for longer than we are willing to hold a turn gets no retry.
        return _Failure(error, asked if 0 <= asked <= self._policy.max_retry_after else None)
