"""Decides which Slack messages become turns, and queues each one exactly once.

A mention arrives twice (``app_mention`` and ``message``) and Slack retries deliveries, in any
order and across restarts. The turn record itself is the guard: a turn is unique per
(session, message ts) in the database, so only the first arrival creates it. Files travel with
their turn and are attached when it runs, so a question never runs before its files. An
``app_mention`` payload may leave the files out; the mention then takes them from its
``message`` twin, or reads the message back when no twin comes within half a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.files.names import human_size, safe_name
from bot.files.types import accepted_list
from bot.governance.access import Requester, requester_of
from bot.governance.gate import Gate
from bot.help import HELP_TEXT
from bot.lifecycle import Lifecycle
from bot.slack.inbound import IncomingMessage, ThreadKey
from bot.slack.lookup import message_files, read_message
from bot.together import both
from bot.turns.runner import TurnDeps
from bot.turns.scheduler import TurnScheduler
from storage.records import IN_FLIGHT_TURN_STATES, ArchiveReason, FileStatus, SessionState, Turn, TurnState

logger = logging.getLogger(__name__)

FilesOrTwin = list[dict[str, Any]] | asyncio.Future[list[dict[str, Any]]]

#: How long a mention whose payload may lack its files waits for its ``message`` twin, which has them.
TWIN_WAIT_S = 0.5
OFFER_ACTION = "analyse_files"
END_WORDS = frozenset({"end", "end session", "stop session", "close", "done"})
FILES_WORDS = frozenset({"files", "list files", "show files", "my files"})
DISMISS_ACTION = "dismiss_files"


class Relay:
    """Turns people's messages into queued turns, in order, once each."""

    def __init__(
        self,
        deps: TurnDeps,
        scheduler: TurnScheduler,
        lifecycle: Lifecycle,
        gate: Gate,
        *,
        remember: int = 10_000,
        twin_wait: float = TWIN_WAIT_S,
    ) -> None:
        self._d = deps
        self._scheduler = scheduler
        self._lifecycle = lifecycle
        self._gate = gate
        self._limits_lock = asyncio.Lock()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._twins: dict[str, asyncio.Future[list[dict[str, Any]]]] = {}
        self._twin_wait = twin_wait

    async def accept(self, message: IncomingMessage) -> Turn | None:
        """Queue the message as a turn if it is one; None when it is ignored or already queued."""
        key = f"{message.team_id}:{message.channel_id}:{message.ts}"
        if self._seen_recently(key):
            twin = self._twins.get(key)
            if twin is not None and not twin.done() and not message.files_may_be_missing:
                twin.set_result(message.files)  # the files a mention's payload left out
            return None  # the twin delivery (app_mention + message) of a message handled here
        if message.files or not message.files_may_be_missing:
            return await self._accept(message, message.files)
        # Registered before any await, so the twin cannot slip past it.
        twin = self._twins[key] = asyncio.get_running_loop().create_future()
        try:
            return await self._accept(message, twin)
        finally:
            del self._twins[key]

    async def _accept(self, message: IncomingMessage, files_or_twin: FilesOrTwin) -> Turn | None:
        if not await self._is_turn(message):
            if message.files and await self._may_offer(message):
                await self._dropped_in_channel(message)
            return None
        if not await self._gate.admit(requester_of(message), message.thread.root_ts):
            return None  # told why, once per thread; nothing of theirs is queued or uploaded
        files = files_or_twin if isinstance(files_or_twin, list) else await self._twin_files(message, files_or_twin)
        if not message.question and not files:
            if message.mentions_bot or message.is_dm:
                await self._help_once(message)
            return None
        if message.mentions_bot and message.question.lower().strip(" .!") in END_WORDS and message.thread_ts:
            await self._end(message)
            return None
        if (
            (message.mentions_bot or message.is_dm)
            and message.question.lower().strip(" .!?") in FILES_WORDS
            and not files
        ):
            await self._list_files(message)
            return None
        return await self.start_turn(message, files)

    async def _may_offer(self, message: IncomingMessage) -> bool:
        """Files dropped without a mention: an allowed person's are offered (or taken, in ``auto``).

        A refused person is told why only in ``auto`` mode, where the drop itself would have
        started a session; in ``offer`` mode the bot stays out of their way.
        """
        if self._d.settings.file_drop_mode == "auto":
            return await self._gate.admit(requester_of(message), message.thread.root_ts)
        return self._gate.policy.check(requester_of(message)) is None

    async def _list_files(self, message: IncomingMessage) -> None:
        """`@bot files`: the thread's files with their sizes."""
        thread = message.thread
        session = await self._d.store.get_live_session(thread.team_id, thread.channel_id, thread.root_ts)
        files = await self._d.store.list_files(session.id, statuses=[FileStatus.UPLOADED]) if session else []
        if files:
            lines = [f"*Files in this thread* ({len(files)}), in the sandbox under `/mnt/data`:"]
            lines.extend(f"• {safe_name(f.name)}: {human_size(f.size)}" for f in files)
            text = "\n".join(lines)
        else:
            text = f"There are no files in this thread yet. Drop one here to attach it. Accepted: {accepted_list()}."
        await self._say(thread, text)

    async def _twin_files(self, message: IncomingMessage, twin: asyncio.Future[list[dict[str, Any]]]) -> list[Any]:
        """The files of a mention whose payload may lack them: from its ``message`` twin, else read back."""
        try:
            return await asyncio.wait_for(twin, self._twin_wait)
        except TimeoutError:  # no twin here (not subscribed, or delivered to another process)
            return await message_files(self._d.slack, message.channel_id, message.ts, message.thread.root_ts)

    async def _end(self, message: IncomingMessage) -> None:
        """`@bot end` in a thread: end its session (and say so if there was none)."""
        thread = message.thread
        if not await self._lifecycle.end_thread(
            thread.team_id, thread.channel_id, thread.root_ts, ArchiveReason.END_REQUESTED
        ):
            await self._d.slack.chat_postMessage(
                channel=message.channel_id, thread_ts=thread.root_ts, text="There's no live session in this thread."
            )

    def _seen_recently(self, key: str) -> bool:
        """A cheap first check in this process; the database stays the guard across processes."""
        if key in self._recent:
            return True
        self._recent[key] = None
        if len(self._recent) > self._remember:
            self._recent.popitem(last=False)
        return False

    async def start_turn(self, message: IncomingMessage, files: list[dict[str, Any]]) -> Turn | None:
        """Queue a turn for the message on its thread's session (created on first use)."""
        thread = message.thread
        if message.question and self._gate.limits.active:
            async with self._limits_lock:  # the check and the enqueue are one step, so a burst can't pass
                if not await self._within_limits(message):
                    return None  # checked before a session exists, so a refused thread leaves nothing behind
                queued = await self._enqueue(message, files)
        else:
            queued = await self._enqueue(message, files)
        if queued is None:
            return None
        turn, starts_over = queued
        if starts_over:
            await self._say(
                thread,
                ":sparkles: This thread's earlier session ended, so this starts a fresh one: "
                "files and results from before are gone. Drop the files again if you need them.",
            )
        await self._tell_if_queued(turn, thread)
        self._scheduler.kick(turn.session_id)
        return turn

    async def _enqueue(self, message: IncomingMessage, files: list[dict[str, Any]]) -> tuple[Turn, bool] | None:
        """The new turn, and whether it starts its thread over (an earlier session of the thread ended);
        None when the message is no new turn."""
        thread = message.thread
        session, fresh = await self._d.store.get_or_create_session(thread.team_id, thread.channel_id, thread.root_ts)
        if session.state is not SessionState.ACTIVE:
            await self._say(thread, "I'm still cleaning up this thread's last session. Ask again in a moment.")
            return None
        enqueue = self._d.store.enqueue_turn(
            session.id, user_id=message.user_id, message_ts=message.ts, text=message.question, files=files
        )
        if fresh:  # asked side by side: one reads, the other writes
            (turn, created), starts_over = await both(enqueue, self._had_a_session(thread))
        else:
            (turn, created), starts_over = await enqueue, False
        if not created:
            return None  # the same message again: a double delivery or a retry
        return turn, starts_over

    async def _within_limits(self, message: IncomingMessage) -> bool:
        """The day's limits allow the question; a redelivery of a queued one is not refused again."""
        thread = message.thread
        live = await self._d.store.get_live_session(thread.team_id, thread.channel_id, thread.root_ts)
        turns = await self._d.store.list_turns(live.id) if live else []
        if any(t.message_ts == message.ts for t in turns):
            return False  # already queued: a redelivery, not a new question
        # A thread with a sandbox, or with a question already waiting for one, needs no new session.
        pending = any(t.text and (t.state is TurnState.QUEUED or t.state in IN_FLIGHT_TURN_STATES) for t in turns)
        has_sandbox = live is not None and (live.last_container_id is not None or pending)
        refusal = await self._gate.limits.check(requester_of(message), has_sandbox=has_sandbox)
        if refusal is None:
            return True
        await self._gate.refuse_once(requester_of(message), refusal, thread.root_ts, key=message.ts)
        return False

    async def accept_offer(self, who: Requester, ts: str, thread_ts: str | None) -> None:
        """The uploader agreed: start a session on the message that carried the files.

        Only the uploader is offered, so only the message's own author may accept: a payload
        naming someone else's message (built by hand) starts nothing.
        """
        root = thread_ts or ts
        if not await self._gate.admit(who, root):
            return
        team_id, channel_id, user_id = who.team_id, who.channel_id, who.user_id
        try:
            dropped = await read_message(self._d.slack, channel_id, ts, root)
        except SlackApiError as exc:
            error = exc.response.get("error")
            logger.warning("could not read the dropped files' message in %s: %s", channel_id, error)
            with contextlib.suppress(SlackApiError):
                await self._d.slack.chat_postEphemeral(
                    channel=channel_id, user=user_id, thread_ts=thread_ts,
                    text=f"I couldn't read the message with your files (Slack said: {error}). "
                    "Mention me in a thread and drop them there instead.",
                )  # fmt: skip
            return
        if dropped is None or dropped.get("user") != user_id:
            logger.warning("offer accepted by %s for a message that is not theirs in %s; ignored", user_id, channel_id)
            return
        files = list(dropped.get("files") or [])
        message = IncomingMessage(
            team_id=team_id, channel_id=channel_id, channel_type="channel", user_id=user_id, ts=ts,
            thread_ts=thread_ts, mentions_bot=True, user_team=who.user_team,
        )  # fmt: skip
        await self.start_turn(message, files)

    async def _is_turn(self, message: IncomingMessage) -> bool:
        if message.is_dm or message.mentions_bot:
            return True
        if message.thread_ts is None or self._d.settings.thread_replies == "mentions":
            return False
        thread = message.thread
        live = await self._d.store.get_live_session(thread.team_id, thread.channel_id, thread.root_ts)
        return live is not None

    async def _dropped_in_channel(self, message: IncomingMessage) -> None:
        """Files dropped without a mention: offer to analyse them, start at once, or leave them be."""
        mode = self._d.settings.file_drop_mode
        if mode == "ignore":
            return
        if mode == "auto":
            await self.start_turn(message.model_copy(update={"text": ""}), message.files)
            return
        if not await self._d.store.claim_event(f"offer:{message.team_id}:{message.channel_id}:{message.ts}"):
            return
        names = ", ".join(safe_name(str(f.get("name") or "this file")) for f in message.files)
        value = json.dumps({"ts": message.ts, "thread_ts": message.thread_ts})
        try:
            await self._d.slack.chat_postEphemeral(
                channel=message.channel_id,
                user=message.user_id,
                thread_ts=message.thread_ts,
                text=f"Analyse {names}?",
                blocks=offer_blocks(names, value),
            )
        except SlackApiError as exc:
            logger.info("could not offer analysis in %s: %s", message.channel_id, exc.response.get("error"))

    async def _had_a_session(self, thread: ThreadKey) -> bool:
        return await self._d.store.has_archived_session(thread.team_id, thread.channel_id, thread.root_ts)

    async def _say(self, thread: ThreadKey, text: str) -> None:
        try:
            await self._d.slack.chat_postMessage(channel=thread.channel_id, thread_ts=thread.root_ts, text=text)
        except SlackApiError as exc:
            logger.info("could not post in %s: %s", thread.tag(), exc.response.get("error"))

    async def _help_once(self, message: IncomingMessage) -> None:
        if not await self._d.store.claim_event(f"help:{message.team_id}:{message.channel_id}:{message.ts}"):
            return
        await self._d.slack.chat_postMessage(
            channel=message.channel_id, thread_ts=message.thread.root_ts, text=HELP_TEXT
        )

    async def _tell_if_queued(self, turn: Turn, thread: ThreadKey) -> None:
        if turn.seq == 1:
            return  # the session's first turn: nothing can be ahead of it
        turns = await self._d.store.list_turns(turn.session_id)
        ahead = [
            t for t in turns if t.seq < turn.seq and (t.state in IN_FLIGHT_TURN_STATES or t.state is TurnState.QUEUED)
        ]
        if not ahead:
            return
        text = (
            ":hourglass_flowing_sand: Queued: runs next."
            if len(ahead) == 1
            else f":hourglass_flowing_sand: Queued: runs after {len(ahead)} earlier questions."
        )
        self._d.statuses.get(thread, turn.id, None).show(text)

    async def waiting_for_sandbox(self, turn: Turn, position: int) -> None:
        """Tell the thread its turn waits for a free sandbox session, and where it stands
        (unless it no longer waits: withdrawn, or started meanwhile)."""
        current = await self._d.store.get_turn(turn.id)
        if current is None or current.state is not TurnState.QUEUED:
            return
        turn = current
        session = await self._d.store.get_session(turn.session_id)
        if session is None:
            return
        thread = ThreadKey(team_id=session.team_id, channel_id=session.channel_id, root_ts=session.root_ts)
        text = f":hourglass_flowing_sand: Waiting for a free sandbox: position {position} in line."
        self._d.statuses.get(thread, turn.id, turn.status_message_ts).show(text)


def offer_blocks(names: str, value: str) -> list[dict[str, Any]]:
    """The ephemeral offer: what was dropped, and buttons to analyse it or not."""
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"Analyse *{names}*? I'll start a thread on your message and work with the file there. "
                "Nothing is sent anywhere unless you say so.",
            },
        },
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": OFFER_ACTION, "text": {"type": "plain_text", "text": "Analyse"},
                 "style": "primary", "value": value},
                {"type": "button", "action_id": DISMISS_ACTION, "text": {"type": "plain_text", "text": "Not now"},
                 "value": value},
            ],
        },
    ]  # fmt: skip
