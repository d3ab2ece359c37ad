"""Events that end sessions: the channel goes, the bot leaves, the app is uninstalled, a reaction."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.config import Settings
from bot.governance.gate import Gate
from bot.lifecycle import END_ACTION, Lifecycle
from handlers.actions import action_requester, action_thread
from handlers.workspace import workspace
from storage.records import ArchiveReason

_CHANNEL_EVENTS = {
    "channel_archive": ArchiveReason.CHANNEL_ARCHIVED,
    "group_archive": ArchiveReason.CHANNEL_ARCHIVED,
    "channel_deleted": ArchiveReason.CHANNEL_DELETED,
    "group_deleted": ArchiveReason.CHANNEL_DELETED,
    "channel_left": ArchiveReason.BOT_REMOVED,
    "group_left": ArchiveReason.BOT_REMOVED,
}


def register_lifecycle(app: AsyncApp, lifecycle: Lifecycle, settings: Settings, gate: Gate) -> None:
    """Attach the listeners for every event that ends sessions."""
    for name, reason in _CHANNEL_EVENTS.items():
        app.event(name)(_channel_gone(lifecycle, reason))

    @app.event("member_left_channel")
    async def bot_removed(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("user") == context.bot_user_id:
            await lifecycle.end_channel(workspace(body, context), str(event.get("channel")), ArchiveReason.BOT_REMOVED)

    @app.event("reaction_added")
    async def reaction(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        item = event.get("item") or {}
        if event.get("reaction") == settings.archive_reaction and item.get("type") == "message":
            await lifecycle.reaction(
                workspace(body, context), str(item.get("channel")), str(item.get("ts")), str(event.get("user"))
            )

    @app.event("app_uninstalled")
    async def uninstalled(body: dict[str, Any]) -> None:
        await lifecycle.end_team(str(body.get("team_id")), ArchiveReason.UNINSTALLED)

    @app.event("tokens_revoked")
    async def revoked(event: dict[str, Any], body: dict[str, Any]) -> None:
        if (event.get("tokens") or {}).get("bot"):
            await lifecycle.end_team(str(body.get("team_id")), ArchiveReason.TOKENS_REVOKED)

    @app.action(END_ACTION)
    async def end_pressed(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        who, root = action_requester(body, context), action_thread(body)
        if root and await gate.admit(who, root, shared=False):
            await lifecycle.end_thread(who.team_id, who.channel_id, root, ArchiveReason.END_REQUESTED)


def _channel_gone(lifecycle: Lifecycle, reason: ArchiveReason) -> Any:
    async def on_event(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        channel = event.get("channel")
        channel_id = channel.get("id") if isinstance(channel, dict) else channel
        await lifecycle.end_channel(workspace(body, context), str(channel_id), reason)

    return on_event
