"""The shared parts every emulator module works on, built once per emulator.

Keeping them in one object (instead of module globals) lets two emulators run side by side in
one test, and lets API methods, the driver and the delivery code publish events the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from .api_core import WebApi
from .config import EmulatorConfig
from .dispatcher import Dispatcher
from .events import EventFactory
from .filestore import FileStore
from .ids import IdFactory
from .models import Channel, Message
from .records import Delivery, Notifier
from .wire import JSON, Urls, Wire
from .workspace import Workspace


@dataclass
class Core:
    """Config, state, renderers and the outbound dispatcher of one emulator."""

    config: EmulatorConfig
    ids: IdFactory
    notifier: Notifier
    workspace: Workspace
    files: FileStore
    urls: Urls
    wire: Wire
    events: EventFactory
    api: WebApi
    dispatcher: Dispatcher

    def emit(self, events: list[JSON], channel: Channel | None = None) -> list[Delivery]:
        """Wrap inner events in envelopes and deliver them to the app (none once uninstalled)."""
        if not self.workspace.installed:
            return []
        return [self.dispatcher.publish("events_api", self.events.envelope(e, channel=channel)) for e in events]

    def publish_message(self, message: Message, *, stub_files: frozenset[str] = frozenset()) -> list[Delivery]:
        """Store a new message and deliver the events Slack sends for it."""
        self.workspace.store(message)
        channel = self.workspace.channel(message.channel)
        return self.emit(self.events.new_message(message, stub_files=stub_files), channel)

    def bot_message(
        self,
        channel: Channel,
        text: str = "",
        *,
        thread_ts: str | None = None,
        blocks: list[JSON] | None = None,
        markdown_text: str | None = None,
        attachments: list[JSON] | None = None,
        metadata: JSON | None = None,
        files: list[str] | None = None,
        subtype: str | None = None,
        reply_broadcast: bool = False,
        ephemeral_to: str | None = None,
    ) -> Message:
        """A message authored by the installed bot, timestamped now (not yet stored)."""
        bot = self.workspace.bot
        return Message(
            channel=channel.id,
            ts=self.workspace.next_ts(),
            user=bot.id,
            bot_id=bot.bot_id,
            app_id=bot.app_id,
            text=text,
            thread_ts=thread_ts,
            blocks=blocks,
            markdown_text=markdown_text,
            attachments=attachments,
            metadata=metadata,
            files=files or [],
            subtype=subtype,
            reply_broadcast=reply_broadcast,
            ephemeral_to=ephemeral_to,
        )
