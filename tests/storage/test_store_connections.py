"""The SQLite store's two connections: lone statements, transactions, and reads beside writes."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import StorageError
from storage import Session, Store, open_store
from storage.sqlite.database import Database, fetch_all
from storage.sqlite.store import SqliteStore


def database(store: Store) -> Database:
    assert isinstance(store, SqliteStore)
    return store._db


class Abort(Exception):
    """Raised inside a transaction to roll it back."""


async def test_read_beside_an_open_write_sees_the_last_commit(store: Store, session: Session) -> None:
    """A read while a write transaction is open returns at once, with the committed rows only."""
    db = database(store)
    async with db.write("test") as conn:
        await fetch_all(conn, "UPDATE sessions SET conversation_id = 'conv-new' WHERE id = :id", {"id": session.id})
        during = await asyncio.wait_for(store.get_session(session.id), 5)

    after = await store.get_session(session.id)
    assert during is not None
    assert during.conversation_id is None
    assert after is not None
    assert after.conversation_id == "conv-new"


async def test_lone_write_waits_for_an_open_transaction_and_survives_its_rollback(
    store: Store, session: Session
) -> None:
    """A lone statement issued while a transaction is open runs after it, never inside it."""
    db = database(store)
    started: list[asyncio.Task[bool]] = []

    async def update_then_abort() -> None:
        async with db.write("test") as conn:
            sql = "UPDATE sessions SET conversation_id = 'rolled-back' WHERE id = :id"
            await fetch_all(conn, sql, {"id": session.id})
            started.append(asyncio.create_task(store.claim_event("Ev1")))
            await asyncio.sleep(0.05)
            assert not started[0].done()
            raise Abort

    with pytest.raises(Abort):
        await update_then_abort()

    claim = started[0]
    assert await claim is True
    assert not await store.claim_event("Ev1")  # the claim was committed on its own
    fetched = await store.get_session(session.id)
    assert fetched is not None
    assert fetched.conversation_id is None


async def test_in_memory_reads_wait_for_an_open_write() -> None:
    """In memory there is one connection: a read issued during a transaction sees its commit, not its middle."""
    async with open_store("sqlite:///:memory:") as store:
        session, _ = await store.get_or_create_session("T1", "C1", "1.0")
        db = database(store)
        async with db.write("test") as conn:
            await fetch_all(conn, "UPDATE sessions SET conversation_id = 'conv-1' WHERE id = :id", {"id": session.id})
            read = asyncio.create_task(store.get_session(session.id))
            await asyncio.sleep(0.05)
            assert not read.done()

        fetched = await read
        assert fetched is not None
        assert fetched.conversation_id == "conv-1"


async def test_many_lone_statements_at_once_keep_their_results(store: Store) -> None:
    """Statements queued together (writes and reads on both connections) each get their own rows."""
    created = await asyncio.gather(*(store.get_or_create_session("T1", "C1", f"{n}.0") for n in range(100)))
    fetched = await asyncio.gather(*(store.get_session(session.id) for session, _ in created))

    assert all(fresh for _, fresh in created)
    assert [s.root_ts for s in fetched if s is not None] == [f"{n}.0" for n in range(100)]


async def test_closed_store_refuses_lone_statements(db_url: str) -> None:
    """After close, reads and writes fail with a StorageError rather than reaching a closed connection."""
    async with open_store(db_url) as store:
        await store.close()

        with pytest.raises(StorageError, match="closed"):
            await store.claim_event("Ev1")
        with pytest.raises(StorageError, match="closed"):
            await store.get_session(1)
