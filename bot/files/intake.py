"""Files into a thread's sandbox: checked, streamed from Slack to Foundry, recorded, reported.

Each file is spooled to a temporary file while it is hashed (memory stays flat whatever its
size), checked against the type gate, and only then uploaded: nothing that fails a check leaves
Slack. The same bytes dropped twice in one thread are uploaded once. Every file gets a visible
outcome, attached or skipped with its reason.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import FileLookupFailed, FileRelayError, FoundryError
from bot.files.download import SlackDownloader, Spooled, aiter_file
from bot.files.gate import Rejection, SlackFile, check_content, check_declared, too_many_files
from bot.files.names import human_size, plain_name, safe_name
from bot.files.types import ACCEPTED, extension_of
from bot.foundry.client import Foundry
from storage.protocol import Store
from storage.records import FileStatus, NewFile, Session, StoredFile

logger = logging.getLogger(__name__)

UPLOAD_ATTEMPTS = 3


@dataclass(frozen=True)
class Outcome:
    """What became of one file, as the thread is told."""

    attached: bool
    line: str


class FileIntake:
    """Attaches the files of a message to its thread's session."""

    def __init__(
        self,
        store: Store,
        foundry: Foundry,
        slack: AsyncWebClient,
        downloader: SlackDownloader,
        *,
        max_bytes: int,
        slots: int,
        retry_delay: float = 1.0,
    ) -> None:
        self._store = store
        self._foundry = foundry
        self._slack = slack
        self._downloader = downloader
        self._max_bytes = max_bytes
        self._slots = slots
        self._retry_delay = retry_delay

    async def attach(self, session: Session, files: Sequence[Mapping[str, Any]]) -> list[Outcome]:
        """Attach each file in turn; one outcome per file, in the order they came."""
        outcomes: list[Outcome] = []
        with tempfile.TemporaryDirectory(prefix="slack-file-") as folder:
            for raw in files:
                outcomes.append(await self._attach_one(session, dict(raw), Path(folder)))
        return outcomes

    async def _attach_one(self, session: Session, raw: dict[str, Any], folder: Path) -> Outcome:
        try:
            raw = await self._resolve(raw)
        except FileRelayError as exc:
            return Outcome(False, exc.user_message)
        file = SlackFile.from_slack(raw)
        known = await self._store.find_file_by_slack_id(session.id, file.id)
        if known is not None and known.status is FileStatus.UPLOADED:
            return Outcome(True, f"Already attached {safe_name(known.name)}.")
        rejection = check_declared(file, max_bytes=self._max_bytes) or await self._slot_check(session, file)
        if rejection is not None:
            return Outcome(False, rejection.reason)
        try:
            spooled = await self._downloader.spool(
                str(raw.get("url_private_download") or raw.get("url_private") or ""),
                folder,
                max_bytes=self._max_bytes,
                name=safe_name(file.name),
            )
        except FileRelayError as exc:
            logger.info("download of %s failed: %s", file.id, exc)
            return Outcome(False, exc.user_message)
        except OSError as exc:  # the temporary folder: full disk, permissions
            logger.error("could not store %s while checking it: %s", file.id, exc)
            return Outcome(False, f"Couldn't attach {safe_name(file.name)}: I ran out of room to check it. Try again.")
        try:
            return await self._checked_upload(session, file, spooled)
        finally:
            await asyncio.to_thread(spooled.path.unlink, True)

    async def _checked_upload(self, session: Session, file: SlackFile, spooled: Spooled) -> Outcome:
        rejection = await asyncio.to_thread(check_content, file, spooled.path, content_type=spooled.content_type)
        if rejection is not None:
            return Outcome(False, rejection.reason)
        stored, created = await self._store.add_file(
            NewFile(
                session_id=session.id,
                slack_file_id=file.id,
                name=file.name,
                size=spooled.size,
                sha256=spooled.sha256,
                mimetype=file.mimetype or "application/octet-stream",
            )
        )
        if not created and stored.status is FileStatus.UPLOADED:
            return Outcome(True, f"Already attached {safe_name(stored.name)} (same content as before).")
        return await self._upload(stored, file, spooled)

    async def _upload(self, stored: StoredFile, file: SlackFile, spooled: Spooled) -> Outcome:
        name = safe_name(file.name)
        error: FoundryError | None = None
        for attempt in range(UPLOAD_ATTEMPTS):
            try:
                uploaded = await self._foundry.upload_file(
                    plain_name(file.name), aiter_file(spooled.path), size=spooled.size, content_type=_mime(file)
                )
            except FoundryError as exc:
                error = exc
                logger.warning("upload of %s failed (attempt %d): %s", file.id, attempt + 1, exc)
                await asyncio.sleep(self._retry_delay * (attempt + 1))
                continue
            await self._store.mark_file_uploaded(stored.id, uploaded.id)
            return Outcome(True, f"Attached {name} ({human_size(spooled.size)}).")
        await self._store.mark_file_failed(stored.id)
        reason = error.user_message if error else "the upload failed"
        return Outcome(False, f"Couldn't attach {name}: {reason} Drop it again to retry.")

    async def _slot_check(self, session: Session, file: SlackFile) -> Rejection | None:
        attached = await self._store.list_files(session.id, statuses=[FileStatus.UPLOADED, FileStatus.PENDING])
        return too_many_files(file, self._slots) if len(attached) >= self._slots else None

    async def _resolve(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Slack Connect files arrive as stubs (``file_access: check_file_info``): ask ``files.info``."""
        if raw.get("file_access") != "check_file_info" and raw.get("url_private_download"):
            return raw
        try:
            response = await self._slack.files_info(file=str(raw.get("id")))
        except SlackApiError as exc:
            name = safe_name(str(raw.get("name") or raw.get("id") or "file"))
            raise FileLookupFailed(f"files.info {raw.get('id')}: {exc.response.get('error')}", name=name) from exc
        info = response.get("file")
        if not isinstance(info, dict):
            raise FileLookupFailed(f"files.info {raw.get('id')}: no file in the answer", name=str(raw.get("id")))
        return info


def _mime(file: SlackFile) -> str:
    """The seed table's MIME type for the extension (Slack may report a looser variant)."""
    accepted = ACCEPTED.get(extension_of(file.name))
    return accepted[0] if accepted else "application/octet-stream"
