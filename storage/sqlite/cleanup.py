"""Clean-up jobs: durable, retried with back-off, and safe for several workers (claims are leases).

A claim counts an attempt and leases the job until ``next_attempt_at``; the worker renews the
lease while it works. The attempt count doubles as the claim's token: a renewal names the
attempt its claim counted, so a worker whose lease ran out (and whose job another worker has
claimed since) cannot extend the newer claim's lease.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from storage.records import CleanupJob, CleanupState, ResourceKind
from storage.sqlite.codec import json_list, timestamp
from storage.sqlite.database import Queries, execute, fetch_all, fetch_value
from storage.sqlite.jobs import ensure_job, gather, load_job, load_jobs
from storage.sqlite.sessions import archive_session

# A running job whose lease ran out belongs to a worker that crashed, so it is due again.
_CLAIM = """
UPDATE cleanup_jobs SET state = 'running', attempts = attempts + 1, next_attempt_at = :lease_until, updated_at = :now
WHERE id IN (
    SELECT id FROM cleanup_jobs
    WHERE state IN ('pending', 'failed', 'running') AND next_attempt_at <= :now
    ORDER BY next_attempt_at, id
    LIMIT :limit
)
RETURNING *
"""

_RENEW = """
UPDATE cleanup_jobs SET next_attempt_at = :lease_until, updated_at = :now
WHERE id = :id AND state = 'running' AND attempts = :attempt
"""

_NEXT_DUE = "SELECT MIN(next_attempt_at) FROM cleanup_jobs WHERE state IN ('pending', 'failed', 'running')"

_ITEM_DELETED = """
UPDATE cleanup_items SET deleted_at = :now
WHERE job_id = :job_id AND kind = :kind AND resource_id = :resource_id AND deleted_at IS NULL
"""

_FILE_DELETED = """
UPDATE files SET status = 'deleted'
WHERE foundry_file_id = :resource_id AND session_id = (SELECT session_id FROM cleanup_jobs WHERE id = :job_id)
"""

_FAILED = """
UPDATE cleanup_jobs SET state = 'failed', last_error = :error, next_attempt_at = :retry_at, updated_at = :now
WHERE id = :id AND state <> 'done'
"""

_REOPEN = "UPDATE cleanup_jobs SET state = 'pending', next_attempt_at = :now, updated_at = :now WHERE id = :id"

_LIST = """
SELECT * FROM cleanup_jobs WHERE state IN (SELECT value FROM json_each(:states)) ORDER BY created_at, id
"""


class SqliteCleanup(Queries):
    """``CleanupStore`` on SQLite."""

    async def create_cleanup_job(self, session_id: int) -> CleanupJob | None:
        async with self._db.write("create cleanup job") as conn:
            return await ensure_job(conn, session_id, timestamp(self._db.now()))

    async def get_cleanup_job(self, job_id: int) -> CleanupJob | None:
        async with self._db.read("get cleanup job") as conn:
            return await load_job(conn, job_id)

    async def claim_due_cleanup_jobs(self, *, lease: timedelta, limit: int = 10) -> list[CleanupJob]:
        now = self._db.now()
        params = {"now": timestamp(now), "lease_until": timestamp(now + lease), "limit": limit}
        async with self._db.write("claim cleanup jobs") as conn:
            rows = sorted(await fetch_all(conn, _CLAIM, params), key=lambda row: (row["next_attempt_at"], row["id"]))
            for row in rows:
                await gather(conn, row["id"], row["session_id"])
            return await load_jobs(conn, rows)

    async def renew_cleanup_lease(self, job_id: int, *, attempt: int, lease: timedelta) -> CleanupJob | None:
        now = self._db.now()
        params = {"id": job_id, "attempt": attempt, "lease_until": timestamp(now + lease), "now": timestamp(now)}
        async with self._db.write("renew cleanup lease") as conn:
            changed = await execute(conn, _RENEW, params)
            return await load_job(conn, job_id) if changed else None

    async def next_cleanup_due(self) -> datetime | None:
        async with self._db.read("next cleanup due") as conn:
            value = await fetch_value(conn, _NEXT_DUE)
            return datetime.fromisoformat(value) if isinstance(value, str) else None

    async def mark_cleanup_item_deleted(self, job_id: int, kind: ResourceKind, resource_id: str) -> CleanupJob | None:
        params = {"job_id": job_id, "kind": kind.value, "resource_id": resource_id, "now": timestamp(self._db.now())}
        async with self._db.write("mark cleanup item deleted") as conn:
            await execute(conn, _ITEM_DELETED, params)
            if kind is ResourceKind.FILE:
                await execute(conn, _FILE_DELETED, params)
            return await load_job(conn, job_id)

    async def record_cleanup_failure(self, job_id: int, error: str, *, retry_at: datetime) -> CleanupJob | None:
        now = timestamp(self._db.now())
        params = {"id": job_id, "error": error, "retry_at": timestamp(retry_at), "now": now}
        async with self._db.write("record cleanup failure") as conn:
            changed = await execute(conn, _FAILED, params)
            return await load_job(conn, job_id) if changed else None

    async def mark_cleanup_done(self, job_id: int) -> CleanupJob | None:
        now = timestamp(self._db.now())
        async with self._db.write("mark cleanup done") as conn:
            session_id = await fetch_value(conn, "SELECT session_id FROM cleanup_jobs WHERE id = :id", {"id": job_id})
            if not isinstance(session_id, int):
                return None
            if await gather(conn, job_id, session_id):
                # Something was created while the job ran: not done yet, and due again at once.
                await execute(conn, _REOPEN, {"id": job_id, "now": now})
            else:
                sql = "UPDATE cleanup_jobs SET state = 'done', updated_at = :now WHERE id = :id AND state <> 'done'"
                await execute(conn, sql, {"id": job_id, "now": now})
                await archive_session(conn, session_id, now)
            return await load_job(conn, job_id)

    async def list_cleanup_jobs(self, *, states: Collection[CleanupState]) -> list[CleanupJob]:
        async with self._db.read("list cleanup jobs") as conn:
            return await load_jobs(conn, await fetch_all(conn, _LIST, {"states": json_list(states)}))
