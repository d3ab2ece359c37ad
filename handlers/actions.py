"""Buttons on the bot's messages."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.turns.runner import TurnRunner


def stop_listener(runner: TurnRunner) -> Any:
    """Stop: cancel the turn named on the button, if it is still running here."""

    async def on_stop(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        try:
            turn_id = int(action.get("value", ""))
        except ValueError:
            return
        runner.stop(turn_id, (body.get("user") or {}).get("id"))

    return on_stop
