"""Archive checks that need more than magic bytes: tar headers and Office (OOXML) packages.

A tar file has no magic at offset 0: POSIX tars carry "ustar" at offset 257, and old-style
tars only a header checksum. A .docx, .pptx or .xlsx is a ZIP package, so the ZIP magic alone
can't tell a workbook from a document or from any other archive: the package must hold the
matching main part. ``zipfile`` reads just the central directory at the end of the file.
"""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from collections.abc import Mapping
from types import MappingProxyType

from bot.files.source import Source, open_source

_BLOCK = 512
_USTAR = slice(257, 262)
_CONTENT_TYPES = "[Content_Types].xml"
_CONTENT_TYPES_MAX = 256 * 1024
# A damaged, truncated, encrypted or oddly compressed archive is simply not a valid package.
_BROKEN_ZIP = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError)

#: The main part each Office type must hold, and the content type that part is declared with.
OOXML_MAIN_PARTS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "docx": ("word/document.xml", "wordprocessingml.document.main+xml"),
        "pptx": ("ppt/presentation.xml", "presentationml.presentation.main+xml"),
        "xlsx": ("xl/workbook.xml", "spreadsheetml.sheet.main+xml"),
    }
)


def is_tar_header(head: bytes) -> bool:
    """True if the first 512 bytes are a tar header: "ustar" magic, or a valid checksum."""
    block = head[:_BLOCK]
    if len(block) < _BLOCK:
        return False
    if block[_USTAR] == b"ustar":
        return True
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def ooxml_kinds(source: Source) -> frozenset[str]:
    """The Office types ("docx", "pptx", "xlsx") whose main part the ZIP package holds."""
    try:
        with open_source(source) as stream, zipfile.ZipFile(stream) as package:
            names = set(package.namelist())
            found = {ext for ext, (part, _) in OOXML_MAIN_PARTS.items() if part in names}
            if not found and _CONTENT_TYPES in names:
                found = _declared_kinds(package)
    except _BROKEN_ZIP:
        return frozenset()
    return frozenset(found)


def _declared_kinds(package: zipfile.ZipFile) -> set[str]:
    # Some producers name the main part differently (word/document2.xml); the package's own
    # content-type list still says what it is. Read a bounded amount: a member can be a bomb.
    with package.open(_CONTENT_TYPES) as member:
        declared = member.read(_CONTENT_TYPES_MAX)
    return {ext for ext, (_, content_type) in OOXML_MAIN_PARTS.items() if content_type.encode() in declared}
