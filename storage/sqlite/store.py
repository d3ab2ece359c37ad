"""The SQLite store: opening the connection, tuning it for many tasks and two processes, migrating."""

from __future__ import annotations

import asyncio
import sqlite3

from bot.errors import StorageError
from storage.clock import Clock
from storage.sqlite.cleanup import SqliteCleanup
from storage.sqlite.database import Checkpointer, Database, execute, fetch_value
from storage.sqlite.events import SqliteEvents
from storage.sqlite.files import SqliteFiles
from storage.sqlite.migrations import migrate
from storage.sqlite.outputs import SqliteOutputs
from storage.sqlite.queue import SqliteTurnQueue
from storage.sqlite.schema import MIGRATIONS
from storage.sqlite.sessions import SqliteSessions
from storage.sqlite.turns import SqliteTurns
from storage.sqlite.usage import SqliteUsage
from storage.url import SqliteTarget

#: RETURNING and UPSERT on partial indexes need this.
MINIMUM_SQLITE = (3, 35, 0)


class SqliteStore(
    SqliteEvents,
    SqliteSessions,
    SqliteTurns,
    SqliteTurnQueue,
    SqliteFiles,
    SqliteOutputs,
    SqliteCleanup,
    SqliteUsage,
):
    """Every ``Store`` operation over one SQLite database (see ``database`` for the locking)."""

    async def close(self) -> None:
        await self._db.close()


async def open_sqlite(target: SqliteTarget, *, clock: Clock, busy_timeout: float) -> SqliteStore:
    """Connect, set the pragmas, migrate; the caller closes the store.

    Opening and migrating run on a worker thread, where waiting for another process that holds
    the database (``busy_timeout``) blocks nobody; the store then uses the connection on the loop.
    """
    if sqlite3.sqlite_version_info < MINIMUM_SQLITE:
        raise StorageError(f"SQLite {sqlite3.sqlite_version} is too old; 3.35 or newer is needed")
    if target.path is not None:
        try:
            await asyncio.to_thread(target.path.parent.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the folder for {target.path}: {exc}") from exc
    connection = await asyncio.to_thread(_open, target, busy_timeout)
    checkpointer = None
    if not target.in_memory:
        try:
            checkpointer = Checkpointer(await asyncio.to_thread(_connect, target, busy_timeout))
        except BaseException:
            await asyncio.to_thread(connection.close)
            raise
    return SqliteStore(Database(connection, clock, busy_timeout=busy_timeout, checkpointer=checkpointer))


def _connect(target: SqliteTarget, busy_timeout: float) -> sqlite3.Connection:
    try:
        # Autocommit: every transaction is an explicit BEGIN … COMMIT. Used from the loop's thread
        # after it is opened here, hence check_same_thread=False (never by two threads at once).
        connection = sqlite3.connect(target.database, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open the SQLite database {target.database}: {exc}") from exc
    try:
        # Pragmas take no parameters; the value is a number we formatted ourselves.
        execute(connection, f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    except sqlite3.Error as exc:
        connection.close()
        raise StorageError(f"cannot configure the SQLite database {target.database}: {exc}") from exc
    return connection


def _open(target: SqliteTarget, busy_timeout: float) -> sqlite3.Connection:
    """The store's connection: pragmas set, schema migrated, ready for the event loop."""
    connection = _connect(target, busy_timeout)
    try:
        _prepare(connection, target)
        migrate(connection, MIGRATIONS)
        # From here on the loop never sleeps inside SQLite: Database retries a busy write lock itself.
        execute(connection, "PRAGMA busy_timeout = 0")
    except sqlite3.Error as exc:
        connection.close()
        raise StorageError(f"cannot configure the SQLite database {target.database}: {exc}") from exc
    except BaseException:
        connection.close()
        raise
    return connection


def _prepare(connection: sqlite3.Connection, target: SqliteTarget) -> None:
    connection.row_factory = sqlite3.Row
    execute(connection, "PRAGMA foreign_keys = ON")
    mode = fetch_value(connection, "PRAGMA journal_mode = WAL")
    # WAL keeps the commit durable against a crash of the process; a power cut may lose the last commits.
    execute(connection, "PRAGMA synchronous = NORMAL")
    # Commits never copy the log back into the database file themselves; Checkpointer does, off the loop.
    execute(connection, "PRAGMA wal_autocheckpoint = 0")
    if not target.in_memory and mode != "wal":
        raise StorageError(f"SQLite refused WAL mode for {target.database} (journal mode is {mode})")
