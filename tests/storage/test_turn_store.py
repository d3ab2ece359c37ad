"""Turns: the queue per thread, the life cycle, and the views used after a crash."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import StorageError
from storage import QueuePosition, Session, Store, Turn, TurnState

from .helpers import START, ManualClock


async def _enqueue(store: Store, session: Session, ts: str, user: str = "U1") -> Turn:
    queued, _ = await store.enqueue_turn(session.id, user_id=user, message_ts=ts, text=f"question {ts}")
    return queued


async def test_enqueue_turn_round_trips_all_fields(store: Store, session: Session, clock: ManualClock) -> None:
    """A turn taken through its whole life reads back with every field as written."""
    queued, created = await store.enqueue_turn(session.id, user_id="U1", message_ts="5.0", text="plot sales")
    started = clock.advance(seconds=1)
    await store.claim_next_turn(session.id)
    await store.set_turn_response(queued.id, "resp_1")
    await store.set_turn_container(queued.id, "cntr_1", new_sandbox=True)
    await store.set_turn_status_message(queued.id, "5.1")
    await store.start_posting(queued.id)
    finished = clock.advance(seconds=3)
    await store.finish_turn(queued.id, input_tokens=120, output_tokens=45, duration_ms=2900)

    assert created
    assert await store.get_turn(queued.id) == Turn(
        id=queued.id,
        session_id=session.id,
        seq=1,
        team_id=session.team_id,
        channel_id=session.channel_id,
        user_id="U1",
        message_ts="5.0",
        text="plot sales",
        state=TurnState.DONE,
        response_id="resp_1",
        container_id="cntr_1",
        status_message_ts="5.1",
        created_at=START,
        started_at=started,
        finished_at=finished,
        error_code=None,
        input_tokens=120,
        output_tokens=45,
        duration_ms=2900,
        new_sandbox=True,
    )


async def test_enqueue_turn_seq_increases_per_session(store: Store, session: Session) -> None:
    """Each session numbers its turns 1, 2, 3 on its own."""
    other, _ = await store.get_or_create_session("T1", "C1", "9.0")

    seqs = [(await _enqueue(store, session, f"1.{n}")).seq for n in range(3)]
    other_first = await _enqueue(store, other, "2.0")

    assert seqs == [1, 2, 3]
    assert other_first.seq == 1


async def test_enqueue_turn_same_message_once(store: Store, session: Session, turn: Turn) -> None:
    """The same Slack message queued again returns the existing turn and takes no seq."""
    again, created = await store.enqueue_turn(session.id, user_id="U1", message_ts=turn.message_ts, text="other")
    following = await _enqueue(store, session, "9.9")

    assert (again, created) == (turn, False)
    assert following.seq == 2


async def test_enqueue_turn_touches_session(store: Store, session: Session, clock: ManualClock) -> None:
    """Queuing a turn counts as activity in the session."""
    later = clock.advance(minutes=10)
    await _enqueue(store, session, "1.0")

    touched = await store.get_session(session.id)

    assert touched is not None
    assert touched.last_activity_at == later


async def test_enqueue_turn_unknown_session_refused(store: Store) -> None:
    """A turn for a session that does not exist is a StorageError."""
    with pytest.raises(StorageError, match="does not exist"):
        await store.enqueue_turn(404, user_id="U1", message_ts="1.0", text="hi")


async def test_claim_next_turn_in_seq_order_one_at_a_time(store: Store, session: Session) -> None:
    """Turns start in seq order, and not while another turn of the thread is in flight."""
    first = await _enqueue(store, session, "1.0")
    second = await _enqueue(store, session, "2.0")

    claimed = await store.claim_next_turn(session.id)
    blocked = await store.claim_next_turn(session.id)
    await store.start_posting(first.id)
    still_blocked = await store.claim_next_turn(session.id)
    await store.finish_turn(first.id)
    claimed_next = await store.claim_next_turn(session.id)

    assert claimed is not None
    assert claimed_next is not None
    assert (claimed.id, claimed.state) == (first.id, TurnState.RUNNING)
    assert (blocked, still_blocked) == (None, None)
    assert claimed_next.id == second.id


async def test_claim_next_turn_empty_queue_is_none(store: Store, session: Session) -> None:
    """A session without queued turns has nothing to claim."""
    assert await store.claim_next_turn(session.id) is None


async def test_claim_next_turn_respects_max_running(store: Store) -> None:
    """With ``max_running`` turns in flight anywhere, no further turn starts."""
    sessions = [(await store.get_or_create_session("T1", "C1", f"{n}.0"))[0] for n in range(3)]
    for session in sessions:
        await _enqueue(store, session, f"{session.id}.1")

    first = await store.claim_next_turn(sessions[0].id, max_running=2)
    second = await store.claim_next_turn(sessions[1].id, max_running=2)
    third = await store.claim_next_turn(sessions[2].id, max_running=2)

    assert first is not None
    assert second is not None
    assert third is None
    assert await store.count_running_turns() == 2


async def test_refused_claim_changes_no_row(store: Store, session: Session) -> None:
    """A claim refused by an in-flight turn or by the cap leaves the queued turn as it was."""
    first = await _enqueue(store, session, "1.0")
    second = await _enqueue(store, session, "2.0")
    other, _ = await store.get_or_create_session("T1", "C1", "9.0")
    third = await _enqueue(store, other, "9.1")
    await store.claim_next_turn(session.id)

    assert await store.claim_next_turn(session.id) is None
    assert await store.claim_next_turn(other.id, max_running=1) is None

    assert await store.get_turn(second.id) == second
    assert await store.get_turn(third.id) == third
    assert [t.state for t in await store.list_turns(session.id)] == [TurnState.RUNNING, TurnState.QUEUED]
    assert (await store.get_turn(first.id) or first).started_at is not None


async def test_turn_transitions_refuse_wrong_states(store: Store, turn: Turn) -> None:
    """Transitions apply only from their allowed states; otherwise they return None and change nothing."""
    assert await store.start_posting(turn.id) is None
    assert await store.finish_turn(turn.id) is None
    await store.claim_next_turn(turn.session_id)
    done = await store.finish_turn(turn.id)

    assert done is not None
    assert done.state == TurnState.DONE
    assert await store.stop_turn(turn.id) is None
    assert await store.fail_turn(turn.id, "late") is None
    assert await store.get_turn(turn.id) == done


async def test_fail_turn_records_code_and_duration(store: Store, turn: Turn, clock: ManualClock) -> None:
    """A failed turn keeps its error code and, by default, the time since it started."""
    await store.claim_next_turn(turn.session_id)
    clock.advance(seconds=2.5)

    failed = await store.fail_turn(turn.id, "container_expired")

    assert failed is not None
    assert (failed.state, failed.error_code, failed.duration_ms) == (TurnState.FAILED, "container_expired", 2500)
    assert failed.finished_at == clock.now


async def test_stop_turn_while_queued(store: Store, turn: Turn, clock: ManualClock) -> None:
    """A queued turn can be stopped before it starts; it then has no duration."""
    stopped = await store.stop_turn(turn.id)

    assert stopped is not None
    assert (stopped.state, stopped.started_at, stopped.duration_ms) == (TurnState.STOPPED, None, None)
    assert await store.claim_next_turn(turn.session_id) is None


async def test_withdraw_turn_only_while_queued(store: Store, session: Session) -> None:
    """A queued turn is withdrawn (stopped, never run); one already running is left alone."""
    first = await _enqueue(store, session, "1.0")
    second = await _enqueue(store, session, "2.0")
    running = await store.claim_next_turn(session.id)

    withdrawn = await store.withdraw_turn(second.id)

    assert running is not None
    assert running.id == first.id
    assert await store.withdraw_turn(first.id) is None
    assert withdrawn is not None
    assert (withdrawn.state, withdrawn.started_at) == (TurnState.STOPPED, None)
    assert withdrawn.finished_at is not None
    still = await store.get_turn(first.id)
    assert still is not None
    assert still.state is TurnState.RUNNING
    await store.finish_turn(first.id)
    assert await store.claim_next_turn(session.id) is None


async def test_finish_turn_default_duration_from_start(store: Store, turn: Turn, clock: ManualClock) -> None:
    """Without an explicit duration, a finished turn lasted from its start to now, in milliseconds."""
    await store.claim_next_turn(turn.session_id)
    clock.advance(seconds=1, milliseconds=234)

    done = await store.finish_turn(turn.id, input_tokens=1)

    assert done is not None
    assert (done.duration_ms, done.input_tokens, done.output_tokens) == (1234, 1, None)


async def test_set_turn_container_updates_session(store: Store, turn: Turn) -> None:
    """A turn's container becomes its session's last container."""
    updated = await store.set_turn_container(turn.id, "cntr_9", new_sandbox=False)
    session = await store.get_session(turn.session_id)

    assert updated is not None
    assert session is not None
    assert (updated.container_id, updated.new_sandbox, session.last_container_id) == ("cntr_9", False, "cntr_9")


async def test_turn_setters_unknown_id_return_none(store: Store) -> None:
    """Setters and transitions of an unknown turn return None."""
    assert await store.get_turn(77) is None
    assert await store.set_turn_response(77, "resp_1") is None
    assert await store.set_turn_container(77, "cntr_1", new_sandbox=True) is None
    assert await store.set_turn_status_message(77, "1.0") is None
    assert await store.stop_turn(77) is None


async def test_list_in_flight_turns_for_resumption(store: Store) -> None:
    """Turns left running or posting are listed, with their response ids, for resumption."""
    sessions = [(await store.get_or_create_session("T1", "C1", f"{n}.0"))[0] for n in range(4)]
    turns = [await _enqueue(store, session, "1.0") for session in sessions]
    for turn in turns[:3]:
        await store.claim_next_turn(turn.session_id)
        await store.set_turn_response(turn.id, f"resp_{turn.id}")
    await store.start_posting(turns[1].id)
    await store.finish_turn(turns[2].id)

    in_flight = await store.list_in_flight_turns()

    assert [(turn.id, turn.state) for turn in in_flight] == [
        (turns[0].id, TurnState.RUNNING),
        (turns[1].id, TurnState.POSTING),
    ]
    assert [turn.response_id for turn in in_flight] == [f"resp_{turns[0].id}", f"resp_{turns[1].id}"]


async def test_list_waiting_sessions_oldest_first(store: Store) -> None:
    """Sessions with queued turns and none in flight are listed by their longest-waiting turn."""
    busy, _ = await store.get_or_create_session("T1", "C1", "1.0")
    later, _ = await store.get_or_create_session("T1", "C1", "2.0")
    earlier, _ = await store.get_or_create_session("T1", "C1", "3.0")
    await _enqueue(store, busy, "1.1")
    await _enqueue(store, busy, "1.2")
    await _enqueue(store, earlier, "3.1")
    await _enqueue(store, later, "2.1")
    await store.claim_next_turn(busy.id)

    assert await store.list_waiting_sessions() == [earlier.id, later.id]
    assert await store.list_waiting_sessions(limit=1) == [earlier.id]


async def test_queue_position_in_thread_and_overall(store: Store) -> None:
    """A queued turn knows how many queued turns are ahead of it in its thread and overall."""
    one, _ = await store.get_or_create_session("T1", "C1", "1.0")
    two, _ = await store.get_or_create_session("T1", "C1", "2.0")
    a1 = await _enqueue(store, one, "1.1")
    b1 = await _enqueue(store, two, "2.1")
    a2 = await _enqueue(store, one, "1.2")

    assert await store.queue_position(a1.id) == QueuePosition(in_thread=1, overall=1)
    assert await store.queue_position(b1.id) == QueuePosition(in_thread=1, overall=2)
    assert await store.queue_position(a2.id) == QueuePosition(in_thread=2, overall=3)

    await store.claim_next_turn(one.id)

    assert await store.queue_position(a1.id) is None
    assert await store.queue_position(a2.id) == QueuePosition(in_thread=1, overall=2)


async def test_count_queued_turns_per_session_and_overall(store: Store) -> None:
    """Queued turns are counted in one session or everywhere."""
    one, _ = await store.get_or_create_session("T1", "C1", "1.0")
    two, _ = await store.get_or_create_session("T1", "C1", "2.0")
    for ts in ("1.1", "1.2"):
        await _enqueue(store, one, ts)
    await _enqueue(store, two, "2.1")
    await store.claim_next_turn(one.id)

    assert await store.count_queued_turns(one.id) == 1
    assert await store.count_queued_turns(two.id) == 1
    assert await store.count_queued_turns() == 2


async def test_count_turns_since_by_user_and_channel(store: Store, clock: ManualClock) -> None:
    """Turns asked since a moment are counted per team, narrowed to a user or a channel."""
    here, _ = await store.get_or_create_session("T1", "C1", "1.0")
    there, _ = await store.get_or_create_session("T1", "C2", "2.0")
    await _enqueue(store, here, "1.1", user="U1")
    clock.advance(days=1)
    await _enqueue(store, here, "1.2", user="U1")
    await _enqueue(store, here, "1.3", user="U2")
    await _enqueue(store, there, "2.1", user="U1")
    since = START + timedelta(hours=12)

    assert await store.count_turns("T1", since=since) == 3
    assert await store.count_turns("T1", since=since, user_id="U1") == 2
    assert await store.count_turns("T1", since=since, user_id="U1", channel_id="C1") == 1
    assert await store.count_turns("T1", since=START) == 4
    assert await store.count_turns("T2", since=START) == 0


async def test_files_dropped_without_a_question_are_not_counted_as_questions(store: Store) -> None:
    """A turn that only attaches files is no question, so it does not count towards a daily limit."""
    here, _ = await store.get_or_create_session("T1", "C1", "1.0")
    await _enqueue(store, here, "1.1", user="U1")
    await store.enqueue_turn(here.id, user_id="U1", message_ts="1.2", text="", files=[{"id": "F1"}])
    assert len(await store.list_turns(here.id)) == 2
    assert await store.count_turns("T1", since=START, user_id="U1") == 1


async def test_a_question_withdrawn_before_it_ran_is_not_counted(store: Store) -> None:
    """Stop pressed while a question waited: it used nothing, so it gives its place in the day's count back.
    A question stopped while it ran still counts."""
    here, _ = await store.get_or_create_session("T1", "C1", "1.0")
    ran = await _enqueue(store, here, "1.1", user="U1")
    waited = await _enqueue(store, here, "1.2", user="U1")
    await store.claim_next_turn(here.id)
    await store.stop_turn(ran.id)
    assert await store.withdraw_turn(waited.id) is not None

    assert await store.count_turns("T1", since=START, user_id="U1") == 1


async def test_list_turns_in_seq_order(store: Store, session: Session) -> None:
    """A session's turns are listed in seq order."""
    turns = [await _enqueue(store, session, f"1.{n}") for n in range(3)]

    assert await store.list_turns(session.id) == turns


async def test_enqueue_turn_keeps_the_message_files(store: Store, session: Session) -> None:
    """The Slack files a message carried come back with its turn, in order, as Slack sent them."""
    files = [
        {"id": "F1", "name": "sales.csv", "size": 10, "url_private_download": "https://files.slack.com/x"},
        {"id": "F2", "name": "notes.txt", "size": 3, "file_access": "check_file_info"},
    ]
    queued, _ = await store.enqueue_turn(session.id, user_id="U1", message_ts="9.0", text="", files=files)
    assert queued.files == tuple(files)
    assert (await store.get_turn(queued.id)).files == tuple(files)  # type: ignore[union-attr]
    again, created = await store.enqueue_turn(session.id, user_id="U1", message_ts="9.0", text="", files=[])
    assert not created
    assert again.files == tuple(files)


async def _run_in(store: Store, session: Session, ts: str, container: str | None, text: str = "q") -> Turn:
    """Queue, start and finish a turn that ran in ``container`` (or in none)."""
    turn, _ = await store.enqueue_turn(session.id, user_id="U1", message_ts=ts, text=text)
    claimed = await store.claim_next_turn(session.id)
    assert claimed is not None
    if container is not None:
        await store.set_turn_container(turn.id, container, new_sandbox=False)
    await store.finish_turn(turn.id)
    return turn


async def test_sandbox_sessions_count_each_new_container_of_a_thread(store: Store, clock: ManualClock) -> None:
    """A turn starts a sandbox session when its container differs from its thread's previous one."""
    one, _ = await store.get_or_create_session("T1", "C1", "1.0")
    two, _ = await store.get_or_create_session("T1", "C1", "2.0")
    elsewhere, _ = await store.get_or_create_session("T1", "C2", "3.0")
    await _run_in(store, one, "1.1", "cntr_a")  # new
    await _run_in(store, one, "1.2", "cntr_a")  # same sandbox
    await _run_in(store, one, "1.3", None)  # no code ran
    await _run_in(store, one, "1.4", "cntr_b")  # the sandbox expired: a new one
    await _run_in(store, two, "2.1", "cntr_c")  # another thread's first
    await _run_in(store, elsewhere, "3.1", "cntr_d")  # another channel
    assert await store.count_sandbox_sessions("T1", "C1", since=START) == 3
    assert await store.count_sandbox_sessions("T1", "C2", since=START) == 1
    clock.advance(days=1)
    assert await store.count_sandbox_sessions("T1", "C1", since=clock.now) == 0
    await _run_in(store, one, "1.5", "cntr_b")  # same sandbox as yesterday's last turn: not new
    await _run_in(store, two, "2.2", "cntr_e")
    assert await store.count_sandbox_sessions("T1", "C1", since=clock.now) == 1


async def test_a_thread_whose_question_waits_for_its_first_sandbox_counts_as_one(store: Store) -> None:
    """Questions queued or running in a thread without a sandbox yet hold one session between them."""
    waiting, _ = await store.get_or_create_session("T1", "C1", "1.0")
    await store.enqueue_turn(waiting.id, user_id="U1", message_ts="1.1", text="q1")
    await store.enqueue_turn(waiting.id, user_id="U1", message_ts="1.2", text="q2")
    files_only, _ = await store.get_or_create_session("T1", "C1", "2.0")
    await store.enqueue_turn(files_only.id, user_id="U1", message_ts="2.1", text="", files=[{"id": "F1"}])
    assert await store.count_sandbox_sessions("T1", "C1", since=START) == 1
    await store.claim_next_turn(waiting.id)
    assert await store.count_sandbox_sessions("T1", "C1", since=START) == 1
    first = (await store.list_turns(waiting.id))[0]
    await store.set_turn_container(first.id, "cntr_a", new_sandbox=False)
    assert await store.count_sandbox_sessions("T1", "C1", since=START) == 1  # now counted as started


async def test_a_failed_turn_keeps_the_tokens_its_response_used(store: Store, session: Session) -> None:
    turn, _ = await store.enqueue_turn(session.id, user_id="U1", message_ts="1.1", text="q")
    await store.claim_next_turn(session.id)
    failed = await store.fail_turn(turn.id, "server_error", input_tokens=120, output_tokens=7)
    assert failed is not None
    assert (failed.state, failed.input_tokens, failed.output_tokens) == (TurnState.FAILED, 120, 7)
    assert await store.fail_turn(turn.id, "again") is None  # already failed: nothing changes
    stored = await store.get_turn(turn.id)
    assert stored is not None
    assert (stored.error_code, stored.input_tokens) == ("server_error", 120)
