"""Web API methods that read or identify: auth.test, conversations.*, apps.connections.open.

History needs the per-type ``*:history`` scope and membership (a bot token cannot read a
channel it is not in); metadata of other apps' messages appears only with
``include_all_metadata``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from types import MappingProxyType

from .api_core import ApiError, ApiRequest, WebApi
from .core import Core
from .ids import ts_key
from .models import Channel, Message
from .socket_mode import SocketModeServer
from .wire import JSON

_HISTORY_SCOPE = MappingProxyType(
    {"public": "channels:history", "private": "groups:history", "im": "im:history", "mpim": "mpim:history"}
)
_READ_SCOPE = MappingProxyType(
    {"public": "channels:read", "private": "groups:read", "im": "im:read", "mpim": "mpim:read"}
)


def _cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().removeprefix("offset:"))
    except ValueError:
        raise ApiError("invalid_cursor") from None


class ReadMethods:
    """auth.test, apps.connections.open, conversations.replies, conversations.info."""

    def __init__(self, core: Core, socket: SocketModeServer) -> None:
        self.core = core
        self.socket = socket

    def register(self, api: WebApi) -> None:
        """Add these methods to the Web API router."""
        api.register("auth.test", self.auth_test)
        api.register("apps.connections.open", self.connections_open, auth="app")
        api.register("conversations.replies", self.replies)
        api.register("conversations.info", self.info)

    async def auth_test(self, req: ApiRequest) -> JSON:
        """auth.test: who the bot token belongs to (scopes ride in ``x-oauth-scopes``)."""
        config = self.core.config
        return {
            "url": f"{self.core.urls.base}/",
            "team": config.team_name,
            "user": config.bot_name,
            "team_id": config.team_id,
            "user_id": config.bot_user_id,
            "bot_id": config.bot_id,
            "is_enterprise_install": False,
        }

    async def connections_open(self, req: ApiRequest) -> JSON:
        """apps.connections.open: a one-off WebSocket URL for Socket Mode."""
        ticket = self.core.ids.secret()
        self.socket.add_ticket(ticket)
        ws_base = "ws" + self.core.urls.base.removeprefix("http")
        return {"url": f"{ws_base}/link/?ticket={ticket}&app_id={self.core.config.app_id}"}

    def _readable(self, req: ApiRequest, scopes: Mapping[str, str]) -> Channel:
        workspace = self.core.workspace
        channel = workspace.visible_channel(req.require("channel", "channel_not_found"), workspace.bot.id)
        self.core.api.require_scope(scopes[channel.kind])
        return channel

    async def replies(self, req: ApiRequest) -> JSON:
        """conversations.replies: the thread, root first, paged with ``limit``/``cursor``."""
        channel = self._readable(req, _HISTORY_SCOPE)
        if not self.core.workspace.bot_is_member(channel):
            raise ApiError("not_in_channel")
        ts = req.require("ts", "thread_not_found")
        anchor = next((m for m in self.core.workspace.history(channel.id) if m.ts == ts), None)
        if anchor is None or (anchor.deleted and self.core.workspace.reply_count(anchor) == 0):
            raise ApiError("thread_not_found")
        messages = self._window(req, self.core.workspace.replies(channel.id, anchor.root_ts))
        try:
            limit = max(1, min(int(req.arg("limit") or 1000), 1000))
        except ValueError:
            raise ApiError("invalid_limit") from None
        start = _offset(req.arg("cursor"))
        page = messages[start : start + limit]
        more = start + limit < len(messages)
        everything = req.flag("include_all_metadata")
        return {
            "messages": [self._render(m, everything) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": _cursor(start + limit) if more else ""},
        }

    @staticmethod
    def _window(req: ApiRequest, messages: list[Message]) -> list[Message]:
        oldest, latest = req.arg("oldest"), req.arg("latest")
        inclusive = req.flag("inclusive")
        root, replies = messages[:1], messages[1:]

        def inside(message: Message) -> bool:
            key = ts_key(message.ts)
            low = oldest is None or key > ts_key(oldest) or (inclusive and key == ts_key(oldest))
            high = latest is None or key < ts_key(latest) or (inclusive and key == ts_key(latest))
            return low and high

        return root + [m for m in replies if inside(m)]

    def _render(self, message: Message, everything: bool) -> JSON:
        body = self.core.wire.message(message)
        if not everything and message.app_id != self.core.config.app_id:
            body.pop("metadata", None)
        return body

    async def info(self, req: ApiRequest) -> JSON:
        """conversations.info as the bot sees the conversation."""
        channel = self._readable(req, _READ_SCOPE)
        return {"channel": self.core.wire.channel(channel, viewer=self.core.workspace.bot.id)}
