"""Which events Slack sends for a change in the workspace, and what they contain.

Rules: the bot hears only conversations it belongs to and events it
subscribed to; a channel @mention arrives as both ``app_mention`` and ``message``; edits and
deletes are ``message`` subtypes; private-channel lifecycle events are the ``group_*`` twins.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from .config import EmulatorConfig
from .ids import IdFactory
from .models import Channel, Message, User
from .wire import JSON, Wire, mentioned_users
from .workspace import Workspace

_MESSAGE_SUBSCRIPTION = MappingProxyType(
    {
        "public": "message.channels",
        "private": "message.groups",
        "im": "message.im",
        "mpim": "message.mpim",
    }
)


class EventFactory:
    """Builds inner events and their ``event_callback`` envelopes."""

    def __init__(self, config: EmulatorConfig, ids: IdFactory, workspace: Workspace, wire: Wire) -> None:
        self.config = config
        self._ids = ids
        self.workspace = workspace
        self.wire = wire

    def envelope(self, event: JSON, *, channel: Channel | None = None) -> JSON:
        """Wrap an inner event the way the Events API and Socket Mode carry it."""
        config = self.config
        return {
            "token": config.verification_token,
            "team_id": config.team_id,
            "context_team_id": config.team_id,
            "context_enterprise_id": None,
            "api_app_id": config.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": self._ids.new("Ev"),
            "event_time": int(self._ids.now()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": config.team_id,
                    "user_id": config.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": bool(channel and channel.is_ext_shared),
            "event_context": f"4-{event.get('type')}-{config.team_id}-{self._ids.secret(6)}",
        }

    def _wants(self, subscription: str) -> bool:
        return subscription in self.config.bot_events

    def _hears(self, channel: Channel, actor: str | None) -> bool:
        if not self.workspace.bot_is_member(channel):
            return False
        return actor != self.workspace.bot.id or self.config.deliver_own_events

    def _stamp(self, event: JSON) -> JSON:
        event.setdefault("event_ts", self._ids.next_ts())
        return event

    def new_message(self, message: Message, *, stub_files: frozenset[str] = frozenset()) -> list[JSON]:
        """``message`` (and ``app_mention`` for a channel @mention) for a freshly posted message."""
        channel = self.workspace.channel(message.channel)
        if not self._hears(channel, message.user):
            return []
        body = self.wire.message(message, stub_files=stub_files)
        events: dict[str, JSON] = {}
        if self._wants(_MESSAGE_SUBSCRIPTION[channel.kind]):
            events["message"] = {
                **body,
                "channel": channel.id,
                "event_ts": message.ts,
                "channel_type": channel.channel_type,
            }
        mentioned = self.workspace.bot.id in mentioned_users(message.text)
        if mentioned and channel.kind != "im" and message.user != self.workspace.bot.id and self._wants("app_mention"):
            events["app_mention"] = self._app_mention(body, channel, message)
            if not self.config.app_mention_files:
                events["app_mention"].pop("files", None)
        return [events[name] for name in self.config.mention_event_order if name in events]

    @staticmethod
    def _app_mention(body: JSON, channel: Channel, message: Message) -> JSON:
        mention: JSON = {"type": "app_mention", "channel": channel.id, "event_ts": message.ts}
        for key in (
            "user",
            "text",
            "ts",
            "team",
            "blocks",
            "thread_ts",
            "parent_user_id",
            "files",
            "client_msg_id",
            "edited",
        ):
            if key in body:
                mention[key] = body[key]
        return mention

    def message_changed(self, message: Message, previous: JSON) -> list[JSON]:
        """The hidden ``message_changed`` subtype after an edit."""
        channel = self.workspace.channel(message.channel)
        if not self._hears(channel, message.user) or not self._wants(_MESSAGE_SUBSCRIPTION[channel.kind]):
            return []
        ts = self._ids.next_ts()
        return [
            {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "channel": channel.id,
                "message": self.wire.message(message),
                "previous_message": previous,
                "ts": ts,
                "event_ts": ts,
                "channel_type": channel.channel_type,
            }
        ]

    def message_deleted(self, message: Message, previous: JSON) -> list[JSON]:
        """The hidden ``message_deleted`` subtype after a delete."""
        channel = self.workspace.channel(message.channel)
        if not self._hears(channel, message.user) or not self._wants(_MESSAGE_SUBSCRIPTION[channel.kind]):
            return []
        ts = self._ids.next_ts()
        event: JSON = {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": channel.id,
            "deleted_ts": message.ts,
            "previous_message": previous,
            "ts": ts,
            "event_ts": ts,
            "channel_type": channel.channel_type,
        }
        if message.thread_ts is not None:
            event["thread_ts"] = message.thread_ts
        return [event]

    def reaction(self, added: bool, user: User, name: str, message: Message) -> list[JSON]:
        """``reaction_added`` / ``reaction_removed`` on a message."""
        kind = "reaction_added" if added else "reaction_removed"
        channel = self.workspace.channel(message.channel)
        if not self._hears(channel, user.id) or not self._wants(kind):
            return []
        event: JSON = {
            "type": kind,
            "user": user.id,
            "reaction": name,
            "item": {"type": "message", "channel": channel.id, "ts": message.ts},
        }
        if message.user:
            event["item_user"] = message.user
        return [self._stamp(event)]

    def member_joined(self, user: User, channel: Channel, inviter: User | None) -> list[JSON]:
        """``member_joined_channel``, the bot's own join included."""
        if not self.workspace.bot_is_member(channel) or not self._wants("member_joined_channel"):
            return []
        event: JSON = {
            "type": "member_joined_channel",
            "user": user.id,
            "channel": channel.id,
            "channel_type": "C" if channel.kind == "public" else "G",
            "team": user.team_id,
        }
        if inviter is not None:
            event["inviter"] = inviter.id
        return [self._stamp(event)]

    def member_left(self, user: User, channel: Channel, *, bot_was_member: bool) -> list[JSON]:
        """``member_left_channel``; sent for the bot itself too, right after it was removed."""
        if not bot_was_member or not self._wants("member_left_channel"):
            return []
        return [
            self._stamp(
                {
                    "type": "member_left_channel",
                    "user": user.id,
                    "channel": channel.id,
                    "channel_type": "C" if channel.kind == "public" else "G",
                    "team": user.team_id,
                }
            )
        ]

    def _lifecycle(self, public_name: str, channel: Channel, **fields: Any) -> list[JSON]:
        name = public_name if channel.kind == "public" else public_name.replace("channel_", "group_")
        if not self._wants(name):
            return []
        return [self._stamp({"type": name, "channel": channel.id, **fields})]

    def channel_archived(self, channel: Channel, actor: User) -> list[JSON]:
        """``channel_archive`` / ``group_archive`` for a channel the bot is in."""
        if not self.workspace.bot_is_member(channel):
            return []
        return self._lifecycle("channel_archive", channel, user=actor.id, is_moved=0)

    def channel_deleted(self, channel: Channel, actor: User, *, bot_was_member: bool) -> list[JSON]:
        """``channel_deleted`` / ``group_deleted``."""
        if channel.kind == "public":
            return self._lifecycle("channel_deleted", channel)
        if not bot_was_member:
            return []
        return self._lifecycle("channel_deleted", channel, date_deleted=int(self._ids.now()), actor_id=actor.id)

    def channel_left(self, channel: Channel, actor: User) -> list[JSON]:
        """``channel_left`` / ``group_left``: "you left a channel"."""
        return self._lifecycle("channel_left", channel, actor_id=actor.id)

    def app_uninstalled(self) -> list[JSON]:
        """``app_uninstalled`` then ``tokens_revoked`` for the bot token."""
        events: list[JSON] = []
        if self._wants("app_uninstalled"):
            events.append(self._stamp({"type": "app_uninstalled"}))
        if self._wants("tokens_revoked"):
            events.append(
                self._stamp({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [self.workspace.bot.id]}})
            )
        return events
