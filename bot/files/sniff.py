"""What a file's first bytes say it is, so a refusal can say what the file really looks like.

Only the start of a file is needed (``HEAD_BYTES``). ``sniff`` names the common kinds a person
might pass off, by accident or not, as data: programs, PDFs, images, archives and HTML pages.
"""

from __future__ import annotations

import codecs

from bot.files.archives import is_tar_header

HEAD_BYTES = 64 * 1024
HTML_PAGE = "an HTML page"

_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_HTML_STARTS = (b"<!doctype html", b"<html")
_PDF_HEADER_WITHIN = 1024

#: Magic bytes per accepted binary type (tar aside); a file of that type must start with one.
MAGIC: dict[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "jpg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    # A local file header, or the end record alone (an empty archive).
    "zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "docx": (b"PK\x03\x04",),
    "pptx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
}

_KINDS: tuple[tuple[tuple[bytes, ...], str], ...] = (
    # ELF, Mach-O (64-bit, both byte orders), and Mach-O universal / Java class files.
    ((b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xca\xfe\xba\xbe"), "a program"),
    (MAGIC["pdf"], "a PDF document"),
    (MAGIC["png"], "a PNG image"),
    (MAGIC["jpeg"], "a JPEG image"),
    (MAGIC["gif"], "a GIF image"),
    (MAGIC["zip"], "a ZIP archive"),
    ((b"\x1f\x8b",), "a gzip archive"),
)


def has_magic(ext: str, head: bytes) -> bool:
    """True if ``head`` starts the way a file of type ``ext`` must (tar: a valid first header)."""
    if ext == "tar":
        return is_tar_header(head)
    if ext == "pdf":
        # Readers accept the header anywhere in the first kilobyte (after a stray BOM or newline).
        return MAGIC["pdf"][0] in head[:_PDF_HEADER_WITHIN]
    return head.startswith(MAGIC[ext])


def looks_like_html(head: bytes) -> bool:
    """True if the bytes begin an HTML document, ignoring a byte-order mark and whitespace."""
    for bom in _BOMS:
        head = head.removeprefix(bom)
    return head[:1024].lstrip().lower().startswith(_HTML_STARTS)


def sniff(head: bytes) -> str | None:
    """Name what the bytes look like ("a program", "a PDF document", …), or None if unsure."""
    if _is_windows_program(head):
        return "a program"
    for magics, kind in _KINDS:
        if head.startswith(magics):
            return kind
    if is_tar_header(head):
        return "a tar archive"
    if looks_like_html(head):
        return HTML_PAGE
    return None


def _is_windows_program(head: bytes) -> bool:
    # "MZ" alone also starts ordinary text ("MZ,Mazowieckie,…"), so ask for the PE signature the
    # DOS header points at, or at least a NUL byte, which no text file holds.
    if not head.startswith(b"MZ"):
        return False
    pe_offset = int.from_bytes(head[0x3C:0x40], "little")
    return head[pe_offset : pe_offset + 4] == b"PE\x00\x00" or b"\x00" in head[:0x40]
