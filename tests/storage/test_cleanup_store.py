"""Clean-up jobs: what they list, when they are due, retries, leases, and finishing the archive."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from storage import (
    ArchiveReason,
    CleanupItem,
    CleanupJob,
    CleanupState,
    FileStatus,
    Gauges,
    NewFile,
    NewOutput,
    OutputStatus,
    ResourceKind,
    Session,
    SessionState,
    Store,
)

from .helpers import START, ManualClock

LEASE = timedelta(minutes=5)


async def _populate(store: Store, session: Session) -> None:
    """Give the session a conversation, two uploaded files, a pending one, and two containers."""
    await store.set_conversation_id(session.id, "conv_1")
    for n, foundry_id in enumerate(["assistant-1", "assistant-2", None]):
        content = f"file {n}".encode()
        new = NewFile(
            session_id=session.id,
            slack_file_id=f"F{n}",
            name=f"f{n}.csv",
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            mimetype="text/csv",
            foundry_file_id=foundry_id,
        )
        await store.add_file(new)
    turn, _ = await store.enqueue_turn(session.id, user_id="U1", message_ts="1.1", text="go")
    await store.set_turn_container(turn.id, "cntr_1", new_sandbox=True)
    output = NewOutput(
        turn_id=turn.id,
        container_id="cntr_2",
        container_file_id="cfile_1",
        filename="a.png",
        status=OutputStatus.POSTED,
    )
    await store.record_output(output)


def _resources(job: CleanupJob | None) -> set[tuple[ResourceKind, str]]:
    assert job is not None
    return {(item.kind, item.resource_id) for item in job.items}


async def test_create_cleanup_job_round_trips_all_fields(store: Store, session: Session) -> None:
    """A new job is pending, due now, and lists every resource the session holds."""
    await _populate(store, session)

    job = await store.create_cleanup_job(session.id)

    assert job is not None
    assert await store.get_cleanup_job(job.id) == CleanupJob(
        id=job.id,
        session_id=session.id,
        state=CleanupState.PENDING,
        attempts=0,
        next_attempt_at=START,
        last_error=None,
        created_at=START,
        updated_at=START,
        items=(
            CleanupItem(kind=ResourceKind.CONTAINER, resource_id="cntr_1", deleted_at=None),
            CleanupItem(kind=ResourceKind.CONTAINER, resource_id="cntr_2", deleted_at=None),
            CleanupItem(kind=ResourceKind.CONVERSATION, resource_id="conv_1", deleted_at=None),
            CleanupItem(kind=ResourceKind.FILE, resource_id="assistant-1", deleted_at=None),
            CleanupItem(kind=ResourceKind.FILE, resource_id="assistant-2", deleted_at=None),
        ),
    )


async def test_cleanup_job_leaves_out_a_container_another_thread_ran_in(store: Store, session: Session) -> None:
    """An output fetched from another thread's sandbox (a citation once followed across threads)
    does not make that sandbox this thread's to delete; the other thread's own job lists it."""
    await _populate(store, session)
    other, _ = await store.get_or_create_session("T1", "C1", "9.9")
    theirs, _ = await store.enqueue_turn(other.id, user_id="U2", message_ts="9.9", text="go")
    await store.set_turn_container(theirs.id, "cntr_2", new_sandbox=True)  # cntr_2 is where their code ran

    ours = await store.create_cleanup_job(session.id)
    assert (ResourceKind.CONTAINER, "cntr_2") not in _resources(ours)
    assert (ResourceKind.CONTAINER, "cntr_1") in _resources(ours)
    assert (ResourceKind.CONTAINER, "cntr_2") in _resources(await store.create_cleanup_job(other.id))


async def test_create_cleanup_job_idempotent_per_session(store: Store, session: Session) -> None:
    """Creating the job twice returns the same job."""
    first = await store.create_cleanup_job(session.id)
    second = await store.create_cleanup_job(session.id)

    assert first is not None
    assert first == second
    assert await store.list_cleanup_jobs(states=set(CleanupState)) == [first]


async def test_create_cleanup_job_unknown_session_is_none(store: Store) -> None:
    """No job is created for a session that does not exist."""
    assert await store.create_cleanup_job(31337) is None


async def test_claim_due_cleanup_jobs_only_when_due(store: Store, clock: ManualClock) -> None:
    """Due jobs are claimed oldest-due first, up to the limit; a claimed job counts an attempt and is leased."""
    sessions = [(await store.get_or_create_session("T1", "C1", f"{n}.0"))[0] for n in range(3)]
    for session in sessions:
        await store.begin_archiving(session.id, ArchiveReason.IDLE)
        clock.advance(seconds=1)

    claimed = await store.claim_due_cleanup_jobs(lease=LEASE, limit=2)

    assert [job.session_id for job in claimed] == [sessions[0].id, sessions[1].id]
    leased = {(job.state, job.attempts, job.next_attempt_at) for job in claimed}
    assert leased == {(CleanupState.RUNNING, 1, clock.now + LEASE)}
    [last] = await store.claim_due_cleanup_jobs(lease=LEASE)
    assert last.session_id == sessions[2].id
    assert await store.claim_due_cleanup_jobs(lease=LEASE) == []


async def test_claim_due_cleanup_jobs_reclaims_expired_lease(
    store: Store, session: Session, clock: ManualClock
) -> None:
    """A job whose worker crashed (its lease ran out) is claimed again, counting a second attempt."""
    await store.begin_archiving(session.id, ArchiveReason.IDLE)
    await store.claim_due_cleanup_jobs(lease=LEASE)

    clock.advance(minutes=4)
    assert await store.claim_due_cleanup_jobs(lease=LEASE) == []
    clock.advance(minutes=1)
    [again] = await store.claim_due_cleanup_jobs(lease=LEASE)

    assert (again.state, again.attempts) == (CleanupState.RUNNING, 2)


async def test_renew_cleanup_lease_keeps_a_working_job_from_other_workers(
    store: Store, session: Session, clock: ManualClock
) -> None:
    """A renewed lease runs from the renewal, so the job is not due while its worker keeps renewing."""
    await store.begin_archiving(session.id, ArchiveReason.IDLE)
    [claimed] = await store.claim_due_cleanup_jobs(lease=LEASE)

    clock.advance(minutes=4)
    renewed = await store.renew_cleanup_lease(claimed.id, attempt=claimed.attempts, lease=LEASE)
    clock.advance(minutes=4)  # eight minutes after the claim: past the first lease, within the renewed one

    assert renewed is not None
    assert (renewed.state, renewed.attempts, renewed.next_attempt_at, renewed.updated_at) == (
        CleanupState.RUNNING,
        1,
        clock.now - timedelta(minutes=4) + LEASE,
        clock.now - timedelta(minutes=4),
    )
    assert await store.claim_due_cleanup_jobs(lease=LEASE) == []
    clock.advance(minutes=1)
    assert [job.attempts for job in await store.claim_due_cleanup_jobs(lease=LEASE)] == [2]


async def test_renew_cleanup_lease_refused_once_another_worker_claimed_the_job(
    store: Store, session: Session, clock: ManualClock
) -> None:
    """A worker whose lease ran out cannot renew it after another worker's claim, which keeps its own lease."""
    await store.begin_archiving(session.id, ArchiveReason.IDLE)
    [stale] = await store.claim_due_cleanup_jobs(lease=LEASE)
    clock.advance(minutes=6)
    [fresh] = await store.claim_due_cleanup_jobs(lease=LEASE)
    clock.advance(minutes=1)

    assert await store.renew_cleanup_lease(stale.id, attempt=stale.attempts, lease=LEASE) is None
    assert await store.get_cleanup_job(fresh.id) == fresh
    assert await store.renew_cleanup_lease(fresh.id, attempt=fresh.attempts, lease=LEASE) is not None


async def test_renew_cleanup_lease_refused_for_a_job_not_running(
    store: Store, session: Session, clock: ManualClock
) -> None:
    """Only a running job has a lease: a pending, failed or done job is not renewed, and stays as it was."""
    job = await store.begin_archiving(session.id, ArchiveReason.IDLE)
    assert job is not None
    assert await store.renew_cleanup_lease(job.id, attempt=0, lease=LEASE) is None

    [claimed] = await store.claim_due_cleanup_jobs(lease=LEASE)
    failed = await store.record_cleanup_failure(job.id, "503", retry_at=clock.now + timedelta(hours=1))
    assert await store.renew_cleanup_lease(job.id, attempt=claimed.attempts, lease=LEASE) is None
    assert await store.get_cleanup_job(job.id) == failed

    clock.advance(hours=1)
    [again] = await store.claim_due_cleanup_jobs(lease=LEASE)
    done = await store.mark_cleanup_done(job.id)
    assert done is not None
    assert done.state is CleanupState.DONE
    assert await store.renew_cleanup_lease(job.id, attempt=again.attempts, lease=LEASE) is None
    assert await store.get_cleanup_job(job.id) == done


async def test_next_cleanup_due_is_the_earliest_unfinished_job(store: Store, clock: ManualClock) -> None:
    """The next due time covers pending jobs, retries and running jobs' leases, and ignores finished jobs."""
    assert await store.next_cleanup_due() is None
    sessions = [(await store.get_or_create_session("T1", "C1", f"{n}.0"))[0] for n in range(3)]
    start = clock.now
    done = await store.begin_archiving(sessions[0].id, ArchiveReason.IDLE)
    assert done is not None
    await store.claim_due_cleanup_jobs(lease=LEASE)
    await store.mark_cleanup_done(done.id)
    assert await store.next_cleanup_due() is None

    clock.advance(minutes=1)
    running = await store.begin_archiving(sessions[1].id, ArchiveReason.IDLE)
    assert await store.next_cleanup_due() == clock.now  # pending: due at once
    await store.claim_due_cleanup_jobs(lease=LEASE)
    assert await store.next_cleanup_due() == clock.now + LEASE  # running: due when its lease runs out

    failing = await store.begin_archiving(sessions[2].id, ArchiveReason.IDLE)
    assert running is not None
    assert failing is not None
    await store.claim_due_cleanup_jobs(lease=LEASE)
    await store.record_cleanup_failure(failing.id, "503", retry_at=start + timedelta(minutes=2))
    assert await store.next_cleanup_due() == start + timedelta(minutes=2)  # the retry comes first


async def test_record_cleanup_failure_schedules_retry(store: Store, session: Session, clock: ManualClock) -> None:
    """A failed attempt keeps its error and is due again only at the retry time."""
    job = await store.begin_archiving(session.id, ArchiveReason.IDLE)
    assert job is not None
    await store.claim_due_cleanup_jobs(lease=LEASE)
    retry_at = clock.now + timedelta(minutes=30)

    failed = await store.record_cleanup_failure(job.id, "503 from Foundry", retry_at=retry_at)

    assert failed is not None
    assert (failed.state, failed.last_error, failed.next_attempt_at, failed.attempts) == (
        CleanupState.FAILED,
        "503 from Foundry",
        retry_at,
        1,
    )
    assert await store.list_cleanup_jobs(states={CleanupState.FAILED, CleanupState.PENDING}) == [failed]
    clock.advance(minutes=29)
    assert await store.claim_due_cleanup_jobs(lease=LEASE) == []
    clock.advance(minutes=1)
    assert [due.id for due in await store.claim_due_cleanup_jobs(lease=LEASE)] == [job.id]


async def test_mark_cleanup_item_deleted_marks_file(store: Store, session: Session, clock: ManualClock) -> None:
    """A deleted resource is no longer remaining, and a deleted file's row says deleted."""
    await _populate(store, session)
    job = await store.begin_archiving(session.id, ArchiveReason.IDLE)
    assert job is not None
    clock.advance(seconds=1)

    updated = await store.mark_cleanup_item_deleted(job.id, ResourceKind.FILE, "assistant-1")

    assert updated is not None
    assert (ResourceKind.FILE, "assistant-1") not in {(item.kind, item.resource_id) for item in updated.remaining}
    assert [item.deleted_at for item in updated.items if item.deleted_at is not None] == [clock.now]
    files = await store.list_files(session.id, statuses={FileStatus.DELETED})
    assert [file.foundry_file_id for file in files] == ["assistant-1"]


async def test_mark_cleanup_done_archives_session(store: Store, session: Session, clock: ManualClock) -> None:
    """Finishing the job archives its session in the same step."""
    await _populate(store, session)
    job = await store.begin_archiving(session.id, ArchiveReason.IDLE)
    assert job is not None
    for item in job.items:
        await store.mark_cleanup_item_deleted(job.id, item.kind, item.resource_id)
    clock.advance(minutes=1)

    done = await store.mark_cleanup_done(job.id)
    archived = await store.get_session(session.id)

    assert done is not None
    assert (done.state, done.remaining) == (CleanupState.DONE, ())
    assert archived is not None
    assert (archived.state, archived.archived_at) == (SessionState.ARCHIVED, clock.now)
    assert await store.list_cleanup_jobs(states={CleanupState.DONE}) == [done]


async def test_mark_cleanup_done_reopens_for_new_resources(store: Store, session: Session) -> None:
    """A resource created while the job ran keeps the job open, due at once, and the session archiving."""
    job = await store.begin_archiving(session.id, ArchiveReason.IDLE)
    assert job is not None
    await store.claim_due_cleanup_jobs(lease=LEASE)
    await store.set_last_container(session.id, "cntr_late")

    reopened = await store.mark_cleanup_done(job.id)
    session_now = await store.get_session(session.id)

    assert reopened is not None
    assert reopened.state == CleanupState.PENDING
    assert _resources(reopened) == {(ResourceKind.CONTAINER, "cntr_late")}
    assert session_now is not None
    assert session_now.state == SessionState.ARCHIVING
    assert [due.id for due in await store.claim_due_cleanup_jobs(lease=LEASE)] == [job.id]


async def test_claim_due_cleanup_jobs_gathers_new_resources(store: Store, session: Session) -> None:
    """Each claim adds resources created since the job was recorded."""
    await store.set_conversation_id(session.id, "conv_1")
    job = await store.begin_archiving(session.id, ArchiveReason.IDLE)
    await store.set_last_container(session.id, "cntr_9")

    [claimed] = await store.claim_due_cleanup_jobs(lease=LEASE)

    assert _resources(job) == {(ResourceKind.CONVERSATION, "conv_1")}
    assert _resources(claimed) == {(ResourceKind.CONVERSATION, "conv_1"), (ResourceKind.CONTAINER, "cntr_9")}


async def test_cleanup_updates_unknown_job_return_none(store: Store) -> None:
    """Updates of an unknown job return None."""
    assert await store.get_cleanup_job(8) is None
    assert await store.record_cleanup_failure(8, "x", retry_at=START) is None
    assert await store.mark_cleanup_done(8) is None
    assert await store.mark_cleanup_item_deleted(8, ResourceKind.FILE, "assistant-1") is None
    assert await store.renew_cleanup_lease(8, attempt=1, lease=LEASE) is None


async def test_gauges_count_what_is_going_on_now(store: Store) -> None:
    """Sessions by state, turns waiting and running, clean-up jobs not finished: one read for /metrics."""
    assert await store.gauges() == Gauges()
    one, _ = await store.get_or_create_session("T1", "C1", "1.0")
    two, _ = await store.get_or_create_session("T1", "C1", "2.0")
    await store.enqueue_turn(one.id, user_id="U1", message_ts="1.1", text="a")
    await store.enqueue_turn(one.id, user_id="U1", message_ts="1.2", text="b")
    await store.claim_next_turn(one.id)
    await store.begin_archiving(two.id, ArchiveReason.END_REQUESTED)
    assert await store.gauges() == Gauges(
        active_sessions=1, archiving_sessions=1, queued_turns=1, running_turns=1, pending_cleanups=1
    )
