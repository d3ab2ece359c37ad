"""Slash commands, button presses, and the ``response_url`` both hand out.

A ``response_url`` works without a token, at most ``response_url_max_uses`` times within
``response_url_ttl`` seconds. What a response does (inferred from Slack's docs): ``delete_original``
and ``replace_original`` act on the message the interaction came from; otherwise it posts a new
message, ephemeral unless ``response_type`` is ``in_channel``. A slash command's ack body is
applied the same way, without using up the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from .core import Core
from .models import Channel, Message, User
from .records import Attempt, Delivery, ResponseUrlPost, parse_response_body
from .wire import JSON

_TRUE = frozenset({True, "true", "1"})


@dataclass
class ResponseUrl:
    """A live response URL and what it answers for."""

    url: str
    kind: Literal["commands", "actions"]
    channel: str
    user: str
    created: float
    message_ts: str | None = None
    uses: int = 0


def find_element(message: Message, action_id: str) -> tuple[str, JSON]:
    """(block_id, element) of the interactive element with ``action_id`` in a message's blocks."""
    for index, block in enumerate(message.blocks or []):
        accessory = block.get("accessory")
        elements = block.get("elements", []) if block.get("type") == "actions" else [accessory] if accessory else []
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id") or f"emu{index}"), element
    raise LookupError(f"no element with action_id {action_id!r} in message {message.ts}")


class Interactions:
    """Builds command and block_actions payloads; serves and applies response URLs."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.urls: dict[str, ResponseUrl] = {}
        self.posts: list[ResponseUrlPost] = []
        self._count = 0

    def _new_url(
        self, kind: Literal["commands", "actions"], channel: Channel, user: User, message_ts: str | None = None
    ) -> ResponseUrl:
        self._count += 1
        url = f"{self.core.urls.base}/{kind}/{self.core.config.team_id}/{self._count}/{self.core.ids.secret()}"
        state = ResponseUrl(url, kind, channel.id, user.id, self.core.ids.now(), message_ts)
        self.urls[url.removeprefix(self.core.urls.base)] = state
        return state

    def _trigger_id(self) -> str:
        return f"{self._count}.{int(self.core.ids.now())}.{self.core.ids.secret(16)}"

    def command_payload(self, user: User, channel: Channel, command: str, text: str) -> JSON:
        """The slash-command payload (form fields in HTTP mode, a dict in Socket Mode).

        ``team_id`` is the person's own team: a guest from another organisation in a shared
        channel sends theirs, which is how an app tells them apart.
        """
        config = self.core.config
        return {
            "token": config.verification_token,
            "team_id": user.team_id,
            "team_domain": config.team_domain,
            "channel_id": channel.id,
            "channel_name": "directmessage" if channel.kind == "im" else channel.name,
            "user_id": user.id,
            "user_name": user.name,
            "command": command,
            "text": text,
            "api_app_id": config.app_id,
            "is_enterprise_install": "false",
            "response_url": self._new_url("commands", channel, user).url,
            "trigger_id": self._trigger_id(),
        }

    def block_actions_payload(
        self, user: User, channel: Channel, message: Message, action_id: str, value: str | None
    ) -> JSON:
        """A ``block_actions`` payload for pressing an element of a bot message."""
        config = self.core.config
        block_id, element = find_element(message, action_id)
        action: JSON = {
            "action_id": action_id,
            "block_id": block_id,
            "type": element.get("type", "button"),
            "action_ts": f"{self.core.ids.now():.6f}",
        }
        for key in ("text", "value", "style"):
            if key in element:
                action[key] = element[key]
        if value is not None:
            action["value"] = value
            chosen = [o for o in element.get("options", []) if isinstance(o, dict) and o.get("value") == value]
            if chosen:
                action["selected_option"] = chosen[0]
        ephemeral = message.ephemeral_to is not None
        container: JSON = {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": channel.id,
            "is_ephemeral": ephemeral,
        }
        if message.thread_ts:
            container["thread_ts"] = message.thread_ts
        payload: JSON = {
            "type": "block_actions",
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id},
            "api_app_id": config.app_id,
            "token": config.verification_token,
            "container": container,
            "trigger_id": self._trigger_id(),
            "team": {"id": config.team_id, "domain": config.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel.id, "name": "directmessage" if channel.kind == "im" else channel.name},
            "state": {"values": {}},
            "response_url": self._new_url("actions", channel, user, message.ts).url,
            "actions": [action],
        }
        if not ephemeral:
            payload["message"] = self.core.wire.message(message)
        return payload

    async def on_ack(self, delivery: Delivery, attempt: Attempt) -> None:
        """Show a slash command's ack body to the person, like Slack does."""
        if delivery.kind != "slash_commands" or not attempt.response_body.strip():
            return
        body = parse_response_body(attempt.response_body)
        state = self.urls.get(str(delivery.payload.get("response_url", "")).removeprefix(self.core.urls.base))
        if body and state is not None and (body.get("text") or body.get("blocks")):
            self.apply(state, body)

    async def handle(self, request: web.Request) -> web.Response:
        """POST to a response URL."""
        state = self.urls.get(request.path)
        raw = await request.text()
        body = parse_response_body(raw) if raw.strip() else {}
        error: str | None = None
        effect: str | None = None
        if state is None:
            error = "invalid_url"
        elif self.core.ids.now() - state.created > self.core.config.response_url_ttl:
            error = "expired_url"
        elif state.uses >= self.core.config.response_url_max_uses:
            error = "used_url"
        else:
            state.uses += 1
            effect = self.apply(state, body)
            error = "no_text" if effect is None else None
        status = 200 if error is None else 404 if error in {"invalid_url", "expired_url", "used_url"} else 400
        self.posts.append(ResponseUrlPost(str(request.url), body, status, error, effect))
        self.core.notifier.notify()
        answer: JSON = {"ok": True} if error is None else {"ok": False, "error": error}
        return web.json_response(answer, status=status)

    def apply(self, state: ResponseUrl, body: JSON) -> str | None:
        """Carry out a response; returns what happened, or None when there was nothing to post."""
        workspace = self.core.workspace
        channel = workspace.channel(state.channel)
        original = self._original(state)
        if body.get("delete_original") in _TRUE and original is not None:
            previous = self.core.wire.message(original)
            workspace.delete(original)
            if original.ephemeral_to is None:
                self.core.emit(self.core.events.message_deleted(original, previous), channel)
            return "deleted_original"
        text, blocks = body.get("text"), body.get("blocks")
        if not text and not blocks:
            return None
        if body.get("replace_original") in _TRUE and original is not None:
            previous = self.core.wire.message(original)
            original.text, original.blocks = str(text or ""), blocks if isinstance(blocks, list) else None
            workspace.changed()
            if original.ephemeral_to is None:
                self.core.emit(self.core.events.message_changed(original, previous), channel)
            return "replaced_original"
        thread_ts = body.get("thread_ts") if isinstance(body.get("thread_ts"), str) else None
        in_channel = body.get("response_type") == "in_channel"
        message = self.core.bot_message(
            channel,
            str(text or ""),
            thread_ts=thread_ts,
            blocks=blocks if isinstance(blocks, list) else None,
            ephemeral_to=None if in_channel else state.user,
        )
        if in_channel:
            self.core.publish_message(message)
            return "posted_in_channel"
        workspace.store(message)
        if state.kind == "commands":
            state.message_ts = message.ts
        return "posted_ephemeral"

    def _original(self, state: ResponseUrl) -> Message | None:
        if state.message_ts is None:
            return None
        workspace = self.core.workspace
        ephemeral = workspace.ephemeral_message(state.channel, state.message_ts)
        if ephemeral is not None:
            return ephemeral
        return next((m for m in workspace.history(state.channel) if m.ts == state.message_ts and not m.deleted), None)
