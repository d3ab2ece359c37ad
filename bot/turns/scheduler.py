"""Strict order per thread, one turn in flight, and a global cap on running sandbox sessions.

Each session with queued turns gets one worker task that claims its turns from the store one at
a time. Every task is held in this object (asyncio keeps only weak references to tasks) and is
cancelled and awaited on shutdown; turns interrupted that way stay ``running`` in the database
and are picked up by :meth:`TurnScheduler.resume` at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.turns.slots import PositionCallback, SessionSlots
from storage.protocol import Store
from storage.records import Turn, TurnState

logger = logging.getLogger(__name__)

RunTurn = Callable[[Turn], Awaitable[None]]
WaitNotice = Callable[[Turn, int], Awaitable[None]]


class TurnScheduler:
    """Starts, orders and caps turns; owns every background task it starts."""

    def __init__(
        self,
        store: Store,
        run: RunTurn,
        slots: SessionSlots,
        on_wait: WaitNotice | None = None,
        *,
        settle: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._run = run
        self.slots = slots
        self.on_wait = on_wait
        self._settle = settle
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._wanted: set[int] = set()
        self._closing = False

    def kick(self, session_id: int) -> None:
        """Make sure the session's queued turns get run."""
        if self._closing:
            return
        self._wanted.add(session_id)
        if session_id not in self._workers:
            task = asyncio.create_task(self._work(session_id), name=f"turns-{session_id}")
            self._workers[session_id] = task

    async def resume(self, resume_turn: RunTurn) -> int:
        """After a restart: finish turns left in flight, then start every session that has queued turns."""
        in_flight = await self._store.list_in_flight_turns()
        for turn in in_flight:
            self._start_resume(turn, resume_turn)
        for session_id in await self._store.list_waiting_sessions(limit=10_000):
            self.kick(session_id)
        return len(in_flight)

    async def aclose(self) -> None:
        """Stop starting turns, cancel the running ones and wait for every task to end."""
        self._closing = True
        tasks = list(self._workers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Wait until no session has work left, nor ``settle`` (for tests, benchmarks and the demo)."""
        while True:
            while self._workers:
                await asyncio.gather(*list(self._workers.values()), return_exceptions=True)
            if self._settle is not None:
                await self._settle()
            if not self._workers:
                return

    def _start_resume(self, turn: Turn, resume_turn: RunTurn) -> None:
        async def resume_then_continue() -> None:
            async with self.slots.hold():
                await resume_turn(turn)
            await self._drain(turn.session_id)

        self._wanted.add(turn.session_id)
        task = asyncio.create_task(self._guard(turn.session_id, resume_then_continue()), name=f"resume-{turn.id}")
        self._workers[turn.session_id] = task

    async def _work(self, session_id: int) -> None:
        await self._guard(session_id, self._drain(session_id))

    async def _guard(self, session_id: int, work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("turn worker for session %s crashed", session_id)
        finally:
            self._workers.pop(session_id, None)
            if session_id in self._wanted and not self._closing:
                self.kick(session_id)  # work arrived while this worker was finishing

    async def _drain(self, session_id: int) -> None:
        while session_id in self._wanted:
            self._wanted.discard(session_id)
            while await self._run_next(session_id):
                pass

    async def _run_next(self, session_id: int) -> bool:
        """Run the session's next queued turn in a slot; False when it has none."""
        notice: PositionCallback | None = None
        if not self.slots.free:  # the turn will wait for a slot: look it up, to tell its thread where it stands
            head = await self._next_queued(session_id)
            if head is None:
                return False
            notice = self._waiting_notice(head)
        async with self.slots.hold(notice):  # with a free slot, taken at once: nothing ran since the check
            turn = await self._store.claim_next_turn(session_id)
            if turn is None:
                return False
            await self._run(turn)
        return True

    async def _next_queued(self, session_id: int) -> Turn | None:
        return next((t for t in await self._store.list_turns(session_id) if t.state is TurnState.QUEUED), None)

    def _waiting_notice(self, turn: Turn) -> PositionCallback | None:
        if self.on_wait is None:
            return None
        notify = self.on_wait

        async def notice(position: int) -> None:
            await notify(turn, position)

        return notice
