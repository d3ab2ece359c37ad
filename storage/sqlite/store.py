"""The SQLite store: opening the connection, tuning it for many tasks and two processes, migrating."""

from __future__ import annotations

import asyncio
import sqlite3

import aiosqlite

from bot.errors import StorageError
from storage.clock import Clock
from storage.sqlite.cleanup import SqliteCleanup
from storage.sqlite.database import Database, execute, fetch_value
from storage.sqlite.events import SqliteEvents
from storage.sqlite.files import SqliteFiles
from storage.sqlite.gauges import SqliteGauges
from storage.sqlite.migrations import migrate
from storage.sqlite.outputs import SqliteOutputs
from storage.sqlite.queue import SqliteTurnQueue
from storage.sqlite.schema import MIGRATIONS
from storage.sqlite.sessions import SqliteSessions
from storage.sqlite.spares import SqliteSpares
from storage.sqlite.turns import SqliteTurns
from storage.sqlite.usage import SqliteUsage
from storage.url import SqliteTarget

#: RETURNING and UPSERT on partial indexes need this.
MINIMUM_SQLITE = (3, 35, 0)


class SqliteStore(
    SqliteEvents,
    SqliteGauges,
    SqliteSessions,
    SqliteSpares,
    SqliteTurns,
    SqliteTurnQueue,
    SqliteFiles,
    SqliteOutputs,
    SqliteCleanup,
    SqliteUsage,
):
    """Every ``Store`` operation over one SQLite database (see ``database`` for the connections)."""

    async def close(self) -> None:
        await self._db.close()


async def open_sqlite(target: SqliteTarget, *, clock: Clock, busy_timeout: float) -> SqliteStore:
    """Connect, set the pragmas, migrate; the caller closes the store."""
    if sqlite3.sqlite_version_info < MINIMUM_SQLITE:
        raise StorageError(f"SQLite {sqlite3.sqlite_version} is too old; 3.35 or newer is needed")
    if target.path is not None:
        try:
            await asyncio.to_thread(target.path.parent.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the folder for {target.path}: {exc}") from exc
    try:
        connection = await aiosqlite.connect(target.database, isolation_level=None)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open the SQLite database {target.database}: {exc}") from exc
    reader: aiosqlite.Connection | None = None
    try:
        await _prepare_patiently(connection, target, busy_timeout)
        if not target.in_memory:
            reader = await _open_reader(target, busy_timeout)
    except BaseException:
        await connection.close()
        raise
    return SqliteStore(Database(connection, clock, reader=reader))


async def _open_reader(target: SqliteTarget, busy_timeout: float) -> aiosqlite.Connection:
    """The second connection, for reads only: in WAL mode it reads the last commit while the writer writes."""
    try:
        reader = await aiosqlite.connect(target.database, isolation_level=None)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open the SQLite database {target.database}: {exc}") from exc
    reader.row_factory = sqlite3.Row
    try:
        await execute(reader, f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        await execute(reader, "PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        await reader.close()
        raise StorageError(f"cannot configure the SQLite database {target.database}: {exc}") from exc
    except BaseException:
        await reader.close()
        raise
    return reader


async def _prepare_patiently(connection: aiosqlite.Connection, target: SqliteTarget, busy_timeout: float) -> None:
    """:func:`_prepare`, retried while another process holds the lock (switching to WAL ignores busy_timeout)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + busy_timeout
    delay = 0.01
    while True:
        try:
            await _prepare(connection, target, busy_timeout)
            return
        except StorageError as exc:
            locked = isinstance(exc.__cause__, sqlite3.OperationalError) and "locked" in str(exc.__cause__)
            if not locked or loop.time() + delay > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.25)


async def _prepare(connection: aiosqlite.Connection, target: SqliteTarget, busy_timeout: float) -> None:
    connection.row_factory = sqlite3.Row
    try:
        # Pragmas take no parameters; the value is a number we formatted ourselves.
        await execute(connection, f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        await execute(connection, "PRAGMA foreign_keys = ON")
        mode = await fetch_value(connection, "PRAGMA journal_mode = WAL")
        # WAL keeps the commit durable against a crash of the process; a power cut may lose the last commits.
        await execute(connection, "PRAGMA synchronous = NORMAL")
    except sqlite3.Error as exc:
        raise StorageError(f"cannot configure the SQLite database {target.database}: {exc}") from exc
    if not target.in_memory and mode != "wal":
        raise StorageError(f"SQLite refused WAL mode for {target.database} (journal mode is {mode})")
    await migrate(connection, MIGRATIONS)
