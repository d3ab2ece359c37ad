"""The SQLite implementation of the store: one module per aggregate, combined in ``SqliteStore``."""

from storage.sqlite.store import SqliteStore, open_sqlite

__all__ = ["SqliteStore", "open_sqlite"]
