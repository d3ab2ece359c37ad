"""``/interpreter``: a question becomes a new thread in the channel; ``help`` explains the bot."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.relay import HELP_TEXT, Relay
from bot.slack.inbound import IncomingMessage

COMMAND = "/interpreter"
NOT_IN_CHANNEL = "I'm not in this channel yet. Invite me with `/invite @code-interpreter`, then ask again."


def command_listener(relay: Relay, slack: AsyncWebClient) -> Any:
    """Acknowledge at once; the question is posted as a root message and run as that thread's first turn."""

    async def on_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        text = str(command.get("text") or "").strip()
        if text.lower() in ("", "help"):
            await ack(response_type="ephemeral", text=HELP_TEXT)
            return
        await ack()
        user, channel = command["user_id"], command["channel_id"]
        try:
            root = await slack.chat_postMessage(channel=channel, text=f"<@{user}> asked: {text}")
        except SlackApiError as exc:
            error = exc.response.get("error")
            reply = (
                NOT_IN_CHANNEL
                if error in ("not_in_channel", "channel_not_found")
                else (f"I couldn't start a thread here ({error}).")
            )
            await respond(response_type="ephemeral", text=reply)
            return
        await relay.accept(
            IncomingMessage(
                team_id=command["team_id"],
                channel_id=channel,
                channel_type="im" if channel.startswith("D") else "channel",
                user_id=user,
                ts=str(root["ts"]),
                text=text,
                mentions_bot=True,
            )
        )

    return on_command
