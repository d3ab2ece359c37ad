"""The bot's HTTP clients: httpx's interface, with aiohttp's connections underneath.

httpx stays what the code speaks (requests, responses, timeouts, its exception types); the bytes
move through an aiohttp connection pool, the library the Slack SDK and the bot's own server
already use. On this project's loopback benchmarks a request through httpx's own stack
(httpcore, anyio, h11) cost about 1.6 ms of CPU against 0.5 ms through aiohttp, and a streamed
64 MB upload took twice as long: see ``bench/README.md``.

The transport keeps httpx's contract where callers rely on it:

* errors are httpx's, with httpx's meaning: only a failure before the request left (no
  connection, a connect or pool timeout) is a ``ConnectError`` or ``ConnectTimeout``, which is
  safe to retry for any method; a failure after it is a ``ReadError``, ``WriteError``,
  ``ReadTimeout`` or ``RemoteProtocolError``;
* an exception raised by a streamed request body's own iterator comes out as itself;
* the request line and headers leave as soon as the request is sent, before a streamed body's
  first chunk (a server sees the request open while the body waits);
* no redirect is followed, nothing is decompressed here (httpx decodes), cookies stay httpx's;
* proxies come from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``) and
  certificates from certifi or ``SSL_CERT_FILE``/``SSL_CERT_DIR``, as httpx would take them.
  No ``.netrc`` credentials are added.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import typing
import urllib.request
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx
from yarl import URL

__all__ = ["AiohttpTransport", "http_client"]

#: httpx's default pool: at most 100 connections.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
#: How long an idle connection is kept when the limits don't say (httpx's default is 5 s).
KEEPALIVE_S = 5.0


def http_client(
    *, timeout: httpx.Timeout, limits: httpx.Limits = DEFAULT_LIMITS, verify: ssl.SSLContext | bool = True
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` over :class:`AiohttpTransport` that follows no redirect."""
    return httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, transport=AiohttpTransport(limits=limits, verify=verify)
    )


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through one aiohttp session, opened at the first request."""

    def __init__(self, *, limits: httpx.Limits = DEFAULT_LIMITS, verify: ssl.SSLContext | bool = True) -> None:
        self._ssl = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._open()
        timeout = request.extensions.get("timeout", {})
        body = _Body(request)
        headers = [(name, value) for name, value in request.headers.multi_items() if name != "transfer-encoding"]
        try:
            with _mapped(body):
                response = await session.request(
                    request.method,
                    URL(str(request.url), encoded=True),
                    headers=headers,
                    data=body.data(),
                    allow_redirects=False,
                    proxy=self._proxy_for(request.url),
                    timeout=aiohttp.ClientTimeout(
                        total=None,
                        connect=timeout.get("pool"),
                        sock_connect=timeout.get("connect"),
                        sock_read=timeout.get("read"),
                    ),
                )
        except BaseException:
            await body.settle()
            raise
        extensions = {"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode("ascii", "replace")}
        return httpx.Response(
            response.status, headers=list(response.raw_headers), stream=_Stream(response, body), extensions=extensions
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            keepalive = self._limits.keepalive_expiry
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                limit_per_host=0,
                keepalive_timeout=KEEPALIVE_S if keepalive is None else keepalive,
                ssl=self._ssl,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False, trust_env=False
            )
        return self._session

    def _proxy_for(self, url: httpx.URL) -> str | None:
        """The environment's proxy for the URL's scheme and host, read once per pair."""
        key = (url.scheme, url.host)
        if key not in self._proxies:
            proxy = urllib.request.getproxies().get(url.scheme)
            self._proxies[key] = None if proxy is None or urllib.request.proxy_bypass(url.host) else proxy
        return self._proxies[key]


class _Body:
    """A request's body as aiohttp sends it, and the end of that sending.

    aiohttp sends a body from a task of its own, side by side with reading the answer, so a server
    that answers before it took the whole body (an early 500) leaves that task reading a streamed
    body still. :meth:`settle` ends it, as httpx's own transport has ended it when it returns, so
    a caller may close the body's source once the response is closed.
    """

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        self._sender: asyncio.Task[Any] | None = None
        #: What the body's own iterator raised (aiohttp would wrap it in a connection error).
        self.failed: Exception | None = None

    def data(self) -> bytes | AsyncIterator[bytes] | None:
        """Its bytes, None for no body, or its stream."""
        try:
            content = self._request.content
        except httpx.RequestNotRead:
            return self._streamed(typing.cast(AsyncIterable[bytes], self._request.stream))
        return content or None

    async def settle(self) -> None:
        """Stop a streamed body still being sent, and wait until it has stopped."""
        sender = self._sender
        if sender is not None and not sender.done() and sender is not asyncio.current_task():
            sender.cancel()
            await asyncio.wait([sender])

    async def _streamed(self, stream: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        self._sender = asyncio.current_task()
        yield b""  # sends the request line and headers at once, before the body's first chunk
        try:
            async for chunk in stream:
                yield chunk
        except Exception as exc:
            self.failed = exc
            raise


class _Stream(httpx.AsyncByteStream):
    """A response body as it arrives; closing it before its end closes its connection."""

    def __init__(self, response: aiohttp.ClientResponse, body: _Body) -> None:
        self._response = response
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(self._body):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        self._response.release()  # back to the pool when read to the end, else closed
        await self._body.settle()


@contextlib.contextmanager
def _mapped(body: _Body) -> Iterator[None]:
    """aiohttp's errors as httpx raises them (see the module's docstring)."""
    try:
        yield
    except aiohttp.ClientError as exc:
        if body.failed is not None:
            raise body.failed from None
        raise _translate(exc) from exc
    except TimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "timed out") from exc


def _translate(exc: aiohttp.ClientError) -> httpx.TransportError:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientConnectorError):  # DNS, refused, TLS: nothing was sent
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return httpx.ProxyError(message)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, aiohttp.ClientConnectionResetError):
        return httpx.WriteError(message)
    if isinstance(exc, aiohttp.ClientOSError):
        return httpx.ReadError(message)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(message)
    return httpx.NetworkError(message)
