"""Where a downloaded file's bytes are: a spool file on disk, or, for a small file, memory."""

from __future__ import annotations

import bisect
import errno
import io
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["Held", "Source", "open_source"]


class Held:
    """A small file's bytes, kept as the pieces they arrived in.

    Never joined into one ``bytes``: that would copy the whole file once more, at the moment
    it is complete, when the turn is waiting for it.
    """

    __slots__ = ("_pieces", "_starts", "size")

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._pieces = tuple(piece for piece in pieces if piece)
        lengths = [len(piece) for piece in self._pieces]
        #: Where each piece starts in the file.
        self._starts = list(itertools.accumulate(lengths[:-1], initial=0)) if lengths else []
        self.size = sum(lengths)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._pieces)

    def __bytes__(self) -> bytes:
        return b"".join(self._pieces)

    def read_into(self, offset: int, out: memoryview) -> int:
        """Copy the bytes from ``offset`` into ``out``; how many there were (0 at the end)."""
        done = 0
        index = bisect.bisect_right(self._starts, offset) - 1
        while done < len(out) and 0 <= index < len(self._pieces) and offset < self.size:
            piece = memoryview(self._pieces[index])
            at = offset - self._starts[index]
            count = min(len(piece) - at, len(out) - done)
            out[done : done + count] = piece[at : at + count]
            done, offset, index = done + count, offset + count, index + 1
        return done


#: A spool file, the bytes themselves, or a small file's pieces.
Source = Path | bytes | Held


def open_source(source: Source) -> BinaryIO:
    """The bytes as a seekable binary stream (a file to close, or a view of the bytes)."""
    if isinstance(source, Path):
        return source.open("rb")
    if isinstance(source, Held):
        return io.BufferedReader(_HeldReader(source))
    return io.BytesIO(source)


class _HeldReader(io.RawIOBase):
    """A seekable, read-only stream over :class:`Held` pieces."""

    def __init__(self, held: Held) -> None:
        super().__init__()
        self._held = held
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        bases = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._held.size}
        if whence not in bases:
            raise ValueError(f"invalid whence ({whence})")
        if bases[whence] + offset < 0:  # as a file on disk answers (zipfile relies on it)
            raise OSError(errno.EINVAL, f"negative seek position {bases[whence] + offset}")
        self._position = bases[whence] + offset
        return self._position

    def readinto(self, buffer: WriteableBuffer) -> int:
        count = self._held.read_into(self._position, memoryview(buffer).cast("B"))
        self._position += count
        return count
