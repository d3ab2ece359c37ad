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
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

__all__ = ["GrowingSpool", "SpoolChanged"]


class SpoolChanged(Exception):
    """The bytes followed are not the file's after all: the download started over, grew past the
    size Slack gave, or the file was abandoned."""


class GrowingSpool:
    """How far a download has written its spool file, and the owner's verdict on it."""

    def __init__(self, head_size: int) -> None:
        #: The spool file; None before the body starts, and for a body held in memory.
        self.path: Path | None = None
        self._pieces: list[bytes] = []
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
        self._pieces = []
        self._bodies += 1
        self._notify()

    def wrote(self, batch: Sequence[bytes], size: int) -> None:
        """``batch`` is written (or held), ending at offset ``size``; the file's start is kept for :meth:`head`."""
        if self.path is None:
            self._pieces.extend(batch)  # the same objects the downloader holds: no copy
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
        handle = None if self.path is None else await asyncio.to_thread(self.path.open, "rb")
        try:
            offset = index = 0
            while True:
                self._check(body, limit)
                if offset < self._size:
                    if handle is None:
                        chunk, index = self._pieces[index], index + 1
                    else:
                        chunk = await asyncio.to_thread(handle.read, min(chunk_size, self._size - offset))
                        self._check(body, limit)
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
