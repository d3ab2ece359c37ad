"""Usage per turn, summed for limits and ``/interpreter usage``."""

from __future__ import annotations

import sqlite3
from datetime import date

from storage.records import UsageEntry, UsageGroup, UsageRank, UsageTotals
from storage.sqlite.codec import timestamp
from storage.sqlite.database import Queries, fetch_all

_RECORD = """
INSERT INTO usage (turn_id, team_id, channel_id, user_id, day, input_tokens, output_tokens,
                   sandbox_sessions, duration_ms, recorded_at)
VALUES (:turn_id, :team_id, :channel_id, :user_id, :day, :input_tokens, :output_tokens,
        :sandbox_sessions, :duration_ms, :now)
ON CONFLICT (turn_id) DO NOTHING
RETURNING turn_id
"""

_TOTALS = """
SELECT COUNT(*) AS turns,
       COALESCE(SUM(input_tokens), 0) AS input_tokens,
       COALESCE(SUM(output_tokens), 0) AS output_tokens,
       COALESCE(SUM(sandbox_sessions), 0) AS sandbox_sessions,
       COALESCE(SUM(duration_ms), 0) AS duration_ms
FROM usage
WHERE team_id = :team_id AND day BETWEEN :start AND :end
  AND (:user_id IS NULL OR user_id = :user_id)
  AND (:channel_id IS NULL OR channel_id = :channel_id)
"""

_TOP = """
SELECT CASE :by WHEN 'user' THEN user_id ELSE channel_id END AS key,
       COUNT(*) AS turns,
       COALESCE(SUM(input_tokens), 0) AS input_tokens,
       COALESCE(SUM(output_tokens), 0) AS output_tokens,
       COALESCE(SUM(sandbox_sessions), 0) AS sandbox_sessions,
       COALESCE(SUM(duration_ms), 0) AS duration_ms
FROM usage
WHERE team_id = :team_id AND day BETWEEN :start AND :end
GROUP BY key
ORDER BY SUM(input_tokens) + SUM(output_tokens) DESC, COUNT(*) DESC, key
LIMIT :limit
"""


class SqliteUsage(Queries):
    """``UsageStore`` on SQLite."""

    async def record_usage(self, entry: UsageEntry) -> bool:
        params = {**entry.model_dump(), "day": entry.day.isoformat(), "now": timestamp(self._db.now())}
        return bool(await self._db.statement("record usage", _RECORD, params, write=True))

    async def usage_totals(
        self,
        team_id: str,
        *,
        start: date,
        end: date,
        user_id: str | None = None,
        channel_id: str | None = None,
    ) -> UsageTotals:
        params = {
            "team_id": team_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "user_id": user_id,
            "channel_id": channel_id,
        }
        totals = await self._one(UsageTotals, "usage totals", _TOTALS, params, write=False)
        return totals or UsageTotals()

    async def top_usage(
        self, team_id: str, *, by: UsageGroup, start: date, end: date, limit: int = 10
    ) -> list[UsageRank]:
        params = {"team_id": team_id, "by": by.value, "start": start.isoformat(), "end": end.isoformat()}
        async with self._db.read("top usage") as conn:
            rows = await fetch_all(conn, _TOP, {**params, "limit": limit})
            return [UsageRank(key=row["key"], totals=_totals(row)) for row in rows]


def _totals(row: sqlite3.Row) -> UsageTotals:
    return UsageTotals.model_validate({name: row[name] for name in UsageTotals.model_fields})
