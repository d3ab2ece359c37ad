"""A download read while it is still arriving, so an upload can start early.

The downloader tells a :class:`GrowingSpool` where it keeps the body (a spool file, or memory
for a small one) and how far the bytes reach (it is a :class:`~bot.files.download.SpoolWatcher`);
:meth:`GrowingSpool.chunks` follows them, from the file a chunk at a time, so memory stays flat
whatever the file's size, or from the pieces held in memory.

The reader never ends on its own. After the last byte it waits for a verdict on the whole file:
:meth:`GrowingSpool.release` lets it end, :meth:`GrowingSpool.abandon` makes it fail. An upload
that reads it can't complete for a file that failed a check: its body stops short of the end,
the closing boundary is never sent, and the server never gets a file.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import BinaryIO

__all__ = ["WINDOW", "GrowingSpool", "SpoolChanged"]

#: The latest bytes of a spooled download kept in memory for a reader that keeps up with it.
WINDOW = 4 * 1024 * 1024


class SpoolChanged(Exception):
    """The bytes followed are not the file's after all: the download started over, grew past the
    size Slack gave, or the file was abandoned."""


class GrowingSpool:
    """How far a download has written its spool file, and the owner's verdict on it."""

    def __init__(self, head_size: int, *, window: int = WINDOW) -> None:
        #: The spool file; None before the body starts, and for a body held in memory.
        self.path: Path | None = None
        # The latest pieces (all of them for a body in memory) and where each starts: a reader
        # that keeps up takes them from here, not from the disk.
        self._window = window
        self._starts: list[int] = []
        self._pieces: list[bytes] = []
        self._held = 0
        #: The media type the file was served with, once its body started ("" before).
        self.content_type = ""
        self._head_size = head_size
        self._head = bytearray()
        self._size = 0
        self._bodies = 0
        self._ended = False
        self._verdict: bool | None = None
        self._changed = asyncio.Event()

    # What the downloader reports ---------------------------------------------------------------

    def started(self, path: Path | None, content_type: str) -> None:
        """A response body begins at offset 0 of ``path``, or in memory (again, after a retry)."""
        self.path, self.content_type, self._size = path, content_type, 0
        self._head.clear()
        self._starts, self._pieces, self._held = [], [], 0
        self._bodies += 1
        self._notify()

    def wrote(self, batch: Sequence[bytes], size: int) -> None:
        """``batch`` is written (or held), ending at offset ``size``; the file's start is kept for :meth:`head`."""
        start = size - sum(len(piece) for piece in batch)
        for piece in batch:  # the same objects the downloader holds: no copy
            self._starts.append(start)
            self._pieces.append(piece)
            start += len(piece)
            self._held += len(piece)
        if self.path is not None:  # on disk: keep only the latest ``window`` bytes
            drop = 0
            while self._held - len(self._pieces[drop]) >= self._window:
                self._held -= len(self._pieces[drop])
                drop += 1
            del self._starts[:drop], self._pieces[:drop]
        for piece in batch:
            if len(self._head) >= self._head_size:
                break
            self._head += piece[: self._head_size - len(self._head)]
        self._size = size
        self._notify()

    # What the owner decides ----------------------------------------------------------------------

    def ended(self) -> None:
        """The download is over, whether it succeeded or not."""
        self._ended = True
        self._notify()

    def release(self) -> None:
        """The whole file passed: a reader ends once it has read every byte."""
        self._verdict = True
        self._notify()

    def abandon(self) -> None:
        """The file must not be sent on: a reader fails at once."""
        self._verdict = False
        self._notify()

    # Reading ---------------------------------------------------------------------------------------

    async def head(self) -> bytes | None:
        """The file's first ``head_size`` bytes, once they are on disk while more may follow.

        None when the download ended first: the whole file is there (or nothing is), so there is
        no head start to take.
        """
        while len(self._head) < self._head_size and not self._ended:
            await self._next_change()
        return None if self._ended else bytes(self._head)

    async def chunks(self, chunk_size: int, *, limit: int) -> AsyncIterator[bytes]:
        """The file's bytes as they reach the disk, ending after the last one once released.

        Raises :class:`SpoolChanged` when the file is abandoned, when the download starts over
        (the bytes already read may not be the file's), or when it passes ``limit`` bytes.
        """
        if not self._bodies:
            raise SpoolChanged("nothing has been written yet")
        body = self._bodies
        handle: BinaryIO | None = None
        try:
            offset = 0
            while True:
                self._check(body, limit)
                if offset < self._size:
                    chunk = self._held_from(offset, chunk_size)
                    if chunk is None:  # behind the window: from the spool file
                        if handle is None:
                            handle = await asyncio.to_thread(self._open_at, offset)
                        behind = (self._starts[0] if self._starts else self._size) - offset
                        chunk = await asyncio.to_thread(handle.read, min(chunk_size, behind))
                        self._check(body, limit)
                    elif handle is not None:
                        handle.seek(offset)  # back in the window: a later disk read resumes here
                    if not chunk:
                        raise SpoolChanged("the spool file is shorter than reported")
                    offset += len(chunk)
                    yield chunk
                elif self._verdict and self._ended:
                    return
                else:
                    await self._next_change()
        finally:
            if handle is not None:
                handle.close()

    def _held_from(self, offset: int, chunk_size: int) -> bytes | None:
        """Held bytes from ``offset``, about ``chunk_size`` of them (whole pieces), or None if not held.

        Pieces are joined into one chunk: a copy costs less than sending many small chunks.
        """
        index = bisect.bisect_right(self._starts, offset) - 1
        if index < 0 or offset >= self._starts[index] + len(self._pieces[index]):
            return None
        first = self._pieces[index]
        parts = [first if offset == self._starts[index] else first[offset - self._starts[index] :]]
        total = len(parts[0])
        for piece in itertools.islice(self._pieces, index + 1, None):
            if total >= chunk_size:
                break
            parts.append(piece)
            total += len(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _open_at(self, offset: int) -> BinaryIO:
        if self.path is None:
            raise SpoolChanged("bytes held in memory went missing")
        handle = self.path.open("rb")
        handle.seek(offset)
        return handle

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
