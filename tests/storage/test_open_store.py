"""Opening and closing the store: the file, the pragmas, error translation, and the clock."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest

from bot.errors import StorageError
from storage import NewFile, Store, open_store


async def test_open_store_creates_parent_folder(tmp_path: Path) -> None:
    """A missing parent folder of the database file is created."""
    path = tmp_path / "a" / "b" / "bot.db"

    async with open_store(f"sqlite:///{path}") as store:
        await store.claim_event("Ev1")

    assert path.is_file()


async def test_open_store_relative_path_under_working_folder(tmp_path: Path) -> None:
    """A relative URL names a file under the working folder (each test runs in its own)."""
    async with open_store("sqlite:///state/bot.db") as store:
        await store.claim_event("Ev1")

    assert (tmp_path / "state" / "bot.db").is_file()


async def test_open_store_uses_wal_journal(store: Store, db_path: Path) -> None:
    """The database file is in WAL mode, so another process can read while one writes."""
    with closing(sqlite3.connect(db_path)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_open_store_in_memory() -> None:
    """``sqlite:///:memory:`` opens a working, migrated database."""
    async with open_store("sqlite:///:memory:") as store:
        assert await store.claim_event("Ev1")
        assert not await store.claim_event("Ev1")


async def test_open_store_postgresql_refused() -> None:
    """A PostgreSQL URL fails with a StorageError before anything is opened."""
    with pytest.raises(StorageError, match="PostgreSQL is not available yet"):
        async with open_store("postgresql://bot@localhost/bot"):
            pass


async def test_open_store_unopenable_path_is_storage_error(tmp_path: Path) -> None:
    """A path that is a folder becomes a StorageError, not a sqlite3 error."""
    (tmp_path / "bot.db").mkdir()

    with pytest.raises(StorageError):
        async with open_store(f"sqlite:///{tmp_path / 'bot.db'}"):
            pass


async def test_open_store_not_a_database_is_storage_error(tmp_path: Path) -> None:
    """A file that is not a SQLite database is refused with a StorageError, and nothing is left open."""
    path = tmp_path / "bot.db"
    path.write_bytes(b"this is not a database" * 100)

    with pytest.raises(StorageError, match="not a database"):
        async with open_store(f"sqlite:///{path}"):
            pass


async def test_open_store_foreign_keys_enforced(store: Store) -> None:
    """Foreign keys are on: a file for a session that does not exist is refused as a StorageError."""
    orphan = NewFile(session_id=999, slack_file_id="F1", name="a.csv", size=1, sha256="0" * 64, mimetype="text/csv")

    with pytest.raises(StorageError, match="FOREIGN KEY"):
        await store.add_file(orphan)


async def test_open_store_usable_after_failed_transaction(store: Store) -> None:
    """A failed statement is rolled back and the next operation works."""
    with pytest.raises(StorageError):
        await store.add_code(999, "ci_1", "print(1)")

    assert await store.claim_event("Ev1")


async def test_store_close_is_idempotent_and_final(db_url: str) -> None:
    """After close, a second close is a no-op and every operation raises StorageError."""
    async with open_store(db_url) as store:
        await store.close()
        await store.close()

        with pytest.raises(StorageError, match="closed"):
            await store.claim_event("Ev1")


async def test_store_naive_clock_refused(db_url: str) -> None:
    """A clock that returns naive datetimes is a programming error, reported as ValueError."""
    async with open_store(db_url, clock=datetime.now) as store:
        with pytest.raises(ValueError, match="aware"):
            await store.claim_event("Ev1")
