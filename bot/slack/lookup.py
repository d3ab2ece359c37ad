"""Reading a message back from Slack, for the files an event did not carry."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient


async def message_files(slack: AsyncWebClient, channel: str, ts: str, root_ts: str) -> list[dict[str, Any]]:
    """The files attached to message ``ts`` in the thread rooted at ``root_ts`` (empty if none or unreadable)."""
    try:
        message = await read_message(slack, channel, ts, root_ts)
    except SlackApiError:
        return []
    return list(message.get("files") or []) if message is not None else []


async def read_message(slack: AsyncWebClient, channel: str, ts: str, root_ts: str) -> dict[str, Any] | None:
    """Message ``ts`` of the thread rooted at ``root_ts`` as Slack shows it; None if it isn't there.

    A refusal (no access, rate limited after retries) raises :class:`SlackApiError`.
    """
    cursor: str | None = None
    while True:
        page = await slack.conversations_replies(channel=channel, ts=root_ts, cursor=cursor, limit=200)
        for message in page.get("messages") or []:
            if message.get("ts") == ts:
                return dict(message)
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not page.get("has_more") or not cursor:
            return None
