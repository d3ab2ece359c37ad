"""Files in the Web API: files.info and the three-step external upload.

Step 2's URL takes raw bytes or multipart with no token and answers ``OK - <n>``. Step 3 answers
before the share lands (``shares`` empty in its answer, as Slack often does); the file-share
message and ``shares`` appear after ``share_delay`` seconds (at once by default).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from .api_chat import ChatMethods
from .api_core import ApiError, ApiRequest, WebApi
from .core import Core
from .models import Channel, Share, StoredFile
from .wire import JSON


@dataclass(frozen=True)
class _ShareRequest:
    targets: list[Channel]
    files: list[StoredFile]
    thread_ts: str | None
    comment: str | None
    blocks: list[JSON] | None


class FileMethods:
    """files.info, files.getUploadURLExternal, files.completeUploadExternal, the upload URL."""

    def __init__(self, core: Core, chat: ChatMethods) -> None:
        self.core = core
        self.chat = chat
        self._uploads: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: Seconds between step 3's answer and the share landing; tests may change it.
        self.share_delay = core.config.share_delay

    def register(self, api: WebApi) -> None:
        """Add these methods to the Web API router."""
        api.register("files.info", self.info, "files:read")
        api.register("files.getUploadURLExternal", self.get_upload_url, "files:write")
        api.register("files.completeUploadExternal", self.complete_upload, "files:write")

    async def info(self, req: ApiRequest) -> JSON:
        """files.info: the full file object, ``shares`` included."""
        stored = self.core.files.get(req.require("file", "file_not_found"))
        if stored is None or stored.pending_upload:
            raise ApiError("file_not_found")
        if not self.core.workspace.can_see_file(stored, self.core.workspace.bot.id):
            raise ApiError("file_not_found")
        return {"file": self.core.wire.file(stored), "comments": [], "response_metadata": {"next_cursor": ""}}

    async def get_upload_url(self, req: ApiRequest) -> JSON:
        """Step 1: reserve a file id and hand out a one-off upload URL on this emulator."""
        filename = req.require("filename")
        try:
            length = int(req.require("length"))
        except ValueError:
            raise ApiError("invalid_arguments") from None
        if length < 1:
            raise ApiError("invalid_arguments")
        alt_txt = req.arg("alt_txt")
        if alt_txt is not None and len(alt_txt) > 1000:
            raise ApiError("alt_txt_too_long")
        stored = self.core.files.announce(filename, self.core.workspace.bot.id, alt_txt)
        key = self.core.ids.secret()
        self._uploads[key] = stored.id
        return {"upload_url": f"{self.core.urls.base}/upload/v1/{key}", "file_id": stored.id}

    async def upload(self, request: web.Request) -> web.Response:
        """Step 2: the body (raw or multipart) streamed to disk; no Authorization expected."""
        file_id = self._uploads.get(request.match_info["key"])
        stored = self.core.files.get(file_id) if file_id else None
        if stored is None:
            return web.Response(status=404, text="invalid_upload_url", content_type="text/plain")
        size = await self.core.files.receive(stored, _body_chunks(request))
        self._uploads.pop(request.match_info["key"], None)
        self.core.workspace.changed()
        return web.Response(text=f"OK - {size}", content_type="text/plain")

    def _requested_files(self, req: ApiRequest) -> list[tuple[StoredFile, str | None]]:
        entries = req.structured("files")
        if not isinstance(entries, list) or not entries:
            raise ApiError("invalid_arguments")
        found: list[tuple[StoredFile, str | None]] = []
        for entry in entries:
            stored = self.core.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if stored is None or stored.pending_upload or stored.user != self.core.workspace.bot.id:
                raise ApiError("file_not_found")
            title = entry.get("title")
            found.append((stored, title if isinstance(title, str) and title else None))
        return found

    def _targets(self, req: ApiRequest) -> list[Channel]:
        ids = [c for c in (req.arg("channels") or "").split(",") if c]
        channel_id = req.arg("channel_id")
        if channel_id:
            ids.insert(0, channel_id)
        if req.arg("thread_ts") and len(ids) > 1:
            raise ApiError("invalid_arguments")
        if len(ids) > 100:
            raise ApiError("channels_limit_exceeded")
        targets = [self.chat.writable_channel(c) for c in ids]
        for channel in targets:
            if not self.core.workspace.bot_is_member(channel):
                raise ApiError("not_in_channel")  # chat:write.public does not cover uploads
        return targets

    async def complete_upload(self, req: ApiRequest) -> JSON:
        """Step 3: title the files and share them (later) into the channel or thread."""
        found = self._requested_files(req)
        targets = self._targets(req)
        for stored, title in found:
            if title:
                stored.title = title
        answer = [self.core.wire.file(stored, with_shares=False) | {"shares": {}} for stored, _ in found]
        if targets:
            blocks = req.structured("blocks", "invalid_blocks_format")
            share = _ShareRequest(
                targets,
                [s for s, _ in found],
                req.arg("thread_ts"),
                req.arg("initial_comment"),
                blocks if isinstance(blocks, list) else None,
            )
            if self.share_delay <= 0:
                self._share(share)
            else:
                task = asyncio.create_task(self._later(self.share_delay, share))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return {"files": answer}

    async def _later(self, delay: float, share: _ShareRequest) -> None:
        await asyncio.sleep(delay)
        self._share(share)

    def _share(self, share: _ShareRequest) -> None:
        bot = self.core.workspace.bot
        for channel in share.targets:
            message = self.core.bot_message(
                channel,
                share.comment or "",
                thread_ts=share.thread_ts,
                blocks=None if share.comment else share.blocks,
                files=[f.id for f in share.files],
                subtype="file_share",
            )
            for stored in share.files:
                stored.shares.append(Share(channel.id, message.ts, share.thread_ts, bot.id))
            self.core.publish_message(message)

    async def close(self) -> None:
        """Drop shares still waiting for their delay."""
        for task in list(self._tasks):
            task.cancel()


async def _body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, BodyPartReader) and part.filename is not None:
                while chunk := await part.read_chunk(256 * 1024):
                    yield chunk
                return
        return
    async for chunk in request.content.iter_chunked(256 * 1024):
        yield chunk
