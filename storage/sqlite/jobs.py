"""Clean-up job rows shared by archiving and the clean-up worker, working inside a caller's transaction.

A job's items are gathered from what the session holds (its conversation, its uploaded files
and every container its turns used, but not one another thread's turns ran in). Gathering again
adds only what is new, so it is repeated before each attempt and before a job is marked done: a
resource created while archiving was under way is still deleted.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence

import aiosqlite

from storage.records import CleanupJob
from storage.sqlite.codec import json_list
from storage.sqlite.database import execute, fetch_all, fetch_one, fetch_value

_GATHER = """
INSERT INTO cleanup_items (job_id, kind, resource_id)
SELECT :job_id, kind, resource_id FROM (
    SELECT 'conversation' AS kind, conversation_id AS resource_id FROM sessions
        WHERE id = :session_id AND conversation_id IS NOT NULL
    UNION SELECT 'file', foundry_file_id FROM files
        WHERE session_id = :session_id AND foundry_file_id IS NOT NULL AND status <> 'deleted'
    UNION SELECT 'container', container_id FROM turns
        WHERE session_id = :session_id AND container_id IS NOT NULL
    UNION SELECT 'container', last_container_id FROM sessions
        WHERE id = :session_id AND last_container_id IS NOT NULL
    UNION SELECT 'container', outputs.container_id FROM outputs JOIN turns ON turns.id = outputs.turn_id
        WHERE turns.session_id = :session_id
          -- not a container another thread ran in (an output once fetched from one)
          AND NOT EXISTS (SELECT 1 FROM turns AS other WHERE other.container_id = outputs.container_id
                          AND other.session_id <> :session_id)
          AND NOT EXISTS (SELECT 1 FROM sessions AS other WHERE other.last_container_id = outputs.container_id
                          AND other.id <> :session_id)
) WHERE true
ON CONFLICT (job_id, kind, resource_id) DO NOTHING
"""

_INSERT_JOB = """
INSERT INTO cleanup_jobs (session_id, state, attempts, next_attempt_at, created_at, updated_at)
SELECT id, 'pending', 0, :now, :now, :now FROM sessions WHERE id = :session_id
ON CONFLICT (session_id) DO NOTHING
"""

_ITEMS = """
SELECT job_id, kind, resource_id, deleted_at FROM cleanup_items
WHERE job_id IN (SELECT value FROM json_each(:ids))
ORDER BY job_id, kind, resource_id
"""


async def ensure_job(conn: aiosqlite.Connection, session_id: int, now: str) -> CleanupJob | None:
    """The session's job, created if missing, with any new resources added; ``None`` if no such session."""
    await execute(conn, _INSERT_JOB, {"session_id": session_id, "now": now})
    job_id = await fetch_value(conn, "SELECT id FROM cleanup_jobs WHERE session_id = :id", {"id": session_id})
    if not isinstance(job_id, int):
        return None
    if await gather(conn, job_id, session_id):
        # New resources reopen a finished job.
        await execute(
            conn,
            "UPDATE cleanup_jobs SET state = 'pending', next_attempt_at = :now, updated_at = :now "
            "WHERE id = :id AND state = 'done'",
            {"id": job_id, "now": now},
        )
    return await load_job(conn, job_id)


async def gather(conn: aiosqlite.Connection, job_id: int, session_id: int) -> int:
    """Add the session's resources not listed yet; returns how many were added."""
    return await execute(conn, _GATHER, {"job_id": job_id, "session_id": session_id})


async def load_job(conn: aiosqlite.Connection, job_id: int) -> CleanupJob | None:
    """The job with its items."""
    row = await fetch_one(conn, "SELECT * FROM cleanup_jobs WHERE id = :id", {"id": job_id})
    return None if row is None else (await load_jobs(conn, [row]))[0]


async def load_jobs(conn: aiosqlite.Connection, rows: Sequence[sqlite3.Row]) -> list[CleanupJob]:
    """Jobs from their rows, each with its items, in the rows' order."""
    items: defaultdict[int, list[dict[str, object]]] = defaultdict(list)
    for item in await fetch_all(conn, _ITEMS, {"ids": json_list([row["id"] for row in rows])}):
        items[item["job_id"]].append({key: item[key] for key in ("kind", "resource_id", "deleted_at")})
    return [CleanupJob.model_validate({**dict(row), "items": items[row["id"]]}) for row in rows]
