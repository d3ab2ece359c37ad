"""One status message per turn, updated as the run goes, at most about once a second.

Slack allows roughly one ``chat.update`` per second per channel, and a person cannot read
faster anyway, so intermediate states are coalesced: the newest one wins, the final one is
always shown. ``assistant.threads.setStatus`` is tried too; where Slack refuses it, we move on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.inbound import ThreadKey

logger = logging.getLogger(__name__)

STOP_ACTION = "stop_turn"
END_ACTION = "end_session"


def status_blocks(text: str, *, buttons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A status line, with the turn's buttons under it (Stop while it runs, Show code after)."""
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return blocks


def button(action_id: str, label: str, turn_id: int, *, style: str | None = None) -> dict[str, Any]:
    """A button that names its turn."""
    element: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": str(turn_id),
    }
    if style:
        element["style"] = style
    return element


class StatusMessage:
    """The turn's status line in the thread; best effort, never fails the turn."""

    def __init__(
        self,
        slack: AsyncWebClient,
        thread: ThreadKey,
        turn_id: int,
        *,
        ts: str | None = None,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        on_posted: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._slack = slack
        self._on_posted = on_posted
        self._lock = asyncio.Lock()
        self._thread = thread
        self._turn_id = turn_id
        self.ts = ts
        self._min_interval = min_interval
        self._clock = clock
        self._shown: str | None = None
        self._wanted: str | None = None
        self._last_update = float("-inf")
        self._flush: asyncio.Task[None] | None = None
        self._assistant_status = True

    async def show(self, text: str) -> None:
        """Show ``text`` now, or, within a second of the last update, as soon as that second is over."""
        self._wanted = text
        if text == self._shown or self._flush is not None:
            return
        wait = self._last_update + self._min_interval - self._clock()
        if wait <= 0:
            await self._write(text, buttons=self._stop())
        else:
            self._flush = asyncio.create_task(self._flush_after(wait))

    def cancel_pending(self) -> None:
        """Drop an update still waiting for its second to pass."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None

    async def finish(self, text: str, *, buttons: list[dict[str, Any]] | None = None) -> None:
        """Show the final state, whatever the time since the last update, without the Stop button."""
        self.cancel_pending()
        await self._write(text, buttons=buttons or [])
        await self.assistant_status("")

    async def _flush_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._flush = None
        if self._wanted is not None and self._wanted != self._shown:
            await self._write(self._wanted, buttons=self._stop())

    async def assistant_status(self, status: str) -> None:
        """Slack's own "is thinking…" indicator under the thread; turned off after a refusal."""
        if not self._assistant_status:
            return
        try:
            await self._slack.assistant_threads_setStatus(
                channel_id=self._thread.channel_id, thread_ts=self._thread.root_ts, status=status
            )
        except SlackClientError as exc:
            self._assistant_status = False  # not permitted here (scope, channel type): stop asking
            logger.debug("assistant.threads.setStatus refused: %s", exc)

    def _stop(self) -> list[dict[str, Any]]:
        return [button(STOP_ACTION, "Stop", self._turn_id, style="danger")]

    async def _write(self, text: str, *, buttons: list[dict[str, Any]]) -> None:
        async with self._lock:  # one post, then updates: never two status messages for one turn
            await self._write_locked(text, buttons)

    async def _write_locked(self, text: str, buttons: list[dict[str, Any]]) -> None:
        blocks = status_blocks(text, buttons=buttons)
        try:
            if self.ts is None:
                response = await self._slack.chat_postMessage(
                    channel=self._thread.channel_id,
                    thread_ts=self._thread.root_ts,
                    text=_plain(text),
                    blocks=blocks,
                    metadata={"event_type": "code_interpreter_status", "event_payload": {"turn_id": self._turn_id}},
                )
                self.ts = str(response["ts"])
                if self._on_posted is not None:
                    await self._on_posted(self.ts)
            else:
                await self._slack.chat_update(
                    channel=self._thread.channel_id, ts=self.ts, text=_plain(text), blocks=blocks
                )
        except SlackApiError as exc:
            logger.warning("could not show status for turn %s: %s", self._turn_id, exc.response.get("error"))
            return
        self._shown = text
        self._last_update = self._clock()


def _plain(text: str) -> str:
    """The notification text: the status without Markdown emphasis."""
    return text.replace("*", "").replace("_", "")


class StatusBoard:
    """The status message of each turn in progress, shared by everything that reports on it."""

    def __init__(self, slack: AsyncWebClient, save_ts: Callable[[int, str], Awaitable[object]]) -> None:
        self._slack = slack
        self._save_ts = save_ts
        self._live: dict[int, StatusMessage] = {}

    def get(self, thread: ThreadKey, turn_id: int, ts: str | None) -> StatusMessage:
        """The turn's status message (one object per turn while it is in progress)."""
        status = self._live.get(turn_id)
        if status is None:

            async def saved(new_ts: str) -> None:
                await self._save_ts(turn_id, new_ts)

            status = StatusMessage(self._slack, thread, turn_id, ts=ts, on_posted=saved)
            self._live[turn_id] = status
        return status

    def forget(self, turn_id: int) -> None:
        """The turn is over; drop its status object and any update it still had pending."""
        status = self._live.pop(turn_id, None)
        if status is not None:
            status.cancel_pending()
