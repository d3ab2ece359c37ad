"""A download read while it is still arriving, so an upload can start early.

The downloader tells a :class:`GrowingSpool` of each batch of the body as it arrives (it is a
:class:`~bot.files.download.SpoolWatcher`); :meth:`GrowingSpool.chunks` hands the batches on, in
order, to one reader (the upload) and lets go of each once read. When the downloader passes the
body on without keeping it (a large file), it waits in :meth:`GrowingSpool.room` while a full
window of unread bytes is held, so memory stays flat whatever the file's size. The spool also
keeps the file's start and, when asked, copies of the ranges a later check reads (the samples
of :func:`~bot.files.text.is_text`), which is all the type gate needs of a file it never holds.

The reader never ends on its own. After the last byte it waits for a verdict on the whole file:
:meth:`GrowingSpool.release` lets it end, :meth:`GrowingSpool.abandon` makes it fail. An upload
that reads it can't complete for a file that failed a check: its body stops short of the end,
the closing boundary is never sent, and the server never gets a file. A reader may also begin
before the file's start was judged, and take no byte until :meth:`GrowingSpool.admit` says it
passed (so an upload's request can open while that start is still on its way).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Sequence

__all__ = ["WINDOW", "GrowingSpool", "SpoolChanged"]

#: Unread bytes held for the reader before a download that keeps nothing waits for it.
WINDOW = 4 * 1024 * 1024


class SpoolChanged(Exception):
    """The bytes followed are not the file's after all: the download started over, grew past the
    size Slack gave, or the file was abandoned."""


class GrowingSpool:
    """The batches of a download on their way to a reader, and the owner's verdict on the file."""

    def __init__(self, head_size: int, *, window: int = WINDOW, samples: Sequence[tuple[int, int]] = ()) -> None:
        #: The media type the file was served with, once its body started ("" before).
        self.content_type = ""
        self._head_size = head_size
        self._head = bytearray()
        self._window = window
        self._unread: deque[bytes] = deque()
        self._held = 0
        self._ranges = tuple(samples)
        self._samples = [bytearray(end - start) for start, end in self._ranges]
        self._size = 0
        self._bodies = 0
        self._ended = False
        self._reader_gone = False
        self._verdict: bool | None = None
        #: The body whose start passed (:meth:`admit`); 0 before.
        self._admitted = 0
        self._changed = asyncio.Event()

    # What the downloader reports -----------------------------------------------------------------

    def started(self, content_type: str) -> None:
        """A response body begins (again, after a retry)."""
        self.content_type, self._size = content_type, 0
        self._head.clear()
        self._unread.clear()
        self._held = 0
        self._samples = [bytearray(end - start) for start, end in self._ranges]
        self._bodies += 1
        self._notify()

    def wrote(self, batch: Sequence[bytes], size: int) -> None:
        """``batch`` arrived, ending at offset ``size``."""
        start = size - sum(len(piece) for piece in batch)
        for piece in batch:
            self._keep(start, piece)
            start += len(piece)
        if not self._reader_gone and self._verdict is not False:
            self._unread.extend(batch)  # the same objects the downloader has: no copy
            self._held += size - self._size
        self._size = size
        self._notify()

    def stop_reading(self) -> None:
        """The reader is done (or never started): nothing more is held for it, nothing waits for it."""
        self._reader_gone = True
        self._drop()
        self._notify()

    async def room(self) -> None:
        """Wait while a full window of bytes is unread (and someone is still reading)."""
        while self._held >= self._window and not self._reader_gone and self._verdict is not False:
            await self._next_change()

    # What the owner decides ----------------------------------------------------------------------

    def ended(self) -> None:
        """The download is over, whether it succeeded or not."""
        self._ended = True
        self._notify()

    def admit(self) -> None:
        """The start of the body now arriving passed: a reader waiting for that may take its bytes
        (the end still waits for :meth:`release`). Should the download start over, the new body
        is not admitted."""
        self._admitted = self._bodies
        self._notify()

    def release(self) -> None:
        """The whole file passed: the reader ends once it has read every byte."""
        self._verdict = True
        self._notify()

    def abandon(self) -> None:
        """The file must not be sent on: the reader fails at once, and nothing more is held."""
        self._verdict = False
        self._drop()
        self._notify()

    # Reading ---------------------------------------------------------------------------------------

    async def head(self) -> bytes | None:
        """The file's first ``head_size`` bytes, once they arrived while more may follow.

        None when the download ended first: the whole file is there (or nothing is), so there is
        no head start to take.
        """
        while len(self._head) < self._head_size and not self._ended:
            await self._next_change()
        return None if self._ended else bytes(self._head)

    @property
    def start(self) -> bytes:
        """The file's first bytes (up to ``head_size``) that arrived so far."""
        return bytes(self._head)

    def sample(self, offset: int, count: int) -> bytes:
        """Bytes ``offset`` to ``offset + count`` (cut at the end of the file) of a captured range."""
        end = min(offset + count, self._size)
        for (start, stop), data in zip(self._ranges, self._samples, strict=True):
            if start <= offset and end <= stop:
                return bytes(data[offset - start : end - start])
        raise ValueError(f"bytes {offset}-{end} were not captured")

    async def chunks(self, chunk_size: int, *, limit: int, once_admitted: bool = False) -> AsyncGenerator[bytes, None]:
        """The file's bytes as they arrive, in chunks of about ``chunk_size``, ending once released.

        One reader only: each batch is let go once read. With ``once_admitted``, nothing is read
        before :meth:`admit` (or :meth:`release`). Raises :class:`SpoolChanged` when the file is
        abandoned, when the download starts over (the bytes already read may not be the file's),
        or when it passes ``limit`` bytes.
        """
        while once_admitted and not self._admitted and self._verdict is None:
            await self._next_change()
        if self._verdict is False:
            raise SpoolChanged("the file was abandoned")
        if once_admitted and self._verdict is None and self._admitted != self._bodies:
            raise SpoolChanged("the download started over after its start passed")
        while not self._bodies and not self._ended:
            await self._next_change()
        if not self._bodies:
            raise SpoolChanged("the download ended before a body began")
        body = self._bodies
        try:
            while True:
                self._check(body, limit)
                if self._unread:
                    yield self._take(chunk_size)
                elif self._verdict and self._ended:
                    return
                else:
                    await self._next_change()
        finally:
            self.stop_reading()

    def _take(self, chunk_size: int) -> bytes:
        """Whole batches' pieces up to about ``chunk_size`` bytes, joined: one large chunk costs
        less to send than many small ones."""
        parts = [self._unread.popleft()]
        total = len(parts[0])
        while self._unread and total < chunk_size:
            parts.append(self._unread.popleft())
            total += len(parts[-1])
        self._held -= total
        self._notify()  # room for the download
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _keep(self, start: int, piece: bytes) -> None:
        """Copy what ``piece`` (at ``start``) holds of the file's start and of the captured ranges."""
        if len(self._head) < self._head_size and start == len(self._head):
            self._head += piece[: self._head_size - start]
        end = start + len(piece)
        for (low, high), data in zip(self._ranges, self._samples, strict=True):
            if start < high and low < end:
                lo, hi = max(low, start), min(high, end)
                data[lo - low : hi - low] = piece[lo - start : hi - start]

    def _drop(self) -> None:
        self._unread.clear()
        self._held = 0

    def _check(self, body: int, limit: int) -> None:
        if self._verdict is False:
            raise SpoolChanged("the file was abandoned")
        if self._bodies != body:
            raise SpoolChanged("the download started over")
        if self._size > limit:
            raise SpoolChanged(f"the download passed the {limit} bytes announced")

    async def _next_change(self) -> None:
        await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
