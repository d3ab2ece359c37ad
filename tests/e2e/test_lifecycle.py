"""When a thread ends, every cloud resource it used is deleted; other threads keep theirs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.demo import bot_subprocess
from bot.emulators.foundry import Fault, FoundryEmulator
from bot.emulators.slack import FileUpload, SlackEmulator
from bot.emulators.slack.models import Channel, Message, User
from bot.slack.status import END_ACTION
from storage import ArchiveReason, CleanupJob, CleanupState, SessionState, open_store

from .harness import FAST_CLEANUP, Stack, running_bot, thread_conversations

DATA = Path(__file__).parents[1] / "data"
WRITE = "```python\nopen('/mnt/data/out.txt', 'w').write('x')\nprint('made')\n```"


@dataclass
class Thread:
    """A thread with a live session: a conversation, an uploaded file and a sandbox."""

    channel: object
    root_ts: str
    conversation: str
    files: list[str]
    containers: list[str]


def alive(foundry: FoundryEmulator, thread: Thread) -> dict[str, bool]:
    """Which of the thread's resources the service still holds."""
    containers = foundry.state.containers
    return {
        "conversation": thread.conversation in foundry.state.conversations,
        "files": any(f in foundry.state.files for f in thread.files),
        "containers": any(c in containers and containers[c].live for c in thread.containers),
    }


async def busy_thread(stack: Stack, channel: object, user: object) -> Thread:
    """Start a thread with a CSV and a run that writes a file, and read back what it created."""
    slack = stack.slack
    csv = FileUpload("sales.csv", path=DATA / "valid" / "sales.csv")
    root = await slack.post_message(user, channel, f"<@{slack.bot.id}> {WRITE}", files=[csv])
    await slack.wait_for_reply(channel, root.ts, contains="Done in", after=root.ts, timeout=30)
    await stack.services.scheduler.wait_idle()
    store = stack.services.store
    session = await store.get_live_session("T0EMULATED", str(getattr(channel, "id", channel)), root.ts)
    assert session is not None
    assert session.conversation_id is not None
    files = [f.foundry_file_id for f in await store.list_files(session.id) if f.foundry_file_id]
    containers = [t.container_id for t in await store.list_turns(session.id) if t.container_id]
    thread = Thread(channel, root.ts, session.conversation_id, files, containers)
    assert alive(stack.foundry, thread) == {"conversation": True, "files": True, "containers": True}
    return thread


async def gone(stack: Stack, thread: Thread) -> None:
    """Wait until every resource of the thread is deleted."""
    everything_gone = {"conversation": False, "files": False, "containers": False}
    await stack.slack.wait_for(lambda: alive(stack.foundry, thread) == everything_gone, timeout=15)


async def archived(stack: Stack, thread: Thread) -> None:
    """Wait until the thread's session has finished archiving (its job is done)."""
    store = stack.services.store
    for _ in range(200):
        sessions = await store.list_sessions(states=[SessionState.ARCHIVED])
        if any(s.root_ts == thread.root_ts for s in sessions):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the session never finished archiving")


def live_resources(foundry: FoundryEmulator) -> set[tuple[str, str]]:
    """Every thread's conversation, uploaded file and live sandbox the service holds, as (kind, id)."""
    state = foundry.state
    return (
        {("conversation", c) for c in thread_conversations(foundry)}
        | {("file", f) for f in state.files}
        | {("container", c) for c, box in state.containers.items() if box.live}
    )


async def finished_job(db: Path, patience: float = 20.0) -> CleanupJob:
    """The database's only clean-up job, once it is done (its last deletes may be just back)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    async with open_store(f"sqlite:///{db}") as store:
        while True:
            [job] = await store.list_cleanup_jobs(states=set(CleanupState))
            if job.state is CleanupState.DONE or loop.time() > deadline:
                assert job.state is CleanupState.DONE, job
                return job
            await asyncio.sleep(0.1)


@pytest.fixture(name="two")
async def _two(stack: Stack) -> tuple[Thread, Thread, object, object, object]:
    """Two live threads in two channels, both Alice's."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    other = slack.add_channel("other", members=[alice])
    return await busy_thread(stack, general, alice), await busy_thread(stack, other, alice), alice, general, other


async def test_channel_archived_ends_its_sessions_only(stack: Stack, two: tuple) -> None:  # type: ignore[type-arg]
    """Archiving a channel deletes its threads' resources and leaves other channels' alone."""
    first, second, alice, general, _ = two
    await stack.slack.archive_channel(general, by=alice)
    await gone(stack, first)
    assert alive(stack.foundry, second) == {"conversation": True, "files": True, "containers": True}


async def test_channel_deleted_ends_its_sessions(stack: Stack, two: tuple) -> None:  # type: ignore[type-arg]
    """Deleting a channel deletes its threads' resources."""
    first, second, alice, general, _ = two
    await stack.slack.delete_channel(general, by=alice)
    await gone(stack, first)
    assert alive(stack.foundry, second)["conversation"]


async def test_bot_removed_from_channel_ends_its_sessions(stack: Stack, two: tuple) -> None:  # type: ignore[type-arg]
    """Removing the bot from a channel deletes that channel's threads' resources."""
    first, second, alice, general, _ = two
    await stack.slack.remove_bot(general, by=alice)
    await gone(stack, first)
    assert alive(stack.foundry, second)["conversation"]


async def test_root_deleted_ends_the_thread(stack: Stack, two: tuple) -> None:  # type: ignore[type-arg]
    """Deleting a thread's root message ends that thread's session."""
    first, second, alice, general, _ = two
    await stack.slack.delete_message(alice, general, first.root_ts)
    await gone(stack, first)
    assert alive(stack.foundry, second)["conversation"]


async def test_end_session_button_ends_the_thread_and_says_what_was_deleted(
    stack: Stack,
    two: tuple,  # type: ignore[type-arg]
) -> None:
    """End session on the bot's message deletes the thread's resources and tells the thread."""
    first, second, alice, general, _ = two
    status = next(m for m in stack.slack.thread(general, first.root_ts) if m.user == stack.slack.bot.id and m.blocks)
    await stack.slack.press_button(alice, general, status.ts, END_ACTION)
    await gone(stack, first)
    notice = await stack.slack.wait_for_reply(general, first.root_ts, contains="Session ended", timeout=10)
    assert "deleted the conversation, 1 file and 1 sandbox" in (notice.text or "")
    assert alive(stack.foundry, second)["conversation"]


async def test_at_bot_end_ends_the_thread(stack: Stack, two: tuple) -> None:  # type: ignore[type-arg]
    """`@bot end` in a thread ends its session."""
    first, _, alice, general, _ = two
    await stack.slack.post_message(alice, general, f"<@{stack.slack.bot.id}> end", thread_ts=first.root_ts)
    await gone(stack, first)


async def test_archive_reaction_from_a_participant_ends_the_thread(stack: Stack, two: tuple) -> None:  # type: ignore[type-arg]
    """The archive reaction on the root ends the thread, but only from someone who took part."""
    first, _, alice, general, _ = two
    stranger = stack.slack.add_user("stranger")
    await stack.slack.join_channel(stranger, general)
    await stack.slack.add_reaction(stranger, general, first.root_ts, "white_check_mark")
    await stack.slack.settle()
    assert alive(stack.foundry, first)["conversation"]
    await stack.slack.add_reaction(alice, general, first.root_ts, "white_check_mark")
    await gone(stack, first)


async def test_uninstall_ends_this_workspace_only(stack: Stack, two: tuple) -> None:  # type: ignore[type-arg]
    """Uninstalling ends every session of the workspace, and leaves another workspace's session alone."""
    first, second, *_ = two
    store = stack.services.store
    elsewhere, _ = await store.get_or_create_session("T0THERTEAM", "C1", "1.0")
    conversation = await stack.services.foundry.create_conversation({"deployment": "test"})
    await store.set_conversation_id(elsewhere.id, conversation.id)
    await stack.slack.uninstall()
    await gone(stack, first)
    await gone(stack, second)
    assert conversation.id in stack.foundry.state.conversations
    assert (await store.get_session(elsewhere.id)).state is SessionState.ACTIVE  # type: ignore[union-attr]


async def test_clean_up_survives_500s_and_429s(stack: Stack, two: tuple) -> None:  # type: ignore[type-arg]
    """Deletes that fail with 500 and 429 are retried until everything is gone."""
    first, _, alice, general, _ = two
    stack.foundry.faults.add(Fault(route="conversations.delete", kind="status", status=500, count=6))
    stack.foundry.faults.add(Fault(route="files.delete", kind="status", status=429, count=6, retry_after_ms=10))
    await stack.slack.archive_channel(general, by=alice)
    await gone(stack, first)
    await archived(stack, first)  # the last delete is back a moment before the job is marked done
    jobs = await stack.services.store.list_cleanup_jobs(states=["done"])  # type: ignore[list-item]
    assert any(job.attempts > 1 for job in jobs)


async def slow_question_running(slack: SlackEmulator) -> tuple[User, Channel, Message]:
    """Alice asks for 30 s of code; returns her, the channel and the thread's root once it runs."""
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    slow = "```python\nimport time\ntime.sleep(30)\n```"
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> {slow}")
    await slack.wait_for_reply(general, root.ts, contains="Running code", timeout=10)
    return alice, general, root


async def test_turn_running_when_channel_is_archived_is_stopped_and_cleaned_up(stack: Stack) -> None:
    """A turn still running when its channel is archived is cancelled, then its resources deleted."""
    slack = stack.slack
    alice, general, _ = await slow_question_running(slack)
    await slack.archive_channel(general, by=alice)
    await slack.wait_for(lambda: not thread_conversations(stack.foundry), timeout=15)
    await slack.wait_for(lambda: stack.foundry.counters()["containers"] == 0, timeout=15)
    assert [r for r in stack.foundry.requests if r.route == "responses.cancel"]


async def test_question_queued_when_the_thread_ends_says_it_stopped(stack: Stack) -> None:
    """`@bot end` while one question runs and another waits: both status lines end as stopped, none says Queued."""
    slack = stack.slack
    alice, general, root = await slow_question_running(slack)
    await slack.post_message(alice, general, "```python\nprint('never')\n```", thread_ts=root.ts)
    queued = await slack.wait_for_reply(general, root.ts, contains="Queued", timeout=10)

    await slack.post_message(alice, general, f"<@{slack.bot.id}> end", thread_ts=root.ts)
    await slack.wait_for(lambda: not thread_conversations(stack.foundry), timeout=15)
    await slack.settle()
    await stack.services.scheduler.wait_idle()

    line = next(m.text or "" for m in slack.thread(general, root.ts) if m.ts == queued.ts)
    assert "Stopped" in line
    assert not any("Queued" in (m.text or "") for m in slack.thread(general, root.ts))
    assert sum(r.route == "responses.create" for r in stack.foundry.requests) == 1


async def test_idle_thread_expires(pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path) -> None:
    """A thread quiet for longer than THREAD_IDLE_TTL is ended; a fresh one is kept."""
    slack, foundry = pair
    now = [datetime.now(UTC)]
    async with running_bot(slack, foundry, tmp_path / "bot.db", thread_idle_ttl="1h", clock=lambda: now[0]) as stack:
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])
        old = await busy_thread(stack, general, alice)
        now[0] += timedelta(minutes=50)
        fresh = await busy_thread(stack, general, alice)
        now[0] += timedelta(minutes=20)  # the old thread is now 70 minutes idle, the fresh one 20
        await stack.services.lifecycle.expire_idle()
        await gone(stack, old)
        assert alive(foundry, fresh)["conversation"]
        notice = await slack.wait_for_reply(general, old.root_ts, contains="Session ended", timeout=10)
        assert "quiet" in (notice.text or "")


async def test_message_after_the_end_starts_a_fresh_session_and_says_so(stack: Stack, two: tuple) -> None:  # type: ignore[type-arg]
    """Mentioning the bot in an ended thread starts a new session, and the thread is told."""
    first, _, alice, general, _ = two
    await stack.slack.post_message(alice, general, f"<@{stack.slack.bot.id}> end", thread_ts=first.root_ts)
    await gone(stack, first)
    await archived(stack, first)
    await stack.slack.post_message(
        alice, general, f"<@{stack.slack.bot.id}> ```python\nprint('again')\n```", thread_ts=first.root_ts
    )
    await stack.slack.wait_for_reply(general, first.root_ts, contains="starts a fresh one", timeout=15)
    await stack.slack.wait_for_reply(general, first.root_ts, contains="again", timeout=20)


async def test_clean_up_left_by_a_crash_is_finished_at_start(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """A clean-up job written before a crash is run by the next process."""
    slack, foundry = pair
    db = tmp_path / "bot.db"
    async with running_bot(slack, foundry, db) as stack:
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])
        thread = await busy_thread(stack, general, alice)
        session = await stack.services.store.get_live_session("T0EMULATED", general.id, thread.root_ts)
        stack.foundry.faults.add(Fault(route="conversations.delete", kind="status", status=503, count=1000))
        await stack.services.lifecycle.archive(session, ArchiveReason.CHANNEL_ARCHIVED)  # type: ignore[arg-type]
        store = stack.services.store
        for _ in range(200):
            if await store.list_cleanup_jobs(states=[CleanupState.FAILED]):
                break
            await asyncio.sleep(0.05)
    assert alive(foundry, thread)["conversation"]  # the process stopped with the job unfinished
    foundry.faults.clear()
    async with running_bot(slack, foundry, db):
        await slack.wait_for(lambda: not alive(foundry, thread)["conversation"], timeout=15)


async def test_slow_clean_up_keeps_its_lease_against_another_process(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """A delete that outlasts the lease is not taken over by a second bot on the same database.

    The worker renews its lease while it waits, so the job is deleted once, by one worker.
    """
    slack, foundry = pair
    db = tmp_path / "bot.db"
    async with running_bot(slack, foundry, db) as first:
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])
        thread = await busy_thread(first, general, alice)
        slow = 2.5 * FAST_CLEANUP.lease.total_seconds()
        foundry.faults.add(Fault(route="containers.delete", kind="delay", delay_s=slow, count=1))
        async with running_bot(slack, foundry, db) as second:
            session = await second.services.store.get_live_session("T0EMULATED", general.id, thread.root_ts)
            assert session is not None
            await first.services.lifecycle.archive(session, ArchiveReason.CHANNEL_ARCHIVED)
            await gone(first, thread)
            await archived(first, thread)  # the job is done
        [job] = await first.services.store.list_cleanup_jobs(states=set(CleanupState))
    assert (job.state, job.attempts) == (CleanupState.DONE, 1)
    assert [r.route for r in foundry.requests].count("containers.delete") == 1


async def test_bot_killed_mid_clean_up_finishes_it_after_restart(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """SIGKILL the bot process while it deletes a thread's resources; the next process deletes them all.

    The dead process's claim on the job is only a lease, renewed while it worked, so the job
    falls due again seconds after the kill and the new process, which looks for it when it
    starts and again when it falls due, takes it over. Another channel's thread keeps its resources.
    """
    slack, foundry = pair
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    other = slack.add_channel("other", members=[alice])
    csv = FileUpload("sales.csv", path=DATA / "valid" / "sales.csv")
    async with bot_subprocess(slack, foundry, tmp_path) as (url, process):
        slack.use_http(f"{url}/slack/events")
        before = live_resources(foundry)
        root = await slack.post_message(alice, general, f"<@{slack.bot.id}> {WRITE}", files=[csv])
        await slack.wait_for_reply(general, root.ts, contains="Done in", after=root.ts, timeout=60)
        doomed = live_resources(foundry) - before
        kept_root = await slack.post_message(alice, other, f"<@{slack.bot.id}> {WRITE}")
        await slack.wait_for_reply(other, kept_root.ts, contains="Done in", after=kept_root.ts, timeout=60)
        assert {kind for kind, _ in doomed} == {"conversation", "file", "container"}
        # The other thread may have taken the spare, whose thread tags follow a moment later.
        await slack.wait_for(
            lambda: {kind for kind, _ in live_resources(foundry) - before - doomed} == {"conversation", "container"},
            timeout=10,
            description="the other thread's conversation and sandbox",
        )
        kept = live_resources(foundry) - before - doomed

        # Sandboxes go first; this delete hangs until the client hangs up, so the job is mid-way.
        foundry.faults.add(Fault(route="containers.delete", kind="delay", delay_s=300.0, count=1))
        await slack.archive_channel(general, by=alice)
        await slack.wait_for(lambda: any(r.route == "containers.delete" for r in foundry.requests), timeout=60)
        process.kill()  # SIGKILL: no shutdown; the job stays claimed ("running") in the database
        await process.wait()
    assert doomed <= live_resources(foundry)  # the dead process deleted nothing

    async with bot_subprocess(slack, foundry, tmp_path) as (url, _):
        slack.use_http(f"{url}/slack/events")
        # The dead process's lease runs out at most CleanupTiming.lease (10 s) after the kill, and
        # this process is already up: twice that is patience enough on a busy machine, and too
        # little for a worker that waits out a 30 s lease and then a 30 s interval.
        await slack.wait_for(
            lambda: not doomed & live_resources(foundry), timeout=20, description="the archived thread's resources gone"
        )
        assert kept <= live_resources(foundry)
        job = await finished_job(tmp_path / "bot.db")  # read while the bot runs, as a second process would
    assert job.attempts == 2  # one claim by each process
