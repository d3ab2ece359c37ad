"""How users, channels, messages and files look in Web API answers and event payloads.

One place decides the JSON shape, so the API methods and the
event builder can never drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .filestore import FileStore
from .models import Channel, Message, StoredFile, User
from .workspace import TOMBSTONE_TEXT, Workspace, WorkspaceError

JSON = dict[str, Any]

_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass
class Urls:
    """Where the emulator listens: the API host and the CDN host used for download redirects."""

    base: str
    cdn: str

    def file_private(self, team_id: str, stored: StoredFile, *, cdn: bool = False) -> str:
        """``url_private`` of a file (or its twin on the CDN host)."""
        return f"{self.cdn if cdn else self.base}/files-pri/{team_id}-{stored.id}/{quote(stored.name)}"

    def file_download(self, team_id: str, stored: StoredFile, *, cdn: bool = False) -> str:
        """``url_private_download`` of a file (or its twin on the CDN host)."""
        host = self.cdn if cdn else self.base
        return f"{host}/files-pri/{team_id}-{stored.id}/download/{quote(stored.name)}"


def mentioned_users(text: str) -> list[str]:
    """User ids mentioned as ``<@U…>`` in message text."""
    return _MENTION.findall(text)


def rich_text_blocks(text: str, block_id: str) -> list[JSON]:
    """The ``rich_text`` block Slack's client attaches to a typed message."""
    elements: list[JSON] = []
    position = 0
    for match in _MENTION.finditer(text):
        if match.start() > position:
            elements.append({"type": "text", "text": text[position : match.start()]})
        elements.append({"type": "user", "user_id": match.group(1)})
        position = match.end()
    if position < len(text):
        elements.append({"type": "text", "text": text[position:]})
    section = {"type": "rich_text_section", "elements": elements}
    return [{"type": "rich_text", "block_id": block_id, "elements": [section]}]


def bot_profile(user: User) -> JSON:
    """The ``bot_profile`` Slack attaches to an app's messages."""
    return {
        "id": user.bot_id,
        "app_id": user.app_id,
        "name": user.real_name or user.name,
        "team_id": user.team_id,
        "deleted": False,
        "icons": {},
    }


class Wire:
    """Renders workspace records as Slack JSON."""

    def __init__(self, workspace: Workspace, files: FileStore, urls: Urls) -> None:
        self.workspace = workspace
        self.files = files
        self.urls = urls

    @property
    def team_id(self) -> str:
        """The installation's team id."""
        return self.workspace.config.team_id

    def file(self, stored: StoredFile, *, with_shares: bool = True) -> JSON:
        """A full file object."""
        body: JSON = {
            "id": stored.id,
            "created": stored.created,
            "timestamp": stored.created,
            "name": stored.name,
            "title": stored.title,
            "mimetype": stored.mimetype,
            "filetype": stored.filetype,
            "pretty_type": stored.pretty_type,
            "user": stored.user,
            "user_team": self.team_id,
            "editable": False,
            "size": stored.size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": self.urls.file_private(self.team_id, stored),
            "url_private_download": self.urls.file_download(self.team_id, stored),
            "media_display_type": "unknown",
            "permalink": f"{self.urls.base}/files/{stored.user}/{stored.id}/{quote(stored.name)}",
            "permalink_public": f"{self.urls.base}/{self.team_id}-{stored.id}-public",
            "has_rich_preview": False,
            "file_access": "visible",
            "comments_count": 0,
        }
        if stored.alt_txt:
            body["alt_txt"] = stored.alt_txt
        if with_shares:
            body.update(self._shares(stored))
        return body

    def _shares(self, stored: StoredFile) -> JSON:
        shares: dict[str, dict[str, list[JSON]]] = {}
        places: dict[str, list[str]] = {"channels": [], "groups": [], "ims": []}
        for share in stored.shares:
            channel = self.workspace.channels[share.channel]
            visibility = "public" if channel.kind == "public" else "private"
            entry: JSON = {
                "ts": share.ts,
                "channel_name": channel.name,
                "team_id": self.team_id,
                "share_user_id": share.user,
                "reply_users": [],
                "reply_users_count": 0,
                "reply_count": 0,
                "source": "UNKNOWN",
                "is_silent_share": False,
            }
            if share.thread_ts is not None:
                entry["thread_ts"] = share.thread_ts
            shares.setdefault(visibility, {}).setdefault(channel.id, []).append(entry)
            key = {"public": "channels", "private": "groups", "im": "ims", "mpim": "groups"}[channel.kind]
            if channel.id not in places[key]:
                places[key].append(channel.id)
        public = any(self.workspace.channels[s.channel].kind == "public" for s in stored.shares)
        return {"shares": shares, **places, "is_public": public}

    @staticmethod
    def file_stub(stored: StoredFile) -> JSON:
        """The Slack Connect placeholder: call ``files.info`` for the rest."""
        return {
            "id": stored.id,
            "mode": "file_access",
            "file_access": "check_file_info",
            "created": 0,
            "timestamp": 0,
            "user": "",
        }

    def message(self, message: Message, *, stub_files: frozenset[str] = frozenset()) -> JSON:
        """A message as ``conversations.replies``, ``chat.postMessage`` and events show it."""
        if message.deleted:
            return self._tombstone(message)
        author = self.workspace.users.get(message.user or "")
        body: JSON = {"type": "message", "ts": message.ts, "text": message.text}
        if message.subtype:
            body["subtype"] = message.subtype
        if message.user:
            body["user"] = message.user
            body["team"] = author.team_id if author else self.team_id
        if message.bot_id:
            body["bot_id"] = message.bot_id
            body["app_id"] = message.app_id
            if author is not None and author.bot_id == message.bot_id:
                body["bot_profile"] = bot_profile(author)
        for key in ("blocks", "attachments", "metadata", "client_msg_id", "edited"):
            value = getattr(message, key)
            if value:
                body[key] = value
        if message.thread_ts is not None:
            body["thread_ts"] = message.thread_ts
            if message.is_reply:
                root = self._root(message)
                if root is not None and root.user:
                    body["parent_user_id"] = root.user
        if message.reply_broadcast:
            body["subtype"] = "thread_broadcast"
        if message.files:
            body["files"] = [self._file_in_message(fid, stub_files) for fid in message.files]
            body["upload"] = False
            body["display_as_bot"] = False
        if message.reactions:
            body["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)} for name, users in message.reactions.items()
            ]
        if not message.is_reply:
            body.update(self.workspace.thread_summary(message))
        return body

    def _file_in_message(self, file_id: str, stub_files: frozenset[str]) -> JSON:
        stored = self.files.get(file_id)
        if stored is None:
            return {"id": file_id, "mode": "tombstone"}
        return self.file_stub(stored) if file_id in stub_files else self.file(stored)

    def _root(self, message: Message) -> Message | None:
        try:
            return self.workspace.message(message.channel, message.root_ts)
        except WorkspaceError:
            return None  # a deleted root only drops parent_user_id

    def _tombstone(self, message: Message) -> JSON:
        body: JSON = {
            "type": "message",
            "subtype": "tombstone",
            "text": TOMBSTONE_TEXT,
            "user": "USLACKBOT",
            "hidden": True,
            "ts": message.ts,
        }
        body.update(self.workspace.thread_summary(message))
        return body

    def channel(self, channel: Channel, *, viewer: str) -> JSON:
        """A conversation object as ``conversations.info`` returns it to ``viewer``."""
        body: JSON = {
            "id": channel.id,
            "created": channel.created,
            "is_archived": channel.is_archived,
            "is_im": channel.kind == "im",
            "is_mpim": channel.kind == "mpim",
            "is_private": channel.is_private,
            "is_ext_shared": channel.is_ext_shared,
            "is_shared": channel.is_ext_shared,
            "context_team_id": self.team_id,
        }
        if channel.kind == "im":
            body.update({"user": channel.im_user, "is_open": True})
            return body
        body.update(
            {
                "name": channel.name,
                "name_normalized": channel.name,
                "is_channel": channel.kind == "public",
                "is_group": channel.kind == "private",
                "is_general": False,
                "creator": channel.creator,
                "is_member": viewer in channel.members,
                "num_members": len(channel.members),
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
            }
        )
        return body
