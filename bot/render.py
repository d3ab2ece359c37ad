"""Answer text for Slack: no raw sandbox links, no mention that notifies, split to fit Slack's limits.

Answers go out as ``markdown_text`` (Slack renders standard Markdown itself, up to 12,000
characters per message). Links to ``sandbox:/mnt/data/...`` mean nothing outside the sandbox,
so they become the file's name; the files themselves are posted below the answer. The model's
text can carry what a file put in front of it, so Slack's broadcast tokens (``<!channel>``,
``<!here>``, ``<!everyone>``, a user group's ``<!subteam^…>``) and people's mentions
(``<@U…>``, ``<@W…>``) are shown as written but never notify anyone: a zero-width space after
the ``<`` keeps Slack from reading them as mentions. That holds inside code blocks too, so text
copied from one carries the invisible character.
"""

from __future__ import annotations

import re

#: Slack's ``markdown_text`` limit per message, with room for a fence we may have to add.
MAX_MESSAGE_CHARS = 11_900

_SANDBOX_LINK = re.compile(r"!?\[([^\]]*)\]\(\s*sandbox:(/mnt/data/[^)\s]*)\s*\)")
_BARE_SANDBOX = re.compile(r"sandbox:(/mnt/data/[^\s)\]>'\"`]*[^\s)\]>'\"`.,;:!?])")
_FENCE = re.compile(r"^\s*(```|~~~)")
_BROADCAST = re.compile(r"<(?=!(?:(?:channel|here|everyone|group)(?:\|[^>]*)?|subteam\^[^>]*)>)", re.IGNORECASE)
#: A person's mention (``<@U…>``, ``<@W…>`` in Enterprise Grid), with or without a label.
_PERSON = re.compile(r"<(?=@[UW][A-Z0-9]+(?:\|[^>]*)?>)", re.IGNORECASE)
#: Placed right after the ``<``: invisible, and the token no longer parses as a mention.
ZERO_WIDTH_SPACE = "\u200b"


def defuse_broadcasts(text: str) -> str:
    """Broadcast mentions in the text, kept visible but made inert."""
    return _BROADCAST.sub("<" + ZERO_WIDTH_SPACE, text)


def defuse_mentions(text: str) -> str:
    """Broadcast mentions and people's mentions in the text, kept visible but made inert: the
    model's words (which a file it read can steer) ping no one."""
    return _PERSON.sub("<" + ZERO_WIDTH_SPACE, defuse_broadcasts(text))


def strip_sandbox_links(text: str) -> str:
    """Replace every sandbox link by the file's name in bold, so nothing raw reaches Slack."""

    def linked(match: re.Match[str]) -> str:
        name = _basename(match[2])
        label = match[1].strip()
        return f"*{name}*" if not label or label == name else f"{label} (*{name}*)"

    text = _SANDBOX_LINK.sub(linked, text)
    return _BARE_SANDBOX.sub(lambda m: f"*{_basename(m[1])}*", text)


def split_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split at paragraph, then line, then hard boundaries; a code block cut in two is re-fenced."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for line in _pieces(text, limit):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit and current:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return _refence(parts)


def for_slack(text: str) -> list[str]:
    """The answer as one or more Slack messages, with no link to the sandbox and no mention that notifies."""
    return split_message(defuse_mentions(strip_sandbox_links(text)))


def _pieces(text: str, limit: int) -> list[str]:
    """Lines of the text, with any line longer than the limit cut into limit-sized pieces."""
    out: list[str] = []
    for line in text.split("\n"):
        while len(line) > limit:
            out.append(line[:limit])
            line = line[limit:]
        out.append(line)
    return out


def _refence(parts: list[str]) -> list[str]:
    """Close a code block at the end of a part and reopen it at the start of the next."""
    fixed: list[str] = []
    opener: str | None = None
    for part in parts:
        body = f"{opener}\n{part}" if opener else part
        for line in part.split("\n"):
            if match := _FENCE.match(line):
                opener = None if opener else line.strip() or match[1]
        fixed.append(f"{body}\n```" if opener else body)
    return fixed


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]
