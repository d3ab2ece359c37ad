"""The workspace's state: who exists, who is where, and every message in order.

It knows visibility (a private channel does not exist for a non-member; an ephemeral message is
seen by one person) but nothing about HTTP or events, so it stays easy to reason about.
"""

from __future__ import annotations

from collections.abc import Iterable

from .config import EmulatorConfig
from .ids import IdFactory, ts_key
from .models import Channel, ChannelKind, Message, StoredFile, User
from .records import Notifier

TOMBSTONE_TEXT = "This message was deleted."


class WorkspaceError(Exception):
    """A Slack error code (``channel_not_found``, ``message_not_found`` …) from a lookup."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class Workspace:
    """Users, channels, messages and ephemeral messages of one team."""

    def __init__(self, config: EmulatorConfig, ids: IdFactory, notifier: Notifier) -> None:
        self.config = config
        self._ids = ids
        self._notifier = notifier
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self._messages: dict[str, list[Message]] = {}
        self.ephemeral: list[Message] = []
        #: assistant.threads.setStatus values by (channel, thread_ts); "" once cleared.
        self.statuses: dict[tuple[str, str], str] = {}
        self.installed = True
        self.bot = User(
            id=config.bot_user_id,
            name=config.bot_name,
            team_id=config.team_id,
            real_name=config.bot_name,
            is_bot=True,
            bot_id=config.bot_id,
            app_id=config.app_id,
        )
        self.users[self.bot.id] = self.bot

    # -- people and places -------------------------------------------------------------------

    def add_user(self, name: str, *, real_name: str = "", is_bot: bool = False, external: bool = False) -> User:
        """A new human (or another app's bot user); ``external`` puts them in another team."""
        team = self._ids.new("T") if external else self.config.team_id
        user = User(id=self._ids.new("U"), name=name, team_id=team, real_name=real_name, is_bot=is_bot)
        if is_bot:
            user.bot_id, user.app_id = self._ids.new("B"), self._ids.new("A")
        self.users[user.id] = user
        self._notifier.notify()
        return user

    def add_channel(
        self,
        name: str,
        kind: ChannelKind,
        members: Iterable[str],
        creator: str,
        *,
        ext_shared: bool = False,
        im_user: str | None = None,
    ) -> Channel:
        """A new conversation with the given member ids."""
        prefix = {"public": "C", "private": "C", "im": "D", "mpim": "G"}[kind]
        channel = Channel(
            id=self._ids.new(prefix),
            name=name,
            kind=kind,
            created=int(self._ids.now()),
            creator=creator,
            members=set(members),
            is_ext_shared=ext_shared,
            im_user=im_user,
        )
        self.channels[channel.id] = channel
        self._messages[channel.id] = []
        self._notifier.notify()
        return channel

    def user(self, user_id: str) -> User:
        """The user with this id (``user_not_found`` otherwise)."""
        try:
            return self.users[user_id]
        except KeyError:
            raise WorkspaceError("user_not_found") from None

    def channel(self, channel_id: str) -> Channel:
        """A channel that exists and has not been deleted (``channel_not_found`` otherwise)."""
        channel = self.channels.get(channel_id)
        if channel is None or channel.is_deleted:
            raise WorkspaceError("channel_not_found")
        return channel

    def visible_channel(self, channel_id: str, user_id: str) -> Channel:
        """A channel ``user_id`` may know about: private ones are "not found" to non-members."""
        channel = self.channel(channel_id)
        if channel.is_private and user_id not in channel.members:
            raise WorkspaceError("channel_not_found")
        return channel

    def dm_with(self, user_id: str) -> Channel | None:
        """The bot's DM with this person, if it is open."""
        for channel in self.channels.values():
            if channel.kind == "im" and channel.im_user == user_id and not channel.is_deleted:
                return channel
        return None

    def open_dm(self, user_id: str) -> Channel:
        """The bot's DM with this person, opened if needed (as posting to a user id does)."""
        existing = self.dm_with(user_id)
        if existing is not None:
            return existing
        person = self.user(user_id)
        return self.add_channel(person.name, "im", {person.id, self.bot.id}, person.id, im_user=person.id)

    def bot_is_member(self, channel: Channel) -> bool:
        """Whether the installed bot belongs to this conversation."""
        return self.bot.id in channel.members

    # -- messages ----------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A fresh message timestamp."""
        return self._ids.next_ts()

    def store(self, message: Message) -> Message:
        """Keep a new message; ephemeral ones go to their own list."""
        if message.ephemeral_to is not None:
            self.ephemeral.append(message)
        else:
            self._messages[message.channel].append(message)
            if message.thread_ts is not None and message.user == self.bot.id:
                self.statuses.pop((message.channel, message.thread_ts), None)  # a reply clears it
        self._notifier.notify()
        return message

    def changed(self) -> None:
        """Tell waiters that a stored record was edited in place."""
        self._notifier.notify()

    def message(self, channel: str, ts: str) -> Message:
        """A live (not deleted) message (``message_not_found`` otherwise)."""
        for message in self._messages.get(channel, []):
            if message.ts == ts and not message.deleted:
                return message
        raise WorkspaceError("message_not_found")

    def ephemeral_message(self, channel: str, ts: str) -> Message | None:
        """An ephemeral message by its ts, if one exists."""
        return next((m for m in self.ephemeral if m.channel == channel and m.ts == ts), None)

    def history(self, channel: str) -> list[Message]:
        """Every stored non-ephemeral message of a channel, deleted ones included, in ts order."""
        return list(self._messages.get(channel, []))

    def replies(self, channel: str, root_ts: str) -> list[Message]:
        """Root then replies of a thread as the API reports them; deleted roots become tombstones."""
        found = [m for m in self._messages.get(channel, []) if m.ts == root_ts or m.thread_ts == root_ts]
        return [m for m in found if not m.deleted or (m.ts == root_ts and len(found) > 1)]

    def thread(self, channel: str, root_ts: str, viewer: str | None = None) -> list[Message]:
        """The thread as ``viewer`` sees it: replies plus that person's ephemeral messages."""
        messages = self.replies(channel, root_ts)
        if viewer is not None:
            messages += [
                m
                for m in self.ephemeral
                if m.channel == channel and m.ephemeral_to == viewer and m.thread_ts == root_ts and not m.deleted
            ]
        return sorted(messages, key=lambda m: ts_key(m.ts))

    def timeline(self, channel: str, viewer: str | None = None) -> list[Message]:
        """Top-level messages (and broadcast replies) as ``viewer`` sees the channel."""
        messages = [
            m
            for m in self._messages.get(channel, [])
            if (not m.is_reply or m.reply_broadcast) and (not m.deleted or self.reply_count(m) > 0)
        ]
        if viewer is not None:
            messages += [
                m
                for m in self.ephemeral
                if m.channel == channel and m.ephemeral_to == viewer and m.thread_ts is None and not m.deleted
            ]
        return sorted(messages, key=lambda m: ts_key(m.ts))

    def reply_count(self, root: Message) -> int:
        """Live replies in the thread rooted at ``root``."""
        return sum(
            1 for m in self._messages.get(root.channel, []) if m.thread_ts == root.ts and m.is_reply and not m.deleted
        )

    def thread_summary(self, root: Message) -> dict[str, object]:
        """``reply_count``/``reply_users``/``latest_reply`` for a root that has replies."""
        replies = [
            m for m in self._messages.get(root.channel, []) if m.thread_ts == root.ts and m.is_reply and not m.deleted
        ]
        if not replies:
            return {}
        users = list(dict.fromkeys(m.user for m in replies if m.user))
        return {
            "thread_ts": root.ts,
            "reply_count": len(replies),
            "reply_users": users,
            "reply_users_count": len(users),
            "latest_reply": replies[-1].ts,
        }

    def delete(self, message: Message) -> None:
        """Mark a message deleted; a root with replies stays visible as a tombstone."""
        message.deleted = True
        self._notifier.notify()

    # -- files -------------------------------------------------------------------------------

    def can_see_file(self, stored: StoredFile, user_id: str) -> bool:
        """Whether ``user_id`` may read this file: its uploader, or a member where it is shared."""
        if stored.user == user_id:
            return True
        for share in stored.shares:
            channel = self.channels.get(share.channel)
            if (
                channel is not None
                and not channel.is_deleted
                and (user_id in channel.members or (channel.kind == "public" and not self.users[user_id].is_bot))
            ):
                return True
        return False
