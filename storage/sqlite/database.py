"""One SQLite connection shared by many tasks, with whole transactions and errors translated.

A statement on a local SQLite file takes microseconds, far less than handing it to a worker
thread and back (each hand-over also has to win the GIL from a busy event loop). So queries
run on the event loop's thread, and a transaction runs from ``BEGIN`` to ``COMMIT`` without
yielding: no other task can see it half done, and a task cancelled at an ``await`` is never
inside one. The ``asyncio.Lock`` keeps that true even if a transaction body ever awaited.

The loop must never sleep inside SQLite, so the connection's own ``busy_timeout`` is zero:
when another process holds the write lock, ``BEGIN IMMEDIATE`` is retried with an async back-off
for up to the store's ``busy_timeout``, and the loop keeps serving meanwhile. Copying the
write-ahead log back into the database file (a checkpoint, which syncs the disk) is left to a
second connection on a worker thread, see :class:`Checkpointer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime

from pydantic import ValidationError

from bot.errors import StorageError
from storage.clock import Clock, require_aware
from storage.sqlite.codec import Model, load, load_all

Params = Mapping[str, object]

#: First and longest pause between two attempts at the write lock another process holds.
_FIRST_BACKOFF = 0.001
_MAX_BACKOFF = 0.05
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class Checkpointer:
    """Checkpoints the WAL from its own connection on a worker thread, every so many commits.

    The store's connection runs with ``wal_autocheckpoint`` off, so no commit on the event loop
    ever waits for the disk; a ``PASSIVE`` checkpoint never waits for, nor blocks, a writer.
    """

    def __init__(self, connection: sqlite3.Connection, *, every: int = 200) -> None:
        self._connection = connection
        self._every = every
        self._commits = 0
        self._task: asyncio.Task[None] | None = None

    def committed(self) -> None:
        """Count a write commit; start a checkpoint in the background when enough have piled up."""
        self._commits += 1
        if self._commits >= self._every and (self._task is None or self._task.done()):
            self._commits = 0
            self._task = asyncio.create_task(asyncio.to_thread(self._checkpoint), name="sqlite-checkpoint")

    def _checkpoint(self) -> None:
        # Best effort: a checkpoint that cannot run now (another process busy) runs next time.
        with contextlib.suppress(sqlite3.Error):
            self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def close(self) -> None:
        """Wait for a checkpoint under way, then close the connection."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        await asyncio.to_thread(self._connection.close)


class Database:
    """The connection, its lock and the clock; every query runs inside :meth:`write` or :meth:`read`."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        clock: Clock,
        *,
        busy_timeout: float = 5.0,
        checkpointer: Checkpointer | None = None,
    ) -> None:
        self._connection = connection
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._checkpointer = checkpointer
        self._lock = asyncio.Lock()
        self._closed = False

    def now(self) -> datetime:
        """The clock's time in UTC."""
        return require_aware(self._clock())

    def write(self, what: str) -> contextlib.AbstractAsyncContextManager[sqlite3.Connection]:
        """A write transaction: takes the database's write lock up front."""
        return self._transaction(what, "BEGIN IMMEDIATE", write=True)

    def read(self, what: str) -> contextlib.AbstractAsyncContextManager[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for every query inside it."""
        return self._transaction(what, "BEGIN", write=False)

    @asynccontextmanager
    async def single(self, what: str) -> AsyncIterator[sqlite3.Connection]:
        """One read-only statement, which SQLite runs as a transaction of its own (no ``BEGIN``)."""
        async with self._lock:
            if self._closed:
                raise StorageError(f"{what}: the store is closed")
            try:
                yield self._connection
            except (sqlite3.Error, ValidationError) as exc:
                raise StorageError(f"{what} failed: {exc}") from exc

    @asynccontextmanager
    async def _transaction(self, what: str, begin: str, *, write: bool) -> AsyncIterator[sqlite3.Connection]:
        await self._begin(what, begin)
        try:
            yield self._connection
            self._connection.execute("COMMIT")
        except (sqlite3.Error, ValidationError) as exc:
            self._rollback()
            raise StorageError(f"{what} failed: {exc}") from exc
        except BaseException:
            self._rollback()
            raise
        finally:
            self._lock.release()
        if write and self._checkpointer is not None:
            self._checkpointer.committed()

    async def _begin(self, what: str, begin: str) -> None:
        """Take the lock and open the transaction; while another process writes, wait without blocking the loop."""
        deadline: float | None = None
        pause = _FIRST_BACKOFF
        while True:
            await self._lock.acquire()
            try:
                if self._closed:
                    raise StorageError(f"{what}: the store is closed")
                self._connection.execute(begin)
                return
            except sqlite3.Error as exc:
                self._lock.release()
                if not _busy(exc):
                    raise StorageError(f"{what} failed: {exc}") from exc
                deadline = deadline or time.monotonic() + self._busy_timeout
                if time.monotonic() >= deadline:
                    raise StorageError(f"{what} failed: {exc}") from exc
            except BaseException:
                self._lock.release()
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, _MAX_BACKOFF)

    def _rollback(self) -> None:
        # A no-op outside a transaction; a broken connection is reported by the original error.
        if self._connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._connection.execute("ROLLBACK")

    async def close(self) -> None:
        """Wait for the transaction in progress, then close the connection; safe to call twice."""
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._checkpointer is not None:
                    await self._checkpointer.close()
                # Closing the last connection checkpoints the log to disk: off the loop's thread.
                await asyncio.to_thread(self._connection.close)
            except sqlite3.Error as exc:
                raise StorageError(f"closing the database failed: {exc}") from exc


def _busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in _BUSY_CODES


def execute(connection: sqlite3.Connection, sql: str, params: Params | None = None) -> int:
    """Run one statement and return how many rows it changed."""
    return connection.execute(sql, params or {}).rowcount


def fetch_all(connection: sqlite3.Connection, sql: str, params: Params | None = None) -> list[sqlite3.Row]:
    """Run one statement and return every row (``RETURNING`` rows included)."""
    return connection.execute(sql, params or {}).fetchall()


def fetch_one(connection: sqlite3.Connection, sql: str, params: Params | None = None) -> sqlite3.Row | None:
    """Run one statement and return its first row, if any (a ``RETURNING`` statement runs to its end)."""
    rows = fetch_all(connection, sql, params)
    return rows[0] if rows else None


def fetch_value(connection: sqlite3.Connection, sql: str, params: Params | None = None) -> object:
    """Run one statement and return the first column of its first row (``None`` if no row)."""
    row = fetch_one(connection, sql, params)
    return None if row is None else row[0]


class Queries:
    """Base of the per-aggregate query classes, which the SQLite store combines over one database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _one(self, model: type[Model], what: str, sql: str, params: Params, *, write: bool) -> Model | None:
        """One statement in its own transaction, returning its first row as a record."""
        async with self._db.write(what) if write else self._db.single(what) as conn:
            row = fetch_one(conn, sql, params)
            return None if row is None else load(model, row)

    async def _all(self, model: type[Model], what: str, sql: str, params: Params) -> list[Model]:
        """One query, returning every row as a record."""
        async with self._db.single(what) as conn:
            return load_all(model, fetch_all(conn, sql, params))

    async def _count(self, what: str, sql: str, params: Params) -> int:
        """One ``SELECT COUNT(*)``."""
        async with self._db.single(what) as conn:
            value = fetch_value(conn, sql, params)
            return value if isinstance(value, int) else 0
