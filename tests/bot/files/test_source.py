"""A small file held in memory reads like the file it came from, wherever its pieces were cut."""

from __future__ import annotations

import io
import itertools
import zipfile

import pytest

from bot.files.source import Held, open_source


def held(data: bytes, *cuts: int) -> Held:
    edges = [0, *cuts, len(data)]
    return Held(data[start:end] for start, end in itertools.pairwise(edges))


DATA = bytes(range(256)) * 40  # 10,240 bytes


@pytest.mark.parametrize("cuts", [(), (1,), (100, 101, 5000), tuple(range(7, len(DATA), 997))])
def test_reads_and_seeks_give_the_bytes_at_those_offsets(cuts: tuple[int, ...]) -> None:
    source = held(DATA, *cuts)
    assert (source.size, bytes(source)) == (len(DATA), DATA)
    with open_source(source) as stream:
        assert stream.read(10) == DATA[:10]
        for offset, count in [(0, 0), (99, 3), (4999, 2), (len(DATA) - 5, 100), (len(DATA), 1), (3, len(DATA))]:
            stream.seek(offset)
            assert stream.read(count) == DATA[offset : offset + count], (offset, count)
        assert stream.seek(-4, io.SEEK_END) == len(DATA) - 4
        assert stream.read() == DATA[-4:]
        with pytest.raises(OSError, match="negative seek"):
            stream.seek(-1)


def test_empty_pieces_are_no_bytes() -> None:
    source = Held([b"", b""])
    assert (source.size, bytes(source), list(source)) == (0, b"", [])
    with open_source(source) as stream:
        assert stream.read() == b""


@pytest.mark.parametrize("data", [b"", b"PK\x05\x06", b"not a zip archive at all, just text"])
def test_a_short_or_broken_archive_is_refused_as_from_a_file(data: bytes) -> None:
    """zipfile's own answer for bytes too short or wrong to be an archive, as for the same bytes in memory."""
    with pytest.raises(zipfile.BadZipFile), open_source(held(data, *([1] if data else []))) as stream:
        zipfile.ZipFile(stream)


def test_a_zip_archive_opens_from_its_pieces() -> None:
    """What the Office-package check needs: random access by seek and read."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("xl/workbook.xml", "<workbook/>")
        package.writestr("[Content_Types].xml", "<Types/>")
    data = archive.getvalue()
    with open_source(held(data, 3, len(data) // 2, len(data) - 7)) as stream, zipfile.ZipFile(stream) as package:
        assert package.read("xl/workbook.xml") == b"<workbook/>"
