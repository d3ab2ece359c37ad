"""The Containers API: read or delete a sandbox, and list, download or delete its files.

Downloads stream from disk in chunks. Anything about an expired or deleted container is a 404,
which is what clients see when a sandbox session has timed out.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import BinaryIO

from aiohttp import web

from bot.emulators.foundry.config import EmulatorConfig
from bot.emulators.foundry.errors import ApiError
from bot.emulators.foundry.paging import page
from bot.emulators.foundry.recording import request_id_of
from bot.emulators.foundry.routing import RouteTable
from bot.emulators.foundry.sandbox import Sandboxes
from bot.emulators.foundry.state import Container, ContainerFile, EmulatorState
from bot.emulators.foundry.wire import ok

CHUNK = 64 * 1024


def _open(path: Path) -> BinaryIO:
    return path.open("rb")


class ContainerRoutes:
    """Routes over the sandboxes that responses created."""

    def __init__(self, state: EmulatorState, config: EmulatorConfig, sandboxes: Sandboxes) -> None:
        self._state = state
        self._config = config
        self._sandboxes = sandboxes

    def register(self, table: RouteTable) -> None:
        base = "/openai/v1/containers/{container_id}"
        table.add("GET", base, "containers.get", self.get)
        table.add("DELETE", base, "containers.delete", self.delete)
        table.add("GET", base + "/files", "containers.files.list", self.list_files)
        table.add("GET", base + "/files/{file_id}/content", "containers.files.content", self.content)
        table.add("DELETE", base + "/files/{file_id}", "containers.files.delete", self.delete_file)

    async def get(self, request: web.Request) -> web.Response:
        return ok(self._container(request).to_json(self._config.idle_timeout_s))

    async def delete(self, request: web.Request) -> web.Response:
        container = self._container(request)
        await self._sandboxes.delete(container)
        return ok({"id": container.id, "object": "container.deleted", "deleted": True})

    async def list_files(self, request: web.Request) -> web.Response:
        container = self._container(request)
        self._sandboxes.touch(container)
        files = list(container.files.values())
        return ok(page(files, request.query, key=lambda f: f.id, render=ContainerFile.to_json))

    async def content(self, request: web.Request) -> web.StreamResponse:
        container = self._container(request)
        record = self._file(container, request)
        self._sandboxes.touch(container)
        path = container.data_dir / record.name
        try:
            handle = await asyncio.to_thread(_open, path)
        except OSError:
            raise self._missing(container, record.id) from None
        response = web.StreamResponse(
            headers={"Content-Type": "application/octet-stream", "x-request-id": request_id_of(request)}
        )
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                await response.write(chunk)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client stopped reading
        finally:
            await asyncio.to_thread(handle.close)
        return response

    async def delete_file(self, request: web.Request) -> web.Response:
        container = self._container(request)
        record = self._file(container, request)
        del container.files[record.id]
        await asyncio.to_thread((container.data_dir / record.name).unlink, True)
        return ok({"id": record.id, "object": "container.file.deleted", "deleted": True})

    def _container(self, request: web.Request) -> Container:
        return self._sandboxes.live(request.match_info["container_id"])

    def _file(self, container: Container, request: web.Request) -> ContainerFile:
        file_id = request.match_info["file_id"]
        record = container.files.get(file_id)
        if record is None:
            raise self._missing(container, file_id)
        return record

    @staticmethod
    def _missing(container: Container, file_id: str) -> ApiError:
        return ApiError(404, f"File {file_id} not found on container {container.id}.", code="not_found")
