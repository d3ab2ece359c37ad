"""What people do in Slack, each action stored and followed by the events Slack would send.

These are the methods tests call to play the humans in a workspace. They refuse what the Slack
client would not allow (posting where you are not a member, reacting twice) with ``ValueError``,
so a mistaken test fails loudly instead of silently testing nothing.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from .core import Core
from .interactions import Interactions
from .models import Channel, FileUpload, Message, Share, User
from .records import Delivery, DeliveryKind
from .wire import JSON, rich_text_blocks
from .workspace import WorkspaceError

#: Seconds a command or button press may wait for a Socket Mode connection before giving up.
_CONNECT_GRACE = 10.0

UserRef = User | str
ChannelRef = Channel | str


class PersonActions:
    """Mixin of :class:`SlackEmulator`: the driver side, playing the workspace's people."""

    core: Core
    interactions: Interactions

    def user(self, ref: UserRef) -> User:
        """A user by object or id."""
        return self.core.workspace.user(ref.id if isinstance(ref, User) else ref)

    def channel(self, ref: ChannelRef) -> Channel:
        """A live channel by object or id."""
        return self.core.workspace.channel(ref.id if isinstance(ref, Channel) else ref)

    def _member(self, user: UserRef, channel: ChannelRef) -> tuple[User, Channel]:
        person, place = self.user(user), self.channel(channel)
        if person.id not in place.members:
            raise ValueError(f"{person.name} is not a member of {place.name or place.id}")
        if place.is_archived:
            raise ValueError(f"{place.name} is archived")
        return person, place

    async def post_message(
        self,
        user: UserRef,
        channel: ChannelRef,
        text: str = "",
        *,
        thread_ts: str | None = None,
        files: list[FileUpload | Path] | None = None,
        blocks: list[JSON] | None = None,
        reply_broadcast: bool = False,
        metadata: JSON | None = None,
    ) -> Message:
        """Post as ``user`` (optionally dropping files), then deliver ``message``/``app_mention``.

        ``metadata`` is message metadata (``event_type``, ``event_payload``) as an app posts it:
        give it on a post by another app's bot user to see how the bot treats someone else's.

        Returns once the message is stored and its deliveries have started; use
        :meth:`SlackEmulator.settle` or the ``wait_for*`` helpers to wait for the app.
        """
        person, place = self._member(user, channel)
        uploads = [f if isinstance(f, FileUpload) else FileUpload(name=f.name, path=f) for f in files or []]
        stored = [await self.core.files.add(upload, person.id) for upload in uploads]
        message = Message(
            channel=place.id,
            ts=self.core.workspace.next_ts(),
            user=person.id,
            text=text,
            thread_ts=thread_ts,
            bot_id=person.bot_id,
            app_id=person.app_id,
            subtype="file_share" if stored else None,
            blocks=blocks or (rich_text_blocks(text, self.core.ids.secret(3)) if text else None),
            files=[s.id for s in stored],
            reply_broadcast=reply_broadcast,
            metadata=metadata,
            client_msg_id=None if person.is_bot else str(uuid.uuid4()),
        )
        for item in stored:
            item.shares.append(Share(place.id, message.ts, thread_ts, person.id))
        stubs = frozenset(s.id for s, u in zip(stored, uploads, strict=True) if u.check_file_info)
        self.core.publish_message(message, stub_files=stubs)
        return message

    def _authored(self, user: UserRef, channel: ChannelRef, ts: str) -> tuple[User, Channel, Message]:
        person, place = self.user(user), self.channel(channel)
        try:
            message = self.core.workspace.message(place.id, ts)
        except WorkspaceError:
            raise ValueError(f"no message {ts} in {place.name}") from None
        return person, place, message

    async def edit_message(self, user: UserRef, channel: ChannelRef, ts: str, text: str) -> Message:
        """Edit your own message; delivers ``message_changed``."""
        person, place, message = self._authored(user, channel, ts)
        if message.user != person.id:
            raise ValueError(f"{person.name} did not write message {ts}")
        previous = self.core.wire.message(message)
        message.text = text
        message.blocks = rich_text_blocks(text, self.core.ids.secret(3)) if text else None
        message.edited = {"user": person.id, "ts": self.core.workspace.next_ts()}
        self.core.workspace.changed()
        self.core.emit(self.core.events.message_changed(message, previous), place)
        return message

    async def delete_message(self, user: UserRef, channel: ChannelRef, ts: str) -> None:
        """Delete a message (as its author or an admin); delivers ``message_deleted``."""
        _, place, message = self._authored(user, channel, ts)
        previous = self.core.wire.message(message)
        self.core.workspace.delete(message)
        self.core.emit(self.core.events.message_deleted(message, previous), place)

    async def add_reaction(self, user: UserRef, channel: ChannelRef, ts: str, name: str) -> None:
        """React to a message; delivers ``reaction_added``."""
        person, place, message = self._authored(user, channel, ts)
        users = message.reactions.setdefault(name, [])
        if person.id in users:
            raise ValueError(f"{person.name} already reacted with :{name}:")
        users.append(person.id)
        self.core.workspace.changed()
        self.core.emit(self.core.events.reaction(True, person, name, message), place)

    async def remove_reaction(self, user: UserRef, channel: ChannelRef, ts: str, name: str) -> None:
        """Take a reaction back; delivers ``reaction_removed``."""
        person, place, message = self._authored(user, channel, ts)
        if person.id not in message.reactions.get(name, []):
            raise ValueError(f"{person.name} has no :{name}: on {ts}")
        message.reactions[name].remove(person.id)
        if not message.reactions[name]:
            del message.reactions[name]
        self.core.workspace.changed()
        self.core.emit(self.core.events.reaction(False, person, name, message), place)

    async def join_channel(self, user: UserRef, channel: ChannelRef, *, inviter: UserRef | None = None) -> None:
        """Add a person to a channel; delivers ``member_joined_channel`` where the bot is."""
        person, place = self.user(user), self.channel(channel)
        place.members.add(person.id)
        self.core.workspace.changed()
        who = self.user(inviter) if inviter is not None else None
        self.core.emit(self.core.events.member_joined(person, place, who), place)

    async def invite_bot(self, channel: ChannelRef, *, by: UserRef) -> None:
        """Someone adds the app to a channel; delivers the bot's own ``member_joined_channel``."""
        await self.join_channel(self.core.workspace.bot, channel, inviter=by)

    async def leave_channel(self, user: UserRef, channel: ChannelRef) -> None:
        """A person leaves; delivers ``member_left_channel`` where the bot is."""
        person, place = self.user(user), self.channel(channel)
        place.members.discard(person.id)
        self.core.workspace.changed()
        bot_there = self.core.workspace.bot_is_member(place)
        self.core.emit(self.core.events.member_left(person, place, bot_was_member=bot_there), place)

    async def remove_bot(self, channel: ChannelRef, *, by: UserRef) -> None:
        """Someone removes the app; delivers ``member_left_channel`` and ``channel_left``."""
        actor, place = self.user(by), self.channel(channel)
        bot = self.core.workspace.bot
        was_member = bot.id in place.members
        place.members.discard(bot.id)
        self.core.workspace.changed()
        events = self.core.events.member_left(bot, place, bot_was_member=was_member)
        if was_member:
            events += self.core.events.channel_left(place, actor)
        self.core.emit(events, place)

    async def archive_channel(self, channel: ChannelRef, *, by: UserRef) -> None:
        """Archive a channel; delivers ``channel_archive`` (``group_archive`` when private)."""
        actor, place = self.user(by), self.channel(channel)
        events = self.core.events.channel_archived(place, actor)
        place.is_archived = True
        self.core.workspace.changed()
        self.core.emit(events, place)

    async def delete_channel(self, channel: ChannelRef, *, by: UserRef) -> None:
        """Delete a channel; delivers ``channel_deleted`` (``group_deleted`` when private)."""
        actor, place = self.user(by), self.channel(channel)
        events = self.core.events.channel_deleted(place, actor, bot_was_member=self.core.workspace.bot_is_member(place))
        place.is_deleted = True
        self.core.workspace.changed()
        self.core.emit(events, place)

    async def uninstall(self) -> None:
        """Remove the app: its tokens stop working, then ``app_uninstalled``/``tokens_revoked`` arrive."""
        self.core.workspace.installed = False
        self.core.workspace.changed()
        for event in self.core.events.app_uninstalled():
            self.core.dispatcher.publish("events_api", self.core.events.envelope(event))

    async def slash_command(
        self, user: UserRef, channel: ChannelRef, text: str = "", *, command: str = "/interpreter"
    ) -> Delivery:
        """Type ``/interpreter text`` in a conversation; returns the delivery once acked or failed.

        The ack's body (if any) is shown to the person like Slack shows it; the payload's
        ``response_url`` then works as described in :mod:`.interactions`.
        """
        person, place = self.user(user), self.channel(channel)
        payload = self.interactions.command_payload(person, place, command, text)
        return await self._deliver_now("slash_commands", payload)

    async def press_button(
        self, user: UserRef, channel: ChannelRef, ts: str, action_id: str, *, value: str | None = None
    ) -> Delivery:
        """Press the element ``action_id`` on a message; returns the ``block_actions`` delivery."""
        person, place = self.user(user), self.channel(channel)
        message = self.core.workspace.ephemeral_message(place.id, ts)
        if message is None or message.ephemeral_to != person.id:
            _, _, message = self._authored(person, place, ts)
        payload = self.interactions.block_actions_payload(person, place, message, action_id, value)
        return await self._deliver_now("interactive", payload)

    async def _deliver_now(self, kind: DeliveryKind, payload: JSON) -> Delivery:
        delivery = self.core.dispatcher.publish(kind, payload)
        deadline = time.monotonic() + self.core.dispatcher.retry.ack_timeout + _CONNECT_GRACE
        while not delivery.finished:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{kind} delivery not finished; is the app connected?")
            await self.core.notifier.wait(min(left, 0.1))
        return delivery
