"""One aiosqlite connection shared by many tasks, with whole transactions and errors translated.

SQLite admits one writer at a time anyway, so a single connection guarded by an ``asyncio.Lock``
costs little: each operation holds the lock for one short transaction (``BEGIN IMMEDIATE`` for
writes, so a second process waits on ``busy_timeout`` instead of failing mid-transaction).
Reads take the lock too, since on a shared connection they would otherwise see another task's
uncommitted writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime

import aiosqlite
from pydantic import ValidationError

from bot.errors import StorageError
from storage.clock import Clock, require_aware
from storage.sqlite.codec import Model, load, load_all

Params = Mapping[str, object]


class Database:
    """The connection, its lock and the clock; every query runs inside :meth:`write` or :meth:`read`."""

    def __init__(self, connection: aiosqlite.Connection, clock: Clock) -> None:
        self._connection = connection
        self._clock = clock
        self._lock = asyncio.Lock()
        self._closed = False

    def now(self) -> datetime:
        """The clock's time in UTC."""
        return require_aware(self._clock())

    def write(self, what: str) -> contextlib.AbstractAsyncContextManager[aiosqlite.Connection]:
        """A write transaction: takes the database's write lock up front."""
        return self._transaction(what, "BEGIN IMMEDIATE")

    def read(self, what: str) -> contextlib.AbstractAsyncContextManager[aiosqlite.Connection]:
        """A read transaction: one consistent snapshot for every query inside it."""
        return self._transaction(what, "BEGIN")

    @asynccontextmanager
    async def _transaction(self, what: str, begin: str) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            if self._closed:
                raise StorageError(f"{what}: the store is closed")
            try:
                await execute(self._connection, begin)
                yield self._connection
                await self._connection.commit()
            except (sqlite3.Error, ValidationError) as exc:
                await self._rollback()
                raise StorageError(f"{what} failed: {exc}") from exc
            except BaseException:
                await self._rollback()
                raise

    async def _rollback(self) -> None:
        # A no-op outside a transaction; a broken connection is reported by the original error.
        with contextlib.suppress(sqlite3.Error):
            await self._connection.rollback()

    async def close(self) -> None:
        """Wait for the transaction in progress, then close the connection; safe to call twice."""
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                await self._connection.close()
            except sqlite3.Error as exc:
                raise StorageError(f"closing the database failed: {exc}") from exc


async def execute(connection: aiosqlite.Connection, sql: str, params: Params | None = None) -> int:
    """Run one statement and return how many rows it changed."""
    async with connection.execute(sql, params or {}) as cursor:
        return cursor.rowcount


async def fetch_all(connection: aiosqlite.Connection, sql: str, params: Params | None = None) -> list[sqlite3.Row]:
    """Run one statement and return every row (``RETURNING`` rows included)."""
    return list(await connection.execute_fetchall(sql, params or {}))


async def fetch_one(connection: aiosqlite.Connection, sql: str, params: Params | None = None) -> sqlite3.Row | None:
    """Run one statement and return its first row, if any."""
    rows = await fetch_all(connection, sql, params)
    return rows[0] if rows else None


async def fetch_value(connection: aiosqlite.Connection, sql: str, params: Params | None = None) -> object:
    """Run one statement and return the first column of its first row (``None`` if no row)."""
    row = await fetch_one(connection, sql, params)
    return None if row is None else row[0]


class Queries:
    """Base of the per-aggregate query classes, which the SQLite store combines over one database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _one(self, model: type[Model], what: str, sql: str, params: Params, *, write: bool) -> Model | None:
        """One statement in its own transaction, returning its first row as a record."""
        async with self._db.write(what) if write else self._db.read(what) as conn:
            row = await fetch_one(conn, sql, params)
            return None if row is None else load(model, row)

    async def _all(self, model: type[Model], what: str, sql: str, params: Params) -> list[Model]:
        """One query in its own read transaction, returning every row as a record."""
        async with self._db.read(what) as conn:
            return load_all(model, await fetch_all(conn, sql, params))

    async def _count(self, what: str, sql: str, params: Params) -> int:
        """One ``SELECT COUNT(*)`` in its own read transaction."""
        async with self._db.read(what) as conn:
            value = await fetch_value(conn, sql, params)
            return value if isinstance(value, int) else 0
