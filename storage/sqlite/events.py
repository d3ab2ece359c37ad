"""Processed Slack deliveries, so a retried or doubled event becomes exactly one turn."""

from __future__ import annotations

from datetime import datetime

from storage.sqlite.codec import timestamp
from storage.sqlite.database import Queries, execute


class SqliteEvents(Queries):
    """``EventStore`` on SQLite."""

    async def claim_event(self, key: str) -> bool:
        inserted = await self._db.statement(
            "claim event",
            "INSERT INTO processed_events (key, received_at) VALUES (:key, :now) ON CONFLICT (key) DO NOTHING "
            "RETURNING key",
            {"key": key, "now": timestamp(self._db.now())},
            write=True,
        )
        return bool(inserted)

    async def release_event(self, key: str) -> None:
        sql = "DELETE FROM processed_events WHERE key = :key"
        await self._db.statement("release event", sql, {"key": key}, write=True)

    async def prune_events(self, older_than: datetime) -> int:
        async with self._db.write("prune events") as conn:
            return await execute(
                conn, "DELETE FROM processed_events WHERE received_at < :cutoff", {"cutoff": timestamp(older_than)}
            )
