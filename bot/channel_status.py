"""``/interpreter status``: a channel's live sessions, with links, files, running and queued turns."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.files.names import human_size, safe_name
from storage.protocol import Store
from storage.records import IN_FLIGHT_TURN_STATES, LIVE_SESSION_STATES, FileStatus, Session, SessionState, TurnState

#: At most this many sessions are listed; the rest are counted.
SHOWN = 15


def thread_link(team_domain: str | None, channel_id: str, root_ts: str) -> str:
    """A link to a thread's root message (Slack opens the thread from it)."""
    host = f"https://{team_domain}.slack.com" if team_domain else "https://slack.com"
    return f"{host}/archives/{channel_id}/p{root_ts.replace('.', '')}"


async def channel_status(
    store: Store, team_id: str, channel_id: str, *, team_domain: str | None, capacity: int, now: datetime
) -> str:
    """The status text, most recently active session first."""
    sessions = await store.list_sessions(team_id=team_id, channel_id=channel_id, states=LIVE_SESSION_STATES)
    busy = await store.count_running_turns()
    footer = f"Sandbox sessions running in this workspace: {busy} of {capacity}."
    if not sessions:
        return (
            f"No live sessions in <#{channel_id}>. Start one with `/interpreter <question>` or by mentioning me.\n"
            + footer
        )
    sessions.sort(key=lambda s: s.last_activity_at, reverse=True)
    lines = [f"*Live sessions in <#{channel_id}>* ({len(sessions)})"]
    for session in sessions[:SHOWN]:
        lines.append(await _describe(store, session, team_domain, now))
    if len(sessions) > SHOWN:
        lines.append(f"…and {len(sessions) - SHOWN} more.")
    lines.append(footer)
    return "\n".join(lines)


async def _describe(store: Store, session: Session, team_domain: str | None, now: datetime) -> str:
    turns = await store.list_turns(session.id)
    files = await store.list_files(session.id, statuses=[FileStatus.UPLOADED])
    link = thread_link(team_domain, session.channel_id, session.root_ts)
    parts = [f"<{link}|thread>"]
    if turns:
        parts.append(f"started by <@{turns[0].user_id}>")
    if session.state is SessionState.ARCHIVING:
        parts.append("ending: deleting its resources")
    running = sum(t.state in IN_FLIGHT_TURN_STATES for t in turns)
    queued = sum(t.state is TurnState.QUEUED for t in turns)
    parts.append("running a turn" if running else f"idle for {_ago(now - session.last_activity_at)}")
    if queued:
        parts.append(f"{queued} queued")
    if files:
        names = ", ".join(f"{safe_name(f.name)} ({human_size(f.size)})" for f in files[:5])
        more = f" and {len(files) - 5} more" if len(files) > 5 else ""
        parts.append(f"{len(files)} file{'s' if len(files) != 1 else ''}: {names}{more}")
    else:
        parts.append("no files")
    return "• " + ", ".join(parts)


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return "under a minute"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"
