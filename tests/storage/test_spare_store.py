"""Spare conversations: kept, handed to exactly one new session, then no longer spare."""

from __future__ import annotations

import asyncio

from storage import Session, SpareConversation, Store, open_store

from .helpers import START, ManualClock


async def _new_session(store: Store, root_ts: str) -> Session:
    created, _ = await store.get_or_create_session("T1", "C1", root_ts)
    return created


async def test_a_new_session_takes_the_oldest_spare_and_it_stops_being_spare(
    store: Store, session: Session, clock: ManualClock
) -> None:
    """The session gets the conversation and agent version; the other spare stays."""
    await store.add_spare_conversation("conv_old")
    clock.advance(minutes=1)
    await store.add_spare_conversation("conv_new")

    taken = await store.take_spare_conversation(session.id, made_after=START, agent_version="4")

    assert taken is not None
    assert (taken.conversation_id, taken.agent_version) == ("conv_old", "4")
    assert await store.get_session(session.id) == taken
    assert await store.list_spare_conversations() == [
        SpareConversation(conversation_id="conv_new", created_at=clock.now)
    ]


async def test_no_spare_leaves_the_session_without_a_conversation(store: Store, session: Session) -> None:
    """With nothing to take, the session is untouched (the caller opens a conversation itself)."""
    assert await store.take_spare_conversation(session.id, made_after=START) is None

    unchanged = await store.get_session(session.id)
    assert unchanged is not None
    assert unchanged.conversation_id is None


async def test_a_spare_older_than_asked_for_is_not_given(store: Store, session: Session, clock: ManualClock) -> None:
    """Only spares made at or after ``made_after`` count; an older one stays listed for its clean-up."""
    await store.add_spare_conversation("conv_stale")
    later = clock.advance(days=2)

    assert await store.take_spare_conversation(session.id, made_after=later) is None
    assert [s.conversation_id for s in await store.list_spare_conversations()] == ["conv_stale"]


async def test_a_session_with_a_conversation_takes_no_spare(store: Store, session: Session) -> None:
    """A thread that already talks to a conversation keeps it, and the spare stays spare."""
    await store.set_conversation_id(session.id, "conv_own")
    await store.add_spare_conversation("conv_spare")

    assert await store.take_spare_conversation(session.id, made_after=START) is None

    kept = await store.get_session(session.id)
    assert kept is not None
    assert kept.conversation_id == "conv_own"
    assert [s.conversation_id for s in await store.list_spare_conversations()] == ["conv_spare"]


async def test_one_spare_goes_to_exactly_one_of_many_sessions(store: Store) -> None:
    """Sessions asking at once: one gets the spare, the rest get nothing."""
    await store.add_spare_conversation("conv_only")
    sessions = [await _new_session(store, f"1700000000.{n:06d}") for n in range(8)]

    taken = await asyncio.gather(*(store.take_spare_conversation(s.id, made_after=START) for s in sessions))

    assert [t.conversation_id for t in taken if t is not None] == ["conv_only"]
    assert await store.list_spare_conversations() == []


async def test_recording_a_spare_as_a_sessions_conversation_removes_it(store: Store, session: Session) -> None:
    """However a session comes to hold a spare's id, the spare is gone: it can't be given twice."""
    await store.add_spare_conversation("conv_1")

    await store.set_conversation_id(session.id, "conv_1")

    assert await store.list_spare_conversations() == []


async def test_adding_twice_keeps_one_spare_with_its_first_time(store: Store, clock: ManualClock) -> None:
    """A retried add doesn't make the spare look newer than it is."""
    await store.add_spare_conversation("conv_1")
    clock.advance(hours=1)
    await store.add_spare_conversation("conv_1")

    assert await store.list_spare_conversations() == [SpareConversation(conversation_id="conv_1", created_at=START)]


async def test_drop_forgets_a_spare_once(store: Store) -> None:
    """Dropping says whether it was still a spare."""
    await store.add_spare_conversation("conv_1")

    assert await store.drop_spare_conversation("conv_1")
    assert not await store.drop_spare_conversation("conv_1")
    assert await store.list_spare_conversations() == []


async def test_two_processes_on_one_database_never_take_the_same_spare(db_url: str, clock: ManualClock) -> None:
    """Two stores on one file (two bot processes) asking at once: one of them gets the spare."""
    async with open_store(db_url, clock=clock) as one, open_store(db_url, clock=clock) as two:
        await one.add_spare_conversation("conv_only")
        first = await _new_session(one, "1700000000.000001")
        second = await _new_session(two, "1700000000.000002")

        taken = await asyncio.gather(
            one.take_spare_conversation(first.id, made_after=START),
            two.take_spare_conversation(second.id, made_after=START),
        )

        assert [t.conversation_id for t in taken if t is not None] == ["conv_only"]
        assert await two.list_spare_conversations() == []
