"""Versioned schema changes applied at start-up, one transaction each, so a crash never leaves half a step.

The ``schema_migrations`` table records every version applied. Re-running is a no-op, two
processes starting together apply each step once (the version is re-checked under the write
lock), and a database written by newer code is refused rather than misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import NamedTuple

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


def current_version(connection: sqlite3.Connection) -> int:
    """The highest version applied (0 for a new database)."""
    value = fetch_value(connection, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
    return int(value) if isinstance(value, int) else 0


def migrate(connection: sqlite3.Connection, migrations: Sequence[Migration]) -> int:
    """Bring the schema up to the last migration and return that version.

    The connection must be in autocommit mode (``isolation_level=None``); each step runs in
    its own ``BEGIN IMMEDIATE`` transaction.
    """
    check_order(migrations)
    try:
        execute(connection, _CREATE_VERSIONS)
        for migration in migrations:
            _apply(connection, migration, latest=len(migrations))
        return _refuse_newer(connection, latest=len(migrations))
    except sqlite3.Error as exc:
        raise StorageError(f"migrating the database schema failed: {exc}") from exc


def _apply(connection: sqlite3.Connection, migration: Migration, *, latest: int) -> None:
    execute(connection, "BEGIN IMMEDIATE")
    try:
        applied = _refuse_newer(connection, latest=latest)
        if migration.version > applied:
            for statement in split_statements(migration.sql):
                execute(connection, statement)
            execute(
                connection, "INSERT INTO schema_migrations (version) VALUES (:version)", {"version": migration.version}
            )
        execute(connection, "COMMIT")
    except BaseException:
        if connection.in_transaction:
            execute(connection, "ROLLBACK")
        raise


def _refuse_newer(connection: sqlite3.Connection, *, latest: int) -> int:
    version = current_version(connection)
    if version > latest:
        raise StorageError(
            f"the database schema is version {version} but this code knows only up to {latest}; "
            "it was written by a newer release, so upgrade the bot or point DATABASE_URL elsewhere"
        )
    return version
