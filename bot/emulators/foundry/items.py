"""Conversation items: turning request ``input`` into stored items, and reading their text."""

from __future__ import annotations

from typing import Any

from bot.emulators.foundry.errors import bad_request
from bot.emulators.foundry.ids import new_id
from bot.emulators.foundry.state import Json

ROLES = ("user", "assistant", "system", "developer")
MAX_ITEMS_PER_CALL = 20


def _content(role: str, content: Any, param: str) -> list[Json]:
    kind = "output_text" if role == "assistant" else "input_text"
    if isinstance(content, str):
        part: Json = {"type": kind, "text": content}
        if kind == "output_text":
            part["annotations"] = []
        return [part]
    typed = isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in content)
    if not typed:
        raise bad_request("content must be a string or an array of typed parts.", param=param)
    return [dict(p) for p in content]


def to_item(raw: Any, param: str) -> Json:
    """One stored item (with an id) from an input item; messages get their content normalised."""
    if not isinstance(raw, dict):
        raise bad_request("Each input item must be an object.", param=param)
    kind = raw.get("type", "message" if "role" in raw else None)
    if kind != "message":
        if not isinstance(kind, str):
            raise bad_request("Each input item needs a 'type'.", param=param)
        return {**raw, "id": raw.get("id") or new_id("item_")}
    role = raw.get("role")
    if role not in ROLES:
        raise bad_request(f"role must be one of {', '.join(ROLES)}.", param=f"{param}.role")
    return {
        "type": "message",
        "id": raw.get("id") or new_id("msg_"),
        "role": role,
        "status": "completed",
        "content": _content(role, raw.get("content"), f"{param}.content"),
    }


def input_items(value: Any, param: str = "input") -> list[Json]:
    """Items for a request's ``input``: a string becomes one user message."""
    if value is None:
        return []
    if isinstance(value, str):
        return [to_item({"type": "message", "role": "user", "content": value}, param)]
    if not isinstance(value, list):
        raise bad_request("input must be a string or an array of items.", param=param)
    return [to_item(raw, f"{param}[{index}]") for index, raw in enumerate(value)]


def text_of(items: list[Json], role: str = "user") -> str:
    """The text of every ``role`` message in ``items``, joined by blank lines."""
    texts = [
        part["text"]
        for item in items
        if item.get("type") == "message" and item.get("role") == role
        for part in item["content"]
        if isinstance(part.get("text"), str)
    ]
    return "\n\n".join(texts)
