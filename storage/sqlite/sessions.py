"""Sessions: the cloud side of a Slack thread, one live session per thread."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import aiosqlite

from bot.errors import StorageError
from storage.records import ArchiveReason, CleanupJob, Session, SessionState
from storage.sqlite.codec import json_list, load, optional_timestamp, timestamp
from storage.sqlite.database import Params, Queries, execute, fetch_one, fetch_value
from storage.sqlite.jobs import ensure_job

_CREATE = """
INSERT INTO sessions (team_id, channel_id, root_ts, state, created_at, last_activity_at)
VALUES (:team_id, :channel_id, :root_ts, 'active', :now, :now)
ON CONFLICT (team_id, channel_id, root_ts) WHERE state <> 'archived' DO NOTHING
RETURNING *
"""

#: Insert-or-read rounds before giving up (each lost round means the thread's session was just archived).
_CREATE_TRIES = 3

_LIVE = """
SELECT * FROM sessions
WHERE team_id = :team_id AND channel_id = :channel_id AND root_ts = :root_ts AND state <> 'archived'
"""

_HAD_ARCHIVED = """
SELECT EXISTS (
    SELECT 1 FROM sessions
    WHERE team_id = :team_id AND channel_id = :channel_id AND root_ts = :root_ts AND state = 'archived'
)
"""

_LIST = """
SELECT * FROM sessions
WHERE (:team_id IS NULL OR team_id = :team_id)
  AND (:channel_id IS NULL OR channel_id = :channel_id)
  AND (:states IS NULL OR state IN (SELECT value FROM json_each(:states)))
  AND (:idle_before IS NULL OR last_activity_at < :idle_before)
ORDER BY last_activity_at, id
LIMIT COALESCE(:limit, -1)
"""


async def archive_session(conn: aiosqlite.Connection, session_id: int, now: str) -> Session | None:
    """archiving → archived, inside the caller's transaction."""
    row = await fetch_one(
        conn,
        "UPDATE sessions SET state = 'archived', archived_at = :now WHERE id = :id AND state = 'archiving' RETURNING *",
        {"id": session_id, "now": now},
    )
    return None if row is None else load(Session, row)


class SqliteSessions(Queries):
    """``SessionStore`` on SQLite."""

    async def get_or_create_session(self, team_id: str, channel_id: str, root_ts: str) -> tuple[Session, bool]:
        thread = {"team_id": team_id, "channel_id": channel_id, "root_ts": root_ts}
        for _ in range(_CREATE_TRIES):
            created = await self._one(
                Session, "get or create session", _CREATE, {**thread, "now": timestamp(self._db.now())}, write=True
            )
            if created is not None:
                return created, True
            # The insert yielded to a live row; it can be archived before this read, then the insert wins.
            existing = await self._one(Session, "get or create session", _LIVE, thread, write=False)
            if existing is not None:
                return existing, False
        raise StorageError(f"no live session for thread {thread} after {_CREATE_TRIES} conflicting inserts")

    async def get_session(self, session_id: int) -> Session | None:
        sql = "SELECT * FROM sessions WHERE id = :id"
        return await self._one(Session, "get session", sql, {"id": session_id}, write=False)

    async def get_live_session(self, team_id: str, channel_id: str, root_ts: str) -> Session | None:
        thread = {"team_id": team_id, "channel_id": channel_id, "root_ts": root_ts}
        return await self._one(Session, "get live session", _LIVE, thread, write=False)

    async def has_archived_session(self, team_id: str, channel_id: str, root_ts: str) -> bool:
        thread = {"team_id": team_id, "channel_id": channel_id, "root_ts": root_ts}
        return bool(await self._count("has archived session", _HAD_ARCHIVED, thread))

    async def set_conversation_id(
        self, session_id: int, conversation_id: str, *, agent_version: str | None = None
    ) -> Session | None:
        return await self._update_session(
            "set conversation id",
            "UPDATE sessions SET conversation_id = :conversation_id, "
            "agent_version = COALESCE(:agent_version, agent_version) WHERE id = :id RETURNING *",
            {"id": session_id, "conversation_id": conversation_id, "agent_version": agent_version},
        )

    async def forget_conversation(self, session_id: int, conversation_id: str) -> Session | None:
        return await self._update_session(
            "forget conversation",
            "UPDATE sessions SET conversation_id = NULL WHERE id = :id AND conversation_id = :conversation_id "
            "RETURNING *",
            {"id": session_id, "conversation_id": conversation_id},
        )

    async def touch_session(self, session_id: int) -> Session | None:
        return await self._update_session(
            "touch session",
            "UPDATE sessions SET last_activity_at = :now WHERE id = :id RETURNING *",
            {"id": session_id, "now": timestamp(self._db.now())},
        )

    async def set_last_container(self, session_id: int, container_id: str) -> Session | None:
        return await self._update_session(
            "set last container",
            "UPDATE sessions SET last_container_id = :container_id WHERE id = :id RETURNING *",
            {"id": session_id, "container_id": container_id},
        )

    async def begin_archiving(self, session_id: int, reason: ArchiveReason) -> CleanupJob | None:
        async with self._db.write("begin archiving") as conn:
            await execute(
                conn,
                "UPDATE sessions SET state = 'archiving', archive_reason = :reason WHERE id = :id AND state = 'active'",
                {"id": session_id, "reason": reason.value},
            )
            state = await fetch_value(conn, "SELECT state FROM sessions WHERE id = :id", {"id": session_id})
            if state != SessionState.ARCHIVING:
                return None
            return await ensure_job(conn, session_id, timestamp(self._db.now()))

    async def finish_archiving(self, session_id: int) -> Session | None:
        async with self._db.write("finish archiving") as conn:
            return await archive_session(conn, session_id, timestamp(self._db.now()))

    async def list_sessions(
        self,
        *,
        team_id: str | None = None,
        channel_id: str | None = None,
        states: Collection[SessionState] | None = None,
        idle_before: datetime | None = None,
        limit: int | None = None,
    ) -> list[Session]:
        params = {
            "team_id": team_id,
            "channel_id": channel_id,
            "states": json_list(states),
            "idle_before": optional_timestamp(idle_before),
            "limit": limit,
        }
        return await self._all(Session, "list sessions", _LIST, params)

    async def _update_session(self, what: str, sql: str, params: Params) -> Session | None:
        return await self._one(Session, what, sql, params, write=True)
