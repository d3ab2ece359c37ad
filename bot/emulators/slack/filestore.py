"""Bytes of emulated files, kept on disk so that large files never sit in memory.

Writes go through a worker thread in chunks; generated files repeat a pattern so that a
benchmark can ask for hundreds of megabytes without building them in Python first.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from .ids import IdFactory
from .models import FileUpload, StoredFile

CHUNK = 1024 * 1024

#: extension → (mimetype, Slack filetype, pretty_type); the Code Interpreter types and a few more.
_TYPES: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {
        "c": ("text/x-c", "c", "C"),
        "cpp": ("text/x-c++src", "cpp", "C++"),
        "csv": ("text/csv", "csv", "CSV"),
        "docx": (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
            "Word Document",
        ),
        "html": ("text/html", "html", "HTML"),
        "java": ("text/x-java", "java", "Java"),
        "json": ("application/json", "json", "JSON"),
        "md": ("text/markdown", "markdown", "Markdown (raw)"),
        "pdf": ("application/pdf", "pdf", "PDF"),
        "php": ("text/x-php", "php", "PHP"),
        "pptx": (
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "pptx",
            "PowerPoint Presentation",
        ),
        "py": ("text/x-python", "python", "Python"),
        "rb": ("text/x-ruby", "ruby", "Ruby"),
        "tex": ("text/x-tex", "latex", "LaTeX/sTeX"),
        "txt": ("text/plain", "text", "Plain Text"),
        "css": ("text/css", "css", "CSS"),
        "jpeg": ("image/jpeg", "jpg", "JPEG"),
        "jpg": ("image/jpeg", "jpg", "JPEG"),
        "js": ("text/javascript", "javascript", "JavaScript"),
        "gif": ("image/gif", "gif", "GIF"),
        "png": ("image/png", "png", "PNG"),
        "tar": ("application/x-tar", "tar", "Tar"),
        "ts": ("text/typescript", "typescript", "TypeScript"),
        "xlsx": (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
            "Excel Spreadsheet",
        ),
        "xml": ("application/xml", "xml", "XML"),
        "zip": ("application/zip", "zip", "Zip"),
        "svg": ("image/svg+xml", "svg", "SVG"),
    }
)
_BINARY = ("application/octet-stream", "binary", "Binary")


def file_type_of(name: str) -> tuple[str, str, str]:
    """(mimetype, filetype, pretty_type) Slack would report for a file name."""
    return _TYPES.get(PurePosixPath(name).suffix.lower().lstrip("."), _BINARY)


def _write_generated(path: Path, size: int, pattern: bytes) -> None:
    block = (pattern * (CHUNK // max(len(pattern), 1) + 1))[:CHUNK]
    with path.open("wb") as out:
        left = size
        while left > 0:
            out.write(block[: min(left, CHUNK)])
            left -= CHUNK


class FileStore:
    """Allocates file records and keeps their bytes under one directory."""

    def __init__(self, ids: IdFactory, directory: str | None) -> None:
        self._ids = ids
        self._owned = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="slack-emulator-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, StoredFile] = {}

    def close(self) -> None:
        """Remove the directory if the store created it."""
        if self._owned:
            shutil.rmtree(self.directory, ignore_errors=True)

    def get(self, file_id: str) -> StoredFile | None:
        """The file with this id, if any."""
        return self.files.get(file_id)

    def _record(self, name: str, title: str | None, user: str, path: Path, size: int) -> StoredFile:
        mimetype, filetype, pretty = file_type_of(name)
        stored = StoredFile(
            id=self._ids.new("F"),
            name=name,
            title=title or name,
            mimetype=mimetype,
            filetype=filetype,
            pretty_type=pretty,
            size=size,
            path=path,
            user=user,
            created=int(self._ids.now()),
        )
        self.files[stored.id] = stored
        return stored

    async def add(self, upload: FileUpload, user: str) -> StoredFile:
        """Store a person's upload (bytes written, path referenced, or pattern generated)."""
        if upload.path is not None:
            path = Path(upload.path)
            size = (await asyncio.to_thread(path.stat)).st_size
        else:
            path = self.directory / self._ids.secret(8)
            if upload.content is not None:
                await asyncio.to_thread(path.write_bytes, upload.content)
                size = len(upload.content)
            else:
                size = upload.size or 0
                await asyncio.to_thread(_write_generated, path, size, upload.pattern)
        stored = self._record(upload.name, upload.title, user, path, size)
        if upload.mimetype is not None:
            stored.mimetype = upload.mimetype
        if upload.filetype is not None:
            stored.filetype = upload.filetype
            stored.pretty_type = upload.filetype.upper()
        return stored

    def announce(self, name: str, user: str, alt_txt: str | None) -> StoredFile:
        """Reserve a file id for step 1 of the external upload; bytes follow in step 2."""
        path = self.directory / self._ids.secret(8)
        stored = self._record(name, None, user, path, 0)
        stored.pending_upload = True
        stored.alt_txt = alt_txt
        return stored

    async def receive(self, stored: StoredFile, chunks: AsyncIterator[bytes]) -> int:
        """Stream step 2's body to disk; returns the byte count."""
        size = 0
        handle = await asyncio.to_thread(stored.path.open, "wb")
        try:
            async for chunk in chunks:
                await asyncio.to_thread(handle.write, chunk)
                size += len(chunk)
        finally:
            await asyncio.to_thread(handle.close)
        stored.size = size
        stored.pending_upload = False
        return size
