"""Two aiosqlite connections shared by many tasks: one writes, one reads (WAL), errors translated.

aiosqlite runs every call on its connection's thread, so each awaited call is a hop there and
back. A store operation that is one statement therefore makes exactly one hop
(:meth:`Database.statement`): SQLite runs a lone statement as its own transaction, a write one
taking the write lock when it starts (so a second process waits on ``busy_timeout``). Operations
of several statements use :meth:`Database.write` or :meth:`Database.read`, which hold the
connection's ``asyncio.Lock`` for the whole transaction (``BEGIN IMMEDIATE`` for writes); a lone
statement waits for that lock only while such a transaction is open on its connection, since it
would otherwise run inside it. A lone statement queued before the transaction's ``BEGIN`` runs
first: each connection's thread runs its calls in order.

Reads go to the second connection, so they never wait behind writes and see only committed
data. An in-memory database is private to its connection, so there the writer reads too.
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


class _Line:
    """A connection and the lock a multi-statement transaction holds on it."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.connection = connection
        self.lock = asyncio.Lock()


class Database:
    """The connections, their locks and the clock; every query goes through one of the methods below."""

    def __init__(
        self, connection: aiosqlite.Connection, clock: Clock, *, reader: aiosqlite.Connection | None = None
    ) -> None:
        self._writer = _Line(connection)
        self._reader = _Line(reader) if reader is not None else self._writer
        self._clock = clock
        self._closed = False

    def now(self) -> datetime:
        """The clock's time in UTC."""
        return require_aware(self._clock())

    async def statement(self, what: str, sql: str, params: Params, *, write: bool) -> list[sqlite3.Row]:
        """One statement as its own transaction, in one hop; every row it returns (``RETURNING`` included)."""
        line = self._writer if write else self._reader
        if line.lock.locked():  # a transaction is open on this connection: run after it, not inside it
            async with line.lock:
                return await self._run(what, line, sql, params)
        return await self._run(what, line, sql, params)

    async def _run(self, what: str, line: _Line, sql: str, params: Params) -> list[sqlite3.Row]:
        if self._closed:
            raise StorageError(f"{what}: the store is closed")
        try:
            return list(await line.connection.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise StorageError(f"{what} failed: {exc}") from exc

    def write(self, what: str) -> contextlib.AbstractAsyncContextManager[aiosqlite.Connection]:
        """A write transaction of several statements: takes the database's write lock up front."""
        return self._transaction(what, self._writer, "BEGIN IMMEDIATE")

    def read(self, what: str) -> contextlib.AbstractAsyncContextManager[aiosqlite.Connection]:
        """A read transaction of several queries: one consistent snapshot for every query inside it."""
        return self._transaction(what, self._reader, "BEGIN")

    @asynccontextmanager
    async def _transaction(self, what: str, line: _Line, begin: str) -> AsyncIterator[aiosqlite.Connection]:
        async with line.lock:
            if self._closed:
                raise StorageError(f"{what}: the store is closed")
            connection = line.connection
            try:
                await connection.execute_fetchall(begin)
                yield connection
                await connection.commit()
            except (sqlite3.Error, ValidationError) as exc:
                await _rollback(connection)
                raise StorageError(f"{what} failed: {exc}") from exc
            except BaseException:
                await _rollback(connection)
                raise

    async def close(self) -> None:
        """Wait for the transactions in progress, then close the connections; safe to call twice."""
        lines = [self._writer] if self._reader is self._writer else [self._writer, self._reader]
        async with contextlib.AsyncExitStack() as held:
            for line in lines:
                await held.enter_async_context(line.lock)
            if self._closed:
                return
            self._closed = True
            failure: sqlite3.Error | None = None
            for line in reversed(lines):
                try:
                    await line.connection.close()
                except sqlite3.Error as exc:
                    failure = failure or exc
            if failure is not None:
                raise StorageError(f"closing the database failed: {failure}") from failure


async def _rollback(connection: aiosqlite.Connection) -> None:
    # A no-op outside a transaction; a broken connection is reported by the original error.
    with contextlib.suppress(sqlite3.Error):
        await connection.rollback()


async def execute(connection: aiosqlite.Connection, sql: str, params: Params | None = None) -> int:
    """Run one statement inside a transaction and return how many rows it changed."""
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
        """One statement on its own, returning its first row as a record."""
        rows = await self._db.statement(what, sql, params, write=write)
        return None if not rows else _load(what, model, rows[0])

    async def _all(self, model: type[Model], what: str, sql: str, params: Params) -> list[Model]:
        """One query on its own, returning every row as a record."""
        rows = await self._db.statement(what, sql, params, write=False)
        try:
            return load_all(model, rows)
        except ValidationError as exc:
            raise StorageError(f"{what} failed: {exc}") from exc

    async def _count(self, what: str, sql: str, params: Params) -> int:
        """One ``SELECT COUNT(*)`` on its own."""
        rows = await self._db.statement(what, sql, params, write=False)
        value = rows[0][0] if rows else None
        return value if isinstance(value, int) else 0


def _load(what: str, model: type[Model], row: sqlite3.Row) -> Model:
    try:
        return load(model, row)
    except ValidationError as exc:
        raise StorageError(f"{what} failed: {exc}") from exc
