"""Decides which Slack messages become turns, and queues each one exactly once.

A mention arrives twice (``app_mention`` and ``message``) and Slack retries deliveries, in any
order and across restarts. The turn record itself is the guard: a turn is unique per
(session, message ts) in the database, so only the first arrival creates it.
"""

from __future__ import annotations

import logging

from bot.slack.inbound import IncomingMessage, ThreadKey
from bot.turns.runner import TurnDeps
from bot.turns.scheduler import TurnScheduler
from storage.records import IN_FLIGHT_TURN_STATES, Turn, TurnState

logger = logging.getLogger(__name__)

HELP_TEXT = (
    "Hi! Ask me a data question in this thread and I'll answer it with Python in a secure sandbox: "
    "calculations, tables, charts. For example: _plot revenue by month_ or _describe this data_. "
    "I answer every reply in a thread I'm part of, and DMs too."
)


class Relay:
    """Turns people's messages into queued turns, in order, once each."""

    def __init__(self, deps: TurnDeps, scheduler: TurnScheduler) -> None:
        self._d = deps
        self._scheduler = scheduler

    async def accept(self, message: IncomingMessage) -> Turn | None:
        """Queue the message as a turn if it is one; None when it is ignored or already queued."""
        if not await self._is_turn(message):
            return None
        if not message.question:
            if message.mentions_bot or message.is_dm:
                await self._help_once(message)
            return None
        thread = message.thread
        session, _ = await self._d.store.get_or_create_session(thread.team_id, thread.channel_id, thread.root_ts)
        turn, created = await self._d.store.enqueue_turn(
            session.id, user_id=message.user_id, message_ts=message.ts, text=message.question
        )
        if not created:
            return None  # the same message again: a double delivery or a retry
        await self._tell_if_queued(turn)
        self._scheduler.kick(session.id)
        return turn

    async def _is_turn(self, message: IncomingMessage) -> bool:
        if message.is_dm or message.mentions_bot:
            return True
        if message.thread_ts is None or self._d.settings.thread_replies == "mentions":
            return False
        thread = message.thread
        live = await self._d.store.get_live_session(thread.team_id, thread.channel_id, thread.root_ts)
        return live is not None

    async def _help_once(self, message: IncomingMessage) -> None:
        if not await self._d.store.claim_event(f"help:{message.team_id}:{message.channel_id}:{message.ts}"):
            return
        await self._d.slack.chat_postMessage(
            channel=message.channel_id, thread_ts=message.thread.root_ts, text=HELP_TEXT
        )

    async def _tell_if_queued(self, turn: Turn) -> None:
        turns = await self._d.store.list_turns(turn.session_id)
        ahead = [
            t for t in turns if t.seq < turn.seq and (t.state in IN_FLIGHT_TURN_STATES or t.state is TurnState.QUEUED)
        ]
        if not ahead:
            return
        waiting = len(ahead) - 1
        text = (
            ":hourglass_flowing_sand: Queued: runs next."
            if waiting <= 0
            else (f":hourglass_flowing_sand: Queued: runs after {waiting + 1} earlier questions.")
        )
        thread_key = await self._thread_of(turn)
        if thread_key is None:
            return
        await self._d.statuses.get(thread_key, turn.id, None).show(text)

    async def waiting_for_sandbox(self, turn: Turn, position: int) -> None:
        """Tell the thread its turn waits for a free sandbox session, and where it stands."""
        thread_key = await self._thread_of(turn)
        if thread_key is None:
            return
        text = f":hourglass_flowing_sand: Waiting for a free sandbox: position {position} in line."
        await self._d.statuses.get(thread_key, turn.id, turn.status_message_ts).show(text)

    async def _thread_of(self, turn: Turn) -> ThreadKey | None:
        session = await self._d.store.get_session(turn.session_id)
        if session is None:
            return None
        return ThreadKey(team_id=session.team_id, channel_id=session.channel_id, root_ts=session.root_ts)
