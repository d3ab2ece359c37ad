"""Read-only views of the turn queue: what to resume, what to start next, and where a turn waits."""

from __future__ import annotations

from datetime import datetime

from storage.records import QueuePosition, Turn
from storage.sqlite.codec import timestamp
from storage.sqlite.database import Queries, fetch_all

_WAITING = """
SELECT session_id FROM turns WHERE state = 'queued'
GROUP BY session_id
HAVING session_id NOT IN (SELECT session_id FROM turns WHERE state IN ('running', 'posting'))
ORDER BY MIN(id)
LIMIT :limit
"""

_POSITION = """
SELECT
    (SELECT COUNT(*) FROM turns ahead
        WHERE ahead.state = 'queued' AND ahead.session_id = turn.session_id AND ahead.seq < turn.seq) + 1 AS in_thread,
    (SELECT COUNT(*) FROM turns ahead WHERE ahead.state = 'queued' AND ahead.id < turn.id) + 1 AS overall
FROM turns turn
WHERE turn.id = :id AND turn.state = 'queued'
"""

_COUNT_QUEUED = """
SELECT COUNT(*) FROM turns WHERE state = 'queued' AND (:session_id IS NULL OR session_id = :session_id)
"""

_COUNT_TURNS = """
SELECT COUNT(*) FROM turns
WHERE team_id = :team_id AND created_at >= :since AND text != ''
  AND NOT (state = 'stopped' AND started_at IS NULL)
  AND (:user_id IS NULL OR user_id = :user_id)
  AND (:channel_id IS NULL OR channel_id = :channel_id)
"""

# Sandbox sessions a channel started since a moment: a turn starts one when it ran in a container
# that differs from the one its thread's previous turn with a container used (or is the thread's
# first). Threads whose questions wait or run without a container yet count one each.
_COUNT_SANDBOX_SESSIONS = """
SELECT
    (SELECT COUNT(*) FROM (
        SELECT container_id, started_at,
               LAG(container_id) OVER (PARTITION BY session_id ORDER BY seq) AS previous
        FROM turns
        WHERE team_id = :team_id AND channel_id = :channel_id AND container_id IS NOT NULL
    ) WHERE (previous IS NULL OR previous != container_id) AND started_at >= :since)
  + (SELECT COUNT(DISTINCT sessions.id) FROM sessions JOIN turns ON turns.session_id = sessions.id
     WHERE sessions.team_id = :team_id AND sessions.channel_id = :channel_id
       AND sessions.last_container_id IS NULL AND turns.text != ''
       AND turns.state IN ('queued', 'running', 'posting'))
"""


class SqliteTurnQueue(Queries):
    """The queue queries of ``TurnStore`` on SQLite."""

    async def list_in_flight_turns(self) -> list[Turn]:
        sql = "SELECT * FROM turns WHERE state IN ('running', 'posting') ORDER BY id"
        return await self._all(Turn, "list in-flight turns", sql, {})

    async def list_waiting_sessions(self, limit: int = 100) -> list[int]:
        async with self._db.read("list waiting sessions") as conn:
            return [row["session_id"] for row in await fetch_all(conn, _WAITING, {"limit": limit})]

    async def queue_position(self, turn_id: int) -> QueuePosition | None:
        return await self._one(QueuePosition, "queue position", _POSITION, {"id": turn_id}, write=False)

    async def count_queued_turns(self, session_id: int | None = None) -> int:
        return await self._count("count queued turns", _COUNT_QUEUED, {"session_id": session_id})

    async def count_running_turns(self) -> int:
        sql = "SELECT COUNT(*) FROM turns WHERE state IN ('running', 'posting')"
        return await self._count("count running turns", sql, {})

    async def count_turns(
        self, team_id: str, *, since: datetime, user_id: str | None = None, channel_id: str | None = None
    ) -> int:
        params = {"team_id": team_id, "since": timestamp(since), "user_id": user_id, "channel_id": channel_id}
        return await self._count("count turns", _COUNT_TURNS, params)

    async def count_sandbox_sessions(self, team_id: str, channel_id: str, *, since: datetime) -> int:
        params = {"team_id": team_id, "channel_id": channel_id, "since": timestamp(since)}
        return await self._count("count sandbox sessions", _COUNT_SANDBOX_SESSIONS, params)
