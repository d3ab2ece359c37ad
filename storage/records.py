"""Typed records that go in and out of the store, so no caller ever handles a database row."""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


class SessionState(StrEnum):
    """A session is live until its cloud resources are gone: ``active → archiving → archived``."""

    ACTIVE = "active"
    ARCHIVING = "archiving"
    ARCHIVED = "archived"


class ArchiveReason(StrEnum):
    """Why a thread was archived (Slack has no "thread archived" event, so these stand in)."""

    CHANNEL_ARCHIVED = "channel_archived"
    CHANNEL_DELETED = "channel_deleted"
    BOT_REMOVED = "bot_removed"
    ROOT_DELETED = "root_deleted"
    END_REQUESTED = "end_requested"
    REACTION = "reaction"
    IDLE = "idle"
    UNINSTALLED = "uninstalled"
    TOKENS_REVOKED = "tokens_revoked"
    TEARDOWN = "teardown"


class TurnState(StrEnum):
    """``queued → running → posting → done | failed | stopped``; the last three are final."""

    QUEUED = "queued"
    RUNNING = "running"
    POSTING = "posting"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"


class FileStatus(StrEnum):
    """Where an uploaded file stands in Foundry."""

    PENDING = "pending"
    UPLOADED = "uploaded"
    FAILED = "failed"
    DELETED = "deleted"


class OutputStatus(StrEnum):
    """What became of a generated file: posted to the thread, failed, or skipped on purpose."""

    POSTED = "posted"
    FAILED = "failed"
    SKIPPED = "skipped"


class CleanupState(StrEnum):
    """A clean-up job is retried until done; ``failed`` means the last attempt failed and another is due."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ResourceKind(StrEnum):
    """The kinds of Foundry resource a clean-up job deletes."""

    CONVERSATION = "conversation"
    FILE = "file"
    CONTAINER = "container"


class UsageGroup(StrEnum):
    """How usage is ranked: by person or by channel."""

    USER = "user"
    CHANNEL = "channel"


#: Sessions that still hold a thread (at most one per thread).
LIVE_SESSION_STATES = frozenset({SessionState.ACTIVE, SessionState.ARCHIVING})
#: Turns that hold their thread's single slot; after a crash these are resumed.
IN_FLIGHT_TURN_STATES = frozenset({TurnState.RUNNING, TurnState.POSTING})
#: Turns that will never change again.
FINAL_TURN_STATES = frozenset({TurnState.DONE, TurnState.FAILED, TurnState.STOPPED})


class Record(BaseModel):
    """Frozen, and strict about fields, so a column without a field is caught by the tests."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Session(Record):
    """The cloud side of one Slack thread."""

    id: int
    team_id: str
    channel_id: str
    root_ts: str
    state: SessionState
    conversation_id: str | None
    agent_version: str | None
    created_at: AwareDatetime
    last_activity_at: AwareDatetime
    archived_at: AwareDatetime | None
    archive_reason: ArchiveReason | None
    last_container_id: str | None


class SpareConversation(Record):
    """An empty Foundry conversation made ahead of need; no thread owns it yet."""

    conversation_id: str
    created_at: AwareDatetime


class Turn(Record):
    """One request in a thread and its answer, written before each step that talks to the outside."""

    id: int
    session_id: int
    seq: int
    team_id: str
    channel_id: str
    user_id: str
    message_ts: str
    text: str
    state: TurnState
    response_id: str | None
    container_id: str | None
    status_message_ts: str | None
    created_at: AwareDatetime
    started_at: AwareDatetime | None
    finished_at: AwareDatetime | None
    error_code: str | None
    input_tokens: int | None
    output_tokens: int | None
    duration_ms: int | None
    new_sandbox: bool
    #: The Slack file objects the message carried (as Slack sent them), attached when the turn runs.
    files: tuple[dict[str, Any], ...] = ()

    @field_validator("files", mode="before")
    @classmethod
    def _decode_files(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class QueuePosition(Record):
    """Where a queued turn waits: 1 means next, in its thread and among all queued turns."""

    in_thread: int
    overall: int


class NewFile(Record):
    """A file checked and hashed, about to be (or just) uploaded for a thread."""

    session_id: int
    slack_file_id: str
    name: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    mimetype: str
    foundry_file_id: str | None = None


class StoredFile(Record):
    """A file of a thread; the same bytes are stored once per thread."""

    id: int
    session_id: int
    slack_file_id: str
    foundry_file_id: str | None
    name: str
    size: int
    sha256: str
    mimetype: str
    status: FileStatus
    created_at: AwareDatetime


class NewOutput(Record):
    """What happened to one generated file of a turn."""

    turn_id: int
    container_id: str
    container_file_id: str
    filename: str
    status: OutputStatus
    size: int | None = None
    slack_file_id: str | None = None
    detail: str | None = None


class Output(Record):
    """A generated file posted back (or not) into the thread."""

    id: int
    turn_id: int
    container_id: str
    container_file_id: str
    filename: str
    size: int | None
    slack_file_id: str | None
    status: OutputStatus
    detail: str | None
    created_at: AwareDatetime


class CodeBlock(Record):
    """Code the sandbox ran during a turn, in the order it ran (Show code)."""

    turn_id: int
    position: int
    call_id: str
    code: str
    created_at: AwareDatetime


class CleanupItem(Record):
    """One Foundry resource a clean-up job deletes; ``deleted_at`` is set once it is gone."""

    kind: ResourceKind
    resource_id: str
    deleted_at: AwareDatetime | None


class CleanupJob(Record):
    """The durable job that deletes a session's conversation, files and containers."""

    id: int
    session_id: int
    state: CleanupState
    attempts: int
    next_attempt_at: AwareDatetime
    last_error: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    items: tuple[CleanupItem, ...]

    @property
    def remaining(self) -> tuple[CleanupItem, ...]:
        """The resources not deleted yet."""
        return tuple(item for item in self.items if item.deleted_at is None)


class UsageEntry(Record):
    """What one turn cost, recorded once per turn."""

    turn_id: int
    team_id: str
    channel_id: str
    user_id: str
    day: date
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    sandbox_sessions: int = Field(default=0, ge=0)
    duration_ms: int = Field(default=0, ge=0)


class UsageTotals(Record):
    """Usage summed over a set of turns."""

    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    sandbox_sessions: int = 0
    duration_ms: int = 0

    @property
    def total_tokens(self) -> int:
        """Input and output tokens together."""
        return self.input_tokens + self.output_tokens


class UsageRank(Record):
    """One user's or channel's usage in a ranking."""

    key: str
    totals: UsageTotals


class Gauges(Record):
    """How much is going on right now, for ``/metrics``."""

    active_sessions: int = 0
    archiving_sessions: int = 0
    queued_turns: int = 0
    running_turns: int = 0
    pending_cleanups: int = 0
    failed_cleanups: int = 0
