"""Looking at the emulator from a test: records, thread views, and waits that never sleep blindly.

Every wait re-checks its condition whenever the emulator changes (and at least every 50 ms, for
conditions that also look outside the emulator), and fails with a description of what it was
waiting for plus the state it saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from .core import Core
from .downloads import Downloads
from .driver import ChannelRef, UserRef
from .ids import ts_key
from .interactions import Interactions
from .models import Channel, Message, User
from .records import ApiCall, Delivery, DeliveryKind, DownloadRequest, ResponseUrlPost
from .render import render_lines

T = TypeVar("T")
_POLL = 0.05


class Observations:
    """Mixin of :class:`SlackEmulator`: what tests read and wait on."""

    core: Core
    downloads: Downloads
    interactions: Interactions

    def _channel_id(self, channel: ChannelRef) -> str:
        return channel.id if isinstance(channel, Channel) else channel

    @staticmethod
    def _user_id(user: UserRef | None) -> str | None:
        return user.id if isinstance(user, User) else user

    # -- records ---------------------------------------------------------------------------------

    def api_calls(self, method: str | None = None) -> list[ApiCall]:
        """Every Web API call so far, or those of one method, oldest first."""
        return [c for c in self.core.api.calls if method is None or c.method == method]

    def deliveries(self, *, kind: DeliveryKind | None = None, type: str | None = None) -> list[Delivery]:
        """Deliveries so far, filtered by kind and/or event type (``app_mention``, ``/interpreter`` …)."""
        return [
            d
            for d in self.core.dispatcher.deliveries
            if (kind is None or d.kind == kind) and (type is None or d.event_type == type)
        ]

    def deliveries_about(self, channel: ChannelRef, ts: str) -> list[Delivery]:
        """Event deliveries concerning one message (posted, edited, deleted, reacted to)."""
        channel_id = self._channel_id(channel)

        def about(event: dict[str, object]) -> bool:
            item, edited = event.get("item"), event.get("message")
            if isinstance(item, dict):
                return item.get("channel") == channel_id and item.get("ts") == ts
            touched = {event.get("ts"), event.get("deleted_ts"), edited.get("ts") if isinstance(edited, dict) else None}
            return event.get("channel") == channel_id and ts in touched

        return [d for d in self.core.dispatcher.deliveries if d.kind == "events_api" and about(d.event)]

    @property
    def download_requests(self) -> list[DownloadRequest]:
        """Every GET of a file URL, on both hosts."""
        return list(self.downloads.requests)

    @property
    def response_url_posts(self) -> list[ResponseUrlPost]:
        """Every POST to a response URL."""
        return list(self.interactions.posts)

    # -- views -----------------------------------------------------------------------------------

    def thread(self, channel: ChannelRef, root_ts: str, *, viewer: UserRef | None = None) -> list[Message]:
        """The thread in order as ``viewer`` sees it (their ephemeral messages included)."""
        return self.core.workspace.thread(self._channel_id(channel), root_ts, self._user_id(viewer))

    def render_thread(self, channel: ChannelRef, root_ts: str, *, viewer: UserRef | None = None) -> list[str]:
        """:meth:`thread` as readable lines."""
        return render_lines(self.thread(channel, root_ts, viewer=viewer), self.core.workspace, self.core.files)

    def timeline(self, channel: ChannelRef, *, viewer: UserRef | None = None) -> list[Message]:
        """Top-level messages of a channel as ``viewer`` sees them."""
        return self.core.workspace.timeline(self._channel_id(channel), self._user_id(viewer))

    def render_timeline(self, channel: ChannelRef, *, viewer: UserRef | None = None) -> list[str]:
        """:meth:`timeline` as readable lines."""
        return render_lines(self.timeline(channel, viewer=viewer), self.core.workspace, self.core.files)

    def file_info(self, file_id: str) -> dict[str, Any]:
        """A stored file as ``files.info`` shows it (URLs, type, size, ``shares``)."""
        stored = self.core.files.get(file_id)
        if stored is None:
            raise LookupError(f"no file {file_id}")
        return self.core.wire.file(stored)

    def ephemeral_messages(self, user: UserRef) -> list[Message]:
        """Every ephemeral message shown to ``user``."""
        user_id = self._user_id(user)
        return [m for m in self.core.workspace.ephemeral if m.ephemeral_to == user_id and not m.deleted]

    def thread_status(self, channel: ChannelRef, thread_ts: str) -> str | None:
        """The ``assistant.threads.setStatus`` text currently shown on a thread, if any."""
        return self.core.workspace.statuses.get((self._channel_id(channel), thread_ts)) or None

    # -- waits -----------------------------------------------------------------------------------

    # The public waits take ``timeout=`` on purpose: tests read better with the bound in the call.
    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        description: str = "condition",
    ) -> T:
        """Wait until ``predicate()`` is truthy and return its value; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"Slack emulator: {description} not met within {timeout} s")
            await self.core.notifier.wait(min(left, _POLL))

    async def wait_for_reply(
        self,
        channel: ChannelRef,
        thread_ts: str,
        *,
        after: str | None = None,
        contains: str | None = None,
        matching: Callable[[Message], bool] | None = None,
        viewer: UserRef | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> Message:
        """The first bot message in the thread newer than ``after`` that matches.

        ``after`` defaults to the newest message in the thread not written by the bot, taken
        when the wait starts: "the bot's answer to what was said last".
        """
        channel_id = self._channel_id(channel)
        bot = self.core.workspace.bot.id
        if after is None:
            human = [m for m in self.thread(channel_id, thread_ts) if m.user != bot]
            after = human[-1].ts if human else thread_ts

        def found() -> Message | None:
            for message in self.thread(channel_id, thread_ts, viewer=viewer):
                if message.user != bot or ts_key(message.ts) <= ts_key(after):
                    continue
                if contains is not None and contains not in message.text:
                    continue
                if matching is None or matching(message):
                    return message
            return None

        try:
            return await self.wait_for(found, timeout=timeout, description="bot reply")
        except TimeoutError:
            lines = "\n".join(self.render_thread(channel_id, thread_ts, viewer=viewer))
            raise TimeoutError(f"no bot reply in thread {thread_ts} within {timeout} s; thread:\n{lines}") from None

    async def wait_for_api_call(self, method: str, *, count: int = 1, timeout: float = 5.0) -> ApiCall:  # noqa: ASYNC109
        """Wait until ``method`` has been called ``count`` times; returns the latest such call."""
        calls = await self.wait_for(
            lambda: self.api_calls(method) if len(self.api_calls(method)) >= count else [],
            timeout=timeout,
            description=f"{count} call(s) of {method}",
        )
        return calls[-1]

    async def wait_for_socket_connection(self, *, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until at least ``count`` Socket Mode connections are open."""
        await self.wait_for(
            lambda: len(self.core.dispatcher.socket.connections) >= count,
            timeout=timeout,
            description=f"{count} Socket Mode connection(s)",
        )

    async def settle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until every delivery started so far is acked or has used up its retries."""
        await self.core.dispatcher.settle(timeout)
