"""One status message per turn, updated as the run goes, at most about once a second.

A person cannot read faster than that, and Slack allows ``chat.update`` only about 50 times a
minute per workspace, which all turns in progress share (:class:`UpdateBudget`); so
intermediate states are coalesced: the newest one wins, the final one is always shown.
``assistant.threads.setStatus`` is tried too; where Slack refuses it, we move on. The writes
happen in the background, in order, so a turn never waits for its status line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.inbound import ThreadKey

logger = logging.getLogger(__name__)

STOP_ACTION = "stop_turn"
#: setStatus errors that hold in every channel: the token can't call it at all.
_REFUSED_EVERYWHERE = frozenset({"missing_scope", "not_allowed_token_type", "no_permission", "invalid_auth"})
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


@dataclass(frozen=True)
class _Wanted:
    """A state the status line should show."""

    text: str
    buttons: list[dict[str, Any]]
    final: bool


class UpdateBudget:
    """How many status line updates may go to Slack now, shared by every turn this process runs.

    Slack allows ``chat.update`` about 50 times a minute per workspace (Tier 3), with short
    bursts (each replica of the bot keeps its own budget). A status line wants an update a
    second while its turn runs, so a few turns at once would pass that and be answered 429;
    instead their intermediate updates wait for the budget, and the newest state of each is
    shown when its turn's next one is allowed. A final state is never held back (it counts
    all the same).
    """

    def __init__(
        self, per_second: float = 50 / 60, *, burst: int = 20, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def delay(self) -> float:
        """Seconds until an intermediate update may go (0 now)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self._rate

    def spend(self) -> None:
        """An update goes out (a final one may overdraw the budget)."""
        self._refill()
        self._tokens -= 1

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now


class StatusMessage:
    """The turn's status line in the thread; best effort, never fails nor delays the turn.

    ``show``, ``finish`` and ``assistant_status`` only record what should be shown; one writer
    task per message (held by its :class:`StatusBoard`) makes the Slack calls in order: the
    first write posts the message, later ones update it, at most once per ``min_interval``
    except the final one, and the newest intermediate state wins.
    """

    def __init__(
        self,
        slack: AsyncWebClient,
        thread: ThreadKey,
        turn_id: int,
        *,
        ts: str | None = None,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
        on_posted: Callable[[str], Awaitable[None]] | None = None,
        assistant_status: bool = True,
        on_refused: Callable[[str], None] | None = None,
        budget: UpdateBudget | None = None,
    ) -> None:
        self._slack = slack
        self._budget = budget
        self._on_posted = on_posted
        self._spawn = spawn
        self._thread = thread
        self._turn_id = turn_id
        self.ts = ts
        self._min_interval = min_interval
        self._clock = clock
        self._shown: str | None = None
        self._wanted: _Wanted | None = None
        self._finished = False
        self._last_update = float("-inf")
        self._assistant_status = assistant_status
        self._on_refused = on_refused
        self._assistant_shown = ""
        self._assistant_wanted: str | None = None
        self._assistant_sending = False
        #: setStatus calls started so far (a reply only clears what was sent before it).
        self._assistant_calls = 0
        self._writer: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[None] | None = None

    def show(self, text: str) -> None:
        """Show ``text`` now, or, within a second of the last update, as soon as that second is over."""
        if self._finished:
            return
        self._wanted = _Wanted(text, self._stop(), final=False)
        self._start_writer()

    def finish(self, text: str, *, buttons: list[dict[str, Any]] | None = None) -> None:
        """Show the final state, whatever the time since the last update, without the Stop button."""
        self._finished = True
        self._wanted = _Wanted(text, buttons or [], final=True)
        self._assistant_wanted = ""
        self._start_writer()
        self._wake_writer()  # it may be waiting out the second (or the budget) for an intermediate state

    def cancel_pending(self) -> None:
        """Drop an intermediate update not written yet (the final state is always written)."""
        if self._wanted is not None and not self._wanted.final:
            self._wanted = None
            self._wake_writer()  # nothing left to wait for

    def assistant_status(self, status: str) -> None:
        """Slack's own "is thinking…" indicator under the thread; turned off after a refusal."""
        if not self._assistant_status:
            return
        self._assistant_wanted = status
        self._start_writer()
        self._wake_writer()  # it goes ahead of an update that waits

    def _wake_writer(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def reply_mark(self) -> int | None:
        """Taken just before the app posts in the thread; given back to :meth:`replied` after."""
        return None if self._assistant_sending else self._assistant_calls

    def replied(self, mark: int | None) -> None:
        """The app posted in the thread, which clears Slack's indicator: no call is needed to clear it.

        Only when no setStatus was in flight as the post began, none started while it was on its
        way and none is waiting to go: such a status may land after the post, and is cleared as usual.
        """
        if (
            mark is not None
            and mark == self._assistant_calls
            and not self._assistant_sending
            and self._assistant_wanted is None
        ):
            self._assistant_shown = ""

    def _stop(self) -> list[dict[str, Any]]:
        return [button(STOP_ACTION, "Stop", self._turn_id, style="danger")]

    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = self._spawn(self._write_all())

    async def _write_all(self) -> None:
        try:
            while await self._write_next():
                pass
        finally:
            self._writer = None

    async def _write_next(self) -> bool:
        """One step of the writer; False once nothing is left to write."""
        wanted = self._wanted
        if wanted is not None:
            wait = 0.0 if wanted.final else self._last_update + self._min_interval - self._clock()
            if wait <= 0 and not wanted.final and self.ts is not None and self._budget is not None:
                wait = self._budget.delay()  # the workspace's update budget, shared with other turns
            if wait <= 0:
                self._wanted = None
                if wanted.final or wanted.text != self._shown:
                    await self._guarded(self._write(wanted.text, wanted.buttons))
                return True
            if self._assistant_wanted is None:
                await self._pause(wait)  # a newer or final state may arrive meanwhile
                return True
            # The update must wait out its second: Slack's indicator goes first, not after the run.
        status = self._assistant_wanted
        if status is not None:
            self._assistant_wanted = None
            if status != self._assistant_shown and self._assistant_status:
                await self._guarded(self._set_assistant_status(status))
            return True
        return False

    async def _pause(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._wake = wake = loop.create_future()
        timer = loop.call_later(delay, _resolve, wake)
        try:
            await wake
        finally:
            timer.cancel()
            self._wake = None

    async def _guarded(self, call: Awaitable[None]) -> None:
        try:
            await call
        except Exception:  # a bug or a broken connection: the turn goes on without its status line
            logger.exception("status line of turn %s failed", self._turn_id)

    async def _set_assistant_status(self, status: str) -> None:
        self._assistant_sending = True
        self._assistant_calls += 1
        try:
            await self._slack.assistant_threads_setStatus(
                channel_id=self._thread.channel_id, thread_ts=self._thread.root_ts, status=status
            )
        except SlackApiError as exc:
            self._assistant_status = False  # not permitted here (scope, channel type): stop asking
            error = str(exc.response.get("error"))
            logger.debug("assistant.threads.setStatus refused: %s", error)
            if self._on_refused is not None:
                self._on_refused(error)
            return
        except SlackClientError as exc:  # the connection, not a refusal: try again next time
            logger.info("assistant.threads.setStatus failed: %s", exc)
            return
        finally:
            self._assistant_sending = False
        self._assistant_shown = status

    async def _write(self, text: str, buttons: list[dict[str, Any]]) -> None:
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
                if self._budget is not None:
                    self._budget.spend()
                await self._slack.chat_update(
                    channel=self._thread.channel_id, ts=self.ts, text=_plain(text), blocks=blocks
                )
        except SlackApiError as exc:
            logger.warning("could not show status for turn %s: %s", self._turn_id, exc.response.get("error"))
            return
        self._shown = text
        self._last_update = self._clock()


async def _nothing() -> None:
    """A writer with nothing to write."""


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _plain(text: str) -> str:
    """The notification text: the status without Markdown emphasis."""
    return text.replace("*", "").replace("_", "")


class StatusBoard:
    """The status message of each turn in progress, shared by everything that reports on it.

    It holds every status line's writer task until its last write is out, so none is
    garbage-collected mid-flight; :meth:`wait_idle` waits for them and :meth:`aclose` lets them
    finish for a moment, then cancels them.
    """

    def __init__(
        self,
        slack: AsyncWebClient,
        save_ts: Callable[[int, str], Awaitable[object]],
        *,
        budget: UpdateBudget | None = None,
        min_interval: float = 1.0,
    ) -> None:
        self._slack = slack
        self._save_ts = save_ts
        self._budget = budget or UpdateBudget()
        self._min_interval = min_interval
        self._live: dict[int, StatusMessage] = {}
        self._writers: set[asyncio.Task[None]] = set()
        self._closing = False
        # Where Slack refused assistant.threads.setStatus it is not asked again: in that channel,
        # or anywhere when the app lacks the scope.
        self._assistant_status = True
        self._no_assistant_status: set[str] = set()

    def get(self, thread: ThreadKey, turn_id: int, ts: str | None) -> StatusMessage:
        """The turn's status message (one object per turn while it is in progress)."""
        status = self._live.get(turn_id)
        if status is None:

            async def saved(new_ts: str) -> None:
                await self._save_ts(turn_id, new_ts)

            def refused(error: str) -> None:
                if error in _REFUSED_EVERYWHERE:
                    self._assistant_status = False
                else:
                    self._no_assistant_status.add(thread.channel_id)

            status = StatusMessage(
                self._slack,
                thread,
                turn_id,
                ts=ts,
                on_posted=saved,
                spawn=self._spawn,
                assistant_status=self._assistant_status and thread.channel_id not in self._no_assistant_status,
                on_refused=refused,
                budget=self._budget,
                min_interval=self._min_interval,
            )
            self._live[turn_id] = status
        return status

    def forget(self, turn_id: int) -> None:
        """The turn is over: drop its status object and any intermediate update still pending.

        A final state already asked for is still written.
        """
        status = self._live.pop(turn_id, None)
        if status is not None:
            status.cancel_pending()

    async def wait_idle(self) -> None:
        """Wait until every status line has been written (for tests, benchmarks and the demo)."""
        while self._writers:
            await asyncio.gather(*list(self._writers), return_exceptions=True)

    async def aclose(self, grace: float = 5.0) -> None:
        """Let the writes in progress finish for up to ``grace`` seconds (a turn's final "Done" line
        must not be lost to a restart: nothing would write it again), then cancel the rest.

        Status lines asked for after this are not written.
        """
        self._closing = True
        writers = list(self._writers)
        if writers:
            await asyncio.wait(writers, timeout=grace)
        for writer in writers:
            writer.cancel()
        await asyncio.gather(*writers, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        if self._closing:
            work.close()  # shutting down: the status line stays as it was
            work = _nothing()
        task = asyncio.create_task(work)
        self._writers.add(task)
        task.add_done_callback(self._writers.discard)
        return task
