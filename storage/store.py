"""The one way in: ``async with open_store(settings.database_url) as store``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from storage.clock import Clock, utc_now
from storage.protocol import Store
from storage.sqlite import open_sqlite
from storage.url import parse_database_url


@asynccontextmanager
async def open_store(database_url: str, *, clock: Clock = utc_now, busy_timeout: float = 5.0) -> AsyncIterator[Store]:
    """Open the database named by ``DATABASE_URL``, migrate it, and close every connection on exit.

    ``clock`` supplies every timestamp the store writes; ``busy_timeout`` is how many seconds a
    write waits for another process holding the database's write lock.
    """
    store: Store = await open_sqlite(parse_database_url(database_url), clock=clock, busy_timeout=busy_timeout)
    try:
        yield store
    finally:
        await store.close()
