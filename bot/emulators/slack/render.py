"""A thread as readable text, for assertion messages, demo output and debugging.

One line per message, roughly what a person would read in the Slack client: who wrote it,
what it says (blocks flattened to text), the files it carries, buttons, reactions and edits.
"""

from __future__ import annotations

import re
from typing import Any

from .filestore import FileStore
from .models import Message
from .workspace import TOMBSTONE_TEXT, Workspace

_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KB", "MB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} GB"


def _text_of(element: Any) -> str:
    if isinstance(element, str):
        return element
    if not isinstance(element, dict):
        return ""
    if isinstance(element.get("text"), str):
        return str(element["text"])
    if isinstance(element.get("text"), dict):
        return _text_of(element["text"])
    if element.get("type") == "user":
        return f"<@{element.get('user_id')}>"
    return "".join(_text_of(e) for e in element.get("elements", []) if isinstance(e, dict))


def block_text(blocks: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """(text shown by the blocks, labels of their buttons)."""
    parts: list[str] = []
    buttons: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "actions":
            buttons += [_text_of(e.get("text")) for e in block.get("elements", []) if isinstance(e, dict)]
            continue
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "button":
            buttons.append(_text_of(accessory.get("text")))
        if kind == "context":
            parts.append(" ".join(_text_of(e) for e in block.get("elements", [])))
        elif kind == "section" and block.get("fields"):
            parts.append(" | ".join(_text_of(f) for f in block["fields"]))
        elif kind != "divider":
            parts.append(_text_of(block))
    return "\n".join(p for p in parts if p), buttons


def render_message(message: Message, workspace: Workspace, files: FileStore) -> str:
    """One message as a line of text."""
    author = workspace.users.get(message.user or "")
    who = author.display if author else (message.user or "?")
    if author is not None and author.is_bot:
        who += " [bot]"
    if message.deleted:
        return f"{message.ts} {TOMBSTONE_TEXT}"
    text = message.text
    buttons: list[str] = []
    if message.blocks:
        shown, buttons = block_text(message.blocks)
        text = text if text and not shown else shown or text
    text = _MENTION.sub(lambda m: "@" + (workspace.users[m[1]].name if m[1] in workspace.users else m[1]), text)
    line = f"{message.ts} {'  ↳ ' if message.is_reply else ''}{who}: {text}"
    if message.ephemeral_to is not None:
        viewer = workspace.users.get(message.ephemeral_to)
        line = f"{line} (only visible to {viewer.name if viewer else message.ephemeral_to})"
    for file_id in message.files:
        stored = files.get(file_id)
        if stored is not None:
            line += f" [file {stored.name} {stored.mimetype or '?'} {_size(stored.size)}]"
    line += "".join(f" [button {label}]" for label in buttons)
    line += "".join(f" :{name}: x{len(users)}" for name, users in message.reactions.items())
    return line + (" (edited)" if message.edited else "")


def render_lines(messages: list[Message], workspace: Workspace, files: FileStore) -> list[str]:
    """Several messages, one line each, multi-line texts indented under their first line."""
    lines: list[str] = []
    for message in messages:
        first, *rest = render_message(message, workspace, files).split("\n")
        lines.append(first)
        lines += ["      " + line for line in rest]
    return lines
