"""Spare conversations: made ahead of need, then handed to a new thread's session in one statement."""

from __future__ import annotations

from datetime import datetime

from storage.records import Session, SpareConversation
from storage.sqlite.codec import timestamp
from storage.sqlite.database import Queries

# The subquery and EXISTS read the same snapshot, and the trigger ``sessions_take_spare`` deletes
# the spare the session was given, so two sessions can never be given the same conversation.
_TAKE = """
UPDATE sessions
SET conversation_id = (
        SELECT conversation_id FROM spare_conversations
        WHERE created_at >= :made_after ORDER BY created_at, conversation_id LIMIT 1
    ),
    agent_version = COALESCE(:agent_version, agent_version)
WHERE id = :id AND conversation_id IS NULL
  AND EXISTS (SELECT 1 FROM spare_conversations WHERE created_at >= :made_after)
RETURNING *
"""


class SqliteSpares(Queries):
    """``SpareStore`` on SQLite."""

    async def add_spare_conversation(self, conversation_id: str) -> None:
        sql = (
            "INSERT INTO spare_conversations (conversation_id, created_at) VALUES (:id, :now) "
            "ON CONFLICT (conversation_id) DO NOTHING"
        )
        params = {"id": conversation_id, "now": timestamp(self._db.now())}
        await self._db.statement("add spare conversation", sql, params, write=True)

    async def take_spare_conversation(
        self, session_id: int, *, made_after: datetime, agent_version: str | None = None
    ) -> Session | None:
        params = {"id": session_id, "made_after": timestamp(made_after), "agent_version": agent_version}
        return await self._one(Session, "take spare conversation", _TAKE, params, write=True)

    async def list_spare_conversations(self) -> list[SpareConversation]:
        sql = "SELECT * FROM spare_conversations ORDER BY created_at, conversation_id"
        return await self._all(SpareConversation, "list spare conversations", sql, {})

    async def drop_spare_conversation(self, conversation_id: str) -> bool:
        sql = "DELETE FROM spare_conversations WHERE conversation_id = :id RETURNING conversation_id"
        rows = await self._db.statement("drop spare conversation", sql, {"id": conversation_id}, write=True)
        return bool(rows)
