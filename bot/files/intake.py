"""Files into a thread's sandbox: checked, streamed from Slack to Foundry, recorded, reported.

Files are hashed as they arrive and memory stays flat whatever their size: small ones are held
in memory; a large one whose type its first bytes decide is passed straight on to Foundry and
kept nowhere (the gate reads its start and samples taken on the way); other large ones are
spooled to a private temporary file. Neither the bytes nor the name of a file that fails a
check reach Foundry: an upload opened while the file arrives sends its body only once the file's
start passed (until then, its request announces only a length), and completes only once the
whole file passed (see :meth:`FileIntake._relay`). The same bytes dropped twice in one thread are
uploaded once. Every file gets a visible outcome, attached or skipped with its reason.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import FileLookupFailed, FileRelayError, FoundryError
from bot.files.download import SlackDownloader, Spooled
from bot.files.gate import (
    Rejection,
    SlackFile,
    check_content,
    check_declared,
    check_head,
    check_sampled,
    starts_decide,
    too_many_files,
)
from bot.files.growing import GrowingSpool, SpoolChanged
from bot.files.names import human_size, plain_name, safe_name
from bot.files.sniff import HEAD_BYTES
from bot.files.text import sample_ranges
from bot.files.types import ACCEPTED, TEXT, extension_of
from bot.foundry.client import Foundry
from bot.foundry.models import FileObject
from storage.protocol import Store
from storage.records import FileStatus, NewFile, Session, StoredFile

logger = logging.getLogger(__name__)

UPLOAD_ATTEMPTS = 3
#: About how many bytes a streamed upload sends per chunk (the download's pieces, joined).
READ_CHUNK = 1024 * 1024


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
        spool_dir: Path | None = None,
    ) -> None:
        self._store = store
        self._foundry = foundry
        self._slack = slack
        self._downloader = downloader
        #: Where files too large to hold in memory are spooled (private files with random names).
        self._spool_dir = spool_dir or Path(tempfile.gettempdir())
        self._max_bytes = max_bytes
        self._slots = slots
        self._retry_delay = retry_delay

    async def attach(self, session: Session, files: Sequence[Mapping[str, Any]]) -> list[Outcome]:
        """Attach each file in turn; one outcome per file, in the order they came."""
        return [await self._attach_one(session, dict(raw)) for raw in files]

    async def _attach_one(self, session: Session, raw: dict[str, Any]) -> Outcome:
        """Resolve, check against what Slack says, then relay one file; its outcome says which step stopped it."""
        try:
            raw = await self._resolve(raw)
        except FileRelayError as exc:
            return Outcome(False, exc.user_message)
        file = SlackFile.from_slack(raw)
        rejection = check_declared(file, max_bytes=self._max_bytes)
        if rejection is not None:
            return Outcome(False, rejection.reason)
        url = str(raw.get("url_private_download") or raw.get("url_private") or "")
        # A large file whose type its start decides is passed straight on to Foundry, kept
        # nowhere; should that not work out, it is fetched again into a spool file and sent from there.
        pass_on = starts_decide(file) and file.size > self._downloader.in_memory_up_to
        outcome = await self._relay(session, file, url, pass_on=pass_on)
        if outcome is None:
            logger.info("sending %s from a spool file instead", file.id)
            outcome = await self._relay(session, file, url, pass_on=False)
        return outcome or Outcome(False, f"Couldn't attach {safe_name(file.name)}. Drop it again to retry.")

    async def _relay(self, session: Session, file: SlackFile, url: str, *, pass_on: bool) -> Outcome | None:
        """Download, check, record and upload; None when a file passed on must be fetched again.

        The download of a file kept (in memory or in a spool file) starts while the thread's files
        are read: a file already attached, or one past the thread's slots, cancels it (and nothing
        has left Slack); a file to pass on waits for that list. A file whose type its first bytes
        decide, and whose size no file of the thread shares, opens its upload's request while
        those bytes arrive and sends its body from the moment they passed, taking the download as
        it arrives (a file refused there leaves a cut-off request with no body); its last bytes
        go only once the whole file passed the gate (on the whole file, or on the samples the gate
        reads of a file passed on) and was recorded, and if it doesn't pass, the upload is cut off
        short of its end, so Foundry never gets the file. Any other file (an Office package, whose
        parts are listed at its end, or one that might repeat a file of the thread) is checked and
        hashed whole before its upload begins. A failed upload is tried again from the kept copy.
        """
        samples = sample_ranges(file.size) if pass_on and extension_of(file.name) in TEXT else ()
        growing = GrowingSpool(HEAD_BYTES, samples=samples)

        def start_download() -> asyncio.Future[Spooled | Outcome]:
            started = asyncio.ensure_future(self._spool(file, url, watch=growing, pass_on=pass_on))
            started.add_done_callback(lambda _: growing.ended())
            return started

        download = None if pass_on else start_download()
        upload: asyncio.Future[FileObject] | None = None
        try:
            in_thread = await self._store.list_files(session.id)
            known = next((f for f in in_thread if f.slack_file_id == file.id), None)
            if known is not None and known.status is FileStatus.UPLOADED:
                return Outcome(True, f"Already attached {safe_name(known.name)}.")
            attached = [f for f in in_thread if f.status in (FileStatus.UPLOADED, FileStatus.PENDING)]
            if len(attached) >= self._slots:
                return Outcome(False, too_many_files(file, self._slots).reason)
            # Bytes that could repeat a file of the thread are hashed before any is sent (uploaded
            # once); a file whose size no other has can't repeat one.
            unique = all(f.size != file.size for f in attached)
            if pass_on and not unique:
                return None
            download = download or start_download()
            if starts_decide(file) and unique:
                # A file larger than its start, whose bytes the spool hears of (held in memory or
                # passed on, not saved to disk), opens the upload's request while that start is on
                # its way; no byte of the body, not even the file's name, goes before it passed.
                # Should the whole file arrive first, the upload reads it once it passed whole.
                heard = pass_on or file.size <= self._downloader.in_memory_up_to
                if heard and file.size > HEAD_BYTES:
                    upload = asyncio.ensure_future(self._stream_upload(file, growing))
                head = await growing.head()
                if head is not None:
                    rejection = check_head(file, head, content_type=growing.content_type)
                    if rejection is not None:
                        return Outcome(False, rejection.reason)
                    growing.admit()
                    upload = upload or asyncio.ensure_future(self._stream_upload(file, growing))
                    if pass_on:
                        # Nothing is kept of a file passed on: an upload that fails ends this try.
                        await asyncio.wait((download, upload), return_when=asyncio.FIRST_COMPLETED)
                        if upload.done() and not download.done():
                            return None
            spooled = await download
            if isinstance(spooled, Outcome):
                return spooled
            if spooled.source is None and spooled.size != file.size:
                return None  # the samples were taken where a file of Slack's size has them
            if upload is not None and (spooled.on_disk or spooled.size != file.size):
                # Not the body the upload opened for (saved to disk unseen, or not the size Slack
                # gave): the kept copy is sent instead, without spending a try on it.
                await _finish(upload)
                upload = None
            rejection = await _check_content(file, spooled, growing)
            if rejection is not None:
                return Outcome(False, rejection.reason)
            stored = await self._record(session, file, spooled)
            if isinstance(stored, Outcome):  # the same bytes came in meanwhile: this copy stops short
                return stored
            growing.release()  # recorded first: a file Foundry completes is always one the registry knows
            return await self._upload(stored, file, spooled, first=upload)
        finally:
            growing.abandon()  # an upload still reading stops short: nothing more leaves
            await _finish(upload, download)
            await _discard_spool(download)

    async def _stream_upload(self, file: SlackFile, growing: GrowingSpool) -> FileObject:
        """Upload the file as it downloads, with the size Slack gave (checked as the bytes come).

        The request opens at once; its body waits for the file's start to pass
        (:meth:`GrowingSpool.admit`), or for the whole file to (:meth:`GrowingSpool.release`).
        However the upload ends, its reader is closed at once: the spool then holds nothing more
        for it, and a download it paces is no longer held back.
        """
        chunks = growing.chunks(READ_CHUNK, limit=file.size, once_admitted=True)
        try:
            name, mime = plain_name(file.name), _mime(file)
            return await self._foundry.upload_file(name, chunks, size=file.size, content_type=mime)
        finally:
            growing.stop_reading()  # also when the upload failed before it read anything
            await chunks.aclose()

    async def _spool(self, file: SlackFile, url: str, *, watch: GrowingSpool, pass_on: bool) -> Spooled | Outcome:
        """The file downloaded (or passed on), or the outcome that says why it couldn't be."""
        try:
            return await self._downloader.spool(
                url,
                self._spool_dir,
                max_bytes=self._max_bytes,
                name=safe_name(file.name),
                watch=watch,
                pass_on=pass_on,
            )
        except FileRelayError as exc:
            logger.info("download of %s failed: %s", file.id, exc)
            return Outcome(False, exc.user_message)
        except OSError as exc:  # the temporary folder: full disk, permissions
            logger.error("could not store %s while checking it: %s", file.id, exc)
            return Outcome(False, f"Couldn't attach {safe_name(file.name)}: I ran out of room to check it. Try again.")

    async def _record(self, session: Session, file: SlackFile, spooled: Spooled) -> StoredFile | Outcome:
        """The file's row in the thread's registry, or the outcome when the same bytes are already attached."""
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
        return stored

    async def _upload(
        self, stored: StoredFile, file: SlackFile, spooled: Spooled, *, first: Awaitable[FileObject] | None = None
    ) -> Outcome | None:
        """Upload the spooled file, up to ``UPLOAD_ATTEMPTS`` times; ``first`` is an upload already under way.

        None when ``first`` failed for a file that was passed on: there is no copy to send again.
        """
        name = safe_name(file.name)
        error: FoundryError | None = None
        for attempt in range(UPLOAD_ATTEMPTS):
            if attempt > 0 and spooled.source is None:
                await self._store.mark_file_failed(stored.id)  # the next try sends it again, or it stays failed
                return None
            try:
                if attempt == 0 and first is not None:
                    uploaded = await first
                else:
                    uploaded = await self._foundry.upload_file(
                        plain_name(file.name), spooled.chunks(), size=spooled.size, content_type=_mime(file)
                    )
            except FoundryError as exc:
                error = exc
                logger.warning("upload of %s failed (attempt %d): %s", file.id, attempt + 1, exc)
                await asyncio.sleep(self._retry_delay * (attempt + 1))
                continue
            except SpoolChanged as exc:  # the streamed attempt read bytes that weren't the file's
                logger.info("streamed upload of %s stopped (%s); sending it again from the kept copy", file.id, exc)
                continue
            await self._store.mark_file_uploaded(stored.id, uploaded.id)
            return Outcome(True, f"Attached {name} ({human_size(spooled.size)}).")
        await self._store.mark_file_failed(stored.id)
        reason = error.user_message if error else "the upload failed"
        return Outcome(False, f"Couldn't attach {name}: {reason} Drop it again to retry.")

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


async def _check_content(file: SlackFile, spooled: Spooled, growing: GrowingSpool) -> Rejection | None:
    """The whole-file check: on a spool file in a worker thread, on bytes in memory right here, and
    for a file passed on, on its start and the samples taken as it went by."""
    source, content_type = spooled.source, spooled.content_type
    if source is None:
        return check_sampled(file, growing.start, growing.sample, spooled.size, content_type=content_type)
    if isinstance(source, Path):
        return await asyncio.to_thread(check_content, file, source, content_type=content_type)
    return check_content(file, source, content_type=content_type)


async def _discard_spool(download: asyncio.Future[Spooled | Outcome] | None) -> None:
    """Remove the spool file of a finished download, whatever became of the file."""
    if download is None or not download.done() or download.cancelled() or download.exception() is not None:
        return
    result = download.result()
    if isinstance(result, Spooled):
        await result.discard()


async def _finish(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel what is still running and wait for it: no download or upload outlives its file."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running)
    for task in running:
        if not task.cancelled():
            task.exception()  # retrieved: a failure here was already reported, or is moot
