"""DATABASE_URL parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import StorageError
from storage.url import parse_database_url


def test_parse_database_url_relative_path() -> None:
    """Three slashes name a path relative to the working folder."""
    target = parse_database_url("sqlite:///data/bot.db")

    assert target.path == Path("data/bot.db")
    assert target.path is not None
    assert not target.path.is_absolute()


def test_parse_database_url_absolute_path() -> None:
    """Four slashes name an absolute path."""
    target = parse_database_url("sqlite:////var/lib/bot/bot.db")

    assert target.path == Path("/var/lib/bot/bot.db")
    assert target.database == "/var/lib/bot/bot.db"


def test_parse_database_url_memory() -> None:
    """``sqlite:///:memory:`` is a private in-memory database."""
    target = parse_database_url("sqlite:///:memory:")

    assert target.in_memory
    assert target.database == ":memory:"


@pytest.mark.parametrize("url", ["postgresql://bot@db/bot", "postgres://bot@db/bot", "postgresql+asyncpg://db/bot"])
def test_parse_database_url_postgresql_not_available(url: str) -> None:
    """A PostgreSQL URL is refused with a message saying it is not available yet."""
    with pytest.raises(StorageError, match="PostgreSQL is not available yet"):
        parse_database_url(url)


@pytest.mark.parametrize("url", ["mysql://db/bot", "bot.db", ""])
def test_parse_database_url_unsupported_scheme(url: str) -> None:
    """Anything but ``sqlite:///`` is refused, naming what is expected."""
    with pytest.raises(StorageError, match=r"expected sqlite:///<path>"):
        parse_database_url(url)


def test_parse_database_url_scheme_in_any_case() -> None:
    """``SQLite:///`` is the same scheme as ``sqlite:///``."""
    assert parse_database_url("SQLite:///data/bot.db") == parse_database_url("sqlite:///data/bot.db")


@pytest.mark.parametrize("url", ["sqlite://bot.db", "sqlite:/data/bot.db", "SQLite://bot.db"])
def test_parse_database_url_sqlite_with_too_few_slashes(url: str) -> None:
    """A SQLite URL short of slashes says so, with both forms that work."""
    with pytest.raises(StorageError, match=r"three slashes.*sqlite:///data/bot\.db.*sqlite:////"):
        parse_database_url(url)


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite:///data/", "sqlite:///bot.db?mode=ro"])
def test_parse_database_url_needs_a_file(url: str) -> None:
    """A URL without a file name (or with query options) is refused."""
    with pytest.raises(StorageError, match="must name a database file"):
        parse_database_url(url)
