"""Many tasks, and two store objects on one file (two processes' worth), racing for the same rows."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import AsyncExitStack
from datetime import timedelta

from storage import ArchiveReason, Session, Store, open_store

from .helpers import ManualClock

TASKS = 200


async def test_get_or_create_session_concurrent_one_per_thread(store: Store) -> None:
    """Concurrent callers for the same thread all get the same session, and exactly one created it."""
    results = await asyncio.gather(*(store.get_or_create_session("T1", "C1", "1.0") for _ in range(TASKS)))

    assert len({session.id for session, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_claim_event_concurrent_once_per_key(store: Store) -> None:
    """Of many concurrent claims of a key, exactly one wins."""
    keys = [f"Ev{n % 20}" for n in range(TASKS)]

    results = await asyncio.gather(*(store.claim_event(key) for key in keys))

    winners = Counter(key for key, won in zip(keys, results, strict=True) if won)
    assert dict(winners) == {f"Ev{n}": 1 for n in range(20)}


async def test_enqueue_turn_concurrent_seqs_unique_and_gapless(store: Store, session: Session) -> None:
    """Concurrent turns (each message delivered twice) get one turn per message and seqs 1..n with no gap."""
    messages = [f"1.{n % (TASKS // 2)}" for n in range(TASKS)]

    results = await asyncio.gather(
        *(store.enqueue_turn(session.id, user_id="U1", message_ts=ts, text="q") for ts in messages)
    )

    assert sum(created for _, created in results) == TASKS // 2
    turns = await store.list_turns(session.id)
    assert [turn.seq for turn in turns] == list(range(1, TASKS // 2 + 1))
    assert sorted(set(messages)) == sorted(turn.message_ts for turn in turns)


async def test_claim_next_turn_concurrent_single_winner(store: Store, session: Session) -> None:
    """Of many concurrent claims in one thread, exactly one turn starts."""
    for n in range(5):
        await store.enqueue_turn(session.id, user_id="U1", message_ts=f"1.{n}", text="q")

    claimed = [
        turn for turn in await asyncio.gather(*(store.claim_next_turn(session.id) for _ in range(TASKS))) if turn
    ]

    assert [turn.seq for turn in claimed] == [1]
    assert await store.count_queued_turns(session.id) == 4


async def test_claim_next_turn_concurrent_respects_max_running(store: Store) -> None:
    """Claims racing across many sessions start exactly ``max_running`` turns, one per session at most."""
    sessions = [(await store.get_or_create_session("T1", "C1", f"{n}.0"))[0] for n in range(20)]
    for session in sessions:
        for n in range(2):
            await store.enqueue_turn(session.id, user_id="U1", message_ts=f"{session.id}.{n}", text="q")

    claims = await asyncio.gather(*(store.claim_next_turn(sessions[n % 20].id, max_running=7) for n in range(TASKS)))

    claimed = [turn for turn in claims if turn]
    assert len(claimed) == 7
    assert len({turn.session_id for turn in claimed}) == 7
    assert {turn.seq for turn in claimed} == {1}
    assert await store.count_running_turns() == 7


async def test_begin_archiving_concurrent_one_job(store: Store, session: Session) -> None:
    """Concurrent archive triggers for a session record a single clean-up job."""
    jobs = await asyncio.gather(*(store.begin_archiving(session.id, ArchiveReason.IDLE) for _ in range(50)))

    assert len({job.id for job in jobs if job is not None}) == 1


async def test_cancelled_tasks_leave_store_consistent(store: Store, session: Session) -> None:
    """Tasks cancelled mid-transaction roll back cleanly: the store keeps working and seqs stay gapless."""
    tasks = [
        asyncio.create_task(store.enqueue_turn(session.id, user_id="U1", message_ts=f"1.{n}", text="q"))
        for n in range(TASKS)
    ]
    await asyncio.sleep(0.01)
    for task in tasks[::2]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    last, _ = await store.enqueue_turn(session.id, user_id="U1", message_ts="2.0", text="after")

    turns = await store.list_turns(session.id)
    assert [turn.seq for turn in turns] == list(range(1, len(turns) + 1))
    assert turns[-1] == last


async def test_two_stores_share_one_file(db_url: str, clock: ManualClock) -> None:
    """Two store objects on one database file agree on sessions, event claims, turn seqs and job claims."""
    async with open_store(db_url, clock=clock) as one, open_store(db_url, clock=clock) as two:
        stores = (one, two)
        sessions = await asyncio.gather(
            *(stores[n % 2].get_or_create_session("T1", "C1", f"{n % 10}.0") for n in range(TASKS))
        )
        claims = await asyncio.gather(*(stores[n % 2].claim_event(f"Ev{n % 50}") for n in range(TASKS)))
        target = sessions[0][0].id
        await asyncio.gather(
            *(
                stores[n % 2].enqueue_turn(target, user_id="U1", message_ts=f"5.{n}", text="q")
                for n in range(TASKS // 2)
            )
        )
        for session, _ in sessions[:10]:
            await one.begin_archiving(session.id, ArchiveReason.IDLE)
        jobs = await asyncio.gather(
            *(stores[n % 2].claim_due_cleanup_jobs(lease=timedelta(minutes=1)) for n in range(20))
        )

        assert len({session.id for session, _ in sessions}) == 10
        assert sum(created for _, created in sessions) == 10
        assert sum(claims) == 50
        assert [turn.seq for turn in await two.list_turns(target)] == list(range(1, TASKS // 2 + 1))
        claimed = [job.id for batch in jobs for job in batch]
        assert sorted(set(claimed)) == sorted(claimed)
        assert len(claimed) == 10


async def test_open_store_concurrent_first_start(db_url: str, clock: ManualClock) -> None:
    """Several stores opening a new database at once migrate it once and all work."""
    async with AsyncExitStack() as stack:
        stores = await asyncio.gather(*(stack.enter_async_context(open_store(db_url, clock=clock)) for _ in range(4)))

        claims = await asyncio.gather(*(store.claim_event("Ev1") for store in stores))

    assert sorted(claims) == [False, False, False, True]
