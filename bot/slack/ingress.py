"""Deliveries the bot never acts on, recognised before bolt spends any work on them.

Every answer the bot posts comes back as a ``message`` event, and every status update as a
``message_changed``: several per turn, each of which bolt would verify, parse, authorize and run
through its middleware only for the listener to drop it (bot messages, edits and hidden subtypes
are never turns, see :mod:`bot.slack.inbound`). They are acknowledged at the door instead, once
their signature has been checked (HTTP mode, :mod:`bot.server`). ``message_deleted`` is kept: a
deleted root ends its thread's session.
"""

from __future__ import annotations

import json
from typing import Any

#: Message subtypes the bot acts on (people's messages) or needs (a deleted root).
_KEPT_SUBTYPES = frozenset({"file_share", "thread_broadcast", "message_deleted"})


def ignorable(payload: dict[str, Any]) -> bool:
    """True for an ``event_callback`` whose event is a bot's message or an edit or other hidden change."""
    if payload.get("type") != "event_callback":
        return False
    event = payload.get("event")
    if not isinstance(event, dict) or event.get("type") != "message":
        return False
    subtype = event.get("subtype")
    if subtype in _KEPT_SUBTYPES:
        return False
    return bool(event.get("bot_id") or event.get("hidden") or subtype is not None)


def ignorable_body(body: str) -> bool:
    """:func:`ignorable` for a raw HTTP body (only JSON bodies carry events)."""
    if not body.startswith("{"):
        return False
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    return isinstance(payload, dict) and ignorable(payload)
