"""Whether a file is text, judged from samples so a file of hundreds of MB costs ~100 KB of reads.

A text type (.csv, .py, …) must be text: no NUL bytes in the samples, which must decode as
UTF-8 (a byte-order mark is fine; a character cut at a sample's edge is fine), or else contain
nothing a cp1252 or latin-1 reading would show as a control character other than tab, line
feed, carriage return and form feed. Text in UTF-16 with a byte-order mark (Excel's "Unicode
Text" export) is judged on its decoded characters instead, as its bytes are full of NULs.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

from bot.files.source import Source, open_source

HEAD_SAMPLE = 64 * 1024
OTHER_SAMPLE = 16 * 1024

# Bytes that are controls in both cp1252 and latin-1: C0 but \t \n \f \r, DEL, and the five
# bytes cp1252 leaves undefined (latin-1 reads them as C1 controls).
_LEGACY_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f\x81\x8d\x8f\x90\x9d]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_UTF16 = {codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}


def is_text(source: Source) -> bool:
    """True if samples from the start, middle and end of the file all read as text."""
    with open_source(source) as stream:
        size = stream.seek(0, 2)

        def read(offset: int, count: int) -> bytes:
            stream.seek(offset)
            return stream.read(count)

        return samples_are_text(read, size)


def samples_are_text(read: Callable[[int, int], bytes], size: int) -> bool:
    """:func:`is_text` for a file of ``size`` bytes, whose bytes ``read(offset, count)`` gives.

    It asks only for bytes within :func:`sample_ranges`, so a file passed on without being kept
    can be judged from copies of those ranges.
    """
    head = read(0, HEAD_SAMPLE)
    if not head_is_text(head, whole=len(head) >= size):
        return False
    utf16 = _UTF16.get(head[:2])
    for offset in _sample_offsets(size, even=utf16 is not None)[1:]:
        sample = read(offset, OTHER_SAMPLE)
        cut_end = offset + len(sample) < size
        ok = _utf16_ok(sample, utf16) if utf16 else sample_is_text(sample, cut_start=True, cut_end=cut_end)
        if not ok:
            return False
    return True


def sample_ranges(size: int) -> list[tuple[int, int]]:
    """The byte ranges (start, end) :func:`samples_are_text` may read from a file of ``size`` bytes."""
    ranges = [(0, min(size, HEAD_SAMPLE))]
    for offset in _sample_offsets(size, even=False)[1:]:
        # A UTF-16 file's sample starts on an even offset: at most one byte earlier.
        ranges.append((max(0, offset - 1), min(size, offset + OTHER_SAMPLE)))
    return ranges


def head_is_text(head: bytes, *, whole: bool) -> bool:
    """True if a file's first bytes read as text (``whole``: they are the entire file).

    The first of :func:`is_text`'s samples, judged on its own: what the start of a file decides
    before the rest of it has arrived.
    """
    utf16 = _UTF16.get(head[:2])
    if utf16:
        return _utf16_ok(head, utf16)
    return sample_is_text(head, cut_end=not whole)


def sample_is_text(sample: bytes, *, cut_start: bool = False, cut_end: bool = False) -> bool:
    """True if the bytes hold no NUL and read as UTF-8, or as cp1252/latin-1 without controls."""
    if b"\x00" in sample:
        return False
    return _utf8_ok(sample, cut_start=cut_start, cut_end=cut_end) or _LEGACY_CONTROLS.search(sample) is None


def _sample_offsets(size: int, *, even: bool) -> list[int]:
    if size <= HEAD_SAMPLE:
        return [0]
    offsets = [size // 2, max(size - OTHER_SAMPLE, HEAD_SAMPLE)]
    # UTF-16 samples must start on a code unit.
    return [0, *(offset - offset % 2 if even else offset for offset in offsets)]


def _utf8_ok(sample: bytes, *, cut_start: bool, cut_end: bool) -> bool:
    if cut_start:
        # Skip the continuation bytes of a character that began before the sample.
        skip = 0
        while skip < 3 and skip < len(sample) and 0x80 <= sample[skip] <= 0xBF:
            skip += 1
        sample = sample[skip:]
    try:
        # Not final when cut: an incomplete last character is then kept back, not an error.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=not cut_end)
    except UnicodeDecodeError:
        return False
    return True


def _utf16_ok(sample: bytes, encoding: str) -> bool:
    even = sample[: len(sample) - len(sample) % 2]
    # "surrogatepass": a sample edge may split a surrogate pair.
    return _CONTROLS.search(even.decode(encoding, "surrogatepass")) is None
