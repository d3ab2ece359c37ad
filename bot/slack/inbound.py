"""A Slack message event, parsed into what the relay needs to decide and act on it."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Subtypes that are a person saying something; everything else (edits, joins, …) is ignored.
HUMAN_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


class ThreadKey(BaseModel):
    """A Slack thread: ``(team_id, channel_id, root_ts)``."""

    model_config = ConfigDict(frozen=True)

    team_id: str
    channel_id: str
    root_ts: str

    def tag(self) -> str:
        """The thread as one string, for metadata and logs."""
        return f"{self.team_id}:{self.channel_id}:{self.root_ts}"


class IncomingMessage(BaseModel):
    """One message a person posted, from an ``app_mention`` or ``message`` event."""

    model_config = ConfigDict(frozen=True)

    team_id: str
    channel_id: str
    channel_type: str
    user_id: str
    ts: str
    thread_ts: str | None = None
    text: str = ""
    mentions_bot: bool = False
    files: list[dict[str, Any]] = Field(default_factory=list)
    #: ``app_mention`` payloads may leave out the message's files; the relay then reads them back.
    files_may_be_missing: bool = False
    #: The author's own team, when the payload says; another organisation's in a shared channel.
    user_team: str | None = None
    #: Slack marked the conversation as shared with other organisations.
    shared_channel: bool = False

    @property
    def thread(self) -> ThreadKey:
        """The thread this message belongs to; a top-level message starts its own."""
        return ThreadKey(team_id=self.team_id, channel_id=self.channel_id, root_ts=self.thread_ts or self.ts)

    @property
    def is_dm(self) -> bool:
        """A direct message with the bot."""
        return self.channel_type == "im"

    @property
    def question(self) -> str:
        """The text with the bot's mention removed."""
        return self.text.strip()


def workspace_of(body: dict[str, Any], authorized_team: str | None = None) -> str:
    """The workspace a payload is for: the one the app's token belongs to when known (``auth.test``),
    else the payload's own team. In a shared channel the payload's team may be another organisation's.
    """
    team = body.get("team")
    team_id = team.get("id") if isinstance(team, dict) else None
    return str(authorized_team or body.get("team_id") or team_id or "")


def parse_message(
    event: dict[str, Any], *, team_id: str | None, bot_user_id: str | None, shared_channel: bool = False
) -> IncomingMessage | None:
    """The message a person posted, or None for anything the bot must not treat as one."""
    if event.get("subtype") not in HUMAN_SUBTYPES or event.get("bot_id") or event.get("hidden"):
        return None
    user = event.get("user")
    channel = event.get("channel")
    ts = event.get("ts")
    team = team_id or event.get("team")  # the workspace the event was delivered for
    if not (user and channel and ts and team) or user == bot_user_id:
        return None
    text = str(event.get("text") or "")
    mention = f"<@{bot_user_id}>" if bot_user_id else None
    mentions_bot = event.get("type") == "app_mention" or bool(mention and mention in text)
    if mention:
        text = re.sub(rf"<@{re.escape(bot_user_id or '')}(\|[^>]*)?>", "", text)
    return IncomingMessage(
        team_id=team,
        channel_id=channel,
        channel_type=str(event.get("channel_type") or _type_from_id(channel)),
        user_id=user,
        ts=ts,
        thread_ts=event.get("thread_ts"),
        text=" ".join(text.split()) if "\n" not in text else text.strip(),
        mentions_bot=mentions_bot,
        files=list(event.get("files") or []),
        files_may_be_missing=event.get("type") == "app_mention" and "files" not in event,
        user_team=event.get("user_team") or event.get("team"),
        shared_channel=shared_channel,
    )


def _type_from_id(channel: str) -> str:
    """``app_mention`` events carry no ``channel_type``; the id's first letter tells."""
    return {"D": "im", "G": "group"}.get(channel[:1], "channel")
