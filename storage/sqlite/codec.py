"""How values cross into SQLite: timestamps as fixed-width UTC ISO text, which sorts as it reads."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel

from storage.clock import require_aware

Model = TypeVar("Model", bound=BaseModel)


def timestamp(moment: datetime) -> str:
    """``2025-03-01T12:00:00.000000+00:00``: always microseconds and UTC, so text order is time order."""
    return require_aware(moment).isoformat(timespec="microseconds")


def optional_timestamp(moment: datetime | None) -> str | None:
    """:func:`timestamp`, letting ``None`` through."""
    return None if moment is None else timestamp(moment)


def json_list(values: Collection[str | int] | None) -> str | None:
    """A JSON array for ``IN (SELECT value FROM json_each(:x))``; ``None`` means "no filter"."""
    return None if values is None else json.dumps(sorted(values))


def load(model: type[Model], row: sqlite3.Row) -> Model:
    """A record from a row whose column names are the record's field names."""
    return model.model_validate(dict(row))


def load_all(model: type[Model], rows: Iterable[sqlite3.Row]) -> list[Model]:
    """:func:`load` for many rows."""
    return [load(model, row) for row in rows]
