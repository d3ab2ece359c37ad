"""Downloading a Slack file: the token only for Slack, redirects by hand, flat memory.

Slack serves ``url_private_download`` only to a request that carries the bot token, and it may
answer with a redirect to another host. HTTP clients drop ``Authorization``
on a cross-origin redirect, so a bot that lets them follow it saves Slack's HTML login page
instead of the file. Here every redirect is followed by hand, and the token is re-added only
where :func:`~bot.files.hosts.token_allowed` says so: a Slack host over https, or the loopback
``SLACK_API_URL`` host over http. A redirect to any other host (a CDN with a signed URL, say)
is followed *without* the token: the signature in that URL is its credential, and the token is
not ours to hand to anyone but Slack. A first URL that is not a Slack host is not fetched at all.

The body is hashed as it comes and cut off at ``max_bytes``. A small one (announced at no more
than ``in_memory_up_to``) is held in memory. A larger one streams into a new temporary file in
the caller's folder, or is passed on to a :class:`SpoolWatcher` that paces it; either way memory
stays near ``chunk_size`` whatever the file's size: the pieces httpx reads are gathered into
batches (64 KiB first, doubling up to ``chunk_size``), each written (or handed on) and hashed
in one worker-thread hop. A login page is not an error here: :attr:`Spooled.content_type` says
``text/html`` and the caller decides.
Logs and error details name host and path only: never the query (signed URLs), never the token.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Protocol

import httpx

from bot.errors import FileDownloadFailed, FileTooLarge, NotASlackFile
from bot.files.hosts import describe, is_slack_host, token_allowed
from bot.files.names import safe_name
from bot.files.source import Held, Source

__all__ = ["SlackDownloader", "SpoolWatcher", "Spooled", "aiter_file", "is_slack_host"]

logger = logging.getLogger(__name__)

CHUNK_SIZE = 256 * 1024
#: Bytes gathered from the socket before one write-and-hash in a worker thread. Each hop costs a
#: GIL hand-over between two busy threads, so fewer, larger ones download faster; 1 MiB measured best.
WRITE_BATCH = 1024 * 1024
#: The first batch: the start of a file reaches the disk (and a watcher) early. Later batches
#: double until they reach the full batch size.
FIRST_BATCH = 64 * 1024
#: A body announced at no more than this is held in memory rather than written to disk: most
#: dropped files are this small, and they skip the file system and its worker-thread hops.
IN_MEMORY_UP_TO = 4 * 1024 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: A server asking for a longer pause than this is not waited for; the person can try again.
MAX_RETRY_AFTER_S = 30.0


@dataclass(frozen=True)
class Spooled:
    """A downloaded file: its bytes (a spool file, or a small file's bytes), size, SHA-256 (hex) and served type."""

    #: The spool file; for a file of at most ``in_memory_up_to`` bytes, its pieces as they came; None
    #: for a body passed on to a watcher (nothing kept).
    source: Source | None
    size: int
    sha256: str
    #: The final response's media type, lower-case, without parameters ("" when none was sent).
    content_type: str

    @property
    def on_disk(self) -> bool:
        """True if the bytes are in a spool file (which :meth:`discard` removes)."""
        return isinstance(self.source, Path)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The bytes from the start, a chunk at a time (read in a worker thread from disk)."""
        if self.source is None:
            raise ValueError("the body was passed on, not kept")
        if isinstance(self.source, Path):
            async for chunk in aiter_file(self.source):
                yield chunk
        elif isinstance(self.source, Held):
            for piece in self.source:
                yield piece
        elif self.source:
            yield self.source

    async def discard(self) -> None:
        """Remove the spool file, if there is one."""
        if isinstance(self.source, Path):
            await asyncio.to_thread(self.source.unlink, True)


class SpoolWatcher(Protocol):
    """**Protocol:** told of a body held in memory or passed on, batch by batch, as it arrives."""

    def started(self, content_type: str) -> None:
        """A response body begins (again, after a retry)."""

    def wrote(self, batch: Sequence[bytes], size: int) -> None:
        """``batch`` arrived, ending at offset ``size``."""

    async def room(self) -> None:
        """Return when the next batch of a body that is passed on may come (the watcher holds it)."""


@dataclass
class _Target:
    """Where a download is saved, how large it may grow, how it is named in errors, who watches it."""

    folder: Path
    max_bytes: int
    name: str
    watch: SpoolWatcher | None
    #: Pass a body too large to hold in memory on to the watcher, rather than keep it in a file.
    pass_on: bool = False
    #: The spool file, once a body too large to hold in memory began.
    path: Path | None = None


class _Retryable(Exception):
    """A failure worth another try: a transport error, 429 or 5xx."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class SlackDownloader:
    """Downloads Slack files with the bot token over a shared ``httpx.AsyncClient``.

    ``retry_delays`` are the pauses before each retry of a hop that met a transport error, a 429
    or a 5xx (its length is the number of retries); a ``Retry-After`` of up to 30 s replaces the
    pause, a longer one ends the download.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        token: str,
        *,
        api_url: str,
        chunk_size: int = WRITE_BATCH,
        in_memory_up_to: int = IN_MEMORY_UP_TO,
        max_redirects: int = 5,
        retry_delays: Sequence[float] = (0.5, 2.0),
    ) -> None:
        if "Authorization" in http.headers:
            raise ValueError("the shared client must not carry an Authorization header: it would reach every host")
        self._http = http
        self._token = token
        self._api_url = api_url
        self._chunk_size = chunk_size
        self._in_memory_up_to = in_memory_up_to
        self._max_redirects = max_redirects
        self._retry_delays = tuple(retry_delays)

    @property
    def in_memory_up_to(self) -> int:
        """A body announced at no more than this many bytes is held in memory."""
        return self._in_memory_up_to

    async def spool(
        self,
        url: str,
        folder: Path,
        *,
        max_bytes: int,
        name: str = "file",
        watch: SpoolWatcher | None = None,
        pass_on: bool = False,
    ) -> Spooled:
        """Download ``url``; a :class:`FileRelayError` says why not.

        A body Slack announces at no more than ``in_memory_up_to`` bytes is kept in memory, and
        ``watch`` hears of it batch by batch. A larger one goes into a new file in ``folder``,
        or with ``pass_on``, only to ``watch``, which paces it (see :meth:`SpoolWatcher.room`):
        the :class:`Spooled` then holds no bytes. Nothing is left in ``folder`` when this
        raises, cancellation included.
        """
        if pass_on and watch is None:
            raise ValueError("a body passed on needs a watcher to take it")
        shown = safe_name(name)
        start = self._first_url(url, shown)
        target = _Target(folder, max_bytes, shown, watch, pass_on)
        try:
            return await self._follow(start, target)
        except BaseException:
            if target.path is not None:
                target.path.unlink(missing_ok=True)  # not in a thread: this must run even when cancelled
            raise

    def _first_url(self, url: str, name: str) -> httpx.URL:
        """The URL to start from, if the token may go there; otherwise nothing is sent at all."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            parsed = httpx.URL()
        if not token_allowed(parsed, api_url=self._api_url):
            where = describe(parsed)
            logger.warning("refused to download from %s: not a Slack host over https", where)
            raise NotASlackFile(f"refused to download from {where}: not a Slack host over https", name=name)
        return parsed

    async def _follow(self, url: httpx.URL, target: _Target) -> Spooled:
        """Fetch hop after hop until a response has a body, or the redirects run out."""
        for _ in range(self._max_redirects + 1):
            result = await self._fetch(url, target)
            if isinstance(result, Spooled):
                return result
            url = result
        raise FileDownloadFailed(f"more than {self._max_redirects} redirects (next: {describe(url)})", name=target.name)

    async def _fetch(self, url: httpx.URL, target: _Target) -> Spooled | httpx.URL:
        """One hop, tried again after transport errors, 429 and 5xx."""
        attempt = 0
        while True:
            try:
                return await self._request(url, target)
            except _Retryable as exc:
                pause = self._pause(attempt, exc.retry_after)
                if pause is None:
                    raise FileDownloadFailed(f"{exc} (attempt {attempt + 1}, giving up)", name=target.name) from exc
                logger.warning("download attempt %d failed: %s; retrying in %.2f s", attempt + 1, exc, pause)
                await asyncio.sleep(pause)
                attempt += 1

    def _pause(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before the next try, or None to give up."""
        if attempt >= len(self._retry_delays):
            return None
        if retry_after is None:
            return self._retry_delays[attempt]
        return retry_after if retry_after <= MAX_RETRY_AFTER_S else None

    async def _request(self, url: httpx.URL, target: _Target) -> Spooled | httpx.URL:
        """One GET: a redirect's target, or the body saved to ``path``."""
        # identity: a compressed body could inflate far past chunk_size in one decoded piece.
        headers = {"Accept-Encoding": "identity"}
        if token_allowed(url, api_url=self._api_url):
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            # auth=None: never the shared client's own auth, whatever it was built with.
            async with self._http.stream("GET", url, headers=headers, auth=None, follow_redirects=False) as response:
                return await self._handle(response, url, target)
        except httpx.TransportError as exc:  # connect/read failures and timeouts, mid-body too
            raise _Retryable(f"{type(exc).__name__} ({exc}) from {describe(url)}") from exc
        except httpx.HTTPError as exc:  # e.g. a body that would not decode
            raise FileDownloadFailed(f"{type(exc).__name__} from {describe(url)}", name=target.name) from exc

    async def _handle(self, response: httpx.Response, url: httpx.URL, target: _Target) -> Spooled | httpx.URL:
        status = response.status_code
        if status in REDIRECT_STATUSES:
            return _redirect_target(response, url, target.name)
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status} from {describe(url)}", _retry_after(response))
        if not response.is_success:
            raise FileDownloadFailed(f"HTTP {status} from {describe(url)}", name=target.name)
        declared = response.headers.get("Content-Length", "")
        limit = target.max_bytes
        if declared.isdigit() and int(declared) > limit:
            too_large = f"{describe(url)} announced {declared} bytes, over {limit}"
            raise FileTooLarge(too_large, name=target.name, limit=limit)
        if declared.isdigit() and int(declared) <= self._in_memory_up_to and not _encoded(response):
            return await self._hold(response, url, target)
        return await self._save(response, url, target)

    async def _hold(self, response: httpx.Response, url: httpx.URL, target: _Target) -> Spooled:
        """Keep a small body in memory, hashing it piece by piece (the bytes never touch the disk).

        The watcher hears of the pieces in batches as they arrive.

        Only for a body that is not encoded and whose ``Content-Length`` is at most
        ``in_memory_up_to``: the HTTP client refuses a body longer than announced, so what is
        held never passes that.
        """
        hasher = hashlib.sha256()
        pieces: list[bytes] = []
        batch: list[bytes] = []
        size = held = 0
        batch_size = min(FIRST_BATCH, self._chunk_size)
        watch = target.watch
        if watch is not None:
            watch.started(_media_type(response))
        async for piece in _body(response):
            size += len(piece)
            if size > target.max_bytes:
                too_large = f"{describe(url)} passed {target.max_bytes} bytes"
                raise FileTooLarge(too_large, name=target.name, limit=target.max_bytes)
            hasher.update(piece)
            pieces.append(piece)
            if watch is None:
                continue
            batch.append(piece)
            held += len(piece)
            if held >= batch_size:  # in growing batches, as a body passed on
                watch.wrote(batch, size)
                batch, held, batch_size = [], 0, min(2 * batch_size, self._chunk_size)
        if watch is not None and batch:
            watch.wrote(batch, size)
        logger.debug("downloaded %d bytes from %s (held in memory)", size, describe(url))
        return Spooled(source=Held(pieces), size=size, sha256=hasher.hexdigest(), content_type=_media_type(response))

    async def _save(self, response: httpx.Response, url: httpx.URL, target: _Target) -> Spooled:
        """Stream the body into the target's file (truncated first, so a retry starts clean), or
        on to its watcher, hashing it.

        Pieces come as httpx decodes them (one socket read each) and go to the worker thread as a
        list once a batch is held: no copy. ``aiter_bytes(chunk_size)`` would copy every byte
        twice to re-slice it, which cost more CPU than the hashing. One batch is written and
        hashed while the next is read from the network, so at most two are held at once. The
        first batch is small and each next one twice as large, up to ``chunk_size``: the start
        of the file reaches the watcher early. A body passed on is handed to the watcher a batch
        at a time, as soon as the watcher has room, and only hashed here.
        """
        hasher = hashlib.sha256()
        limit = target.max_bytes
        size = 0
        batch: list[bytes] = []
        held = 0
        batch_size = min(FIRST_BATCH, self._chunk_size)
        writing: asyncio.Future[None] | None = None
        watch = target.watch if target.pass_on else None
        path: Path | None = None
        out: IO[bytes] | None = None
        if watch is not None:
            watch.started(_media_type(response))
        elif target.path is None:
            path, out = await asyncio.to_thread(_new_spool_file, target.folder)
            target.path = path
        else:
            path = target.path
            out = await asyncio.to_thread(path.open, "wb")

        async def absorb(pieces: list[bytes]) -> None:
            await asyncio.to_thread(_absorb, out, hasher.update, pieces)

        try:
            async for piece in _body(response):
                size += len(piece)
                if size > limit:
                    raise FileTooLarge(f"{describe(url)} passed {limit} bytes", name=target.name, limit=limit)
                batch.append(piece)
                held += len(piece)
                if held >= batch_size:
                    if watch is not None:
                        await watch.room()  # paced by the watcher (cancellable here)
                        watch.wrote(batch, size)
                    if writing is not None:
                        await asyncio.shield(writing)  # the previous batch is written and hashed: keep the order
                    writing = asyncio.ensure_future(absorb(batch))
                    batch, held = [], 0
                    batch_size = min(2 * batch_size, self._chunk_size)
            if watch is not None and batch:
                await watch.room()
                watch.wrote(batch, size)
            if writing is not None:
                await asyncio.shield(writing)
            if batch:
                writing = asyncio.ensure_future(absorb(batch))
                await asyncio.shield(writing)
        finally:
            # A worker thread can't be interrupted (shield keeps a cancellation from pretending it
            # was): let it finish before the file closes, and collect its error, if any, here.
            if writing is not None:
                await asyncio.wait([writing])
                if not writing.cancelled():
                    writing.exception()
            if out is not None:
                out.close()  # flushes at most one small buffer; never skipped, even when cancelled
        logger.debug("downloaded %d bytes from %s%s", size, describe(url), "" if path else " (passed on)")
        return Spooled(source=path, size=size, sha256=hasher.hexdigest(), content_type=_media_type(response))


async def aiter_file(path: Path, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
    """Read a spooled file back in chunks, each read in a worker thread so the loop never blocks."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, chunk_size):
            yield chunk
    finally:
        handle.close()


def _new_spool_file(folder: Path) -> tuple[Path, IO[bytes]]:
    """A new, private (0600) file in ``folder``, open for writing; its name owes nothing to the uploader's."""
    fd, name = tempfile.mkstemp(prefix="slack-", suffix=".download", dir=folder)
    return Path(name), os.fdopen(fd, "wb")


def _encoded(response: httpx.Response) -> bool:
    """True if the server encoded the body (gzip, …) although we asked for ``identity``."""
    return response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")


def _body(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body's pieces as they arrive: raw when it is not encoded, which skips httpx's
    decoding layers; decoded when a server encoded it anyway."""
    return response.aiter_bytes() if _encoded(response) else response.aiter_raw()


def _absorb(out: IO[bytes] | None, update: Callable[[bytes], object], pieces: list[bytes]) -> None:
    """Write (unless there is no file) and hash a batch of pieces, in order (in a worker thread:
    both release the GIL on large buffers)."""
    if out is not None:
        out.writelines(pieces)
    for piece in pieces:
        update(piece)


def _redirect_target(response: httpx.Response, url: httpx.URL, name: str) -> httpx.URL:
    """Where a redirect points, resolved against ``url``; only http(s) URLs are followed."""
    location = response.headers.get("Location", "")
    try:
        target = url.join(location) if location else None
    except httpx.InvalidURL:
        target = None
    if target is None or target.scheme not in ("http", "https") or not target.host:
        raise FileDownloadFailed(
            f"HTTP {response.status_code} from {describe(url)} without a usable Location", name=name
        )
    logger.debug("redirect %d: %s -> %s", response.status_code, describe(url), describe(target))
    return target


def _retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta or HTTP date), if there is a readable one."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _media_type(response: httpx.Response) -> str:
    value: str = response.headers.get("Content-Type", "")
    return value.partition(";")[0].strip().lower()
