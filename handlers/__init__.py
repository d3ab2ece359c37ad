"""Thin Slack listeners: parse an event into a typed model, call a service, format the reply.

:func:`register` wires every listener onto an app. Every event the manifest subscribes to has
a listener (a catch-all acknowledges the rest), because in Socket Mode an event no listener
matched is never acknowledged and Slack would deliver it again.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

from bot.outputs.code import SHOW_CODE_ACTION
from bot.relay import DISMISS_ACTION, OFFER_ACTION
from bot.slack.status import STOP_ACTION
from handlers.actions import dismiss_listener, offer_listener, show_code_listener, stop_listener
from handlers.commands import COMMAND, CommandServices, command_listener
from handlers.lifecycle import register_lifecycle
from handlers.messages import message_listener

if TYPE_CHECKING:
    from bot.app import Services


def register(app: AsyncApp, services: Services) -> None:
    """Attach every listener to ``app``."""
    relay, runner, slack, store = services.relay, services.runner, services.slack, services.store
    on_message = message_listener(relay, services.lifecycle)
    app.event("app_mention")(on_message)
    app.event("message")(on_message)
    gate = services.gate
    app.action(STOP_ACTION)(stop_listener(runner, store, gate))
    app.action(OFFER_ACTION)(offer_listener(relay))
    app.action(DISMISS_ACTION)(dismiss_listener())
    app.action(SHOW_CODE_ACTION)(show_code_listener(store, slack, gate))
    settings = services.settings
    commands = CommandServices(
        relay=relay,
        slack=slack,
        store=store,
        gate=gate,
        usage=services.usage,
        capacity=settings.max_concurrent_sessions,
        max_file_mb=settings.max_file_mb,
        clock=services.clock,
    )
    app.command(COMMAND)(command_listener(commands))
    register_lifecycle(app, services.lifecycle, settings, gate)
    app.event(re.compile(".*"))(_acknowledge)


async def _acknowledge() -> None:
    """Events we subscribe to but do not act on yet are acknowledged and dropped."""
