"""After download: the bytes must be what the extension says, and never a sign-in page."""

from __future__ import annotations

import codecs
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from bot.files.gate import Rejection, SlackFile, check_content
from tests.bot.files.samples import DATA

VALID = DATA / "valid"


def content(name: str, data: bytes | Path, tmp_path: Path, content_type: str = "") -> Rejection | None:
    """Check ``data`` (bytes, or a sample file's bytes) saved under ``name``."""
    path = tmp_path / "download.bin"
    path.write_bytes(data.read_bytes() if isinstance(data, Path) else data)
    return check_content(SlackFile("F1", name, path.stat().st_size), path, content_type=content_type)


def code(name: str, data: bytes | Path, tmp_path: Path, content_type: str = "") -> str | None:
    rejection = content(name, data, tmp_path, content_type)
    return None if rejection is None else rejection.code


def test_empty_download_is_refused(tmp_path: Path) -> None:
    """Zero bytes on disk is refused even if Slack reported a size."""
    assert code("sales.csv", b"", tmp_path) == "empty"


@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=utf-8", " Text/HTML "])
def test_html_content_type_means_a_login_page(tmp_path: Path, content_type: str) -> None:
    """A response Slack labelled HTML is a sign-in page, whatever bytes it carried."""
    assert code("invoice.pdf", VALID / "invoice.pdf", tmp_path, content_type) == "login_page"


@pytest.mark.parametrize(
    "start", [b"<!DOCTYPE html>", b"<!doctype HTML>", b"<html lang=en>", b"\xef\xbb\xbf  \r\n\t<!DOCTYPE html>"]
)
@pytest.mark.parametrize("name", ["sales.csv", "report.pdf", "data.xlsx", "notes.txt"])
def test_html_bytes_mean_a_login_page(tmp_path: Path, start: bytes, name: str) -> None:
    """An HTML document where data was expected is a sign-in page, even after a BOM and whitespace."""
    assert code(name, start + b"<body>Sign in</body></html>", tmp_path) == "login_page"


def test_html_file_may_be_html(tmp_path: Path) -> None:
    """An .html file is HTML, served as text/html, and passes."""
    assert code("page.html", VALID / "page.html", tmp_path, "text/html") is None


def test_text_that_mentions_html_later_is_not_a_login_page(tmp_path: Path) -> None:
    """Only a document that starts as HTML counts; HTML inside text is fine."""
    assert code("notes.md", b"# Notes\n\n<html> tags are shown below.\n", tmp_path) is None


@pytest.mark.parametrize(
    ("name", "sample"),
    [
        ("scan.pdf", "logo.png"),
        ("image.png", "photo.jpg"),
        ("photo.jpg", "anim.gif"),
        ("anim.gif", "invoice.pdf"),
        ("bundle.zip", "bundle.tar"),
        ("bundle.tar", "bundle.zip"),
        ("notes.docx", "invoice.pdf"),
        ("data.csv", "photo.jpeg"),
        ("script.py", "bundle.zip"),
    ],
)
def test_magic_bytes_must_match_the_extension(tmp_path: Path, name: str, sample: str) -> None:
    """A real file of one type under another type's name is refused as a content mismatch."""
    assert code(name, VALID / sample, tmp_path) == "content_mismatch"


def test_pdf_may_have_bytes_before_its_header(tmp_path: Path) -> None:
    """Readers accept a PDF header within the first kilobyte, so the gate does too."""
    assert code("scan.pdf", b"\r\n" + (VALID / "invoice.pdf").read_bytes(), tmp_path) is None


def test_empty_zip_archive_passes(tmp_path: Path) -> None:
    """An archive with no entries starts with the end record, and is still a ZIP archive."""
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    assert buffer.getvalue().startswith(b"PK\x05\x06")
    assert code("empty.zip", buffer.getvalue(), tmp_path) is None


def test_office_file_is_a_zip_archive_as_well(tmp_path: Path) -> None:
    """A workbook sent as .zip is a valid ZIP archive."""
    assert code("sales.zip", VALID / "sales.xlsx", tmp_path) is None


@pytest.mark.parametrize(
    ("name", "sample", "looks_like"),
    [
        ("notes.xlsx", "notes.docx", "a Word document"),
        ("review.docx", "review.pptx", "a PowerPoint presentation"),
        ("sales.pptx", "sales.xlsx", "an Excel workbook"),
        ("bundle.xlsx", "bundle.zip", "a ZIP archive of other files"),
        ("invoice.xlsx", "invoice.pdf", "a PDF document"),
    ],
)
def test_office_package_must_hold_its_main_part(tmp_path: Path, name: str, sample: str, looks_like: str) -> None:
    """A .docx, .pptx or .xlsx must be the matching Office package, and the refusal says what it is."""
    rejection = content(name, VALID / sample, tmp_path)
    assert rejection is not None
    assert rejection.code == "content_mismatch"
    assert rejection.reason.endswith(f"(its content looks like {looks_like}).")


def test_office_package_with_a_renamed_main_part_passes(tmp_path: Path) -> None:
    """A package whose content-type list declares the main part under another name is accepted."""
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr(
            "[Content_Types].xml", f'<Types><Override PartName="/word/document2.xml" ContentType="{main}"/></Types>'
        )
        package.writestr("word/document2.xml", "<w:document/>")
    assert code("odd.docx", buffer.getvalue(), tmp_path) is None


def test_truncated_office_package_is_refused(tmp_path: Path) -> None:
    """A download cut short has no central directory, so it is no Office package."""
    data = (VALID / "sales.xlsx").read_bytes()
    assert code("sales.xlsx", data[: len(data) // 2], tmp_path) == "content_mismatch"


def test_old_style_tar_without_ustar_magic_passes(tmp_path: Path) -> None:
    """A pre-POSIX tar is recognised by its header checksum alone."""
    info = tarfile.TarInfo("sales.csv")
    info.size = 4
    header = bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))
    header[257:265] = bytes(8)
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header)
    data = bytes(header) + b"a,b\n".ljust(512, b"\x00") + bytes(1024)
    assert code("old.tar", data, tmp_path) is None
    header[100] ^= 0xFF
    assert code("old.tar", bytes(header) + bytes(1536), tmp_path) == "content_mismatch"


@pytest.mark.parametrize(
    ("name", "data", "looks_like"),
    [
        ("archive.tar", b"just some words\n" * 100, "plain text"),
        ("logo.png", bytes(range(1, 256)) * 4, "some other kind of data"),
        ("photo.jpg", b"\x1f\x8b\x08\x00" + bytes(100), "a gzip archive"),
        ("photo.gif", b"MZ\x90\x00" + bytes(200), "a program"),
    ],
)
def test_binary_type_mismatch_describes_the_content(tmp_path: Path, name: str, data: bytes, looks_like: str) -> None:
    """When the magic bytes are wrong the sentence says what the bytes look like instead."""
    rejection = content(name, data, tmp_path)
    assert rejection is not None
    assert rejection.reason.endswith(f"(its content looks like {looks_like}).")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.txt", "Zürich, São Paulo, Kraków\n".encode()),
        ("notes.txt", codecs.BOM_UTF8 + "Zürich\n".encode()),
        ("sales.csv", "Zürich;Café;€ 12\r\n".encode("cp1252")),
        ("sales.csv", "Zürich;Café\r\n".encode("latin-1")),
        ("sales.csv", codecs.BOM_UTF16_LE + "month\tregion\r\nJan\tZürich\r\n".encode("utf-16-le")),
        ("paper.tex", b"\\documentclass{article}\f\n"),
        ("regions.csv", b"MZ,Mazowieckie\nPL,Poland\n"),
        ("build.txt", b"\x1b[31merror\x1b[0m: see log\n"),
    ],
)
def test_text_in_common_encodings_passes(tmp_path: Path, name: str, data: bytes) -> None:
    """UTF-8 (with or without BOM, controls allowed), cp1252, latin-1 and UTF-16 with a BOM count as text."""
    assert code(name, data, tmp_path) is None


@pytest.mark.parametrize(
    "data",
    [
        b"a,b\n1,2\n\x00\x00",
        b"caf\xe9,\x01\x02\x03\x04 control characters in cp1252\n",
        codecs.BOM_UTF16_LE + "a,b\x01\x02\n".encode("utf-16-le"),
        b"\x7fELF\x02\x01\x01" + b"a" * 50,
        (VALID / "invoice.pdf").read_bytes(),
    ],
    ids=["nul", "controls", "utf16-controls", "elf", "pdf"],
)
def test_text_type_must_hold_text(tmp_path: Path, data: bytes) -> None:
    """A text type holding NULs, control characters or another format's bytes is refused."""
    assert code("data.csv", data, tmp_path) == "content_mismatch"


def test_unsupported_extension_is_refused_after_download_too(tmp_path: Path) -> None:
    """The content check never passes a type that is not accepted, even if called on its own."""
    assert code("run.sh", b"#!/bin/sh\necho hi\n", tmp_path) == "unsupported_type"
