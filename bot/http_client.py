"""The bot's HTTP clients: httpx's interface, with aiohttp's connections underneath.

httpx stays what the code speaks (requests, responses, timeouts, its exception types); the bytes
move through an aiohttp connection pool, the library the Slack SDK and the bot's own server
already use. On this project's loopback benchmarks a request through httpx's own stack
(httpcore, anyio, h11) cost about 1.6 ms of CPU against 0.5 ms through aiohttp, and a streamed
64 MB upload took twice as long: see ``bench/README.md``.

The transport keeps httpx's contract where callers rely on it:

* errors are httpx's, with httpx's meaning: only a failure before the request left (no
  connection, a connect or pool timeout, or a kept-alive connection the server had already
  closed when the request line was to be written) is a ``ConnectError`` or ``ConnectTimeout``,
  which is safe to retry for any method; a failure after it is a ``ReadError``, ``WriteError``,
  ``ReadTimeout``, ``WriteTimeout`` or ``RemoteProtocolError``;
* the write timeout holds for each piece of a body handed to the socket (aiohttp has none);
* an exception raised by a streamed request body's own iterator comes out as itself;
* the request line and headers leave as soon as the request is sent, before a streamed body's
  first chunk (a server sees the request open while the body waits);
* no redirect is followed, nothing is decompressed here (httpx decodes), cookies stay httpx's;
* no header is added that httpx would not send (aiohttp's default ``Content-Type``), except a
  ``Content-Length: 0`` on a bodiless ``DELETE``;
* proxies come from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``,
  ``NO_PROXY``) and certificates from certifi or ``SSL_CERT_FILE``/``SSL_CERT_DIR``, as httpx
  would take them. No ``.netrc`` credentials are added;
* closing the client ends the responses still being read, with a ``ReadError``.

Unlike httpx's pool, aiohttp's keeps every idle connection until its keep-alive time runs out:
``max_keepalive_connections`` is not applied (``max_connections`` and ``keepalive_expiry`` are).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import typing
import urllib.request
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import httpx
from yarl import URL

__all__ = ["AiohttpTransport", "http_client"]

#: httpx's default pool: at most 100 connections.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
#: How long an idle connection is kept when the limits don't say (httpx's default is 5 s).
KEEPALIVE_S = 5.0
#: The longest response header line, and the most header lines, accepted (aiohttp's defaults,
#: 8190 bytes and 128, are stricter than httpx).
MAX_HEADER_BYTES = 65_536
MAX_HEADERS = 1_000
#: Methods aiohttp itself sends again when a kept-alive connection turns out closed.
_RESENDABLE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "DELETE", "PUT"})
#: How a connection found closed shows when the request line was to be written on it.
_CLOSED_BEFORE_SENDING = (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)


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
        self._open_responses: weakref.WeakSet[aiohttp.ClientResponse] = weakref.WeakSet()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._open()
        timeout = request.extensions.get("timeout", {})
        body = _Body(request, write_timeout=timeout.get("write"))
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.lower() != b"transfer-encoding"
        ]
        sending = asyncio.ensure_future(
            session.request(
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
        )
        body.on_write_timeout = sending.cancel  # aiohttp has no write timeout of its own
        try:
            with _mapped(body):
                try:
                    response = await sending
                except asyncio.CancelledError:
                    if body.failed is None or _being_cancelled():
                        raise  # the caller's own cancellation
                    raise body.failed from None
        except BaseException:
            await body.settle()
            raise
        self._open_responses.add(response)
        extensions = {"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode("ascii", "replace")}
        return httpx.Response(
            response.status, headers=list(response.raw_headers), stream=_Stream(response, body), extensions=extensions
        )

    async def aclose(self) -> None:
        for response in list(self._open_responses):
            response.close()  # a reader still waiting on it fails now, instead of waiting forever
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
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=False,
                skip_auto_headers=("Content-Type",),  # a caller's own Content-Type still goes out
                max_line_size=MAX_HEADER_BYTES,
                max_field_size=MAX_HEADER_BYTES,
                max_headers=MAX_HEADERS,
            )
        return self._session

    def _proxy_for(self, url: httpx.URL) -> str | None:
        """The environment's proxy for the URL's scheme and host (as httpx reads it), once per pair."""
        key = (url.scheme, url.host)
        if key not in self._proxies:
            found = urllib.request.getproxies()
            proxy = found.get(url.scheme) or found.get("all")
            if proxy and "://" not in proxy:
                proxy = f"http://{proxy}"
            self._proxies[key] = None if not proxy or urllib.request.proxy_bypass(url.host) else proxy
        return self._proxies[key]


class _Body:
    """A request's body as aiohttp sends it, and the end of that sending.

    Every body goes as a stream whose first, empty, chunk sends the request line and headers:
    once aiohttp asks for the next chunk they were handed to the socket, so a failure before that
    left nothing (a kept-alive connection the server had closed), and is safe to retry. Each
    later chunk must be taken by the socket within the write timeout.

    aiohttp sends a body from a task of its own, side by side with reading the answer, so a server
    that answers before it took the whole body (an early 500) leaves that task reading a streamed
    body still. :meth:`settle` ends it, as httpx's own transport has ended it when it returns, so
    a caller may close the body's source once the response is closed.
    """

    def __init__(self, request: httpx.Request, *, write_timeout: float | None) -> None:
        self._request = request
        self._write_timeout = write_timeout
        self._sender: asyncio.Task[Any] | None = None
        #: Called when a chunk was not taken in time: it ends the whole request.
        self.on_write_timeout: Callable[[], object] | None = None
        #: The request line and headers were handed to the socket.
        self.started = False
        #: What stopped the body: its own iterator's exception, or a write timeout (aiohttp
        #: would report either as a connection error).
        self.failed: Exception | None = None

    def data(self) -> AsyncIterator[bytes] | None:
        """The body to send; None only for a bodiless request of a method aiohttp may resend."""
        try:
            content = self._request.content
        except httpx.RequestNotRead:
            return self._streamed(typing.cast(AsyncIterable[bytes], self._request.stream))
        if not content and self._request.method in _RESENDABLE:
            self.started = True  # aiohttp retries these itself on a connection found closed
            return None
        return self._streamed(_once(content))

    async def settle(self) -> None:
        """Stop a body still being sent, and wait until it has stopped (also if cancelled meanwhile)."""
        sender = self._sender
        if sender is None or sender.done() or sender is asyncio.current_task():
            return
        sender.cancel()
        cancelled = False
        while not sender.done():  # bounded: the sender was cancelled
            try:
                await asyncio.wait([sender])
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError

    async def _streamed(self, stream: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        self._sender = asyncio.current_task()
        with self._deadline():
            yield b""  # the request line and headers, at once, before the body's first chunk
        self.started = True
        try:
            async for chunk in stream:
                with self._deadline():
                    yield chunk
        except Exception as exc:
            self.failed = self.failed or exc
            raise

    @contextlib.contextmanager
    def _deadline(self) -> Iterator[None]:
        """While aiohttp writes the chunk just given (and waits for the socket to take it)."""
        if self._write_timeout is None:
            yield
            return
        timer = asyncio.get_running_loop().call_later(self._write_timeout, self._timed_out)
        try:
            yield
        finally:
            timer.cancel()

    def _timed_out(self) -> None:
        self.failed = self.failed or httpx.WriteTimeout("the server took no more of the request body in time")
        if self.on_write_timeout is not None:
            self.on_write_timeout()


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _once(content: bytes) -> AsyncIterator[bytes]:
    if content:
        yield content


class _Stream(httpx.AsyncByteStream):
    """A response body as it arrives; closing it before its end closes its connection."""

    def __init__(self, response: aiohttp.ClientResponse, body: _Body) -> None:
        self._response = response
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(self._body):
            try:
                async for chunk in self._response.content.iter_any():
                    yield chunk
            except RuntimeError as exc:  # "Connection closed.": the client was closed under it
                raise httpx.ReadError(str(exc)) from exc

    async def aclose(self) -> None:
        self._response.release()  # back to the pool when read to the end, else closed
        await self._body.settle()


@contextlib.contextmanager
def _mapped(body: _Body) -> Iterator[None]:
    """aiohttp's errors as httpx raises them (see the module's docstring)."""
    try:
        yield
    except (aiohttp.ClientError, TimeoutError) as exc:
        if body.failed is not None:
            raise body.failed from None
        if not isinstance(exc, aiohttp.ClientError):
            raise httpx.ReadTimeout(str(exc) or "timed out") from exc
        if not body.started and isinstance(exc, _CLOSED_BEFORE_SENDING):
            raise httpx.ConnectError(f"the connection closed before the request was sent: {exc}") from exc
        raise _translate(exc) from exc


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
    return httpx.ReadError(message)  # e.g. "Connection closed": the request may have left
