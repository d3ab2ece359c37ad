"""The Files API: multipart uploads spooled to disk in chunks, hashed on the way in.

An upload is never held in memory: the ``file`` part is read chunk by chunk into a temp file
(works with or without ``Content-Length``, i.e. chunked transfer encoding too), and reading
stops as soon as it passes the size limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from aiohttp import BodyPartReader, web

from bot.emulators.foundry.config import EmulatorConfig
from bot.emulators.foundry.errors import bad_request, not_found
from bot.emulators.foundry.ids import new_id
from bot.emulators.foundry.recording import note_body
from bot.emulators.foundry.routing import RouteTable
from bot.emulators.foundry.state import EmulatorState, StoredFile
from bot.emulators.foundry.wire import ok

CHUNK = 256 * 1024
MAX_FIELD = 1024


def safe_filename(name: str | None) -> str:
    """The last path component of a client-supplied name, without control characters."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base if base not in ("", ".", "..") else "upload"


def _size_text(limit: int) -> str:
    mib = limit / (1024 * 1024)
    return f"{mib:g} MB" if mib >= 1 else f"{limit} bytes"


class _Spooled:
    """A part written to disk: where, how big, and its sha256."""

    def __init__(self, path: Path, size: int, sha256: str) -> None:
        self.path = path
        self.size = size
        self.sha256 = sha256


def _open_spool(path: Path) -> BinaryIO:
    return path.open("wb")


async def _spool(part: BodyPartReader, folder: Path, limit: int) -> _Spooled:
    path = folder / f".upload-{secrets.token_hex(8)}"
    digest = hashlib.sha256()
    size = 0
    handle = await asyncio.to_thread(_open_spool, path)
    try:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > limit:
                raise bad_request(
                    f"File size exceeds the limit of {_size_text(limit)}.", param="file", code="file_size_exceeded"
                )
            digest.update(chunk)
            await asyncio.to_thread(handle.write, chunk)
    except BaseException:
        await asyncio.to_thread(handle.close)
        path.unlink(missing_ok=True)
        raise
    await asyncio.to_thread(handle.close)
    return _Spooled(path, size, digest.hexdigest())


async def _field(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(MAX_FIELD):
        data += chunk
        if len(data) > MAX_FIELD:
            raise bad_request(f"The '{part.name}' field is too long.", param=part.name)
    return data.decode("utf-8", errors="replace").strip()


class FileRoutes:
    """Upload, read and delete files with purpose ``assistants``."""

    def __init__(self, state: EmulatorState, config: EmulatorConfig) -> None:
        self._state = state
        self._config = config

    def register(self, table: RouteTable) -> None:
        table.add("POST", "/openai/v1/files", "files.create", self.create)
        table.add("GET", "/openai/v1/files/{file_id}", "files.get", self.get)
        table.add("DELETE", "/openai/v1/files/{file_id}", "files.delete", self.delete)

    async def create(self, request: web.Request) -> web.Response:
        """Read ``purpose`` and ``file`` from the multipart body and store the file."""
        if not request.content_type.startswith("multipart/"):
            raise bad_request("Expected a multipart/form-data body with 'purpose' and 'file'.")
        purpose, filename, spooled = None, "", None
        try:
            async for part in await request.multipart():
                if not isinstance(part, BodyPartReader):
                    raise bad_request("Nested multipart bodies are not supported.")
                if part.name == "file" and spooled is None:
                    filename = safe_filename(part.filename)
                    spooled = await _spool(part, self._state.uploads_dir, self._config.max_file_bytes)
                    note_body(request, spooled.size)
                elif part.name == "purpose":
                    purpose = await _field(part)
                else:
                    await part.release()
            stored = self._store(purpose, filename, spooled)
        except BaseException:
            if spooled is not None:
                spooled.path.unlink(missing_ok=True)
            raise
        return ok(stored.to_json())

    def _store(self, purpose: str | None, filename: str, spooled: _Spooled | None) -> StoredFile:
        if purpose is None:
            raise bad_request("Missing required parameter: 'purpose'.", param="purpose")
        if purpose != "assistants":
            raise bad_request(f"Invalid purpose '{purpose}'; use 'assistants'.", param="purpose")
        if spooled is None:
            raise bad_request("Missing required parameter: 'file'.", param="file")
        file_id = new_id("assistant-", 22)
        path = self._state.uploads_dir / file_id
        os.replace(spooled.path, path)
        stored = StoredFile(file_id, filename, spooled.size, self._config.now(), path, spooled.sha256)
        self._state.files[file_id] = stored
        return stored

    async def get(self, request: web.Request) -> web.Response:
        return ok(self._file(request).to_json())

    async def delete(self, request: web.Request) -> web.Response:
        stored = self._file(request)
        del self._state.files[stored.id]
        await asyncio.to_thread(stored.path.unlink, True)
        return ok({"id": stored.id, "object": "file", "deleted": True})

    def _file(self, request: web.Request) -> StoredFile:
        file_id = request.match_info["file_id"]
        stored = self._state.files.get(file_id)
        if stored is None:
            raise not_found("File", file_id)
        return stored
