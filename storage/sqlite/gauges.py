"""Counts of what is going on right now, in one query, for ``/metrics``."""

from __future__ import annotations

from storage.records import Gauges
from storage.sqlite.database import Queries

_GAUGES = """
SELECT
    (SELECT COUNT(*) FROM sessions WHERE state = 'active') AS active_sessions,
    (SELECT COUNT(*) FROM sessions WHERE state = 'archiving') AS archiving_sessions,
    (SELECT COUNT(*) FROM turns WHERE state = 'queued') AS queued_turns,
    (SELECT COUNT(*) FROM turns WHERE state IN ('running', 'posting')) AS running_turns,
    (SELECT COUNT(*) FROM cleanup_jobs WHERE state IN ('pending', 'running')) AS pending_cleanups,
    (SELECT COUNT(*) FROM cleanup_jobs WHERE state = 'failed') AS failed_cleanups
"""


class SqliteGauges(Queries):
    """``GaugeStore`` on SQLite."""

    async def gauges(self) -> Gauges:
        return await self._one(Gauges, "gauges", _GAUGES, {}, write=False) or Gauges()
