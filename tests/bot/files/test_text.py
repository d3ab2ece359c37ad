"""Text is judged from samples of the start, middle and end, so big files are checked quickly."""

from __future__ import annotations

import codecs
import time
from pathlib import Path

import pytest

from bot.files.gate import SlackFile, check_content, check_sampled
from bot.files.growing import GrowingSpool
from bot.files.sniff import HEAD_BYTES
from bot.files.text import HEAD_SAMPLE, is_text, sample_ranges

SIZE = 50 * 1000 * 1000
ROW = b"2024-01,north,1234.50,17\n"


def write_csv(path: Path, size: int = SIZE) -> None:
    """Write ``size`` bytes of CSV rows."""
    block = ROW * (1024 * 1024 // len(ROW))
    with path.open("wb") as stream:
        stream.write(b"month,region,revenue,units\n")
        while stream.tell() + len(block) < size:
            stream.write(block)
        stream.write(ROW * ((size - stream.tell()) // len(ROW)))


def sparse_csv(path: Path, size: int = SIZE) -> None:
    """A file of ``size`` bytes with CSV only where samples are read, and NUL holes elsewhere."""
    rows = ROW * (2 * HEAD_SAMPLE // len(ROW))
    with path.open("wb") as stream:
        stream.truncate(size)
        for start in (0, size // 2 - len(rows) // 2, size - len(rows)):
            stream.seek(start)
            stream.write(rows)


def test_big_text_file_passes_quickly(tmp_path: Path) -> None:
    """A 50 MB CSV passes the content check in well under a second."""
    path = tmp_path / "big.csv"
    write_csv(path)
    started = time.perf_counter()
    assert check_content(SlackFile("F1", "big.csv", SIZE), path) is None
    assert time.perf_counter() - started < 0.5


def test_only_samples_are_read(tmp_path: Path) -> None:
    """A file whose unsampled stretches are NUL holes passes, which shows the rest is never read."""
    path = tmp_path / "sparse.csv"
    sparse_csv(path)
    assert is_text(path)


def test_nul_bytes_in_the_middle_or_at_the_end_are_found(tmp_path: Path) -> None:
    """Binary data in the middle or at the end of a big file is caught by those samples."""
    path = tmp_path / "big.csv"
    write_csv(path)
    for offset in (SIZE // 2 + 10, SIZE - 100):
        with path.open("r+b") as stream:
            stream.seek(offset)
            stream.write(b"\x00\x00\x00\x00")
        rejection = check_content(SlackFile("F1", "big.csv", SIZE), path)
        assert rejection is not None
        assert rejection.code == "content_mismatch"
        write_csv(path)


def test_character_cut_at_a_sample_edge_is_fine(tmp_path: Path) -> None:
    """A multi-byte UTF-8 character split by any sample boundary does not make the file binary."""
    # "Ё" is D0 81, and 81 is undefined in cp1252: only the UTF-8 reading can accept these files.
    text = "Ё€".encode()
    for shift in range(len(text)):
        path = tmp_path / f"cut{shift}.txt"
        path.write_bytes(b"x" * shift + text * (3 * HEAD_SAMPLE // len(text)))
        assert is_text(path), shift


def test_invalid_utf8_falls_back_to_legacy_encodings(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 still pass as cp1252 text unless they hold control characters."""
    path = tmp_path / "legacy.txt"
    path.write_bytes("Café crème, 12 €\r\n".encode("cp1252") * 10_000)
    assert is_text(path)
    path.write_bytes(b"caf\xe9\x1a\r\n" * 10_000)
    assert not is_text(path)


def test_utf16_with_bom_is_sampled_on_code_units(tmp_path: Path) -> None:
    """A big UTF-16 file is read in whole code units, so an odd middle offset does not break it."""
    path = tmp_path / "unicode.txt"
    # Read one byte off, "ĀĀ" (00 01 00 01) would give U+0001, a control character.
    path.write_bytes(b"\xff\xfe" + ("Zürich\tĀĀ 12\r\n" * 20_000).encode("utf-16-le"))
    assert path.stat().st_size // 2 % 2 == 1
    assert is_text(path)


# A file passed on is judged from copies of the sampled ranges, taken as its bytes go by ---------

MiB = 1024 * 1024
TEXT_ROWS = ROW * (MiB // len(ROW))


def bodies() -> dict[str, bytes]:
    """Files of a few MB: text, text with binary at the start, middle or end, and UTF-16 text."""
    text = TEXT_ROWS * 5
    middle = len(text) // 2
    utf16 = codecs.BOM_UTF16_LE + ("month,région,€\n" * 300_000).encode("utf-16-le") + b"x"
    at = (len(utf16) // 2 + 100) & ~1  # inside the middle sample, on a code unit
    return {
        "text": text,
        "binary start": bytes(range(256)) + text,
        "binary middle": text[:middle] + bytes(range(256)) * 8 + text[middle:],
        "binary end": text + bytes(range(256)) * 8,
        "utf-16, odd size": utf16,
        "utf-16 with a control in the middle": utf16[:at] + "\x07".encode("utf-16-le") + utf16[at:],
    }


@pytest.mark.parametrize("name", list(bodies()))
@pytest.mark.parametrize("piece", [64 * 1024, 100_003])
def test_samples_taken_on_the_way_give_the_verdict_of_the_whole_file(tmp_path: Path, name: str, piece: int) -> None:
    """check_sampled on a spool's start and samples agrees with check_content on the kept file."""
    body = bodies()[name]
    path = tmp_path / "f.csv"
    path.write_bytes(body)
    file = SlackFile("F1", "f.csv", len(body))
    spool = GrowingSpool(HEAD_BYTES, samples=sample_ranges(len(body)))
    spool.started("text/csv")
    for offset in range(0, len(body), piece):
        spool.wrote([body[offset : offset + piece]], min(offset + piece, len(body)))
    expected = check_content(file, path)
    assert check_sampled(file, spool.start, spool.sample, len(body), content_type="text/csv") == expected
    assert (expected is None) == (name.startswith("text") or name == "utf-16, odd size")
