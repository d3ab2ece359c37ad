"""What callers may ask of the store, as Protocols, so a PostgreSQL store can follow without touching them.

A service depends on the narrowest Protocol it needs (``EventStore``, ``TurnStore`` …); the
composition root holds a ``Store``, which is all of them. Every update returns the updated
record, or ``None`` when no row was in a state that allows it (a lost race, or an unknown id).
Times come from the store's clock; arguments that are times must be aware datetimes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from storage.records import (
    ArchiveReason,
    CleanupJob,
    CleanupState,
    CodeBlock,
    FileStatus,
    Gauges,
    NewFile,
    NewOutput,
    Output,
    QueuePosition,
    ResourceKind,
    Session,
    SessionState,
    SpareConversation,
    StoredFile,
    Turn,
    UsageEntry,
    UsageGroup,
    UsageRank,
    UsageTotals,
)


class EventStore(Protocol):
    """Durable de-duplication of Slack deliveries."""

    async def claim_event(self, key: str) -> bool:
        """True only the first time ``key`` (an event id, or a channel and ts) is claimed."""
        ...

    async def release_event(self, key: str) -> None:
        """Forget a claimed ``key``, so it may be claimed again (what it stood for didn't happen)."""
        ...

    async def prune_events(self, older_than: datetime) -> int:
        """Forget keys received before ``older_than``; returns how many were removed."""
        ...


class SessionStore(Protocol):
    """Sessions: one live session per Slack thread."""

    async def get_or_create_session(self, team_id: str, channel_id: str, root_ts: str) -> tuple[Session, bool]:
        """The thread's live session, created if there is none; the flag says whether it was created."""
        ...

    async def get_session(self, session_id: int) -> Session | None:
        """The session with this id."""
        ...

    async def get_live_session(self, team_id: str, channel_id: str, root_ts: str) -> Session | None:
        """The thread's active or archiving session, if any."""
        ...

    async def has_archived_session(self, team_id: str, channel_id: str, root_ts: str) -> bool:
        """Whether the thread had a session that has ended (been archived)."""
        ...

    async def set_conversation_id(
        self, session_id: int, conversation_id: str, *, agent_version: str | None = None
    ) -> Session | None:
        """Remember the Foundry conversation (and agent version) the session talks to."""
        ...

    async def forget_conversation(self, session_id: int, conversation_id: str) -> Session | None:
        """The session no longer has ``conversation_id`` (Foundry lost it); None if it had another."""
        ...

    async def touch_session(self, session_id: int) -> Session | None:
        """Record activity now, which postpones the idle time-out."""
        ...

    async def set_last_container(self, session_id: int, container_id: str) -> Session | None:
        """Remember the sandbox container the session used last."""
        ...

    async def begin_archiving(self, session_id: int, reason: ArchiveReason) -> CleanupJob | None:
        """Move an active session to archiving and record its clean-up job in the same transaction.

        Idempotent: an archiving session returns its existing job; ``None`` if archived or unknown.
        """
        ...

    async def finish_archiving(self, session_id: int) -> Session | None:
        """Move an archiving session to archived, which frees its thread for a new session."""
        ...

    async def list_sessions(
        self,
        *,
        team_id: str | None = None,
        channel_id: str | None = None,
        states: Collection[SessionState] | None = None,
        idle_before: datetime | None = None,
        limit: int | None = None,
    ) -> list[Session]:
        """Sessions matching every filter given, least recently active first."""
        ...


class TurnStore(Protocol):
    """Turns: each request in a thread, queued and run strictly in order."""

    async def enqueue_turn(
        self,
        session_id: int,
        *,
        user_id: str,
        message_ts: str,
        text: str,
        files: Sequence[Mapping[str, Any]] = (),
    ) -> tuple[Turn, bool]:
        """Queue a turn (next seq) with the Slack files its message carried, and touch the session.

        A repeated message returns the existing turn.
        """
        ...

    async def get_turn(self, turn_id: int) -> Turn | None:
        """The turn with this id."""
        ...

    async def list_turns(self, session_id: int) -> list[Turn]:
        """A session's turns in seq order."""
        ...

    async def claim_next_turn(self, session_id: int, *, max_running: int | None = None) -> Turn | None:
        """Start the session's oldest queued turn, unless one is in flight or ``max_running`` are running."""
        ...

    async def set_turn_response(self, turn_id: int, response_id: str) -> Turn | None:
        """Store the response id as soon as the stream announces it."""
        ...

    async def set_turn_container(self, turn_id: int, container_id: str, *, new_sandbox: bool) -> Turn | None:
        """Store the turn's sandbox container and make it the session's last container."""
        ...

    async def set_turn_status_message(self, turn_id: int, message_ts: str) -> Turn | None:
        """Store the ts of the turn's progress message."""
        ...

    async def start_posting(self, turn_id: int) -> Turn | None:
        """running → posting."""
        ...

    async def finish_turn(
        self,
        turn_id: int,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        duration_ms: int | None = None,
    ) -> Turn | None:
        """running or posting → done; the duration defaults to the time since it started."""
        ...

    async def fail_turn(
        self,
        turn_id: int,
        error_code: str,
        *,
        duration_ms: int | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
    ) -> Turn | None:
        """Any unfinished state → failed, with a short machine-readable reason (and the tokens a failed
        response still used, when it reports them)."""
        ...

    async def stop_turn(self, turn_id: int) -> Turn | None:
        """Any unfinished state → stopped (the Stop button)."""
        ...

    async def withdraw_turn(self, turn_id: int) -> Turn | None:
        """Queued → stopped, before it ever ran; None when it is no longer queued."""
        ...

    async def list_in_flight_turns(self) -> list[Turn]:
        """Turns left running or posting, to resume after a crash or restart."""
        ...

    async def list_waiting_sessions(self, limit: int = 100) -> list[int]:
        """Sessions with queued turns and none in flight, longest-waiting first."""
        ...

    async def queue_position(self, turn_id: int) -> QueuePosition | None:
        """Where a queued turn waits; ``None`` once it is no longer queued."""
        ...

    async def count_queued_turns(self, session_id: int | None = None) -> int:
        """Queued turns, in one session or everywhere."""
        ...

    async def count_running_turns(self) -> int:
        """Turns in flight everywhere, which is the number of busy sandbox sessions."""
        ...

    async def count_turns(
        self, team_id: str, *, since: datetime, user_id: str | None = None, channel_id: str | None = None
    ) -> int:
        """Questions asked since a moment, for per-user and per-channel limits.

        A turn without text (files dropped into a thread, attached without a question) is no question;
        nor is one withdrawn before it ran (Stop pressed while it waited, or its thread ended): it
        used nothing.
        """
        ...

    async def count_sandbox_sessions(self, team_id: str, channel_id: str, *, since: datetime) -> int:
        """Sandbox sessions a channel's threads started since a moment, plus one for each thread whose
        question waits or runs without a sandbox yet (it is about to start one)."""
        ...


class FileStore(Protocol):
    """Files uploaded for a thread."""

    async def add_file(self, new: NewFile) -> tuple[StoredFile, bool]:
        """Record a file once per thread and content; the flag is False when the bytes were already there."""
        ...

    async def get_file(self, file_id: int) -> StoredFile | None:
        """The file with this id."""
        ...

    async def find_file_by_slack_id(self, session_id: int, slack_file_id: str) -> StoredFile | None:
        """The thread's file that came from this Slack file, if any."""
        ...

    async def mark_file_uploaded(self, file_id: int, foundry_file_id: str) -> StoredFile | None:
        """The upload finished; remember Foundry's file id."""
        ...

    async def mark_file_failed(self, file_id: int) -> StoredFile | None:
        """The upload failed."""
        ...

    async def mark_file_deleted(self, file_id: int) -> StoredFile | None:
        """Foundry's copy is gone."""
        ...

    async def list_files(self, session_id: int, *, statuses: Collection[FileStatus] | None = None) -> list[StoredFile]:
        """The thread's files in upload order."""
        ...


class OutputStore(Protocol):
    """Generated files posted back, and the code each turn ran."""

    async def record_output(self, new: NewOutput) -> Output:
        """Record an output once per turn and container file; a posted output is never overwritten."""
        ...

    async def list_outputs(self, turn_id: int) -> list[Output]:
        """A turn's outputs in the order they were recorded."""
        ...

    async def list_session_outputs(self, session_id: int) -> list[Output]:
        """Every output of every turn of a session, in the order they were recorded."""
        ...

    async def add_code(self, turn_id: int, call_id: str, code: str) -> CodeBlock:
        """Record the code of one interpreter call; recording the same call again replaces its code."""
        ...

    async def list_code(self, turn_id: int) -> list[CodeBlock]:
        """The code a turn ran, in order."""
        ...


class CleanupStore(Protocol):
    """Durable clean-up jobs, retried with back-off until done."""

    async def create_cleanup_job(self, session_id: int) -> CleanupJob | None:
        """The session's job, created if missing, listing every resource the session holds."""
        ...

    async def get_cleanup_job(self, job_id: int) -> CleanupJob | None:
        """The job with this id."""
        ...

    async def claim_due_cleanup_jobs(self, *, lease: timedelta, limit: int = 10) -> list[CleanupJob]:
        """Mark due jobs running for ``lease`` (a crashed worker's jobs come due again) and return them."""
        ...

    async def renew_cleanup_lease(self, job_id: int, *, attempt: int, lease: timedelta) -> CleanupJob | None:
        """Extend a running job's lease to ``lease`` from now, while the claim that counted ``attempt`` holds it.

        The worker's heartbeat: ``None`` once the job is no longer that claim's (another worker
        claimed it after the lease ran out, which counted a new attempt) or no longer running.
        """
        ...

    async def next_cleanup_due(self) -> datetime | None:
        """When the next unfinished job falls due (a running one when its lease runs out); ``None`` if none."""
        ...

    async def mark_cleanup_item_deleted(self, job_id: int, kind: ResourceKind, resource_id: str) -> CleanupJob | None:
        """One resource is gone (a 404 counts); a deleted file is marked deleted too."""
        ...

    async def record_cleanup_failure(self, job_id: int, error: str, *, retry_at: datetime) -> CleanupJob | None:
        """An attempt failed; try again at ``retry_at``."""
        ...

    async def mark_cleanup_done(self, job_id: int) -> CleanupJob | None:
        """The job is done, and its archiving session becomes archived in the same transaction."""
        ...

    async def list_cleanup_jobs(self, *, states: Collection[CleanupState]) -> list[CleanupJob]:
        """Jobs in the given states, oldest first."""
        ...


class UsageStore(Protocol):
    """Usage per turn, for limits and ``/interpreter usage``."""

    async def record_usage(self, entry: UsageEntry) -> bool:
        """Record a turn's usage; False if that turn was already recorded."""
        ...

    async def usage_totals(
        self,
        team_id: str,
        *,
        start: date,
        end: date,
        user_id: str | None = None,
        channel_id: str | None = None,
    ) -> UsageTotals:
        """Totals for the UTC days ``start`` to ``end`` inclusive, narrowed to a user or channel if given."""
        ...

    async def top_usage(
        self, team_id: str, *, by: UsageGroup, start: date, end: date, limit: int = 10
    ) -> list[UsageRank]:
        """The heaviest users or channels over the days, most tokens first."""
        ...


class SpareStore(Protocol):
    """Empty Foundry conversations made ahead of need, until a new thread's session takes one."""

    async def add_spare_conversation(self, conversation_id: str) -> None:
        """Keep ``conversation_id`` as a spare (adding it twice keeps it once, with its first time)."""
        ...

    async def take_spare_conversation(
        self, session_id: int, *, made_after: datetime, agent_version: str | None = None
    ) -> Session | None:
        """Give the session the oldest spare made at or after ``made_after``, which stops being a spare.

        ``None`` when there is no such spare or the session already has a conversation.
        """
        ...

    async def list_spare_conversations(self) -> list[SpareConversation]:
        """Every spare, oldest first."""
        ...

    async def drop_spare_conversation(self, conversation_id: str) -> bool:
        """Forget a spare; False when it was not one (taken meanwhile, or unknown)."""
        ...


class GaugeStore(Protocol):
    """Counts of what is going on right now."""

    async def gauges(self) -> Gauges:
        """Live sessions, turns waiting and running, and clean-up jobs not yet done."""
        ...


@runtime_checkable
class Store(
    EventStore,
    SessionStore,
    SpareStore,
    TurnStore,
    FileStore,
    OutputStore,
    CleanupStore,
    UsageStore,
    GaugeStore,
    Protocol,
):
    """Everything the bot keeps, behind one object that owns its connections."""

    async def close(self) -> None:
        """Close every connection; safe to call twice."""
        ...
