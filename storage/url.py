"""``DATABASE_URL`` parsing, kept apart so a bad URL fails before any connection is attempted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.errors import StorageError

_SQLITE_PREFIX = "sqlite:///"
_POSTGRES_PREFIXES = ("postgresql://", "postgres://", "postgresql+")
_MEMORY = ":memory:"


@dataclass(frozen=True)
class SqliteTarget:
    """Where a SQLite database lives: a file path, or ``None`` for a private in-memory database."""

    path: Path | None

    @property
    def in_memory(self) -> bool:
        """True for ``sqlite:///:memory:``, which lasts only as long as its connection."""
        return self.path is None

    @property
    def database(self) -> str:
        """The name sqlite3 expects: a filesystem path or ``:memory:``."""
        return _MEMORY if self.path is None else str(self.path)


def parse_database_url(url: str) -> SqliteTarget:
    """Read ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``sqlite:///:memory:``."""
    if url.startswith(_POSTGRES_PREFIXES):
        raise StorageError("PostgreSQL is not available yet; set DATABASE_URL to sqlite:///<path> for now.")
    if url[: len(_SQLITE_PREFIX)].lower() == _SQLITE_PREFIX:  # a scheme's case does not matter
        url = _SQLITE_PREFIX + url[len(_SQLITE_PREFIX) :]
    if not url.startswith(_SQLITE_PREFIX):
        scheme = url.partition(":")[0] or "(none)"
        if scheme.lower() == "sqlite":
            raise StorageError(
                "DATABASE_URL needs three slashes after sqlite: (sqlite:///data/bot.db for a path "
                "relative to the working folder, four for an absolute one: sqlite:////var/lib/bot/bot.db)."
            )
        raise StorageError(f"DATABASE_URL has an unsupported scheme {scheme!r}; expected sqlite:///<path>.")
    rest = url.removeprefix(_SQLITE_PREFIX)
    if rest == _MEMORY:
        return SqliteTarget(path=None)
    if not rest or rest.endswith("/") or "?" in rest:
        raise StorageError("DATABASE_URL must name a database file, as in sqlite:///data/bot.db.")
    # One slash after the prefix is relative (to the working folder); two make it absolute.
    return SqliteTarget(path=Path(rest))
