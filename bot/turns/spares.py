"""A spare Foundry conversation, made while nothing waits for it, so a new thread's first question doesn't.

Every new thread needs a conversation before its first question can be asked: one round trip
to Foundry, and a write, on the question's path. The bot keeps one empty conversation in
reserve instead, tagged with the deployment only and recorded in the store, so a sweep leaves
it alone, a restart reuses it and two processes never hand out the same one. A new thread's
session takes it in one statement; the thread's own tags follow by a metadata update while the
question runs. The next spare is made once the question is on its way to Foundry, never in its
way. A spare older than :data:`SPARE_MAX_AGE` is deleted rather than handed out.

Nothing here is needed for correctness: when there is no spare, or making one fails, the thread
opens its own conversation as it always could.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from datetime import timedelta
from typing import Any

from bot.agent import DEPLOYMENT_KEY
from bot.errors import BotError, FoundryNotFound
from bot.foundry.client import Foundry
from storage.clock import Clock
from storage.protocol import SpareStore
from storage.records import Session

logger = logging.getLogger(__name__)

#: A spare made longer ago than this is deleted instead of handed to a thread.
SPARE_MAX_AGE = timedelta(days=1)
#: On shutdown, how long a spare being made (or tagged) may take to finish: cut off between
#: Foundry making it and the store recording it, it would be left for a sweep.
SETTLE_S = 2.0


class SpareConversations:
    """Keeps ``keep`` spare conversations (0: none); hands them to new threads; owns its background tasks."""

    def __init__(self, foundry: Foundry, store: SpareStore, deployment: str, *, clock: Clock, keep: int = 1) -> None:
        self._foundry = foundry
        self._store = store
        self._deployment = deployment
        self._clock = clock
        self._keep = keep
        self._tasks: set[asyncio.Task[None]] = set()
        self._filling: asyncio.Task[None] | None = None
        self._closing = False
        #: False once a take found no spare, until this process makes or sees one: a burst of new
        #: threads then skips a write that would find nothing, on each first question's path.
        self._maybe_one = True

    async def take(self, session: Session, *, agent_version: str | None) -> str | None:
        """Give ``session`` a spare and return its conversation; None when there is none to give."""
        if not self._keep or not self._maybe_one:
            return None
        made_after = self._clock() - SPARE_MAX_AGE
        taken = await self._store.take_spare_conversation(
            session.id, made_after=made_after, agent_version=agent_version
        )
        if taken is None:
            self._maybe_one = False
            return None
        return taken.conversation_id

    def tag(self, conversation_id: str, metadata: Mapping[str, str]) -> asyncio.Task[None] | None:
        """Start giving a taken spare its thread's tags; the task logs a failure and never raises.

        None when the bot is stopping: the thread owns the conversation in the store either way.
        """
        if self._closing:
            return None
        return self._spawn(self._tag_quietly(conversation_id, dict(metadata)), f"tag-{conversation_id}")

    async def apply_tags(self, conversation_id: str, metadata: Mapping[str, str]) -> bool:
        """Give a taken spare its thread's tags now; False only when Foundry has no such conversation.

        Any other failure is logged: the thread owns the conversation in the store either way.
        """
        try:
            await self._foundry.update_conversation(conversation_id, metadata)
        except FoundryNotFound:
            return False
        except BotError as exc:
            logger.warning("could not tag conversation %s with its thread: %s", conversation_id, exc)
        return True

    def refill(self) -> None:
        """Start making a spare in the background, unless one is being made or the bot is stopping."""
        if not self._keep or self._closing or (self._filling is not None and not self._filling.done()):
            return
        self._filling = self._spawn(self._fill(), "spare-conversation")

    async def wait_idle(self) -> None:
        """Wait for the background work started so far (for tests, benchmarks and the demo)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        """Start nothing more (before turns are cancelled at shutdown: a cancelled first question makes no spare)."""
        self._closing = True

    async def aclose(self) -> None:
        """:meth:`close`, give what runs :data:`SETTLE_S` to finish, then cancel it; kept spares stay."""
        self.close()
        tasks = list(self._tasks)
        if not tasks:
            return
        try:
            await asyncio.wait(tasks, timeout=SETTLE_S)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _tag_quietly(self, conversation_id: str, metadata: dict[str, str]) -> None:
        if not await self.apply_tags(conversation_id, metadata):
            logger.warning("could not tag conversation %s with its thread: Foundry no longer has it", conversation_id)

    async def _fill(self) -> None:
        try:
            fresh = await self._drop_stale()
            if fresh < self._keep:
                made = await self._foundry.create_conversation({DEPLOYMENT_KEY: self._deployment})
                await self._store.add_spare_conversation(made.id)
            self._maybe_one = True
        except BotError as exc:
            logger.warning("could not make a spare conversation (new threads open their own): %s", exc)

    async def _drop_stale(self) -> int:
        """Delete spares too old to hand out; returns how many fresh ones are kept."""
        made_after = self._clock() - SPARE_MAX_AGE
        fresh = 0
        for spare in await self._store.list_spare_conversations():
            if spare.created_at >= made_after:
                fresh += 1
            elif await self._store.drop_spare_conversation(spare.conversation_id):
                # Forgotten first: a crash now leaves a conversation no one owns, which a sweep deletes.
                await self._foundry.delete_conversation(spare.conversation_id)
        return fresh

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
