"""Turns: each request in a thread, with its state written before every step that talks outside.

Every transition is one conditional ``UPDATE … WHERE state IN (…)``: the first caller wins and
a late one (a Stop pressed as the turn finished) gets ``None`` instead of clobbering the state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.errors import StorageError
from storage.records import Turn
from storage.sqlite.codec import load, timestamp
from storage.sqlite.database import Params, Queries, fetch_all, fetch_one

_ENQUEUE = """
INSERT INTO turns (session_id, seq, team_id, channel_id, user_id, message_ts, text, files, state, created_at)
SELECT id, COALESCE((SELECT MAX(seq) FROM turns WHERE session_id = :session_id), 0) + 1,
       team_id, channel_id, :user_id, :message_ts, :text, :files, 'queued', :now
FROM sessions WHERE id = :session_id
ON CONFLICT (session_id, message_ts) DO NOTHING
RETURNING *
"""

# One statement, so the checks and the claim see the same rows: the session's oldest queued turn
# starts unless one of its turns is in flight, or ``max_running`` turns are in flight everywhere.
_CLAIM = """
UPDATE turns SET state = 'running', started_at = :now
WHERE id = (SELECT id FROM turns WHERE session_id = :session_id AND state = 'queued' ORDER BY seq LIMIT 1)
  AND NOT EXISTS (SELECT 1 FROM turns WHERE session_id = :session_id AND state IN ('running', 'posting'))
  AND (:max_running IS NULL OR (SELECT COUNT(*) FROM turns WHERE state IN ('running', 'posting')) < :max_running)
RETURNING *
"""

# Without an explicit duration, a turn lasted from started_at to now (julianday keeps milliseconds).
_FINISH = """
UPDATE turns SET state = 'done', finished_at = :now,
    input_tokens = COALESCE(:input_tokens, input_tokens),
    output_tokens = COALESCE(:output_tokens, output_tokens),
    duration_ms = COALESCE(
        :duration_ms, CAST(round((julianday(:now) - julianday(started_at)) * 86400000.0) AS INTEGER)
    )
WHERE id = :id AND state IN ('running', 'posting')
RETURNING *
"""

_FAIL = """
UPDATE turns SET state = 'failed', finished_at = :now, error_code = :error_code,
    input_tokens = COALESCE(:input_tokens, input_tokens),
    output_tokens = COALESCE(:output_tokens, output_tokens),
    duration_ms = COALESCE(
        :duration_ms, CAST(round((julianday(:now) - julianday(started_at)) * 86400000.0) AS INTEGER)
    )
WHERE id = :id AND state IN ('queued', 'running', 'posting')
RETURNING *
"""

_STOP = """
UPDATE turns SET state = 'stopped', finished_at = :now,
    duration_ms = COALESCE(
        :duration_ms, CAST(round((julianday(:now) - julianday(started_at)) * 86400000.0) AS INTEGER)
    )
WHERE id = :id AND state IN ('queued', 'running', 'posting')
RETURNING *
"""


class SqliteTurns(Queries):
    """The turn life cycle of ``TurnStore`` on SQLite (queue queries live in ``queue``)."""

    async def enqueue_turn(
        self,
        session_id: int,
        *,
        user_id: str,
        message_ts: str,
        text: str,
        files: Sequence[Mapping[str, Any]] = (),
    ) -> tuple[Turn, bool]:
        now = timestamp(self._db.now())
        params = {
            "session_id": session_id,
            "user_id": user_id,
            "message_ts": message_ts,
            "text": text,
            "files": json.dumps([dict(f) for f in files]),
            "now": now,
        }
        # One statement (a trigger marks the thread active); only a message already queued, a
        # delivery seen before, is read after it.
        created = await self._one(Turn, "enqueue turn", _ENQUEUE, params, write=True)
        if created is not None:
            return created, True
        sql = "SELECT * FROM turns WHERE session_id = :session_id AND message_ts = :message_ts"
        existing = await self._one(Turn, "enqueue turn", sql, params, write=True)
        if existing is None:
            raise StorageError(f"cannot queue a turn: session {session_id} does not exist")
        return existing, False

    async def get_turn(self, turn_id: int) -> Turn | None:
        return await self._one(Turn, "get turn", "SELECT * FROM turns WHERE id = :id", {"id": turn_id}, write=False)

    async def list_turns(self, session_id: int) -> list[Turn]:
        sql = "SELECT * FROM turns WHERE session_id = :session_id ORDER BY seq"
        return await self._all(Turn, "list turns", sql, {"session_id": session_id})

    async def claim_next_turn(self, session_id: int, *, max_running: int | None = None) -> Turn | None:
        params = {"session_id": session_id, "max_running": max_running, "now": timestamp(self._db.now())}
        return await self._update_turn("claim next turn", _CLAIM, params)

    async def set_turn_response(self, turn_id: int, response_id: str) -> Turn | None:
        sql = "UPDATE turns SET response_id = :response_id WHERE id = :id RETURNING *"
        return await self._update_turn("set turn response", sql, {"id": turn_id, "response_id": response_id})

    async def set_turn_container(self, turn_id: int, container_id: str, *, new_sandbox: bool) -> Turn | None:
        params = {"id": turn_id, "container_id": container_id, "new_sandbox": new_sandbox}
        async with self._db.write("set turn container") as conn:
            row = await fetch_one(
                conn,
                "UPDATE turns SET container_id = :container_id, new_sandbox = :new_sandbox WHERE id = :id RETURNING *",
                params,
            )
            if row is None:
                return None
            await fetch_all(
                conn,
                "UPDATE sessions SET last_container_id = :container_id WHERE id = :session_id",
                {"container_id": container_id, "session_id": row["session_id"]},
            )
            return load(Turn, row)

    async def set_turn_status_message(self, turn_id: int, message_ts: str) -> Turn | None:
        sql = "UPDATE turns SET status_message_ts = :message_ts WHERE id = :id RETURNING *"
        return await self._update_turn("set turn status message", sql, {"id": turn_id, "message_ts": message_ts})

    async def start_posting(self, turn_id: int) -> Turn | None:
        sql = "UPDATE turns SET state = 'posting' WHERE id = :id AND state = 'running' RETURNING *"
        return await self._update_turn("start posting", sql, {"id": turn_id})

    async def finish_turn(
        self,
        turn_id: int,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        duration_ms: int | None = None,
    ) -> Turn | None:
        params = {
            "id": turn_id,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "duration_ms": duration_ms,
            "now": timestamp(self._db.now()),
        }
        return await self._update_turn("finish turn", _FINISH, params)

    async def fail_turn(
        self,
        turn_id: int,
        error_code: str,
        *,
        duration_ms: int | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
    ) -> Turn | None:
        params = {
            "id": turn_id,
            "error_code": error_code,
            "duration_ms": duration_ms,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "now": timestamp(self._db.now()),
        }
        return await self._update_turn("fail turn", _FAIL, params)

    async def stop_turn(self, turn_id: int) -> Turn | None:
        params = {"id": turn_id, "duration_ms": None, "now": timestamp(self._db.now())}
        return await self._update_turn("stop turn", _STOP, params)

    async def withdraw_turn(self, turn_id: int) -> Turn | None:
        sql = "UPDATE turns SET state = 'stopped', finished_at = :now WHERE id = :id AND state = 'queued' RETURNING *"
        return await self._update_turn("withdraw turn", sql, {"id": turn_id, "now": timestamp(self._db.now())})

    async def _update_turn(self, what: str, sql: str, params: Params) -> Turn | None:
        return await self._one(Turn, what, sql, params, write=True)
