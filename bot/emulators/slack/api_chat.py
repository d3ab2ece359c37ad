"""Web API methods that write messages: chat.*, reactions.*, assistant.threads.setStatus.

Errors follow Slack's: a private channel the bot is not in does not exist (``channel_not_found``),
a public one needs membership or ``chat:write.public`` (``not_in_channel``), and only the bot's
own messages can be updated or deleted.
"""

from __future__ import annotations

from typing import Any

from .api_core import ApiError, ApiRequest, WebApi
from .core import Core
from .models import Channel, Message
from .wire import JSON

MAX_BLOCKS = 50
MAX_MARKDOWN = 12_000
MAX_TEXT = 40_000


class ChatMethods:
    """chat.postMessage/update/delete/postEphemeral, reactions.add/remove, setStatus."""

    def __init__(self, core: Core) -> None:
        self.core = core
        #: When set, ``assistant.threads.setStatus`` fails with this error code.
        self.set_status_error: str | None = None

    def register(self, api: WebApi) -> None:
        """Add these methods to the Web API router."""
        api.register("chat.postMessage", self.post_message, "chat:write")
        api.register("chat.update", self.update, "chat:write")
        api.register("chat.delete", self.delete, "chat:write")
        api.register("chat.postEphemeral", self.post_ephemeral, "chat:write")
        api.register("reactions.add", self.reactions_add, "reactions:write")
        api.register("reactions.remove", self.reactions_remove, "reactions:write")
        api.register("assistant.threads.setStatus", self.set_status, "chat:write", "assistant:write")

    # -- shared checks -------------------------------------------------------------------------

    def writable_channel(self, channel_id: str) -> Channel:
        """The conversation the bot may post to; a user id means the bot's DM with that person."""
        workspace = self.core.workspace
        if channel_id[:1] in {"U", "W"} and channel_id in workspace.users:
            channel_id = workspace.open_dm(channel_id).id
        channel = workspace.visible_channel(channel_id, workspace.bot.id)
        if channel.is_archived:
            raise ApiError("is_archived")
        if not workspace.bot_is_member(channel) and "chat:write.public" not in self.core.api.scopes:
            raise ApiError("not_in_channel")
        return channel

    def _content(self, req: ApiRequest) -> dict[str, Any]:
        text = req.arg("text")
        markdown = req.arg("markdown_text")
        blocks = req.structured("blocks", "invalid_blocks_format")
        attachments = req.structured("attachments", "invalid_attachments")
        if markdown is not None and (text is not None or blocks):
            raise ApiError("markdown_text_conflict")
        if blocks is not None and (
            not isinstance(blocks, list)
            or len(blocks) > MAX_BLOCKS
            or not all(isinstance(b, dict) and "type" in b for b in blocks)
        ):
            raise ApiError("invalid_blocks")
        if len(text or "") > MAX_TEXT or len(markdown or "") > MAX_MARKDOWN:
            raise ApiError("msg_too_long")
        metadata = req.structured("metadata", "invalid_metadata_format")
        if metadata is not None and not (isinstance(metadata, dict) and "event_type" in metadata):
            raise ApiError("invalid_metadata_schema")
        return {
            "text": text if text is not None else markdown or "",
            "blocks": blocks or None,
            "markdown_text": markdown,
            "attachments": attachments or None,
            "metadata": metadata,
        }

    def _own_message(self, req: ApiRequest, refusal: str) -> tuple[Channel, Message]:
        workspace = self.core.workspace
        channel = workspace.visible_channel(req.require("channel", "channel_not_found"), workspace.bot.id)
        message = workspace.message(channel.id, req.require("ts", "message_not_found"))
        if message.user != workspace.bot.id:
            raise ApiError(refusal)
        return channel, message

    # -- methods -------------------------------------------------------------------------------

    async def post_message(self, req: ApiRequest) -> JSON:
        """chat.postMessage: store the bot's message and deliver its events."""
        channel = self.writable_channel(req.require("channel", "channel_not_found"))
        content = self._content(req)
        if not (content["text"] or content["blocks"] or content["attachments"]):
            raise ApiError("no_text")
        message = self.core.bot_message(
            channel,
            content["text"],
            thread_ts=req.arg("thread_ts"),
            blocks=content["blocks"],
            markdown_text=content["markdown_text"],
            attachments=content["attachments"],
            metadata=content["metadata"],
            reply_broadcast=req.flag("reply_broadcast"),
        )
        self.core.publish_message(message)
        return {"channel": channel.id, "ts": message.ts, "message": self.core.wire.message(message)}

    async def update(self, req: ApiRequest) -> JSON:
        """chat.update: edit one of the bot's messages (``message_changed`` follows)."""
        channel, message = self._own_message(req, "cant_update_message")
        if channel.is_archived:
            raise ApiError("is_archived")
        previous = self.core.wire.message(message)
        content = self._content(req)
        if req.params.get("text") is not None or content["markdown_text"] is not None:
            message.text = content["text"]
        for key in ("blocks", "markdown_text", "attachments", "metadata"):
            if req.params.get(key) is not None:
                setattr(message, key, content[key])
        file_ids = req.arg("file_ids")
        if file_ids:
            message.files = [f for f in file_ids.split(",") if f]
        message.edited = {"user": self.core.workspace.bot.id, "ts": self.core.workspace.next_ts()}
        self.core.workspace.changed()
        self.core.emit(self.core.events.message_changed(message, previous), channel)
        body = self.core.wire.message(message)
        return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": body}

    async def delete(self, req: ApiRequest) -> JSON:
        """chat.delete: remove one of the bot's messages (``message_deleted`` follows)."""
        channel, message = self._own_message(req, "cant_delete_message")
        previous = self.core.wire.message(message)
        self.core.workspace.delete(message)
        self.core.emit(self.core.events.message_deleted(message, previous), channel)
        return {"channel": channel.id, "ts": message.ts}

    async def post_ephemeral(self, req: ApiRequest) -> JSON:
        """chat.postEphemeral: a message only ``user`` sees; nothing is delivered as an event."""
        channel = self.writable_channel(req.require("channel", "channel_not_found"))
        user = req.require("user", "user_not_found")
        if user not in self.core.workspace.users:
            raise ApiError("user_not_found")
        if user not in channel.members:
            raise ApiError("user_not_in_channel")
        content = self._content(req)
        if not (content["text"] or content["blocks"] or content["attachments"]):
            raise ApiError("no_text")
        message = self.core.bot_message(
            channel,
            content["text"],
            thread_ts=req.arg("thread_ts"),
            blocks=content["blocks"],
            markdown_text=content["markdown_text"],
            attachments=content["attachments"],
            ephemeral_to=user,
        )
        self.core.workspace.store(message)
        return {"message_ts": message.ts}

    def _reaction_target(self, req: ApiRequest) -> tuple[Channel, Message, str]:
        workspace = self.core.workspace
        channel = workspace.visible_channel(req.require("channel", "channel_not_found"), workspace.bot.id)
        message = workspace.message(channel.id, req.require("timestamp", "bad_timestamp"))
        name = req.require("name", "invalid_name").strip(":")
        if not name or " " in name:
            raise ApiError("invalid_name")
        return channel, message, name

    async def reactions_add(self, req: ApiRequest) -> JSON:
        """reactions.add as the bot (``already_reacted`` on a repeat)."""
        channel, message, name = self._reaction_target(req)
        users = message.reactions.setdefault(name, [])
        bot = self.core.workspace.bot
        if bot.id in users:
            raise ApiError("already_reacted")
        users.append(bot.id)
        self.core.workspace.changed()
        self.core.emit(self.core.events.reaction(True, bot, name, message), channel)
        return {}

    async def reactions_remove(self, req: ApiRequest) -> JSON:
        """reactions.remove as the bot (``no_reaction`` when it had not reacted)."""
        channel, message, name = self._reaction_target(req)
        bot = self.core.workspace.bot
        users = message.reactions.get(name, [])
        if bot.id not in users:
            raise ApiError("no_reaction")
        users.remove(bot.id)
        if not users:
            del message.reactions[name]
        self.core.workspace.changed()
        self.core.emit(self.core.events.reaction(False, bot, name, message), channel)
        return {}

    async def set_status(self, req: ApiRequest) -> JSON:
        """assistant.threads.setStatus: remember the thread's status ("" clears it)."""
        workspace = self.core.workspace
        channel = workspace.visible_channel(req.require("channel_id", "channel_not_found"), workspace.bot.id)
        thread_ts = req.require("thread_ts", "invalid_thread_ts")
        if self.set_status_error is not None:
            raise ApiError(self.set_status_error)
        workspace.statuses[(channel.id, thread_ts)] = req.arg("status") or ""
        workspace.changed()
        return {}
