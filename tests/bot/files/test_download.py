"""Downloading Slack files over real loopback HTTP: the token's reach, redirects, limits, retries, memory."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import logging
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.emulators.slack import EmulatorConfig, FileUpload, RetryPolicy, SlackEmulator
from bot.errors import FileDownloadFailed, FileTooLarge, NotASlackFile
from bot.files.download import SlackDownloader, Spooled, aiter_file, is_slack_host
from bot.files.growing import GrowingSpool
from bot.files.hosts import describe, token_allowed
from bot.files.source import Held
from bot.http_client import http_client

MiB = 1024 * 1024
#: 16 bytes, a divisor of the emulator's 1 MiB generation block: a generated file is this repeated.
PATTERN = b"2024-01-01,42.0\n"
#: A second loopback address: never the host of the emulator's SLACK_API_URL (127.0.0.1).
OTHER_HOST = "127.0.0.2"
FAST = (0.01, 0.01)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    """What a small test server was asked: one (path, query, Authorization header) per request."""

    requests: list[tuple[str, str, str | None]] = field(default_factory=list)

    def record(self, request: web.Request) -> int:
        """Note a request; returns how many came so far."""
        self.requests.append((request.path, request.query_string, request.headers.get("Authorization")))
        return len(self.requests)


@contextlib.asynccontextmanager
async def serve(handler: Handler, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run one catch-all GET handler on a free port of ``host``; yields its base URL."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def pattern_digest(size: int) -> str:
    """SHA-256 of a generated file of ``size`` bytes (a whole number of MiB)."""
    digest, block = hashlib.sha256(), PATTERN * (MiB // len(PATTERN))
    for _ in range(size // MiB):
        digest.update(block)
    return digest.hexdigest()


def content(spooled: Spooled) -> bytes:
    """The downloaded bytes, wherever they are kept."""
    if isinstance(spooled.source, Path):
        return spooled.source.read_bytes()
    assert isinstance(spooled.source, Held)
    return bytes(spooled.source)


def leftovers(folder: Path) -> list[str]:
    """Names of the files in the spool folder."""
    return sorted(path.name for path in folder.iterdir())


@pytest.fixture(name="slack")
async def _slack() -> AsyncIterator[SlackEmulator]:
    """A running Slack emulator (API host and CDN host both on 127.0.0.1)."""
    async with SlackEmulator(EmulatorConfig(retry=RetryPolicy.fast())) as emulator:
        yield emulator


@pytest.fixture(name="http")
async def _http() -> AsyncIterator[httpx.AsyncClient]:
    """The shared HTTP client the downloader is handed, as the bot builds it."""
    async with http_client(timeout=httpx.Timeout(10.0)) as client:
        yield client


@pytest.fixture(name="folder")
def _folder(tmp_path: Path) -> Path:
    """An empty folder to spool into."""
    folder = tmp_path / "spool"
    folder.mkdir()
    return folder


async def drop(slack: SlackEmulator, upload: FileUpload) -> str:
    """Have someone drop a file in a channel; returns its ``url_private_download``."""
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    message = await slack.post_message(alice, general, "", files=[upload])
    return str(slack.file_info(message.files[0])["url_private_download"])


def downloader(http: httpx.AsyncClient, slack: SlackEmulator) -> SlackDownloader:
    """A downloader with the emulator's bot token and API URL."""
    return SlackDownloader(http, slack.bot_token, api_url=slack.api_url)


# -- which hosts are Slack ------------------------------------------------------------------------

API = "http://127.0.0.1:3000/api/"


@pytest.mark.parametrize(
    "host",
    [
        "slack.com",
        "files.slack.com",
        "FILES.Slack.COM",
        "files.slack.com.",
        "files.slack.com:443",
        "slack-files.com",
        "files-origin.slack-files.com",
        "ca.slack-edge.com",
        "slack-edge.com",
        "127.0.0.1",
        "127.0.0.1:41234",
    ],
)
def test_is_slack_host_accepts_slack_domains_and_the_api_host(host: str) -> None:
    """Slack's domains and their subdomains, and the SLACK_API_URL host on any port, are Slack."""
    assert is_slack_host(host, api_url=API)


@pytest.mark.parametrize(
    "host",
    [
        "evil-slack.com",
        "slack.com.evil.io",
        "files.slack.com.evil.io",
        "notslack.com",
        "slack.co",
        "xslack-files.com",
        "slack-edge.com.evil.io",
        ".slack.com",
        "a..slack.com",
        "",
        OTHER_HOST,
        "localhost",
        "[::1]:3000",
    ],
)
def test_is_slack_host_rejects_lookalikes_and_other_hosts(host: str) -> None:
    """Suffixes match on whole labels only, and other loopback names are not the API host."""
    assert not is_slack_host(host, api_url=API)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/download/a.csv", True),
        ("http://files.slack.com/files-pri/T1-F1/download/a.csv", False),
        ("http://127.0.0.1:5555/files-pri/T1-F1/a.csv", True),
        ("https://files.slack.com@evil.io/files-pri/T1-F1/a.csv", False),
        ("https://user:pw@files.slack.com/files-pri/T1-F1/a.csv", False),
        ("https://cdn.example.net/files-pri/T1-F1/a.csv", False),
    ],
)
def test_token_goes_only_to_slack_over_https_or_to_a_loopback_api_host(url: str, allowed: bool) -> None:
    """The token needs a Slack host and https; plain http only for an http loopback SLACK_API_URL."""
    assert token_allowed(httpx.URL(url), api_url=API) is allowed


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        (
            "https://files.slack.com/files-pri/T1-F1/download/a.csv?t=xoxe-secret",
            "files.slack.com/files-pri/T1-F1/download/a.csv",
        ),
        (
            "https://files.slack.com/download/a%0aERROR%20forged%E2%80%AE.csv",
            "files.slack.com/download/a%0aERROR%20forged%E2%80%AE.csv",
        ),
        ("https://xn--slck-loa.com/a.csv", "xn--slck-loa.com/a.csv"),
    ],
)
def test_a_url_is_described_without_its_query_and_with_its_path_still_encoded(url: str, logged: str) -> None:
    """Log lines name host and path: no signature from the query, no line break or direction mark from the path."""
    assert describe(httpx.URL(url)) == logged


def test_plain_http_is_refused_when_the_api_url_is_https() -> None:
    """With Slack's real https API URL, no plain-http URL may carry the token."""
    assert not token_allowed(httpx.URL("http://slack.com/files-pri/a"), api_url="https://slack.com/api/")


# -- downloads from the emulator ------------------------------------------------------------------


async def test_spool_downloads_a_sample_file_intact(
    slack: SlackEmulator, http: httpx.AsyncClient, folder: Path, data_dir: Path
) -> None:
    """A dropped CSV comes down byte for byte, with the bot token, into a new file in the folder."""
    sample = data_dir / "valid" / "sales.csv"
    url = await drop(slack, FileUpload("sales.csv", path=sample))
    spooled = await downloader(http, slack).spool(url, folder, max_bytes=MiB, name="sales.csv")
    original = sample.read_bytes()
    assert (spooled.size, spooled.sha256) == (len(original), hashlib.sha256(original).hexdigest())
    assert content(spooled) == original
    assert spooled.content_type == "text/csv"
    assert (spooled.on_disk, leftovers(folder)) == (False, [])  # a small file is held in memory
    assert [(r.had_authorization, r.token_valid, r.outcome) for r in slack.download_requests] == [(True, True, "file")]


async def test_spool_streams_a_20_mb_generated_file(
    slack: SlackEmulator, http: httpx.AsyncClient, folder: Path
) -> None:
    """A 20 MiB file arrives whole: size and SHA-256 match what was dropped."""
    size = 20 * MiB
    url = await drop(slack, FileUpload("big.csv", size=size, pattern=PATTERN))
    spooled = await downloader(http, slack).spool(url, folder, max_bytes=size)
    assert (spooled.size, spooled.sha256) == (size, pattern_digest(size))
    assert isinstance(spooled.source, Path)
    assert (spooled.source.parent, spooled.source.stat().st_size) == (folder, size)


async def follow(watch: GrowingSpool, limit: int, *, pause: float = 0.0) -> tuple[int, str]:
    """Read a watched body to its end as an upload would; returns its size and SHA-256."""
    digest, read = hashlib.sha256(), 0
    async for chunk in watch.chunks(MiB, limit=limit):
        digest.update(chunk)
        read += len(chunk)
        await asyncio.sleep(pause)
    return read, digest.hexdigest()


async def test_body_passed_on_shows_its_start_while_the_rest_is_held(
    slack: SlackEmulator, http: httpx.AsyncClient, folder: Path
) -> None:
    """A download held after 128 KiB has already shown its watcher the first 64 KiB."""
    size = 8 * MiB
    url = await drop(slack, FileUpload("big.csv", size=size, pattern=PATTERN))
    slack.stall_downloads(128 * 1024)
    watch = GrowingSpool(64 * 1024)
    download = asyncio.ensure_future(
        downloader(http, slack).spool(url, folder, max_bytes=size, watch=watch, pass_on=True)
    )
    try:
        head = await asyncio.wait_for(watch.head(), 10)
        assert head == (PATTERN * (64 * 1024 // len(PATTERN)))
        assert not download.done()
    finally:
        slack.resume_downloads()
    reader = asyncio.ensure_future(follow(watch, size))
    spooled = await asyncio.wait_for(download, 10)
    watch.ended()
    watch.release()
    assert await asyncio.wait_for(reader, 10) == (size, pattern_digest(size))
    assert (spooled.source, spooled.size, spooled.sha256) == (None, size, pattern_digest(size))
    assert leftovers(folder) == []  # nothing was written


async def test_body_passed_on_waits_for_a_slow_reader_and_memory_stays_flat(
    slack: SlackEmulator, http: httpx.AsyncClient, folder: Path
) -> None:
    """However slow the reader, the download holds about a window (4 MiB) of unread bytes, not the file."""
    size = 48 * MiB
    url = await drop(slack, FileUpload("big.csv", size=size, pattern=PATTERN))
    watch = GrowingSpool(64 * 1024)
    tracemalloc.start()
    try:
        download = asyncio.ensure_future(
            downloader(http, slack).spool(url, folder, max_bytes=size, watch=watch, pass_on=True)
        )
        reader = asyncio.ensure_future(follow(watch, size, pause=0.01))
        await asyncio.wait_for(download, 30)
        watch.ended()
        watch.release()
        read = await asyncio.wait_for(reader, 30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read == (size, pattern_digest(size))
    assert peak < 12 * MiB, f"peak {peak / MiB:.1f} MiB"


async def test_spool_re_adds_the_token_after_a_redirect_to_the_slack_cdn(
    slack: SlackEmulator, http: httpx.AsyncClient, folder: Path
) -> None:
    """The emulator's 302 to its CDN port (same host as SLACK_API_URL) is followed with the token."""
    slack.redirect_downloads()
    url = await drop(slack, FileUpload("b.csv", content=b"1,2\n3,4\n"))
    spooled = await downloader(http, slack).spool(url, folder, max_bytes=MiB)
    assert (content(spooled), spooled.content_type) == (b"1,2\n3,4\n", "text/csv")
    assert [(r.host, r.had_authorization, r.outcome) for r in slack.download_requests] == [
        ("primary", True, "redirect"),
        ("cdn", True, "file"),
    ]


async def test_spool_follows_a_redirect_to_a_non_slack_cdn_without_the_token(
    http: httpx.AsyncClient, folder: Path
) -> None:
    """With the CDN on another host, the redirect is followed bare, and the login page is reported."""
    config = EmulatorConfig(retry=RetryPolicy.fast(), cdn_host=OTHER_HOST)
    async with SlackEmulator(config) as slack:
        slack.redirect_downloads()
        url = await drop(slack, FileUpload("b.csv", content=b"1,2\n"))
        spooled = await downloader(http, slack).spool(url, folder, max_bytes=MiB)
        assert spooled.content_type == "text/html"
        assert b"Sign in" in content(spooled)
        assert [(r.host, r.had_authorization, r.outcome) for r in slack.download_requests] == [
            ("primary", True, "redirect"),
            ("cdn", False, "login_page"),
        ]


async def test_spool_with_a_wrong_token_reports_the_html_login_page(
    slack: SlackEmulator, http: httpx.AsyncClient, folder: Path
) -> None:
    """Slack answers a bad token with 200 and a login page: no error, but content_type says text/html."""
    url = await drop(slack, FileUpload("a.csv", content=b"a,b\n"))
    wrong = SlackDownloader(http, "xoxb-not-the-token", api_url=slack.api_url)
    spooled = await wrong.spool(url, folder, max_bytes=MiB)
    assert spooled.content_type == "text/html"
    assert b"Sign in to Slack" in content(spooled)
    assert [(r.had_authorization, r.token_valid) for r in slack.download_requests] == [(True, False)]


async def test_spool_refuses_a_file_announced_over_the_limit(
    slack: SlackEmulator, http: httpx.AsyncClient, folder: Path
) -> None:
    """A Content-Length over max_bytes stops the download before the body is read; nothing is left."""
    url = await drop(slack, FileUpload("huge.csv", size=2 * MiB, pattern=PATTERN))
    with pytest.raises(FileTooLarge) as raised:
        await downloader(http, slack).spool(url, folder, max_bytes=MiB, name="huge.csv")
    assert raised.value.user_message == "huge.csv is larger than my 1 MB limit, so I didn't download it."
    assert leftovers(folder) == []


async def test_spool_keeps_memory_flat_for_a_64_mb_file(
    slack: SlackEmulator, http: httpx.AsyncClient, folder: Path
) -> None:
    """Downloading 64 MiB peaks at a few MiB of Python memory: the file never sits in memory."""
    size = 64 * MiB
    url = await drop(slack, FileUpload("huge.csv", size=size, pattern=PATTERN))
    fetcher = downloader(http, slack)
    tracemalloc.start()
    try:
        spooled = await fetcher.spool(url, folder, max_bytes=size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (spooled.size, spooled.sha256) == (size, pattern_digest(size))
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"


async def test_aiter_file_reads_a_spooled_file_back_in_chunks(
    slack: SlackEmulator, http: httpx.AsyncClient, folder: Path
) -> None:
    """aiter_file yields the spooled bytes in order, no chunk longer than asked."""
    url = await drop(slack, FileUpload("m.csv", size=MiB, pattern=PATTERN))
    fetcher = SlackDownloader(http, slack.bot_token, api_url=slack.api_url, in_memory_up_to=0)
    spooled = await fetcher.spool(url, folder, max_bytes=MiB)
    assert isinstance(spooled.source, Path)
    chunks = [chunk async for chunk in aiter_file(spooled.source, chunk_size=100_000)]
    assert max(map(len, chunks)) == 100_000
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == spooled.sha256


# -- never sending the token elsewhere ------------------------------------------------------------


@pytest.mark.parametrize(
    "make_url",
    [
        lambda other: f"{other}/files-pri/T1-F1/download/a.csv",
        lambda other: f"https://files.slack.com@{other.removeprefix('http://')}/files-pri/T1-F1/a.csv",
        lambda other: f"{other.replace(OTHER_HOST, 'slack.com.' + OTHER_HOST)}/a.csv",
        lambda other: "",
        lambda other: "https://[::1/files-pri/a.csv",
    ],
    ids=["other-host", "userinfo-disguise", "slack-prefix", "empty", "unparseable"],
)
async def test_spool_refuses_a_url_off_slack_without_sending_anything(
    slack: SlackEmulator, http: httpx.AsyncClient, folder: Path, make_url: Callable[[str], str]
) -> None:
    """A first URL that is not a Slack host is refused: the other server sees no request at all."""
    seen = Seen()

    async def record(request: web.Request) -> web.Response:
        seen.record(request)
        return web.Response(body=b"stolen?")

    async with serve(record, OTHER_HOST) as other:
        with pytest.raises(NotASlackFile) as raised:
            await downloader(http, slack).spool(make_url(other), folder, max_bytes=MiB, name="a.csv")
    assert seen.requests == []
    assert leftovers(folder) == []
    assert "a.csv" in raised.value.user_message


async def test_spool_redirected_off_slack_to_a_signed_url_sends_no_token(
    http: httpx.AsyncClient, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack's 302 to a non-Slack host is followed without the token, and logs never show the query."""
    caplog.set_level(logging.DEBUG, logger="bot.files.download")
    slack_seen, cdn_seen = Seen(), Seen()

    async def cdn(request: web.Request) -> web.Response:
        cdn_seen.record(request)
        return web.Response(body=b"x,y\n", content_type="text/csv")

    async with serve(cdn, OTHER_HOST) as cdn_url:

        async def slack(request: web.Request) -> web.Response:
            slack_seen.record(request)
            raise web.HTTPFound(f"{cdn_url}/signed/a.csv?sig=s3cret-signature")

        async with serve(slack) as slack_url:
            fetcher = SlackDownloader(http, "xoxb-real-token", api_url=f"{slack_url}/api/")
            spooled = await fetcher.spool(f"{slack_url}/files-pri/T1-F1/download/a.csv", folder, max_bytes=MiB)

    assert content(spooled) == b"x,y\n"
    assert slack_seen.requests == [("/files-pri/T1-F1/download/a.csv", "", "Bearer xoxb-real-token")]
    assert cdn_seen.requests == [("/signed/a.csv", "sig=s3cret-signature", None)]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/signed/a.csv" in logged
    assert "s3cret" not in logged
    assert "xoxb-real-token" not in logged


async def test_spool_decodes_a_body_encoded_against_its_request(http: httpx.AsyncClient, folder: Path) -> None:
    """The downloader asks for identity; a server that gzips anyway still yields the file's bytes."""
    original = b"a,b\n" + b"1,2\n" * 50_000

    async def gzipped(request: web.Request) -> web.Response:
        assert request.headers["Accept-Encoding"] == "identity"
        return web.Response(body=gzip.compress(original), headers={"Content-Encoding": "gzip"})

    async with serve(gzipped) as base:
        fetcher = SlackDownloader(http, "xoxb-t", api_url=f"{base}/api/")
        spooled = await fetcher.spool(f"{base}/f.csv", folder, max_bytes=MiB)
    assert (content(spooled), spooled.sha256) == (original, hashlib.sha256(original).hexdigest())
    assert spooled.on_disk  # an encoded body may grow past its length: it is never held in memory


async def test_spool_gives_up_after_max_redirects(http: httpx.AsyncClient, folder: Path) -> None:
    """A redirect loop ends with FileDownloadFailed after max_redirects hops, leaving nothing behind."""
    seen = Seen()

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/hop/{seen.record(request)}")

    async with serve(loop) as base:
        fetcher = SlackDownloader(http, "xoxb-t", api_url=f"{base}/api/", max_redirects=3)
        with pytest.raises(FileDownloadFailed) as raised:
            await fetcher.spool(f"{base}/start", folder, max_bytes=MiB, name="loop.csv")
    assert [path for path, _, _ in seen.requests] == ["/start", "/hop/1", "/hop/2", "/hop/3"]
    assert all(auth == "Bearer xoxb-t" for _, _, auth in seen.requests)
    assert "redirects" in str(raised.value)
    assert leftovers(folder) == []


# -- limits, failures, retries --------------------------------------------------------------------


async def test_spool_stops_mid_stream_past_max_bytes(http: httpx.AsyncClient, folder: Path) -> None:
    """A chunked body with no Content-Length is cut off once it passes max_bytes; the partial file goes."""

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for _ in range(32):
                await response.write(b"z" * 65536)
            await response.write_eof()
        return response

    async with serve(endless) as base:
        fetcher = SlackDownloader(http, "xoxb-t", api_url=f"{base}/api/", chunk_size=65536)
        with pytest.raises(FileTooLarge) as raised:
            await fetcher.spool(f"{base}/files-pri/T1-F1/z.txt", folder, max_bytes=300_000, name="z.txt")
    assert leftovers(folder) == []
    assert raised.value.limit == 300_000
    assert "300,000 bytes" in raised.value.user_message


async def test_spool_retries_two_500s_then_succeeds(http: httpx.AsyncClient, folder: Path) -> None:
    """Two 500s are retried after a short pause and the third answer's body is saved."""
    seen = Seen()

    async def flaky(request: web.Request) -> web.Response:
        if seen.record(request) <= 2:
            return web.Response(status=500, text="oops")
        return web.Response(body=b"third time\n", content_type="text/plain")

    async with serve(flaky) as base:
        fetcher = SlackDownloader(http, "xoxb-t", api_url=f"{base}/api/", retry_delays=FAST, in_memory_up_to=0)
        spooled = await fetcher.spool(f"{base}/f.txt", folder, max_bytes=MiB)
    assert len(seen.requests) == 3
    assert (content(spooled), spooled.content_type) == (b"third time\n", "text/plain")
    assert isinstance(spooled.source, Path)
    assert leftovers(folder) == [spooled.source.name]


async def test_spool_gives_up_after_the_retries(http: httpx.AsyncClient, folder: Path) -> None:
    """A host that keeps answering 503 ends in FileDownloadFailed with the person's sentence."""
    seen = Seen()

    async def down(request: web.Request) -> web.Response:
        seen.record(request)
        return web.Response(status=503)

    async with serve(down) as base:
        fetcher = SlackDownloader(http, "xoxb-t", api_url=f"{base}/api/", retry_delays=FAST)
        with pytest.raises(FileDownloadFailed) as raised:
            await fetcher.spool(f"{base}/f.csv", folder, max_bytes=MiB, name="f.csv")
    assert len(seen.requests) == 3
    assert raised.value.user_message == "I couldn't download f.csv from Slack. Please try again."
    assert "HTTP 503" in str(raised.value)
    assert leftovers(folder) == []


async def test_spool_does_not_retry_a_404(http: httpx.AsyncClient, folder: Path) -> None:
    """A 4xx other than 429 fails at once: one request, FileDownloadFailed."""
    seen = Seen()

    async def gone(request: web.Request) -> web.Response:
        seen.record(request)
        return web.Response(status=404)

    async with serve(gone) as base:
        fetcher = SlackDownloader(http, "xoxb-t", api_url=f"{base}/api/", retry_delays=FAST)
        with pytest.raises(FileDownloadFailed, match="HTTP 404"):
            await fetcher.spool(f"{base}/f.csv", folder, max_bytes=MiB)
    assert len(seen.requests) == 1


async def test_spool_honours_retry_after_instead_of_its_own_pause(http: httpx.AsyncClient, folder: Path) -> None:
    """A 429 with Retry-After: 1 is retried after about a second, not after the (long) default pause."""
    seen = Seen()

    async def busy(request: web.Request) -> web.Response:
        if seen.record(request) == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return web.Response(body=b"ok")

    async with serve(busy) as base:
        fetcher = SlackDownloader(http, "xoxb-t", api_url=f"{base}/api/", retry_delays=(20.0,))
        started = time.monotonic()
        spooled = await fetcher.spool(f"{base}/f.csv", folder, max_bytes=MiB)
        elapsed = time.monotonic() - started
    assert content(spooled) == b"ok"
    assert 0.9 <= elapsed < 5.0


async def test_spool_gives_up_at_once_on_a_long_retry_after(http: httpx.AsyncClient, folder: Path) -> None:
    """A Retry-After over 30 s is not waited for: one request, then FileDownloadFailed."""
    seen = Seen()

    async def later(request: web.Request) -> web.Response:
        seen.record(request)
        return web.Response(status=503, headers={"Retry-After": "120"})

    async with serve(later) as base:
        fetcher = SlackDownloader(http, "xoxb-t", api_url=f"{base}/api/", retry_delays=FAST)
        with pytest.raises(FileDownloadFailed):
            await fetcher.spool(f"{base}/f.csv", folder, max_bytes=MiB)
    assert len(seen.requests) == 1


@pytest.mark.parametrize("in_memory_up_to", [0, 2 * MiB], ids=["on disk", "in memory"])
async def test_spool_retries_a_connection_dropped_mid_body_and_starts_clean(
    http: httpx.AsyncClient, folder: Path, in_memory_up_to: int
) -> None:
    """A body cut short by a dropped connection is fetched again; only the second copy is kept."""
    body = bytes(range(256)) * 4096
    seen = Seen()

    async def cut(request: web.Request) -> web.StreamResponse:
        if seen.record(request) > 1:
            return web.Response(body=body)
        response = web.StreamResponse(headers={"Content-Length": str(len(body))})
        await response.prepare(request)
        await response.write(body[:300_000])
        assert request.transport is not None
        request.transport.close()
        return response

    async with serve(cut) as base:
        fetcher = SlackDownloader(
            http, "xoxb-t", api_url=f"{base}/api/", retry_delays=FAST, in_memory_up_to=in_memory_up_to
        )
        spooled = await fetcher.spool(f"{base}/f.bin", folder, max_bytes=2 * MiB)
    assert len(seen.requests) == 2
    assert (spooled.size, spooled.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert content(spooled) == body


async def test_spool_cancelled_mid_body_leaves_no_file(http: httpx.AsyncClient, folder: Path) -> None:
    """Cancelling a download half-way removes its partial file."""
    started, release = asyncio.Event(), asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(4 * MiB)})
        await response.prepare(request)
        await response.write(b"s" * MiB)
        started.set()
        await release.wait()
        return response

    async with serve(stall) as base:
        try:
            fetcher = SlackDownloader(http, "xoxb-t", api_url=f"{base}/api/", in_memory_up_to=0)
            task = asyncio.create_task(fetcher.spool(f"{base}/f.bin", folder, max_bytes=8 * MiB))
            await asyncio.wait_for(started.wait(), 5)
            await asyncio.sleep(0.05)
            assert len(leftovers(folder)) == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            release.set()
    assert leftovers(folder) == []


async def test_spool_cancelled_while_a_batch_is_written_waits_for_the_writer(
    http: httpx.AsyncClient, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel that lands while a worker thread writes a batch lets the thread finish before the
    file closes: the thread never meets a closed file, and the partial file is removed."""
    from bot.files import download

    writing, finished = threading.Event(), []
    absorb = download._absorb

    def slow_absorb(out: Any, update: Any, pieces: list[bytes]) -> None:
        writing.set()
        time.sleep(0.3)  # still writing when the cancel arrives
        absorb(out, update, pieces)  # raises on a closed file
        finished.append(True)

    monkeypatch.setattr(download, "_absorb", slow_absorb)

    async def steady(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(8 * MiB)})
        await response.prepare(request)
        for _ in range(8):
            await response.write(b"s" * MiB)
        return response

    async with serve(steady) as base:
        fetcher = SlackDownloader(http, "xoxb-t", api_url=f"{base}/api/")
        task = asyncio.create_task(fetcher.spool(f"{base}/f.bin", folder, max_bytes=16 * MiB))
        await asyncio.to_thread(writing.wait, 5)
        await asyncio.sleep(0.1)  # the next batch is read meanwhile: the spool waits for the writer
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert finished == [True]
    assert leftovers(folder) == []


async def test_downloader_refuses_a_client_that_carries_its_own_authorization() -> None:
    """A shared client with a default Authorization header would leak it to every host: refused."""
    async with httpx.AsyncClient(headers={"authorization": "Bearer xoxb-t"}) as client:
        with pytest.raises(ValueError, match="Authorization"):
            SlackDownloader(client, "xoxb-t", api_url=API)
