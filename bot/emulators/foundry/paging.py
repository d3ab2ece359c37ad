"""Cursor pagination shared by every list route (``limit``, ``order``, ``after``, ``before``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from multidict import MultiMapping

from bot.emulators.foundry.errors import bad_request
from bot.emulators.foundry.state import Json

T = TypeVar("T")


def _limit(query: MultiMapping[str], default: int) -> int:
    raw = query.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request("limit must be an integer.", param="limit", code="invalid_request_error") from None
    if not 1 <= limit <= 100:
        raise bad_request("limit must be between 1 and 100.", param="limit", code="invalid_request_error")
    return limit


def _position(ids: list[str], cursor: str, param: str) -> int:
    try:
        return ids.index(cursor)
    except ValueError:
        message = f"No item with id '{cursor}' to page from."
        raise bad_request(message, param=param, code="invalid_request_error") from None


def page(
    items: Sequence[T],
    query: MultiMapping[str],
    *,
    key: Callable[[T], str],
    render: Callable[[T], Json],
    default_order: str = "desc",
    default_limit: int = 20,
) -> Json:
    """One page of ``items`` (given oldest first) as ``{object, data, first_id, last_id, has_more}``."""
    order = query.get("order", default_order)
    if order not in ("asc", "desc"):
        raise bad_request("order must be 'asc' or 'desc'.", param="order", code="invalid_request_error")
    ordered = list(items) if order == "asc" else list(reversed(items))
    ids = [key(item) for item in ordered]
    start, end = 0, len(ordered)
    if "after" in query:
        start = _position(ids, query["after"], "after") + 1
    if "before" in query:
        end = _position(ids, query["before"], "before")
    window = ordered[start:end]
    limit = _limit(query, default_limit)
    # Paging backwards returns the items just before the cursor.
    chosen = window[-limit:] if "before" in query and "after" not in query else window[:limit]
    data = [render(item) for item in chosen]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(window) > limit,
    }
