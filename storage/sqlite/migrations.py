"""Versioned schema changes applied at start-up, one transaction each, so a crash never leaves half a step.

The ``schema_migrations`` table records every version applied. Re-running is a no-op, two
processes starting together apply each step once (the version is re-checked under the write
lock), and a database written by newer code is refused rather than misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import NamedTuple

import aiosqlite

from bot.errors import StorageError
from storage.sqlite.database import execute, fetch_value


class Migration(NamedTuple):
    """One schema step: its version (1, 2, 3 …) and the SQL script that takes the schema there."""

    version: int
    sql: str


_CREATE_VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
)
"""


def split_statements(script: str) -> list[str]:
    """Cut a script into complete statements (semicolons inside strings or triggers stay put).

    ``executescript`` would do this, but it commits first, which would break the one
    transaction per migration.
    """
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\r\n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \t\r\n;"):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending.strip()[:80]!r}")
    return statements


def check_order(migrations: Sequence[Migration]) -> None:
    """Versions must run 1, 2, 3 … with no gap or repeat; anything else is a programming error."""
    versions = [migration.version for migration in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1..n in order, got {versions}")


async def current_version(connection: aiosqlite.Connection) -> int:
    """The highest version applied (0 for a new database)."""
    value = await fetch_value(connection, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
    return int(value) if isinstance(value, int) else 0


async def migrate(connection: aiosqlite.Connection, migrations: Sequence[Migration]) -> int:
    """Bring the schema up to the last migration and return that version.

    The connection must be in autocommit mode (``isolation_level=None``); each step runs in
    its own ``BEGIN IMMEDIATE`` transaction.
    """
    check_order(migrations)
    try:
        await execute(connection, _CREATE_VERSIONS)
        for migration in migrations:
            await _apply(connection, migration, latest=len(migrations))
        return await _refuse_newer(connection, latest=len(migrations))
    except sqlite3.Error as exc:
        raise StorageError(f"migrating the database schema failed: {exc}") from exc


async def _apply(connection: aiosqlite.Connection, migration: Migration, *, latest: int) -> None:
    await execute(connection, "BEGIN IMMEDIATE")
    try:
        applied = await _refuse_newer(connection, latest=latest)
        if migration.version > applied:
            for statement in split_statements(migration.sql):
                await execute(connection, statement)
            await execute(
                connection, "INSERT INTO schema_migrations (version) VALUES (:version)", {"version": migration.version}
            )
        await connection.commit()
    except BaseException:
        await connection.rollback()
        raise


async def _refuse_newer(connection: aiosqlite.Connection, *, latest: int) -> int:
    version = await current_version(connection)
    if version > latest:
        raise StorageError(
            f"the database schema is version {version} but this code knows only up to {latest}; "
            "it was written by a newer release, so upgrade the bot or point DATABASE_URL elsewhere"
        )
    return version
