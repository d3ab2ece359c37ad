"""Each generated file: fetched from the sandbox, uploaded into the thread, its share confirmed.

Every file arrives in the thread or the thread is told why not, file by file. Downloads are
retried (Foundry has been seen to answer 404 and 500 for a while before a file is there), the
upload goes through ``files_upload_v2`` without ``alt_txt`` (a known cause of silent failures),
and the share is confirmed with ``files.info`` because the upload call returns before it lands.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import FoundryError
from bot.files.names import plain_name, safe_name
from bot.foundry.client import Foundry
from bot.outputs.collect import Generated
from bot.slack.inbound import ThreadKey
from storage.protocol import Store
from storage.records import NewOutput, OutputStatus

logger = logging.getLogger(__name__)

_NOT_MEMBER = "I need to be a member of this channel to post files like {name}: `/invite @code-interpreter`."
_SLACK_REFUSALS = {
    "file_upload_size_restricted": "{name} is larger than this workspace allows for uploads.",
    "file_type_not_allowed": "This workspace doesn't allow this type of file, so I couldn't post {name}.",
    "file_uploads_except_images_disabled": "This workspace only allows images, so I couldn't post {name}.",
    "file_uploads_disabled": "File uploads are turned off in this workspace, so I couldn't post {name}.",
    "not_in_channel": _NOT_MEMBER,
    "channel_not_found": _NOT_MEMBER,
}


class OutputPoster:
    """Posts a turn's generated files into its thread."""

    def __init__(
        self,
        foundry: Foundry,
        slack: AsyncWebClient,
        store: Store,
        *,
        max_files: int,
        fetch_delays: Sequence[float] = (1.0, 3.0),
        share_checks: int = 10,
        share_interval: float = 0.5,
    ) -> None:
        self._foundry = foundry
        self._slack = slack
        self._store = store
        self._max = max_files
        self._delays = tuple(fetch_delays)
        self._checks = share_checks
        self._interval = share_interval

    async def post(self, turn_id: int, thread: ThreadKey, files: Sequence[Generated]) -> list[str]:
        """Post up to the cap; returns the sentences the thread should read about what went wrong."""
        notes: list[str] = []
        if not files:
            return notes
        with tempfile.TemporaryDirectory(prefix="sandbox-file-") as folder:
            for number, generated in enumerate(files[: self._max]):
                # Named by position: the file id comes from Foundry and never becomes part of a path.
                note = await self._post_one(turn_id, thread, generated, Path(folder) / f"{number}.bin")
                if note:
                    notes.append(note)
        left_out = files[self._max :]
        for generated in left_out:
            await self._record(turn_id, generated, OutputStatus.SKIPPED, detail="over MAX_OUTPUT_FILES")
        if left_out:
            names = ", ".join(safe_name(g.filename) for g in left_out)
            notes.append(
                f"The run made {len(files)} files; I posted the first {self._max}. Left out: {names}. "
                "Ask for any of them by name."
            )
        return notes

    async def _post_one(self, turn_id: int, thread: ThreadKey, generated: Generated, target: Path) -> str | None:
        name = safe_name(generated.filename)
        path = await self._fetch(generated, target)
        upload_name = plain_name(generated.filename)
        if path is None:
            await self._record(turn_id, generated, OutputStatus.FAILED, detail="download failed")
            return f"{name} could not be fetched from the sandbox (it may have expired); ask again to regenerate it."
        size = path.stat().st_size
        try:
            uploaded = await self._slack.files_upload_v2(
                channel=thread.channel_id,
                thread_ts=thread.root_ts,
                file=str(path),
                filename=upload_name,
                title=upload_name,
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            await self._record(turn_id, generated, OutputStatus.FAILED, size=size, detail=f"slack: {error}")
            return _SLACK_REFUSALS.get(error, "Slack refused {name} ({error}).").format(name=name, error=error)
        slack_file_id = str((uploaded.get("file") or {}).get("id") or "")
        await self._record(turn_id, generated, OutputStatus.POSTED, size=size, slack_file_id=slack_file_id)
        if not await self._share_landed(slack_file_id, thread):
            return f"Slack accepted {name} but hasn't shown it in this thread yet; it may appear shortly."
        return None

    async def _fetch(self, generated: Generated, target: Path) -> Path | None:
        """The file fetched in chunks to ``target``; None after the last retry failed."""
        for attempt in range(len(self._delays) + 1):
            try:
                async with self._foundry.stream_container_file(generated.container_id, generated.file_id) as body:
                    with target.open("wb") as out:
                        async for chunk in body:
                            out.write(chunk)
                return target
            except FoundryError as exc:
                logger.info("fetching %s failed (attempt %d): %s", generated.file_id, attempt + 1, exc)
                if attempt < len(self._delays):
                    await asyncio.sleep(self._delays[attempt])
        return None

    async def _share_landed(self, slack_file_id: str, thread: ThreadKey) -> bool:
        """Poll ``files.info`` (bounded) until the file shows as shared in the thread's channel."""
        for _ in range(self._checks):
            try:
                info = await self._slack.files_info(file=slack_file_id)
            except SlackApiError:
                return False
            shares = (info.get("file") or {}).get("shares") or {}
            if any(thread.channel_id in (shares.get(kind) or {}) for kind in ("public", "private")):
                return True
            await asyncio.sleep(self._interval)
        return False

    async def _record(
        self,
        turn_id: int,
        generated: Generated,
        status: OutputStatus,
        *,
        size: int | None = None,
        slack_file_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        await self._store.record_output(
            NewOutput(
                turn_id=turn_id,
                container_id=generated.container_id,
                container_file_id=generated.file_id,
                filename=generated.filename,
                status=status,
                size=size,
                slack_file_id=slack_file_id or None,
                detail=detail,
            )
        )
