"""`python -m bot sweep` and `teardown`: nothing of the deployment outlives them."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from bot.emulators.foundry import FoundryEmulator
from bot.emulators.slack import FileUpload, SlackEmulator
from bot.maintenance import sweep, teardown
from storage import ArchiveReason, NewFile

from .harness import Stack, running_bot

DATA = Path(__file__).parents[1] / "data"


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_sweep_deletes_what_no_live_session_owns(stack: Stack) -> None:
    """A tagged conversation nobody owns and a file of an ended session are found, listed, then deleted."""
    services, foundry = stack.services, stack.foundry
    stray = await services.foundry.create_conversation({"deployment": stack.settings.deployment})
    foreign = await services.foundry.create_conversation({"deployment": "someone-else"})
    session, _ = await services.store.get_or_create_session("T0EMULATED", "C1", "1.0")
    data = b"a,b\n1,2\n"
    uploaded = await services.foundry.upload_file("left.csv", chunks(data), size=len(data))
    stored, _ = await services.store.add_file(
        NewFile(session_id=session.id, slack_file_id="F1", name="left.csv", size=len(data),
                sha256=hashlib.sha256(data).hexdigest(), mimetype="text/csv")
    )  # fmt: skip
    await services.store.mark_file_uploaded(stored.id, uploaded.id)
    await services.store.begin_archiving(session.id, ArchiveReason.END_REQUESTED)
    await services.lifecycle.aclose()  # as if its clean-up job had given up

    listed = await sweep(services.store, services.foundry, stack.settings, dry_run=True)
    assert listed.conversations == [stray.id]
    assert listed.files == [uploaded.id]
    assert stray.id in foundry.state.conversations

    done = await sweep(services.store, services.foundry, stack.settings, dry_run=False)
    assert done.conversations == [stray.id]
    assert stray.id not in foundry.state.conversations
    assert uploaded.id not in foundry.state.files
    assert foreign.id in foundry.state.conversations  # another deployment's is left alone


async def test_sweep_keeps_live_threads(stack: Stack) -> None:
    """A thread still in use keeps its conversation and files."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    csv = FileUpload("sales.csv", path=DATA / "valid" / "sales.csv")
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> list files", files=[csv])
    await slack.wait_for_reply(general, root.ts, contains="Done in", after=root.ts, timeout=30)
    await stack.services.scheduler.wait_idle()
    store = stack.services.store
    [session] = await store.list_sessions()
    [spare] = await store.list_spare_conversations()
    report = await sweep(store, stack.services.foundry, stack.settings, dry_run=False)
    assert (report.conversations, report.files) == ([], [])
    assert set(stack.foundry.state.conversations) == {session.conversation_id, spare.conversation_id}
    assert report.lines(dry_run=False) == [
        "deleted 0 conversation(s)",
        f"kept 1 spare conversation(s) made ahead for new threads: {spare.conversation_id}",
        "deleted 0 file(s)",
    ]


async def test_teardown_leaves_nothing_of_the_deployment(stack: Stack) -> None:
    """After teardown the emulator holds no agent version, conversation, file or sandbox of ours."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    csv = FileUpload("sales.csv", path=DATA / "valid" / "sales.csv")
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> plot revenue", files=[csv])
    await slack.wait_for_reply(general, root.ts, contains="Done in", after=root.ts, timeout=30)
    await stack.services.scheduler.wait_idle()
    assert all(stack.foundry.counters().values())

    services = stack.services
    [spare] = await services.store.list_spare_conversations()
    preview = await teardown(services.store, services.foundry, services.lifecycle, stack.settings, dry_run=True)
    assert preview.sessions == 1
    assert preview.agent_versions == ["1"]
    assert preview.conversations == [spare.conversation_id]  # the thread's goes with its session
    assert stack.foundry.counters()["conversations"] == 2
    assert preview.lines(dry_run=True)[:3] == [
        "would end 1 live session(s), with the conversation, files and sandboxes each one used",
        f"would delete 1 conversation(s): {spare.conversation_id}",
        "(of those, 1 spare conversation(s) made ahead for new threads)",
    ]

    report = await teardown(services.store, services.foundry, services.lifecycle, stack.settings, dry_run=False)
    assert report.unfinished_jobs == 0
    assert stack.foundry.counters() == {"agent_versions": 0, "conversations": 0, "files": 0, "containers": 0}
    assert await services.store.list_spare_conversations() == []


async def test_teardown_command_without_yes_changes_nothing(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """`python -m bot teardown` without --yes only says what would go (it needs no signing secret)."""
    slack, foundry = pair
    async with running_bot(slack, foundry, tmp_path / "bot.db"):
        pass  # creates the agent version and the database, as a deployment would have
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AZURE_"))},
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_API_URL": slack.api_url,
        "AZURE_AI_PROJECT_ENDPOINT": foundry.endpoint,
        "AZURE_AI_MODEL_DEPLOYMENT_NAME": "gpt-5-mini",
        "AGENT_FILE_SLOTS": "5",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "teardown", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert "would delete agent version(s) 1" in out.decode()
    assert "Nothing was changed. Stop the bot first" in out.decode()
    assert foundry.counters()["agent_versions"] == 1
