"""The schema, as the ordered list of migrations; append a new step, never edit a released one.

Timestamps are UTC ISO text of fixed width (see ``codec.timestamp``), so comparing text
compares times. Ids are ``AUTOINCREMENT`` so an id is never reused: Slack message metadata
names turns by id.
"""

from __future__ import annotations

from storage.sqlite.migrations import Migration

_V1 = """
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    root_ts TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'archiving', 'archived')),
    conversation_id TEXT,
    agent_version TEXT,
    created_at TEXT NOT NULL,
    last_activity_at TEXT NOT NULL,
    archived_at TEXT,
    archive_reason TEXT,
    last_container_id TEXT
);
-- One live session per thread; an archived one no longer counts, so the thread can start again.
CREATE UNIQUE INDEX sessions_live_thread ON sessions (team_id, channel_id, root_ts)
    WHERE state <> 'archived';
CREATE INDEX sessions_team_channel ON sessions (team_id, channel_id);
CREATE INDEX sessions_state_activity ON sessions (state, last_activity_at);

CREATE TABLE turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    seq INTEGER NOT NULL CHECK (seq > 0),
    team_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    message_ts TEXT NOT NULL,
    text TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'posting', 'done', 'failed', 'stopped')),
    response_id TEXT,
    container_id TEXT,
    status_message_ts TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    error_code TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    duration_ms INTEGER,
    new_sandbox INTEGER NOT NULL DEFAULT 0 CHECK (new_sandbox IN (0, 1)),
    UNIQUE (session_id, seq),
    UNIQUE (session_id, message_ts)
);
CREATE INDEX turns_state_session ON turns (state, session_id, seq);
CREATE INDEX turns_team_created ON turns (team_id, created_at);

CREATE TABLE files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    slack_file_id TEXT NOT NULL,
    foundry_file_id TEXT,
    name TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0),
    sha256 TEXT NOT NULL,
    mimetype TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'uploaded', 'failed', 'deleted')),
    created_at TEXT NOT NULL,
    UNIQUE (session_id, sha256)
);
CREATE INDEX files_slack_id ON files (session_id, slack_file_id);

CREATE TABLE outputs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    turn_id INTEGER NOT NULL REFERENCES turns (id),
    container_id TEXT NOT NULL,
    container_file_id TEXT NOT NULL,
    filename TEXT NOT NULL,
    size INTEGER,
    slack_file_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('posted', 'failed', 'skipped')),
    detail TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (turn_id, container_file_id)
);

CREATE TABLE turn_code (
    turn_id INTEGER NOT NULL REFERENCES turns (id),
    position INTEGER NOT NULL CHECK (position > 0),
    call_id TEXT NOT NULL,
    code TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (turn_id, position),
    UNIQUE (turn_id, call_id)
);

CREATE TABLE processed_events (
    key TEXT PRIMARY KEY,
    received_at TEXT NOT NULL
);
CREATE INDEX processed_events_received ON processed_events (received_at);

CREATE TABLE cleanup_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL UNIQUE REFERENCES sessions (id),
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX cleanup_jobs_due ON cleanup_jobs (state, next_attempt_at);

CREATE TABLE cleanup_items (
    job_id INTEGER NOT NULL REFERENCES cleanup_jobs (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('conversation', 'file', 'container')),
    resource_id TEXT NOT NULL,
    deleted_at TEXT,
    PRIMARY KEY (job_id, kind, resource_id)
);

CREATE TABLE usage (
    turn_id INTEGER PRIMARY KEY REFERENCES turns (id),
    team_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    day TEXT NOT NULL,
    input_tokens INTEGER NOT NULL CHECK (input_tokens >= 0),
    output_tokens INTEGER NOT NULL CHECK (output_tokens >= 0),
    sandbox_sessions INTEGER NOT NULL CHECK (sandbox_sessions >= 0),
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    recorded_at TEXT NOT NULL
);
CREATE INDEX usage_team_day ON usage (team_id, day);
"""

# A turn remembers the Slack files its message carried, so they are attached when it runs
# (the question waits for its files) and again if the turn is resumed after a restart.
_V2 = """
ALTER TABLE turns ADD COLUMN files TEXT NOT NULL DEFAULT '[]';
"""

# A new turn marks its thread active in the same statement that queues it (one round trip to the
# database per message rather than a transaction of four).
_V3 = """
CREATE TRIGGER turns_touch_session AFTER INSERT ON turns
BEGIN
    UPDATE sessions SET last_activity_at = NEW.created_at WHERE id = NEW.session_id;
END;
"""

# Empty conversations made ahead of need, so a new thread's first question need not wait for one.
# A session given one takes it off the list in the same statement (the trigger).
_V4 = """
CREATE TABLE spare_conversations (
    conversation_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE INDEX spare_conversations_created ON spare_conversations (created_at);

CREATE TRIGGER sessions_take_spare AFTER UPDATE OF conversation_id ON sessions
WHEN NEW.conversation_id IS NOT NULL
BEGIN
    DELETE FROM spare_conversations WHERE conversation_id = NEW.conversation_id;
END;
"""

#: Every schema step, oldest first.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, _V1),
    Migration(2, _V2),
    Migration(3, _V3),
    Migration(4, _V4),
)
