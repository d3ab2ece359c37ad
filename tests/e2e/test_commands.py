"""/interpreter and the in-thread controls, as a person in Slack uses them."""

from __future__ import annotations

from pathlib import Path

from bot.emulators.foundry import FoundryEmulator
from bot.emulators.slack import FileUpload, SlackEmulator

from .harness import Stack, bot_texts, python, running_bot


def asked_roots(slack: SlackEmulator, channel: object) -> list[str]:
    """The root messages the bot posted for slash-command questions."""
    return [m.ts for m in slack.timeline(channel) if m.user == slack.bot.id and "asked:" in (m.text or "")]


async def last_private_reply(slack: SlackEmulator) -> str:
    """The newest ephemeral reply sent through a command's ``response_url``."""
    await slack.wait_for(lambda: bool(slack.response_url_posts), timeout=10)
    post = slack.response_url_posts[-1]
    assert post.body.get("response_type") == "ephemeral"
    return str(post.body.get("text"))


async def test_slash_command_over_socket_mode_starts_a_thread_and_answers(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """In Socket Mode the command is acked over the WebSocket, then answered in its new thread."""
    slack, foundry = pair
    async with running_bot(slack, foundry, tmp_path / "bot.db", socket_mode=True):
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])
        delivery = await slack.slash_command(alice, general, python("print(6 * 7)"))
        assert delivery.acked
        assert delivery.attempts[-1].transport == "socket_mode"
        (root,) = asked_roots(slack, general)
        await slack.wait_for_reply(general, root, contains="42", timeout=20)


async def test_slash_command_in_a_dm_starts_a_thread_there(stack: Stack) -> None:
    slack = stack.slack
    alice = slack.add_user("alice")
    dm = slack.open_dm(alice)
    await slack.slash_command(alice, dm, python("print(6 * 7)"))
    (root,) = asked_roots(slack, dm)
    await slack.wait_for_reply(dm, root, contains="42", timeout=20)


async def test_question_containing_payload_reaches_the_bot_in_http_mode(stack: Stack) -> None:
    """bolt reads any form body containing "payload" as an interactive payload; the command still works."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    delivery = await slack.slash_command(alice, general, python("print('payload=' + str(40 + 2))"))
    assert delivery.acked
    (root,) = asked_roots(slack, general)
    await slack.wait_for_reply(general, root, contains="payload=42", timeout=20)


async def test_status_lists_the_channels_live_sessions_with_links_files_and_turns(stack: Stack) -> None:
    """/interpreter status shows each live thread of the channel, privately."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    other = slack.add_channel("other", members=[alice])
    csv = FileUpload("sales.csv", content=b"month,revenue\njan,10\nfeb,12\n")
    first = await slack.post_message(alice, general, f"<@{slack.bot.id}> {python('print(1)')}", files=[csv])
    await slack.wait_for_reply(general, first.ts, contains="Done in", timeout=20)
    elsewhere = await slack.post_message(alice, other, f"<@{slack.bot.id}> {python('print(2)')}")
    await slack.wait_for_reply(other, elsewhere.ts, contains="Done in", timeout=20)
    slow = await slack.post_message(alice, general, f"<@{slack.bot.id}> {python('import time; time.sleep(30)')}")
    await slack.wait_for_reply(general, slow.ts, contains="Running code", timeout=20)
    await slack.post_message(alice, general, python("print(3)"), thread_ts=slow.ts)
    await slack.wait_for_reply(general, slow.ts, contains="Queued", timeout=10)

    await slack.slash_command(alice, general, "status")
    text = await last_private_reply(slack)

    assert f"*Live sessions in <#{general.id}>* (2)" in text
    assert f"/archives/{general.id}/p{first.ts.replace('.', '')}" in text
    assert f"/archives/{general.id}/p{slow.ts.replace('.', '')}" in text
    assert other.id not in text  # another channel's session is not listed
    assert "1 file: sales.csv (" in text
    assert "running a turn, 1 queued" in text
    assert "Sandbox sessions running in this workspace: 1 of" in text
    assert asked_roots(slack, general) == []  # nothing was posted in the channel


async def test_status_in_a_channel_without_sessions_says_how_to_start(stack: Stack) -> None:
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    await slack.slash_command(alice, general, "status")
    assert "No live sessions" in await last_private_reply(slack)


async def test_usage_is_private_and_shows_today_and_the_week(stack: Stack) -> None:
    """/interpreter usage answers only the person who asked, for them and the channel."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> {python('print(5)')}")
    await slack.wait_for_reply(general, root.ts, contains="Done in", timeout=20)
    await slack.slash_command(alice, general, "usage")
    text = await last_private_reply(slack)
    assert "• You: today 1 turn" in text
    assert f"• <#{general.id}>: today 1 turn" in text
    assert "Top channels" not in text  # only admins see the workspace
    assert "PRICE_PER_SESSION" in text  # says how to see costs


async def test_files_in_a_thread_lists_them_with_sizes(stack: Stack) -> None:
    """@bot files: the thread's files and their sizes, without running a turn."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    data = b"x,y\n" + b"1,2\n" * 1000
    root = await slack.post_message(
        alice, general, f"<@{slack.bot.id}> keep these", files=[FileUpload("points.csv", content=data)]
    )
    await slack.wait_for_reply(general, root.ts, contains="Done in", timeout=20)
    runs = sum(1 for r in stack.foundry.requests if r.route == "responses.create")
    await slack.post_message(alice, general, f"<@{slack.bot.id}> files", thread_ts=root.ts)
    reply = await slack.wait_for_reply(general, root.ts, contains="Files in this thread", timeout=10)
    assert "points.csv: 4 KB" in (reply.text or "")
    assert sum(1 for r in stack.foundry.requests if r.route == "responses.create") == runs


async def test_files_in_a_thread_without_any_says_what_is_accepted(stack: Stack) -> None:
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> {python('print(1)')}")
    await slack.wait_for_reply(general, root.ts, contains="Done in", timeout=20)
    await slack.post_message(alice, general, f"<@{slack.bot.id}> files", thread_ts=root.ts)
    await slack.wait_for_reply(general, root.ts, contains="no files in this thread yet", timeout=10)
    assert any("Accepted: c, cpp" in text for text in bot_texts(slack, general, root.ts))
