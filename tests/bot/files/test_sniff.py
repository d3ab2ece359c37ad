"""A file's first bytes are named, so a refusal can say what the file really is."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.files.sniff import has_magic, looks_like_html, sniff
from tests.bot.files.samples import DATA, VALID


@pytest.mark.parametrize(
    ("sample", "kind"),
    [
        ("hostile/binary-named.png", "a program"),
        ("hostile/program.exe", "a program"),
        ("valid/invoice.pdf", "a PDF document"),
        ("valid/logo.png", "a PNG image"),
        ("valid/photo.jpeg", "a JPEG image"),
        ("valid/anim.gif", "a GIF image"),
        ("valid/bundle.zip", "a ZIP archive"),
        ("valid/sales.xlsx", "a ZIP archive"),
        ("valid/bundle.tar", "a tar archive"),
        ("hostile/login-page.pdf", "an HTML page"),
        ("valid/sales.csv", None),
        ("valid/notes.txt", None),
        ("hostile/script.sh", None),
    ],
)
def test_sniff_names_common_kinds(sample: str, kind: str | None) -> None:
    """Programs, documents, images, archives and HTML are recognised; plain text is not named."""
    assert sniff((DATA / sample).read_bytes()[:65536]) == kind


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"MZ,Mazowieckie\n", None),
        (b"MZ" + bytes(62), "a program"),
        (b"MZ" + b"x" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00", "a program"),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", "a program"),
        (b"\x1f\x8b\x08\x00", "a gzip archive"),
        (b"", None),
    ],
)
def test_sniff_edge_cases(head: bytes, kind: str | None) -> None:
    """A CSV starting with MZ is not a program; real executables and gzip streams are named."""
    assert sniff(head) == kind


@pytest.mark.parametrize(
    "path",
    [p for p in VALID if p.suffix[1:] in {"pdf", "png", "jpg", "jpeg", "gif", "zip", "tar"}],
    ids=lambda p: p.name,
)
def test_valid_binary_samples_have_their_magic(path: Path) -> None:
    """Each valid binary sample starts the way its type must."""
    assert has_magic(path.suffix[1:], path.read_bytes()[:65536])


def test_html_is_recognised_after_bom_and_whitespace_only_at_the_start() -> None:
    """HTML counts when the document starts with it, not when it appears later."""
    assert looks_like_html(b"\xef\xbb\xbf\n  <!DOCTYPE html><html>")
    assert looks_like_html(b"\xff\xfe<html>")
    assert not looks_like_html(b"# title\n<html>")
