"""Where a downloaded file's bytes are: a spool file on disk, or, for a small file, memory."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

__all__ = ["Source", "open_source"]

#: A spool file, or the bytes themselves.
Source = Path | bytes


def open_source(source: Source) -> BinaryIO:
    """The bytes as a seekable binary stream (a file to close, or a view of the bytes)."""
    if isinstance(source, Path):
        return source.open("rb")
    return io.BytesIO(source)
