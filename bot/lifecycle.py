"""Ending sessions: every cloud resource a thread used is deleted, durably, whatever happens.

Slack has no "thread archived" event, so several things count as the end of a thread (the
channel archived or deleted, the bot removed, the root deleted, End session, the archive
reaction, idleness, the app uninstalled). Each one moves the session to ``archiving`` and writes
its clean-up job in the same transaction, before anything is deleted. A background worker runs
due jobs: it deletes the conversation, the uploaded files and the sandbox containers (404 counts
as done), retries failures with exponential back-off up to a bound, and picks up after a crash
because the job is in the database, not in memory.

Several workers (replicas, or a process and its successor) share the database. A worker claims
one job at a time under a short lease that it renews while deleting, so a job whose worker was
killed falls due again seconds later; between passes each worker sleeps only until the next job
falls due (a retry, or a dead worker's lease running out), not a whole interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import FoundryError
from bot.foundry.client import Foundry
from bot.lease import LeaseLost, hold_lease
from bot.slack.status import END_ACTION
from bot.turns.runner import TurnRunner
from storage.protocol import Store
from storage.records import (
    IN_FLIGHT_TURN_STATES,
    ArchiveReason,
    CleanupItem,
    CleanupJob,
    CleanupState,
    ResourceKind,
    Session,
    SessionState,
    TurnState,
)

logger = logging.getLogger(__name__)

__all__ = ["END_ACTION", "Lifecycle", "ended_text"]

#: Reasons after which the thread can still be written to, so it is told what was removed.
_TELL_THREAD = {ArchiveReason.END_REQUESTED, ArchiveReason.REACTION, ArchiveReason.IDLE}


class Lifecycle:
    """Archives sessions and runs their clean-up jobs in the background."""

    def __init__(
        self,
        store: Store,
        foundry: Foundry,
        slack: AsyncWebClient,
        runner: TurnRunner | None,
        *,
        idle_ttl: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        interval: float = 30.0,
        base_delay: float = 2.0,
        max_attempts: int = 8,
        lease: timedelta = timedelta(seconds=10),
    ) -> None:
        self._store = store
        self._foundry = foundry
        self._slack = slack
        self._runner = runner
        self._idle_ttl = idle_ttl
        self._clock = clock
        self._interval = interval
        self._base_delay = base_delay
        self.max_attempts = max_attempts
        self._lease = lease
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- triggers ---------------------------------------------------------------------------------

    async def end_channel(self, team_id: str, channel_id: str, reason: ArchiveReason) -> int:
        """The channel is gone for the bot: end every live session in it."""
        sessions = await self._store.list_sessions(team_id=team_id, channel_id=channel_id, states=[SessionState.ACTIVE])
        await self._archive_all(sessions, reason)
        return len(sessions)

    async def end_team(self, team_id: str, reason: ArchiveReason) -> int:
        """The app left the workspace: end every live session of that workspace, and no other."""
        sessions = await self._store.list_sessions(team_id=team_id, states=[SessionState.ACTIVE])
        await self._archive_all(sessions, reason)
        return len(sessions)

    async def end_thread(self, team_id: str, channel_id: str, root_ts: str, reason: ArchiveReason) -> bool:
        """End one thread's session, if it has a live one."""
        session = await self._store.get_live_session(team_id, channel_id, root_ts)
        if session is None or session.state is not SessionState.ACTIVE:
            return False
        await self.archive(session, reason)
        return True

    async def reaction(self, team_id: str, channel_id: str, ts: str, user_id: str) -> bool:
        """The archive reaction on a thread's root, from someone who took part in the thread."""
        session = await self._store.get_live_session(team_id, channel_id, ts)
        if session is None:
            return False
        participants = {turn.user_id for turn in await self._store.list_turns(session.id)}
        if user_id not in participants:
            return False
        await self.archive(session, ArchiveReason.REACTION)
        return True

    async def archive(self, session: Session, reason: ArchiveReason) -> CleanupJob | None:
        """Stop the thread's turns, write the clean-up job, then let the worker delete.

        Turns are stopped first and waited for, so a sandbox a running turn just started is on
        record before the job gathers what to delete.
        """
        await self._stop_turns(session)
        job = await self._store.begin_archiving(session.id, reason)
        if job is None:
            return None
        logger.info("session %s archiving (%s): job %s", session.id, reason, job.id)
        self._wake.set()
        return job

    async def _stop_turns(self, session: Session, patience: float = 15.0) -> None:
        turns = await self._store.list_turns(session.id)
        for turn in turns:
            if turn.state is not TurnState.QUEUED and turn.state not in IN_FLIGHT_TURN_STATES:
                continue
            if self._runner is not None:
                await self._runner.halt(turn.id, None)  # a queued one's status line then says it stopped
            elif turn.state is TurnState.QUEUED:
                await self._store.stop_turn(turn.id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        while loop.time() < deadline:
            turns = await self._store.list_turns(session.id)
            if not any(t.state in IN_FLIGHT_TURN_STATES for t in turns):
                return
            await asyncio.sleep(0.05)
        logger.warning("turns of session %s still running after %.0f s; archiving anyway", session.id, patience)

    async def _archive_all(self, sessions: Iterable[Session], reason: ArchiveReason) -> None:
        for session in sessions:
            await self.archive(session, reason)

    # -- the worker -------------------------------------------------------------------------------

    def start(self) -> None:
        """Run the worker in the background: due jobs now, then whenever one falls due or is written."""
        self._task = asyncio.create_task(self._work(), name="cleanup-worker")

    async def aclose(self) -> None:
        """Stop the worker; unfinished jobs stay in the database for the next start."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            pause = self._interval
            try:
                await self.run_due()
                await self.expire_idle()
                pause = await self._until_next_due()
            except Exception:
                logger.exception("clean-up worker pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)
            self._wake.clear()

    async def _until_next_due(self, least: float = 0.05) -> float:
        """Seconds until the next job falls due, at most the interval (which also paces idle checks)."""
        due = await self._store.next_cleanup_due()
        if due is None:
            return self._interval
        return min(self._interval, max(least, (due - self._clock()).total_seconds()))

    async def run_due(self) -> int:
        """Run every job that is due; returns how many finished.

        Jobs are claimed one at a time, so a job is leased only while it is worked on, and other
        workers can take the rest meanwhile.
        """
        finished = 0
        while jobs := await self._store.claim_due_cleanup_jobs(lease=self._lease, limit=1):
            finished += await self.run_job(jobs[0])
        return finished

    async def drain(self, patience: float = 120.0) -> list[CleanupJob]:
        """Run jobs as they fall due until none is left or ``patience`` runs out; returns what is left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        unfinished = [CleanupState.PENDING, CleanupState.RUNNING, CleanupState.FAILED]
        while True:
            await self.run_due()
            left = await self._store.list_cleanup_jobs(states=unfinished)
            if not left or loop.time() > deadline:
                return left
            await asyncio.sleep(0.5)

    async def expire_idle(self) -> int:
        """End sessions idle for longer than ``THREAD_IDLE_TTL``."""
        cutoff = self._clock() - self._idle_ttl
        idle = await self._store.list_sessions(states=[SessionState.ACTIVE], idle_before=cutoff)
        busy = {turn.session_id for turn in await self._store.list_in_flight_turns()}
        await self._archive_all((s for s in idle if s.id not in busy), ArchiveReason.IDLE)
        return len(idle)

    async def run_job(self, job: CleanupJob) -> bool:
        """Delete what remains of a claimed job; True when it is done, False when it must be tried again.

        The claim's lease is renewed while the deletes run; if another worker took the job over
        meanwhile, the deletes stop and the job is left to that worker.
        """
        renew = functools.partial(self._renew, job)
        try:
            error = await hold_lease(self._delete_remaining(job), renew, lease=self._lease.total_seconds())
        except LeaseLost:
            logger.warning("clean-up job %s was taken over by another worker after its lease ran out", job.id)
            return False
        if error is not None:
            await self._failed(job, error)
            return False
        done = await self._store.mark_cleanup_done(job.id)
        if done is None or done.state is not CleanupState.DONE:
            self._wake.set()  # resources appeared while deleting: go round again
            return False
        await self._tell(done)
        return True

    async def _delete_remaining(self, job: CleanupJob) -> FoundryError | None:
        """Delete the job's remaining resources in order; the error that stopped it, if any."""
        for item in job.remaining:
            try:
                await self._delete(item)
            except FoundryError as exc:
                return exc
            await self._store.mark_cleanup_item_deleted(job.id, item.kind, item.resource_id)
        return None

    async def _renew(self, job: CleanupJob) -> bool:
        renewed = await self._store.renew_cleanup_lease(job.id, attempt=job.attempts, lease=self._lease)
        return renewed is not None

    async def _delete(self, item: CleanupItem) -> None:
        if item.kind is ResourceKind.CONVERSATION:
            await self._foundry.delete_conversation(item.resource_id)
        elif item.kind is ResourceKind.FILE:
            await self._foundry.delete_file(item.resource_id)
        else:
            await self._foundry.delete_container(item.resource_id)

    async def _failed(self, job: CleanupJob, exc: FoundryError) -> None:
        if job.attempts >= self.max_attempts:
            retry_at = self._clock() + timedelta(days=1)  # left for the sweep; `bot check` lists it
            logger.error("clean-up job %s gave up after %d attempts: %s", job.id, job.attempts, exc)
        else:
            retry_at = self._clock() + timedelta(seconds=self._base_delay * 2 ** (job.attempts - 1))
            logger.warning("clean-up job %s attempt %d failed: %s", job.id, job.attempts, exc)
        await self._store.record_cleanup_failure(job.id, str(exc)[:500], retry_at=retry_at)

    async def _tell(self, job: CleanupJob) -> None:
        session = await self._store.get_session(job.session_id)
        if session is None or session.archive_reason not in _TELL_THREAD:
            return
        try:
            await self._slack.chat_postMessage(
                channel=session.channel_id, thread_ts=session.root_ts, text=ended_text(job, session.archive_reason)
            )
        except SlackApiError as exc:
            logger.info("could not tell thread %s its session ended: %s", session.root_ts, exc.response.get("error"))


def ended_text(job: CleanupJob, reason: ArchiveReason | None) -> str:
    """\"Session ended: deleted the conversation, 3 files and 1 sandbox.\" in plain words."""
    count = {kind: sum(1 for item in job.items if item.kind is kind) for kind in ResourceKind}
    parts = ["the conversation"] if count[ResourceKind.CONVERSATION] else []
    if files := count[ResourceKind.FILE]:
        parts.append(f"{files} file{'' if files == 1 else 's'}")
    if boxes := count[ResourceKind.CONTAINER]:
        parts.append(f"{boxes} sandbox{'' if boxes == 1 else 'es'}")
    removed = " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts) or "nothing"
    why = " after a long quiet spell" if reason is ArchiveReason.IDLE else ""
    return (
        f":wave: Session ended{why}: deleted {removed}. "
        "Mention me here to start a fresh session (earlier files and results won't carry over)."
    )
