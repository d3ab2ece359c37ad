"""Generated files posted back into the thread, and the code each turn ran (Show code)."""

from __future__ import annotations

from bot.errors import StorageError
from storage.records import CodeBlock, NewOutput, Output
from storage.sqlite.codec import load, timestamp
from storage.sqlite.database import Queries, fetch_one

# A resumed turn records its outputs again; a file already posted must stay posted.
_RECORD = """
INSERT INTO outputs
    (turn_id, container_id, container_file_id, filename, size, slack_file_id, status, detail, created_at)
VALUES (:turn_id, :container_id, :container_file_id, :filename, :size, :slack_file_id, :status, :detail, :now)
ON CONFLICT (turn_id, container_file_id) DO UPDATE SET
    container_id = excluded.container_id,
    filename = excluded.filename,
    size = excluded.size,
    slack_file_id = excluded.slack_file_id,
    status = excluded.status,
    detail = excluded.detail
WHERE outputs.status <> 'posted'
RETURNING *
"""

# The same interpreter call recorded again keeps its position and takes the newer code.
_ADD_CODE = """
INSERT INTO turn_code (turn_id, position, call_id, code, created_at)
SELECT :turn_id, COALESCE(MAX(position), 0) + 1, :call_id, :code, :now FROM turn_code WHERE turn_id = :turn_id
ON CONFLICT (turn_id, call_id) DO UPDATE SET code = excluded.code
RETURNING *
"""


class SqliteOutputs(Queries):
    """``OutputStore`` on SQLite."""

    async def record_output(self, new: NewOutput) -> Output:
        params = {**new.model_dump(), "status": new.status.value, "now": timestamp(self._db.now())}
        async with self._db.write("record output") as conn:
            row = await fetch_one(conn, _RECORD, params)
            if row is None:
                sql = "SELECT * FROM outputs WHERE turn_id = :turn_id AND container_file_id = :container_file_id"
                row = await fetch_one(conn, sql, params)
            if row is None:
                raise StorageError(f"recording output {new.container_file_id!r} of turn {new.turn_id} failed")
            return load(Output, row)

    async def list_outputs(self, turn_id: int) -> list[Output]:
        sql = "SELECT * FROM outputs WHERE turn_id = :turn_id ORDER BY id"
        return await self._all(Output, "list outputs", sql, {"turn_id": turn_id})

    async def list_session_outputs(self, session_id: int) -> list[Output]:
        sql = (
            "SELECT outputs.* FROM outputs JOIN turns ON turns.id = outputs.turn_id "
            "WHERE turns.session_id = :session_id ORDER BY outputs.id"
        )
        return await self._all(Output, "list session outputs", sql, {"session_id": session_id})

    async def add_code(self, turn_id: int, call_id: str, code: str) -> CodeBlock:
        params = {"turn_id": turn_id, "call_id": call_id, "code": code, "now": timestamp(self._db.now())}
        block = await self._one(CodeBlock, "add code", _ADD_CODE, params, write=True)
        if block is None:
            raise StorageError(f"recording code {call_id!r} of turn {turn_id} failed")
        return block

    async def list_code(self, turn_id: int) -> list[CodeBlock]:
        sql = "SELECT * FROM turn_code WHERE turn_id = :turn_id ORDER BY position"
        return await self._all(CodeBlock, "list code", sql, {"turn_id": turn_id})
