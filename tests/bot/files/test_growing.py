"""Following a spool file while it is written: the reader ends only when the owner releases it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.files.growing import GrowingSpool, SpoolChanged

HEAD = 8


class Writer:
    """Writes a spool file the way the downloader does, batch by batch, and reports each batch."""

    def __init__(self, path: Path, spool: GrowingSpool) -> None:
        self.path, self.spool, self.size = path, spool, 0

    def start(self, content_type: str = "text/csv") -> None:
        self.path.write_bytes(b"")
        self.size = 0
        self.spool.started(self.path, content_type)

    def write(self, *pieces: bytes) -> None:
        with self.path.open("ab") as out:
            out.writelines(pieces)
        self.size += sum(len(p) for p in pieces)
        self.spool.wrote(list(pieces), self.size)


async def read_all(spool: GrowingSpool, *, limit: int = 1000, chunk_size: int = 4) -> bytes:
    return b"".join([chunk async for chunk in spool.chunks(chunk_size, limit=limit)])


@pytest.fixture(name="spool")
def _spool() -> GrowingSpool:
    return GrowingSpool(HEAD)


async def test_reader_follows_the_writes_and_ends_only_when_released(tmp_path: Path, spool: GrowingSpool) -> None:
    writer = Writer(tmp_path / "f", spool)
    writer.start()
    writer.write(b"abc", b"defgh")
    reader = asyncio.ensure_future(read_all(spool))
    writer.write(b"ijkl")
    spool.ended()
    await asyncio.sleep(0.05)
    assert not reader.done()  # every byte is read, but the end waits for the verdict
    spool.release()
    assert await asyncio.wait_for(reader, 5) == b"abcdefghijkl"


async def test_abandoned_file_fails_its_reader(tmp_path: Path, spool: GrowingSpool) -> None:
    writer = Writer(tmp_path / "f", spool)
    writer.start()
    writer.write(b"0123456789")
    reader = asyncio.ensure_future(read_all(spool))
    spool.ended()
    await asyncio.sleep(0.05)
    spool.abandon()
    with pytest.raises(SpoolChanged, match="abandoned"):
        await asyncio.wait_for(reader, 5)


async def test_download_starting_over_fails_its_reader(tmp_path: Path, spool: GrowingSpool) -> None:
    writer = Writer(tmp_path / "f", spool)
    writer.start()
    writer.write(b"0123456789")
    reader = asyncio.ensure_future(read_all(spool))
    await asyncio.sleep(0.05)
    writer.start()  # a retry truncates the file and writes it again
    writer.write(b"0123456789")
    with pytest.raises(SpoolChanged, match="started over"):
        await asyncio.wait_for(reader, 5)


async def test_file_growing_past_its_announced_size_fails_its_reader(tmp_path: Path, spool: GrowingSpool) -> None:
    writer = Writer(tmp_path / "f", spool)
    writer.start()
    writer.write(b"0123456789")
    with pytest.raises(SpoolChanged, match="passed the 6 bytes"):
        await read_all(spool, limit=6)


async def test_head_is_the_first_bytes_once_written(tmp_path: Path, spool: GrowingSpool) -> None:
    writer = Writer(tmp_path / "f", spool)
    head = asyncio.ensure_future(spool.head())
    writer.start("text/html")
    writer.write(b"<!do", b"ctype html>")
    assert await asyncio.wait_for(head, 5) == b"<!doctyp"
    assert spool.content_type == "text/html"


async def test_head_is_none_when_the_download_ended_first(tmp_path: Path, spool: GrowingSpool) -> None:
    writer = Writer(tmp_path / "f", spool)
    head = asyncio.ensure_future(spool.head())
    writer.start()
    writer.write(b"tiny")
    spool.ended()
    assert await asyncio.wait_for(head, 5) is None


async def test_head_starts_again_with_the_download(tmp_path: Path, spool: GrowingSpool) -> None:
    writer = Writer(tmp_path / "f", spool)
    writer.start()
    writer.write(b"wrong")
    writer.start()
    writer.write(b"right bytes")
    assert await spool.head() == b"right by"


async def test_reader_that_keeps_up_takes_the_bytes_from_memory(tmp_path: Path) -> None:
    """Within the window the spool file is never read: here it is gone, and the reader still gets every byte."""
    spool = GrowingSpool(HEAD, window=1000)
    writer = Writer(tmp_path / "f", spool)
    writer.start()
    writer.write(b"abc", b"def")
    writer.write(b"ghij")
    writer.path.unlink()
    spool.ended()
    spool.release()
    assert await read_all(spool) == b"abcdefghij"


async def test_reader_behind_the_window_reads_the_older_bytes_from_disk(tmp_path: Path) -> None:
    """Only the latest bytes stay in memory; a reader that fell behind reads the rest from the file."""
    spool = GrowingSpool(HEAD, window=4)
    writer = Writer(tmp_path / "f", spool)
    writer.start()
    for piece in (b"012", b"345", b"678", b"9ab", b"cde"):
        writer.write(piece)
    spool.ended()
    spool.release()
    assert await read_all(spool, chunk_size=5) == b"0123456789abcde"
    writer.path.unlink()  # the window alone no longer holds the start
    spool.release()
    with pytest.raises(FileNotFoundError):
        await read_all(spool)
