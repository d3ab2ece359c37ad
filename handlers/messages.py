"""``app_mention`` and ``message`` events: parse, hand to the relay."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.lifecycle import Lifecycle
from bot.relay import Relay
from bot.slack.inbound import parse_message
from handlers.workspace import workspace
from storage.records import ArchiveReason


def message_listener(relay: Relay, lifecycle: Lifecycle) -> Any:
    """The listener for both event types; both go through the same exactly-once path."""

    async def on_message(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        team = workspace(body, context)
        if event.get("subtype") == "message_deleted" and event.get("deleted_ts"):
            channel = str(event.get("channel"))
            await lifecycle.end_thread(team, channel, str(event["deleted_ts"]), ArchiveReason.ROOT_DELETED)
            return
        message = parse_message(
            event,
            team_id=team,
            bot_user_id=context.bot_user_id,
            shared_channel=bool(body.get("is_ext_shared_channel")),
        )
        if message is not None:
            await relay.accept(message)

    return on_message
