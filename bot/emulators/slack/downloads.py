"""File downloads, with Slack's two ways of failing quietly.

A request without the installed bot's token (or without ``files:read``, or for a file the bot
cannot see) gets HTTP 200 with an HTML login page, not an error. With redirects on, the API host
answers 302 to the CDN listener, a different origin, so a client that drops ``Authorization`` on
cross-origin redirects (aiohttp, requests) lands on the login page unless it re-adds the header.
Bytes are streamed from disk in chunks. A test can stall every download part-way
(:meth:`Downloads.stall`) to see what a client does while a file is still arriving.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Literal

from aiohttp import web

from .core import Core
from .models import StoredFile
from .records import DownloadRequest

LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Slack</title></head>
<body><h1>Sign in to Slack</h1><p>To continue, sign in to your workspace.</p>
<form action="/signin" method="post"><input name="domain" placeholder="your-workspace.slack.com">
<button type="submit">Continue</button></form></body></html>
"""

_CHUNK = 256 * 1024


class Downloads:
    """Serves ``url_private``/``url_private_download`` on the API host and the CDN host."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.requests: list[DownloadRequest] = []
        #: Answer downloads on the API host with a 302 to the CDN host.
        self.redirect = core.config.redirect_downloads
        #: Serve this many bytes of each file, then wait for :meth:`resume` (None: no stall).
        self.stall_after: int | None = None
        self._resumed = asyncio.Event()

    def stall(self, after_bytes: int) -> None:
        """Hold every file download after its first ``after_bytes`` until :meth:`resume`."""
        self.stall_after = after_bytes
        self._resumed.clear()

    def resume(self) -> None:
        """Let stalled downloads finish; later ones are served straight through."""
        self.stall_after = None
        self._resumed.set()

    async def primary(self, request: web.Request) -> web.StreamResponse:
        """A file URL on the API host."""
        return await self._serve(request, "primary")

    async def cdn(self, request: web.Request) -> web.StreamResponse:
        """The same file URL on the CDN host (the redirect target)."""
        return await self._serve(request, "cdn")

    def _authorized(self, request: web.Request, stored: StoredFile) -> tuple[bool, bool, bool]:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        valid = self.core.api.bot_token_valid(token)
        allowed = (
            valid
            and "files:read" in self.core.api.scopes
            and self.core.workspace.can_see_file(stored, self.core.workspace.bot.id)
        )
        return bool(header), valid, allowed

    async def _serve(self, request: web.Request, host: Literal["primary", "cdn"]) -> web.StreamResponse:
        file_id = request.match_info["key"].rpartition("-")[2]
        stored = self.core.files.get(file_id)
        if stored is None or stored.pending_upload:
            self._record(request, host, None, False, False, 404, "not_found")
            return web.Response(status=404, text="file_not_found")
        had_auth, valid, allowed = self._authorized(request, stored)
        if not allowed:
            self._record(request, host, file_id, had_auth, valid, 200, "login_page")
            return web.Response(text=LOGIN_PAGE, content_type="text/html")
        if host == "primary" and self.redirect:
            download = "/download/" in request.path
            urls, team = self.core.urls, self.core.config.team_id
            target = (
                urls.file_download(team, stored, cdn=True) if download else urls.file_private(team, stored, cdn=True)
            )
            self._record(request, host, file_id, had_auth, True, 302, "redirect")
            raise web.HTTPFound(target)
        self._record(request, host, file_id, had_auth, True, 200, "file")
        disposition = "attachment" if "/download/" in request.path else "inline"
        headers = {
            "Content-Type": stored.mimetype or "application/octet-stream",
            "Content-Disposition": f'{disposition}; filename="{stored.name}"',
        }
        if self.stall_after is not None:
            return await self._serve_stalled(request, stored.path, headers, self.stall_after)
        return web.FileResponse(stored.path, chunk_size=_CHUNK, headers=headers)

    async def _serve_stalled(
        self, request: web.Request, path: Path, headers: dict[str, str], after: int
    ) -> web.StreamResponse:
        """The file's first ``after`` bytes, a pause until :meth:`resume`, then the rest."""
        response = web.StreamResponse(headers=headers)
        source = await asyncio.to_thread(path.open, "rb")
        response.content_length = os.fstat(source.fileno()).st_size
        await response.prepare(request)
        with source:
            sent, held = 0, False
            while chunk := await asyncio.to_thread(source.read, _CHUNK):
                if not held and sent + len(chunk) >= after:
                    cut = after - sent
                    await response.write(chunk[:cut])
                    await self._resumed.wait()
                    held, sent, chunk = True, after, chunk[cut:]
                if chunk:
                    await response.write(chunk)
                    sent += len(chunk)
        await response.write_eof()
        return response

    def _record(
        self,
        request: web.Request,
        host: Literal["primary", "cdn"],
        file_id: str | None,
        had_auth: bool,
        valid: bool,
        status: int,
        outcome: Literal["file", "login_page", "redirect", "not_found"],
    ) -> None:
        self.requests.append(DownloadRequest(host, request.path, file_id, had_auth, valid, status, outcome))
        self.core.notifier.notify()
