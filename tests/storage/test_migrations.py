"""Schema migrations: from empty, re-run, from the future, and the runner's guarantees."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import aiosqlite
import pytest

from bot.errors import StorageError
from storage import open_store
from storage.sqlite.migrations import Migration, check_order, current_version, migrate, split_statements
from storage.sqlite.schema import MIGRATIONS

TABLES = frozenset(
    {
        "cleanup_items",
        "cleanup_jobs",
        "files",
        "outputs",
        "processed_events",
        "schema_migrations",
        "sessions",
        "spare_conversations",
        "turn_code",
        "turns",
        "usage",
    }
)


def _tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as raw:
        rows = raw.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        return {name for (name,) in rows}


def _versions(path: Path) -> list[int]:
    with closing(sqlite3.connect(path)) as raw:
        return [version for (version,) in raw.execute("SELECT version FROM schema_migrations ORDER BY version")]


@pytest.fixture
async def raw(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    async with aiosqlite.connect(tmp_path / "raw.db", isolation_level=None) as connection:
        yield connection


async def test_migrate_from_empty_creates_schema(db_url: str, db_path: Path) -> None:
    """A new database gets every table and records every migration version."""
    async with open_store(db_url):
        pass

    assert _tables(db_path) == TABLES
    assert _versions(db_path) == [migration.version for migration in MIGRATIONS]


async def test_migrate_rerun_is_noop(db_url: str, db_path: Path) -> None:
    """Opening a migrated database again changes nothing and keeps the data."""
    async with open_store(db_url) as store:
        await store.claim_event("Ev1")
    with closing(sqlite3.connect(db_path)) as raw:
        schema = raw.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()

    async with open_store(db_url) as store:
        assert not await store.claim_event("Ev1")

    with closing(sqlite3.connect(db_path)) as raw:
        assert raw.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema
    assert _versions(db_path) == [migration.version for migration in MIGRATIONS]


async def test_migrate_database_from_future_refused(db_url: str, db_path: Path) -> None:
    """A database written by newer code is refused with a clear StorageError."""
    async with open_store(db_url):
        pass
    with closing(sqlite3.connect(db_path)) as raw, raw:
        raw.execute("INSERT INTO schema_migrations (version) VALUES (?)", (len(MIGRATIONS) + 1,))

    with pytest.raises(StorageError, match="newer release"):
        async with open_store(db_url):
            pass


async def test_migrate_applies_pending_steps_in_order(raw: aiosqlite.Connection) -> None:
    """Only steps newer than the database run, each once, in order."""
    first = [Migration(1, "CREATE TABLE a (x INTEGER)")]
    both = [*first, Migration(2, "CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (2);")]

    assert await migrate(raw, first) == 1
    assert await migrate(raw, both) == 2
    assert await migrate(raw, both) == 2

    assert list(await raw.execute_fetchall("SELECT x FROM a")) == [(2,)]


async def test_migrate_failed_step_rolls_back_whole_step(raw: aiosqlite.Connection) -> None:
    """A step that fails half-way leaves neither its tables nor its version behind."""
    broken = [Migration(1, "CREATE TABLE a (x INTEGER); CREATE TABLE a (x INTEGER);")]

    with pytest.raises(StorageError, match="already exists"):
        await migrate(raw, broken)

    assert await current_version(raw) == 0
    assert list(await raw.execute_fetchall("SELECT name FROM sqlite_master WHERE name = 'a'")) == []


def test_check_order_refuses_gaps_and_repeats() -> None:
    """Migration versions must be exactly 1..n in order."""
    with pytest.raises(ValueError, match=r"1\.\.n"):
        check_order([Migration(1, ""), Migration(3, "")])
    with pytest.raises(ValueError, match=r"1\.\.n"):
        check_order([Migration(1, ""), Migration(1, "")])


def test_schema_migrations_are_ordered() -> None:
    """The shipped migrations are numbered 1..n."""
    check_order(MIGRATIONS)


def test_split_statements_keeps_semicolons_in_strings_and_triggers() -> None:
    """Semicolons inside string literals and trigger bodies do not split a statement."""
    script = """
        INSERT INTO t VALUES ('a;b');
        CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET v = 1; DELETE FROM u; END;
        -- a comment; with a semicolon
        SELECT 1
    """

    statements = split_statements(script)

    assert len(statements) == 3
    assert "'a;b'" in statements[0]
    assert statements[1].endswith("END;")
    assert "SELECT 1" in statements[2]


def test_split_statements_refuses_incomplete_tail() -> None:
    """An unterminated statement at the end of a migration is a programming error."""
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("SELECT 'unterminated")
