"""``/interpreter``: a question becomes a new thread; ``help``, ``status`` and ``usage`` answer privately."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.channel_status import channel_status
from bot.governance.access import Requester
from bot.governance.gate import Gate
from bot.governance.usage import UsageBook
from bot.help import command_help
from bot.relay import Relay
from bot.render import defuse_broadcasts
from bot.slack.inbound import IncomingMessage
from handlers.workspace import workspace
from storage import Clock
from storage.protocol import Store

COMMAND = "/interpreter"
NOT_IN_CHANNEL = "I'm not in this channel yet. Invite me with `/invite @code-interpreter`, then ask again."
NOT_HERE = (
    "I can't post in this conversation. In a channel, invite me with `/invite @code-interpreter`; "
    "a direct message between people can't include me, so DM me instead."
)


@dataclass(frozen=True)
class CommandServices:
    """What the command needs, gathered once by :func:`handlers.register`."""

    relay: Relay
    slack: AsyncWebClient
    store: Store
    gate: Gate
    usage: UsageBook
    capacity: int
    max_file_mb: int
    clock: Clock


def requester(command: dict[str, Any], context: AsyncBoltContext) -> Requester:
    """Who typed the command, and where.

    The workspace is the one the app's token belongs to (``auth.test``); the payload's ``team_id``
    is the person's own, which differs for someone from another organisation.
    """
    return Requester(
        workspace(command, context), str(command["channel_id"]), str(command["user_id"]), command.get("team_id")
    )


def command_listener(services: CommandServices) -> Any:
    """Acknowledge at once; subcommands answer privately, a question starts a thread."""

    async def on_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
    ) -> None:
        text = str(command.get("text") or "").strip()
        word = text.lower()
        if word in ("", "help"):
            bot = f"<@{context.bot_user_id}>" if context.bot_user_id else "@code-interpreter"
            await ack(response_type="ephemeral", text=command_help(services.max_file_mb, bot))
            return
        await ack()
        who = requester(command, context)
        refusal = services.gate.policy.check(who)
        if refusal is not None:
            await respond(response_type="ephemeral", text=refusal.message)
            return
        if word == "status":
            report = await channel_status(
                services.store,
                who.team_id,
                who.channel_id,
                team_domain=command.get("team_domain"),
                capacity=services.capacity,
                now=services.clock(),
            )
            await respond(response_type="ephemeral", text=report)
        elif word == "usage":
            admin = services.gate.policy.is_admin(who.user_id)
            report = await services.usage.report(who.team_id, who.channel_id, who.user_id, admin=admin)
            await respond(response_type="ephemeral", text=report)
        else:
            await _ask(services, who, text, respond)

    return on_command


async def _ask(services: CommandServices, who: Requester, text: str, respond: AsyncRespond) -> None:
    """Post the question as a root message and run it as that thread's first turn."""
    limited = await services.gate.limits.check(who, has_sandbox=False)
    if limited is not None:
        await respond(response_type="ephemeral", text=limited.message)
        return
    try:
        asked = f"<@{who.user_id}> asked: {defuse_broadcasts(text)}"
        root = await services.slack.chat_postMessage(channel=who.channel_id, text=asked)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error == "not_in_channel":
            reply = NOT_IN_CHANNEL
        elif error == "channel_not_found":
            reply = NOT_IN_CHANNEL if who.channel_id.startswith(("C", "G")) else NOT_HERE
        else:
            reply = f"I couldn't start a thread here ({error})."
        await respond(response_type="ephemeral", text=reply)
        return
    await services.relay.accept(
        IncomingMessage(
            team_id=who.team_id,
            channel_id=who.channel_id,
            channel_type="im" if who.channel_id.startswith("D") else "channel",
            user_id=who.user_id,
            ts=str(root["ts"]),
            text=text,
            mentions_bot=True,
            user_team=who.user_team,
        )
    )
