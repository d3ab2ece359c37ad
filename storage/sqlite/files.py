"""Files uploaded for a thread, stored once per thread and content (the same bytes dropped twice)."""

from __future__ import annotations

from collections.abc import Collection

from bot.errors import StorageError
from storage.records import FileStatus, NewFile, StoredFile
from storage.sqlite.codec import json_list, timestamp
from storage.sqlite.database import Params, Queries

# A row whose upload failed, or whose Foundry copy was deleted, is taken over by the new upload.
_ADD = """
INSERT INTO files (session_id, slack_file_id, foundry_file_id, name, size, sha256, mimetype, status, created_at)
VALUES (:session_id, :slack_file_id, :foundry_file_id, :name, :size, :sha256, :mimetype, :status, :now)
ON CONFLICT (session_id, sha256) DO UPDATE SET
    slack_file_id = excluded.slack_file_id,
    foundry_file_id = excluded.foundry_file_id,
    name = excluded.name,
    size = excluded.size,
    mimetype = excluded.mimetype,
    status = excluded.status,
    created_at = excluded.created_at
WHERE files.status IN ('failed', 'deleted')
RETURNING *
"""

#: Tries at adding a file whose bytes' row keeps changing under it (a retake, then a deletion…).
_ADD_ATTEMPTS = 3

_SAME_BYTES = "SELECT * FROM files WHERE session_id = :session_id AND sha256 = :sha256"

_LIST = """
SELECT * FROM files
WHERE session_id = :session_id AND (:statuses IS NULL OR status IN (SELECT value FROM json_each(:statuses)))
ORDER BY id
"""


class SqliteFiles(Queries):
    """``FileStore`` on SQLite."""

    async def add_file(self, new: NewFile) -> tuple[StoredFile, bool]:
        # One statement, one hop, for a new row or one taken over; only when the bytes are already
        # in the thread is that row read after it. Rows are never removed, so it is there to read;
        # should it have failed or been deleted in between, it is taken over after all.
        status = FileStatus.PENDING if new.foundry_file_id is None else FileStatus.UPLOADED
        params = {**new.model_dump(), "status": status.value, "now": timestamp(self._db.now())}
        for _ in range(_ADD_ATTEMPTS):
            added = await self._one(StoredFile, "add file", _ADD, params, write=True)
            if added is not None:
                return added, True
            existing = await self._one(StoredFile, "add file", _SAME_BYTES, params, write=True)
            if existing is None:  # cannot happen: the insert only yields to an existing row
                break
            if existing.status not in (FileStatus.FAILED, FileStatus.DELETED):
                return existing, False
        raise StorageError(f"adding file {new.slack_file_id!r} to session {new.session_id} failed")

    async def get_file(self, file_id: int) -> StoredFile | None:
        sql = "SELECT * FROM files WHERE id = :id"
        return await self._one(StoredFile, "get file", sql, {"id": file_id}, write=False)

    async def find_file_by_slack_id(self, session_id: int, slack_file_id: str) -> StoredFile | None:
        sql = "SELECT * FROM files WHERE session_id = :session_id AND slack_file_id = :slack_file_id ORDER BY id"
        params = {"session_id": session_id, "slack_file_id": slack_file_id}
        return await self._one(StoredFile, "find file by slack id", sql, params, write=False)

    async def mark_file_uploaded(self, file_id: int, foundry_file_id: str) -> StoredFile | None:
        sql = (
            "UPDATE files SET status = 'uploaded', foundry_file_id = :foundry_file_id "
            "WHERE id = :id AND status <> 'deleted' RETURNING *"
        )
        return await self._update_file("mark file uploaded", sql, {"id": file_id, "foundry_file_id": foundry_file_id})

    async def mark_file_failed(self, file_id: int) -> StoredFile | None:
        sql = "UPDATE files SET status = 'failed' WHERE id = :id AND status <> 'deleted' RETURNING *"
        return await self._update_file("mark file failed", sql, {"id": file_id})

    async def mark_file_deleted(self, file_id: int) -> StoredFile | None:
        sql = "UPDATE files SET status = 'deleted' WHERE id = :id RETURNING *"
        return await self._update_file("mark file deleted", sql, {"id": file_id})

    async def list_files(self, session_id: int, *, statuses: Collection[FileStatus] | None = None) -> list[StoredFile]:
        params = {"session_id": session_id, "statuses": json_list(statuses)}
        return await self._all(StoredFile, "list files", _LIST, params)

    async def _update_file(self, what: str, sql: str, params: Params) -> StoredFile | None:
        return await self._one(StoredFile, what, sql, params, write=True)
