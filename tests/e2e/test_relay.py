"""A person writes in Slack; the bot answers in the same thread from the thread's own conversation."""

from __future__ import annotations

from .harness import Stack


def conversation_creates(stack: Stack) -> int:
    return sum(1 for r in stack.foundry.requests if r.route == "conversations.create")


async def test_mention_gets_an_answer_in_the_same_thread(stack: Stack) -> None:
    """@bot with a question → the answer is posted as a reply in that message's thread."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> ```python\nprint(6 * 7)\n```")
    reply = await slack.wait_for_reply(general, root.ts, contains="42", timeout=20)
    assert reply.thread_ts == root.ts
    await stack.services.scheduler.wait_idle()
    assert conversation_creates(stack) == 1
    assert stack.foundry.counters()["conversations"] == 1


async def test_follow_up_without_mention_continues_the_conversation(stack: Stack) -> None:
    """A reply in a live thread needs no mention and goes to the same Foundry conversation."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> ```python\nprint('first')\n```")
    await slack.wait_for_reply(general, root.ts, contains="first", timeout=20)
    await slack.post_message(alice, general, "```python\nprint('second')\n```", thread_ts=root.ts)
    await slack.wait_for_reply(general, root.ts, contains="second", timeout=20)
    assert conversation_creates(stack) == 1
    runs = [r.body for r in stack.foundry.requests if r.route == "responses.create"]
    assert len(runs) == 2
    assert runs[0]["conversation"] == runs[1]["conversation"]


async def test_dm_is_answered_in_its_own_thread(stack: Stack) -> None:
    """A top-level DM starts a thread; the answer is a reply to it."""
    slack = stack.slack
    bob = slack.add_user("bob")
    dm = slack.open_dm(bob)
    root = await slack.post_message(bob, dm, "```python\nprint('hello from the sandbox')\n```")
    reply = await slack.wait_for_reply(dm, root.ts, contains="hello from the sandbox", timeout=20)
    assert reply.thread_ts == root.ts


async def test_channel_message_without_mention_is_ignored(stack: Stack) -> None:
    """Plain channel chatter outside a bot thread gets no answer and creates nothing."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, "lunch anyone?")
    await slack.settle()
    await stack.services.scheduler.wait_idle()
    assert [m for m in slack.thread(general, root.ts) if m.user == slack.bot.id] == []
    assert conversation_creates(stack) == 0


async def test_bare_mention_gets_help_once(stack: Stack) -> None:
    """A mention with no question gets one short help reply, though it is delivered twice."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}>")
    await slack.wait_for_reply(general, root.ts, contains="Ask me a data question", timeout=10)
    await slack.settle()
    bot_replies = [m for m in slack.thread(general, root.ts) if m.user == slack.bot.id]
    assert len(bot_replies) == 1
    assert conversation_creates(stack) == 0
