"""A download on its way to a reader: handed on in order, paced by the reader, ended by the owner."""

from __future__ import annotations

import asyncio

import pytest

from bot.files.growing import GrowingSpool, SpoolChanged

HEAD = 8


class Feed:
    """Reports a body's batches to a spool the way the downloader does."""

    def __init__(self, spool: GrowingSpool) -> None:
        self.spool, self.size = spool, 0

    def start(self, content_type: str = "text/csv") -> None:
        self.size = 0
        self.spool.started(content_type)

    def write(self, *pieces: bytes) -> None:
        self.size += sum(len(p) for p in pieces)
        self.spool.wrote(list(pieces), self.size)


async def read_all(spool: GrowingSpool, *, limit: int = 1000, chunk_size: int = 4) -> bytes:
    return b"".join([chunk async for chunk in spool.chunks(chunk_size, limit=limit)])


@pytest.fixture(name="spool")
def _spool() -> GrowingSpool:
    return GrowingSpool(HEAD)


async def test_reader_follows_the_body_and_ends_only_when_released(spool: GrowingSpool) -> None:
    feed = Feed(spool)
    feed.start()
    feed.write(b"abc", b"defgh")
    reader = asyncio.ensure_future(read_all(spool))
    feed.write(b"ijkl")
    spool.ended()
    await asyncio.sleep(0.05)
    assert not reader.done()  # every byte is read, but the end waits for the verdict
    spool.release()
    assert await asyncio.wait_for(reader, 5) == b"abcdefghijkl"


async def test_reader_gets_whole_pieces_joined_up_to_about_the_chunk_size(spool: GrowingSpool) -> None:
    feed = Feed(spool)
    feed.start()
    feed.write(b"ab", b"cd", b"ef", b"ghijk", b"l")
    spool.ended()
    spool.release()
    assert [chunk async for chunk in spool.chunks(5, limit=100)] == [b"abcdef", b"ghijk", b"l"]


async def test_reader_that_starts_before_the_body_waits_for_it(spool: GrowingSpool) -> None:
    reader = asyncio.ensure_future(read_all(spool))
    await asyncio.sleep(0.01)
    feed = Feed(spool)
    feed.start()
    feed.write(b"late")
    spool.ended()
    spool.release()
    assert await asyncio.wait_for(reader, 5) == b"late"


async def test_reader_waiting_for_admission_takes_nothing_before_it(spool: GrowingSpool) -> None:
    """A reader may start before the file's start was judged; it reads from the first byte once admitted."""
    feed = Feed(spool)
    feed.start()
    feed.write(b"01234567", b"89")
    taken: list[bytes] = []
    reader = follow_once_admitted(spool, taken)
    await asyncio.sleep(0.05)
    assert taken == []
    spool.admit()
    feed.write(b"ab")
    spool.ended()
    spool.release()
    await asyncio.wait_for(reader, 5)
    assert b"".join(taken) == b"0123456789ab"


async def test_reader_waiting_for_admission_fails_when_the_file_is_refused(spool: GrowingSpool) -> None:
    """Refused at its start: the waiting reader fails having taken nothing."""
    feed = Feed(spool)
    feed.start()
    feed.write(b"0123456789")
    taken: list[bytes] = []
    reader = follow_once_admitted(spool, taken)
    await asyncio.sleep(0.01)
    spool.abandon()
    with pytest.raises(SpoolChanged):
        await asyncio.wait_for(reader, 5)
    assert taken == []


async def test_a_body_started_over_after_admission_is_not_admitted(spool: GrowingSpool) -> None:
    """The download starts over between the start passing and the reader waking: the new body's
    start was never judged, so the reader fails rather than send it."""
    feed = Feed(spool)
    feed.start()
    feed.write(b"0123456789")
    reader = asyncio.ensure_future(read_all_once_admitted(spool))
    await asyncio.sleep(0.01)
    spool.admit()
    feed.start()  # before the reader ran again
    feed.write(b"other bytes")
    with pytest.raises(SpoolChanged):
        await asyncio.wait_for(reader, 5)


async def test_reader_waiting_for_admission_reads_a_file_released_whole(spool: GrowingSpool) -> None:
    """The whole file arrived and passed before its start was judged on its own: release lets the reader in."""
    reader = asyncio.ensure_future(read_all_once_admitted(spool))
    feed = Feed(spool)
    feed.start()
    feed.write(b"tiny")
    spool.ended()
    await asyncio.sleep(0.01)
    assert not reader.done()
    spool.release()
    assert await asyncio.wait_for(reader, 5) == b"tiny"


def follow_once_admitted(spool: GrowingSpool, taken: list[bytes]) -> asyncio.Future[None]:
    """A reader that waits for admission, keeping what it takes in ``taken``."""

    async def read() -> None:
        async for chunk in spool.chunks(100, limit=1000, once_admitted=True):
            taken.append(chunk)

    return asyncio.ensure_future(read())


async def read_all_once_admitted(spool: GrowingSpool) -> bytes:
    return b"".join([chunk async for chunk in spool.chunks(4, limit=1000, once_admitted=True)])


async def test_abandoned_file_fails_its_reader(spool: GrowingSpool) -> None:
    feed = Feed(spool)
    feed.start()
    feed.write(b"0123456789")
    reader = asyncio.ensure_future(read_all(spool))
    spool.ended()
    await asyncio.sleep(0.05)
    spool.abandon()
    with pytest.raises(SpoolChanged, match="abandoned"):
        await asyncio.wait_for(reader, 5)


async def test_download_starting_over_fails_its_reader(spool: GrowingSpool) -> None:
    feed = Feed(spool)
    feed.start()
    feed.write(b"0123456789")
    reader = asyncio.ensure_future(read_all(spool))
    await asyncio.sleep(0.05)
    feed.start()  # a retry sends the body again from its first byte
    feed.write(b"0123456789")
    with pytest.raises(SpoolChanged, match="started over"):
        await asyncio.wait_for(reader, 5)


async def test_body_growing_past_its_announced_size_fails_its_reader(spool: GrowingSpool) -> None:
    feed = Feed(spool)
    feed.start()
    feed.write(b"0123456789")
    with pytest.raises(SpoolChanged, match="passed the 6 bytes"):
        await read_all(spool, limit=6)


async def test_head_is_the_first_bytes_once_they_arrived(spool: GrowingSpool) -> None:
    feed = Feed(spool)
    head = asyncio.ensure_future(spool.head())
    feed.start("text/html")
    feed.write(b"<!do", b"ctype html>")
    assert await asyncio.wait_for(head, 5) == b"<!doctyp"
    assert (spool.content_type, spool.start) == ("text/html", b"<!doctyp")


async def test_head_is_none_when_the_download_ended_first(spool: GrowingSpool) -> None:
    feed = Feed(spool)
    head = asyncio.ensure_future(spool.head())
    feed.start()
    feed.write(b"tiny")
    spool.ended()
    assert await asyncio.wait_for(head, 5) is None
    assert spool.start == b"tiny"


async def test_head_starts_again_with_the_download(spool: GrowingSpool) -> None:
    feed = Feed(spool)
    feed.start()
    feed.write(b"wrong")
    feed.start()
    feed.write(b"right bytes")
    assert await spool.head() == b"right by"


async def test_download_waits_for_room_until_the_reader_takes_its_bytes() -> None:
    spool = GrowingSpool(HEAD, window=10)
    feed = Feed(spool)
    feed.start()
    feed.write(b"0123456789")
    room = asyncio.ensure_future(spool.room())
    await asyncio.sleep(0.05)
    assert not room.done()  # a full window is unread
    chunks = spool.chunks(4, limit=100)
    assert await anext(chunks) == b"0123456789"
    await asyncio.wait_for(room, 5)
    await chunks.aclose()


async def test_download_is_not_held_once_the_reader_is_gone() -> None:
    spool = GrowingSpool(HEAD, window=10)
    feed = Feed(spool)
    feed.start()
    feed.write(b"01234")
    chunks = spool.chunks(4, limit=100)
    await anext(chunks)
    await chunks.aclose()  # the upload failed
    feed.write(b"56789abcdef")
    await asyncio.wait_for(spool.room(), 5)  # nothing is kept for a reader that is gone


async def test_samples_are_copied_as_the_body_goes_by() -> None:
    spool = GrowingSpool(HEAD, samples=[(0, 4), (6, 11)])
    feed = Feed(spool)
    feed.start()
    feed.write(b"abc", b"defg")
    feed.write(b"hijklmno")
    assert spool.sample(0, 4) == b"abcd"
    assert spool.sample(7, 3) == b"hij"
    assert spool.sample(6, 5) == b"ghijk"
    with pytest.raises(ValueError, match="not captured"):
        spool.sample(3, 4)
