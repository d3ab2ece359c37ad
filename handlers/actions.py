"""Buttons on the bot's messages: Stop, and the answer to an offer to analyse dropped files."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.governance.access import Requester
from bot.governance.gate import Gate
from bot.outputs.code import post_code
from bot.relay import Relay
from bot.turns.runner import TurnRunner
from handlers.workspace import workspace
from storage.protocol import Store


def action_requester(body: dict[str, Any], context: AsyncBoltContext) -> Requester:
    """Who pressed a button, and where (``block_actions`` payload)."""
    user = body.get("user") or {}
    return Requester(
        team_id=workspace(body, context),
        channel_id=action_channel(body) or "",
        user_id=str(user.get("id") or ""),
        user_team=user.get("team_id"),
        shared_channel=bool(body.get("is_ext_shared_channel")),
    )


def action_channel(body: dict[str, Any]) -> str | None:
    """The channel of the message a button sits on."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return str(channel) if channel else None


def action_thread(body: dict[str, Any]) -> str | None:
    """The thread root of the message a button sits on."""
    container, message = body.get("container") or {}, body.get("message") or {}
    root = container.get("thread_ts") or message.get("thread_ts") or container.get("message_ts")
    return str(root) if root else None


async def button_turn(store: Store, body: dict[str, Any], action: dict[str, Any]) -> int | None:
    """The turn a button names, if it is a turn of the thread the button sits in.

    Only the bot writes button values, but a payload naming another thread's turn (replayed, or
    built by hand) must not reach that turn: the turn's session is checked against the button's
    channel and thread.
    """
    try:
        turn_id = int(action.get("value", ""))
    except ValueError:
        return None
    turn = await store.get_turn(turn_id)
    session = await store.get_session(turn.session_id) if turn is not None else None
    if session is None:
        return None
    if (session.channel_id, session.root_ts) != (action_channel(body), action_thread(body)):
        return None
    return turn_id


def stop_listener(runner: TurnRunner, store: Store, gate: Gate) -> Any:
    """Stop: cancel the turn named on the button if it runs here, or withdraw it if it is still queued."""

    async def on_stop(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        who = action_requester(body, context)
        if not await gate.admit(who, action_thread(body) or "", shared=False):
            return
        turn_id = await button_turn(store, body, action)
        if turn_id is not None:
            await runner.halt(turn_id, who.user_id)

    return on_stop


def show_code_listener(store: Store, slack: AsyncWebClient, gate: Gate) -> Any:
    """Show code: post the code the turn ran as a Python snippet in its thread."""

    async def on_show_code(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        if not await gate.admit(action_requester(body, context), action_thread(body) or "", shared=False):
            return
        turn_id = await button_turn(store, body, action)
        if turn_id is not None:
            await post_code(store, slack, turn_id)

    return on_show_code


def offer_listener(relay: Relay) -> Any:
    """Analyse: the uploader consents; the offer goes away and a thread starts on their message."""

    async def on_offer(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
    ) -> None:
        await ack()
        target = _target(action)
        if target is None:
            return
        await respond(delete_original=True)
        await relay.accept_offer(action_requester(body, context), ts=target[0], thread_ts=target[1])

    return on_offer


def dismiss_listener() -> Any:
    """Not now: the offer goes away and nothing is sent anywhere."""

    async def on_dismiss(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await respond(delete_original=True)

    return on_dismiss


def _target(action: dict[str, Any]) -> tuple[str, str | None] | None:
    try:
        value = json.loads(str(action.get("value") or ""))
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("ts"), str):
        return None
    thread_ts = value.get("thread_ts")
    return value["ts"], thread_ts if isinstance(thread_ts, str) else None
