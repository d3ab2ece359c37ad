"""Sessions: one live session per thread, archiving, and listing."""

from __future__ import annotations

import pytest

from storage import (
    LIVE_SESSION_STATES,
    ArchiveReason,
    CleanupState,
    ResourceKind,
    Session,
    SessionState,
    Store,
)

from .helpers import START, ManualClock


async def test_get_or_create_session_round_trips_all_fields(store: Store, clock: ManualClock) -> None:
    """A session written with every field set reads back with the same values."""
    created, is_new = await store.get_or_create_session("T1", "C1", "1.0")
    await store.set_conversation_id(created.id, "conv_1", agent_version="7")
    await store.set_last_container(created.id, "cntr_1")
    clock.advance(minutes=1)
    await store.begin_archiving(created.id, ArchiveReason.END_REQUESTED)
    clock.advance(minutes=1)
    await store.finish_archiving(created.id)

    assert is_new
    assert await store.get_session(created.id) == Session(
        id=created.id,
        team_id="T1",
        channel_id="C1",
        root_ts="1.0",
        state=SessionState.ARCHIVED,
        conversation_id="conv_1",
        agent_version="7",
        created_at=START,
        last_activity_at=START,
        archived_at=clock.now,
        archive_reason=ArchiveReason.END_REQUESTED,
        last_container_id="cntr_1",
    )


async def test_get_or_create_session_returns_existing(store: Store, session: Session) -> None:
    """A second call for the same thread returns the same session and says it was not created."""
    again, is_new = await store.get_or_create_session(session.team_id, session.channel_id, session.root_ts)

    assert (again, is_new) == (session, False)


async def test_get_or_create_session_separates_threads(store: Store, session: Session) -> None:
    """Another thread (or the same ts in another channel) gets its own session."""
    other_thread, _ = await store.get_or_create_session("T1", "C1", "2.0")
    other_channel, _ = await store.get_or_create_session("T1", "C2", session.root_ts)

    assert len({session.id, other_thread.id, other_channel.id}) == 3


async def test_get_live_session_finds_active_and_archiving(store: Store, session: Session) -> None:
    """The live session is found while active and archiving, and not once archived."""
    thread = (session.team_id, session.channel_id, session.root_ts)
    assert await store.get_live_session(*thread) == session

    await store.begin_archiving(session.id, ArchiveReason.IDLE)
    archiving = await store.get_live_session(*thread)
    assert archiving is not None
    assert archiving.state == SessionState.ARCHIVING

    await store.finish_archiving(session.id)
    assert await store.get_live_session(*thread) is None


async def test_get_session_unknown_is_none(store: Store) -> None:
    """An unknown id reads as None."""
    assert await store.get_session(12345) is None


async def test_set_conversation_id_keeps_agent_version_when_omitted(store: Store, session: Session) -> None:
    """Setting the conversation without an agent version keeps the one stored."""
    await store.set_conversation_id(session.id, "conv_1", agent_version="3")
    updated = await store.set_conversation_id(session.id, "conv_2")

    assert updated is not None
    assert (updated.conversation_id, updated.agent_version) == ("conv_2", "3")


async def test_forget_conversation_only_forgets_the_one_named(store: Store, session: Session) -> None:
    """A session forgets the conversation Foundry lost, not one it was given meanwhile."""
    await store.set_conversation_id(session.id, "conv_2")

    assert await store.forget_conversation(session.id, "conv_1") is None
    forgotten = await store.forget_conversation(session.id, "conv_2")

    assert forgotten is not None
    assert forgotten.conversation_id is None
    assert await store.get_session(session.id) == forgotten


async def test_touch_session_moves_last_activity(store: Store, session: Session, clock: ManualClock) -> None:
    """Touching a session records the clock's time as its last activity."""
    later = clock.advance(hours=2)

    touched = await store.touch_session(session.id)

    assert touched is not None
    assert touched.last_activity_at == later
    assert touched.created_at == START


async def test_session_updates_on_unknown_id_return_none(store: Store) -> None:
    """Updates of a session that does not exist return None."""
    assert await store.set_conversation_id(99, "conv_1") is None
    assert await store.touch_session(99) is None
    assert await store.set_last_container(99, "cntr_1") is None
    assert await store.begin_archiving(99, ArchiveReason.IDLE) is None
    assert await store.finish_archiving(99) is None


async def test_begin_archiving_records_cleanup_job_with_resources(store: Store, session: Session) -> None:
    """Archiving moves the session to archiving and records a job listing its conversation and container."""
    await store.set_conversation_id(session.id, "conv_1")
    await store.set_last_container(session.id, "cntr_1")

    job = await store.begin_archiving(session.id, ArchiveReason.REACTION)

    assert job is not None
    assert (job.session_id, job.state) == (session.id, CleanupState.PENDING)
    resources = {(item.kind, item.resource_id) for item in job.items}
    assert resources == {(ResourceKind.CONVERSATION, "conv_1"), (ResourceKind.CONTAINER, "cntr_1")}
    archiving = await store.get_session(session.id)
    assert archiving is not None
    assert (archiving.state, archiving.archive_reason) == (SessionState.ARCHIVING, ArchiveReason.REACTION)


async def test_begin_archiving_is_idempotent(store: Store, session: Session) -> None:
    """A second trigger returns the same job and keeps the first reason."""
    first = await store.begin_archiving(session.id, ArchiveReason.IDLE)
    second = await store.begin_archiving(session.id, ArchiveReason.CHANNEL_ARCHIVED)

    assert first == second
    archiving = await store.get_session(session.id)
    assert archiving is not None
    assert archiving.archive_reason == ArchiveReason.IDLE


async def test_begin_archiving_archived_session_is_none(store: Store, session: Session) -> None:
    """An archived session cannot start archiving again."""
    await store.begin_archiving(session.id, ArchiveReason.IDLE)
    await store.finish_archiving(session.id)

    assert await store.begin_archiving(session.id, ArchiveReason.IDLE) is None


async def test_finish_archiving_requires_archiving(store: Store, session: Session) -> None:
    """An active session cannot jump straight to archived."""
    assert await store.finish_archiving(session.id) is None


async def test_get_or_create_session_new_session_after_archive(store: Store, session: Session) -> None:
    """A thread whose session was archived gets a new session; while archiving it keeps the old one."""
    thread = (session.team_id, session.channel_id, session.root_ts)
    await store.begin_archiving(session.id, ArchiveReason.IDLE)
    during, created_during = await store.get_or_create_session(*thread)

    await store.finish_archiving(session.id)
    after, created_after = await store.get_or_create_session(*thread)

    assert (during.id, created_during) == (session.id, False)
    assert created_after
    assert session.id != after.id
    assert after.state == SessionState.ACTIVE


async def test_has_archived_session_only_for_an_ended_session_of_that_thread(store: Store, session: Session) -> None:
    """Only an archived session counts, and only in its own thread (team, channel and root alike)."""
    thread = (session.team_id, session.channel_id, session.root_ts)
    neighbours = [
        ("T2", session.channel_id, session.root_ts),
        (session.team_id, "C2", session.root_ts),
        (session.team_id, session.channel_id, "1700000000.999999"),
    ]
    for other in neighbours:
        created, _ = await store.get_or_create_session(*other)
        await store.begin_archiving(created.id, ArchiveReason.IDLE)
        await store.finish_archiving(created.id)

    active = await store.has_archived_session(*thread)
    await store.begin_archiving(session.id, ArchiveReason.IDLE)
    archiving = await store.has_archived_session(*thread)
    await store.finish_archiving(session.id)
    archived = await store.has_archived_session(*thread)
    await store.get_or_create_session(*thread)  # a fresh session does not hide the ended one

    assert (active, archiving, archived) == (False, False, True)
    assert await store.has_archived_session(*thread)
    assert await store.has_archived_session("T9", "C9", "1.0") is False


async def test_list_sessions_filters(store: Store, clock: ManualClock) -> None:
    """Sessions are listed by team, channel, state and idleness, least recently active first."""
    old, _ = await store.get_or_create_session("T1", "C1", "1.0")
    clock.advance(hours=1)
    other_channel, _ = await store.get_or_create_session("T1", "C2", "2.0")
    other_team, _ = await store.get_or_create_session("T2", "C9", "3.0")
    clock.advance(hours=1)
    archived, _ = await store.get_or_create_session("T1", "C1", "4.0")
    await store.begin_archiving(archived.id, ArchiveReason.IDLE)
    await store.finish_archiving(archived.id)

    def ids(sessions: list[Session]) -> list[int]:
        return [listed.id for listed in sessions]

    assert ids(await store.list_sessions()) == [old.id, other_channel.id, other_team.id, archived.id]
    assert ids(await store.list_sessions(team_id="T1")) == [old.id, other_channel.id, archived.id]
    assert ids(await store.list_sessions(team_id="T1", channel_id="C1")) == [old.id, archived.id]
    live = await store.list_sessions(team_id="T1", states=LIVE_SESSION_STATES)
    assert ids(live) == [old.id, other_channel.id]
    assert ids(await store.list_sessions(states=[SessionState.ARCHIVED])) == [archived.id]
    assert ids(await store.list_sessions(idle_before=START + (clock.now - START) / 4)) == [old.id]
    assert ids(await store.list_sessions(limit=2)) == [old.id, other_channel.id]
    assert await store.list_sessions(states=[]) == []


@pytest.mark.parametrize("reason", list(ArchiveReason))
async def test_begin_archiving_stores_every_reason(store: Store, reason: ArchiveReason) -> None:
    """Every archive reason is stored and read back."""
    session, _ = await store.get_or_create_session("T1", "C1", f"{reason}.1")
    await store.begin_archiving(session.id, reason)

    archiving = await store.get_session(session.id)

    assert archiving is not None
    assert archiving.archive_reason == reason
