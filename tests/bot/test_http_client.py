"""The bot's HTTP client: httpx's interface over aiohttp, seen from the server's side of the wire."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from aiohttp import web

from bot.foundry.retry import transport_error_is_retryable
from bot.http_client import http_client

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TIMEOUT = httpx.Timeout(5.0)


@asynccontextmanager
async def serving(handler: Handler, path: str = "/{tail:.*}") -> AsyncIterator[str]:
    """An aiohttp server on a free loopback port answering every method at ``path``; yields its URL."""
    app = web.Application()
    app.router.add_route("*", path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def raw_server(
    on_connect: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[str]:
    """A bare TCP server for peers that misbehave; yields its URL. Its connections end with it."""
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await on_connect(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def read_request_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


async def test_request_arrives_as_sent() -> None:
    """Method, encoded path, query, headers and JSON body reach the server unchanged."""
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.Response:
        seen.update(
            method=request.method,
            raw_path=request.raw_path,
            auth=request.headers.get("Authorization"),
            body=await request.json(),
        )
        return web.json_response({"ok": True})

    async with serving(handler) as url, http_client(timeout=TIMEOUT) as http:
        response = await http.post(
            f"{url}/files/a%2Fb", params={"q": "x y"}, headers={"Authorization": "Bearer t"}, json={"n": 1}
        )
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert seen == {"method": "POST", "raw_path": "/files/a%2Fb?q=x+y", "auth": "Bearer t", "body": {"n": 1}}


async def test_a_bodiless_get_sends_no_body() -> None:
    """A GET carries neither a length nor chunked framing."""
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.Response:
        seen.update(length=request.content_length, chunked=request.headers.get("Transfer-Encoding"))
        return web.Response(text="fine")

    async with serving(handler) as url, http_client(timeout=TIMEOUT) as http:
        assert (await http.get(url)).text == "fine"
    assert seen["chunked"] is None
    assert seen["length"] in (None, 0)


async def test_streamed_body_with_length_arrives_whole_and_unchunked() -> None:
    """A streamed upload with a Content-Length arrives byte for byte, framed by that length."""
    seen: dict[str, object] = {}
    pieces = [b"a" * 70_000, b"b" * 3, b"c" * 100_000]

    async def handler(request: web.Request) -> web.Response:
        seen.update(body=await request.read(), chunked=request.headers.get("Transfer-Encoding"))
        return web.Response(status=201)

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    size = str(sum(map(len, pieces)))
    async with serving(handler) as url, http_client(timeout=TIMEOUT) as http:
        response = await http.post(url, content=body(), headers={"Content-Length": size})
    assert response.status_code == 201
    assert seen == {"body": b"".join(pieces), "chunked": None}


async def test_streamed_body_without_length_is_chunked() -> None:
    """Without a length the body goes chunked, and arrives whole."""
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.Response:
        seen.update(body=await request.read(), chunked=request.headers.get("Transfer-Encoding"))
        return web.Response()

    async def body() -> AsyncIterator[bytes]:
        yield b"one,"
        yield b"two"

    async with serving(handler) as url, http_client(timeout=TIMEOUT) as http:
        await http.put(url, content=body())
    assert seen == {"body": b"one,two", "chunked": "chunked"}


async def test_headers_leave_before_a_streamed_bodys_first_chunk() -> None:
    """The server sees the request open while the body still waits for its first byte."""
    arrived = asyncio.Event()
    go = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        arrived.set()
        return web.Response(body=await request.read())

    async def body() -> AsyncIterator[bytes]:
        await go.wait()
        yield b"late"

    async with serving(handler) as url, http_client(timeout=TIMEOUT) as http:
        sending = asyncio.create_task(http.post(url, content=body(), headers={"Content-Length": "4"}))
        await asyncio.wait_for(arrived.wait(), 5)
        go.set()
        response = await sending
    assert response.content == b"late"


async def test_a_failing_body_raises_its_own_error() -> None:
    """An exception from the body's iterator comes out as itself, not as a connection error."""

    class Spoiled(Exception):
        pass

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response()

    async def body() -> AsyncIterator[bytes]:
        yield b"start"
        raise Spoiled("the file changed")

    async with serving(handler) as url, http_client(timeout=TIMEOUT) as http:
        with pytest.raises(Spoiled, match="the file changed"):
            await http.post(url, content=body(), headers={"Content-Length": "100"})


async def test_response_streams_in_pieces_and_decodes_gzip() -> None:
    """A chunked, gzip-encoded answer is read as it comes and decoded by httpx."""
    text = "line\n" * 20_000

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        packed = gzip.compress(text.encode())
        for start in range(0, len(packed), 1000):
            await response.write(packed[start : start + 1000])
        await response.write_eof()
        return response

    async with serving(handler) as url, http_client(timeout=TIMEOUT) as http, http.stream("GET", url) as response:
        lines = [line async for line in response.aiter_lines()]
    assert len(lines) == 20_000
    assert set(lines) == {"line"}


async def test_redirects_are_not_followed() -> None:
    """A 302 comes back as it is: the caller decides where its token may go."""

    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://elsewhere.invalid/file")

    async with serving(handler) as url, http_client(timeout=TIMEOUT) as http:
        response = await http.get(url)
    assert response.status_code == 302
    assert response.headers["Location"] == "http://elsewhere.invalid/file"


async def test_connections_are_reused() -> None:
    """Requests one after another share one kept-alive connection."""
    peers: list[object] = []

    async def handler(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        return web.Response()

    async with serving(handler) as url, http_client(timeout=TIMEOUT) as http:
        for _ in range(3):
            await http.get(url)
    assert len(peers) == 3
    assert len(set(peers)) == 1


async def test_refused_connection_is_a_connect_error_safe_to_retry() -> None:
    """Nothing listening: ConnectError, which even a non-idempotent request may retry."""

    async def nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return None

    async with raw_server(nothing) as url:
        pass  # closed again: nothing listens on that port now
    async with http_client(timeout=TIMEOUT) as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await http.post(url, json={})
    assert transport_error_is_retryable(caught.value, safe=False)


async def test_silence_after_the_request_is_a_read_timeout_not_retried() -> None:
    """A server that takes the request and never answers: ReadTimeout, not retried for a POST."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        await asyncio.sleep(5)

    async with raw_server(on_connect) as url, http_client(timeout=httpx.Timeout(5.0, read=0.2)) as http:
        with pytest.raises(httpx.ReadTimeout) as caught:
            await http.post(url, json={})
    assert not transport_error_is_retryable(caught.value, safe=False)


async def test_hang_up_before_answering_is_a_protocol_error_not_retried() -> None:
    """A server that reads the request and hangs up: the request was sent, so no blind retry."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)

    async with raw_server(on_connect) as url, http_client(timeout=TIMEOUT) as http:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await http.post(url, json={})
    assert not transport_error_is_retryable(caught.value, safe=False)


async def test_body_cut_short_is_a_protocol_error() -> None:
    """An answer that ends before its announced length fails the read, as httpx reports it."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        await writer.drain()

    async with raw_server(on_connect) as url, http_client(timeout=TIMEOUT) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(url)


async def test_closing_a_response_early_hangs_up() -> None:
    """Leaving a stream before its end (Stop pressed) closes the connection: the server sees it go."""
    gone = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            while True:
                await response.write(b"data: tick\n\n")
                await asyncio.sleep(0.02)
        except (ConnectionResetError, asyncio.CancelledError):
            gone.set()
            raise

    async with serving(handler) as url, http_client(timeout=TIMEOUT) as http:
        async with http.stream("GET", url) as response:
            async for _ in response.aiter_bytes():
                break
        await asyncio.wait_for(gone.wait(), 5)


async def test_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY is used as httpx would use it; NO_PROXY hosts are reached directly."""
    via_proxy: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        via_proxy.append(str(request.url))
        return web.Response(text="proxied")

    async def origin(request: web.Request) -> web.Response:
        return web.Response(text="direct")

    async with serving(proxy) as proxy_url, serving(origin) as origin_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with http_client(timeout=TIMEOUT) as http:
            assert (await http.get("http://files.example.test/x")).text == "proxied"
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with http_client(timeout=TIMEOUT) as http:
            assert (await http.get(origin_url)).text == "direct"
    assert via_proxy == ["http://files.example.test/x"]


@pytest.mark.parametrize("streamed", [False, True], ids=["bytes", "streamed"])
async def test_a_server_that_stops_reading_the_body_is_a_write_timeout(streamed: bool) -> None:
    """A peer that takes the headers and then no more of the body: WriteTimeout, not a hang."""
    big = b"x" * (64 * 1024 * 1024)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        await asyncio.sleep(30)

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    timeout = httpx.Timeout(5.0, write=0.3)
    async with raw_server(on_connect) as url, http_client(timeout=timeout) as http:
        content = pieces() if streamed else big
        with pytest.raises(httpx.WriteTimeout):
            await asyncio.wait_for(http.post(url, content=content, headers={"Content-Length": str(len(big))}), 10)


async def test_a_kept_alive_connection_the_server_closed_is_not_a_lost_post() -> None:
    """A server that closes each connection after answering (without saying so): every POST
    either goes through on a new connection or fails as safe to retry, never as a lost request."""
    answered = 0

    async def answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        await read_request_head(reader)
        await reader.readexactly(2)
        answered += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    outcomes: list[str] = []
    async with raw_server(answer_then_close) as url, http_client(timeout=TIMEOUT) as http:
        for _ in range(10):
            try:
                outcomes.append((await http.post(url, json={})).text)
            except httpx.TransportError as exc:
                outcomes.append("retryable" if transport_error_is_retryable(exc, safe=False) else repr(exc))
    assert answered == outcomes.count("ok")
    assert set(outcomes) <= {"ok", "retryable"}


async def test_closing_the_client_ends_a_response_being_read() -> None:
    """A reader waiting on a stream when the client closes gets a ReadError, not a hang."""

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ndata:1\r\n")
        await writer.drain()
        await asyncio.sleep(30)

    async with raw_server(trickle) as url:
        http = http_client(timeout=httpx.Timeout(10.0))
        response = await http.send(http.build_request("GET", url), stream=True)
        chunks = response.aiter_raw()
        assert await chunks.__anext__() == b"data:1"
        waiting = asyncio.create_task(chunks.__anext__())
        await asyncio.sleep(0.05)
        await http.aclose()
        with pytest.raises(httpx.ReadError):
            await asyncio.wait_for(waiting, 5)


async def test_no_content_type_is_added() -> None:
    """A bodiless POST and a streamed body go without a Content-Type unless the caller gives one."""
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        seen.append(request.headers.get("Content-Type"))
        return web.Response()

    async def body() -> AsyncIterator[bytes]:
        yield b"x"

    async with serving(handler) as url, http_client(timeout=TIMEOUT) as http:
        await http.post(url)
        await http.post(url, content=body())
        await http.post(url, content=b"abc", headers={"Content-Type": "text/csv"})
    assert seen == [None, None, "text/csv"]


@pytest.mark.parametrize("variable", ["ALL_PROXY", "HTTP_PROXY"])
async def test_proxy_without_a_scheme_and_all_proxy(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    """ALL_PROXY counts for every scheme, and ``host:port`` means an HTTP proxy, as in httpx."""
    via_proxy: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        via_proxy.append(str(request.url))
        return web.Response(text="proxied")

    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with serving(proxy) as proxy_url:
        monkeypatch.setenv(variable, proxy_url.removeprefix("http://"))
        async with http_client(timeout=TIMEOUT) as http:
            assert (await http.get("http://files.example.test/y")).text == "proxied"
    assert via_proxy == ["http://files.example.test/y"]


async def test_a_timeout_raised_by_the_body_itself_comes_out_as_itself() -> None:
    """A TimeoutError from the body's source (a slow disk, say) is not a ReadTimeout of the server."""

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response()

    async def body() -> AsyncIterator[bytes]:
        yield b"start"
        raise TimeoutError("the source timed out")

    async with serving(handler) as url, http_client(timeout=TIMEOUT) as http:
        with pytest.raises(TimeoutError, match="the source timed out"):
            await http.post(url, content=body(), headers={"Content-Length": "100"})
