"""The SQLite store implements the ``Store`` Protocol, names and signatures alike."""

from __future__ import annotations

import inspect

import pytest

from storage import (
    CleanupStore,
    EventStore,
    FileStore,
    GaugeStore,
    OutputStore,
    SessionStore,
    SpareStore,
    Store,
    TurnStore,
    UsageStore,
)
from storage.sqlite import SqliteStore

PARTS = (
    EventStore,
    SessionStore,
    SpareStore,
    TurnStore,
    FileStore,
    OutputStore,
    CleanupStore,
    UsageStore,
    GaugeStore,
    Store,
)


def _operations(protocol: type) -> list[str]:
    return [name for name, value in vars(protocol).items() if inspect.iscoroutinefunction(value)]


async def test_store_protocol_satisfied(store: Store) -> None:
    """The opened store is a ``Store`` at run time (mypy checks the same in ``open_store``)."""
    typed: Store = store

    assert isinstance(typed, Store)
    assert isinstance(typed, SqliteStore)


@pytest.mark.parametrize("protocol", PARTS, ids=lambda protocol: protocol.__name__)
def test_store_protocol_signatures_match(protocol: type) -> None:
    """Every operation of the Protocol exists on the SQLite store with the same signature."""
    for name in _operations(protocol):
        assert inspect.signature(getattr(protocol, name)) == inspect.signature(getattr(SqliteStore, name)), name


def test_store_protocol_has_no_extra_public_methods() -> None:
    """The SQLite store offers nothing public beyond the Protocol, so callers cannot come to depend on it."""
    protocol_names = {name for part in PARTS for name in _operations(part)}
    public = {name for name in dir(SqliteStore) if not name.startswith("_")}

    assert protocol_names == public
