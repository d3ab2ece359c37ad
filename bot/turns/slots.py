"""A first-come, first-served limit on concurrently running sandbox sessions.

Each conversation running code at the same moment is a separately billed Code Interpreter
session, so ``MAX_CONCURRENT_SESSIONS`` caps them. Waiters are served in arrival order and are
told their position whenever it changes, so the thread can show it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager

PositionCallback = Callable[[int], Coroutine[object, object, None]]


class _Waiter:
    def __init__(self, on_position: PositionCallback | None) -> None:
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.on_position = on_position


class SessionSlots:
    """At most ``limit`` holders at once; the rest wait in order."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.in_use = 0
        self._waiters: deque[_Waiter] = deque()
        self._notices: set[asyncio.Task[None]] = set()

    @property
    def free(self) -> bool:
        """Whether :meth:`hold` would take a slot at once, without waiting."""
        return self.in_use < self.limit and not self._waiters

    @asynccontextmanager
    async def hold(self, on_position: PositionCallback | None = None) -> AsyncIterator[None]:
        """Wait for a slot (reporting the position through ``on_position``), hold it for the block."""
        await self._acquire(on_position)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, on_position: PositionCallback | None) -> None:
        if self.free:
            self._take()
            return
        waiter = _Waiter(on_position)
        self._waiters.append(waiter)
        self._notify(waiter, len(self._waiters))
        try:
            await waiter.ready
        except asyncio.CancelledError:
            if waiter.ready.done() and not waiter.ready.cancelled():
                self._release()  # the slot was handed over just as we were cancelled
            else:
                self._waiters.remove(waiter)
                self._renumber()
            raise

    def _take(self) -> None:
        self.in_use += 1

    def _release(self) -> None:
        self.in_use -= 1
        if self._waiters and self.in_use < self.limit:
            waiter = self._waiters.popleft()
            self._take()
            waiter.ready.set_result(None)
            self._renumber()

    def _renumber(self) -> None:
        for position, waiter in enumerate(self._waiters, start=1):
            self._notify(waiter, position)

    def _notify(self, waiter: _Waiter, position: int) -> None:
        if waiter.on_position is None:
            return
        task = asyncio.create_task(waiter.on_position(position))
        self._notices.add(task)  # held, so the notice is never garbage-collected mid-flight
        task.add_done_callback(self._notices.discard)
