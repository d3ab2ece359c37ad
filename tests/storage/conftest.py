"""Fixtures for the storage tests: a real database file in ``tmp_path`` and a clock the test moves."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage import Session, Store, Turn, open_store

from .helpers import ManualClock


@pytest.fixture(autouse=True)
def _no_leaked_connections() -> Iterator[None]:
    """Fail a test that leaves an aiosqlite connection open (the warning filter ignores ResourceWarning)."""
    before = set(threading.enumerate())
    yield
    workers = [thread for thread in set(threading.enumerate()) - before if "_connection_worker_thread" in thread.name]
    for worker in workers:
        worker.join(timeout=2)  # a closed connection's thread ends right after close() returns
    assert [worker.name for worker in workers if worker.is_alive()] == []


@pytest.fixture(name="clock")
def _clock() -> ManualClock:
    """The clock every store in a test reads."""
    return ManualClock()


@pytest.fixture(name="db_path")
def _db_path(tmp_path: Path) -> Path:
    """A database file whose folder does not exist yet."""
    return tmp_path / "data" / "bot.db"


@pytest.fixture(name="db_url")
def _db_url(db_path: Path) -> str:
    """The ``DATABASE_URL`` of :func:`_db_path` (absolute, so four slashes)."""
    return f"sqlite:///{db_path}"


@pytest.fixture(name="store")
async def _store(db_url: str, clock: ManualClock) -> AsyncIterator[Store]:
    """An open, migrated store, closed after the test."""
    async with open_store(db_url, clock=clock) as opened:
        yield opened


@pytest.fixture(name="session")
async def _session(store: Store) -> Session:
    """An active session of one thread."""
    created, _ = await store.get_or_create_session("T1", "C1", "1700000000.000100")
    return created


@pytest.fixture(name="turn")
async def _turn(store: Store, session: Session) -> Turn:
    """A queued turn of :func:`_session`."""
    queued, _ = await store.enqueue_turn(session.id, user_id="U1", message_ts="1700000001.000200", text="plot it")
    return queued
