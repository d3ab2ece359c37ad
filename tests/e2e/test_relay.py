"""A person writes in Slack; the bot answers in the same thread from the thread's own conversation."""

from __future__ import annotations

import httpx

from .harness import Stack, thread_conversations


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
    [(conversation, tags)] = thread_conversations(stack.foundry).items()
    assert tags == {
        "deployment": stack.settings.deployment,
        "slack_team": slack.config.team_id,
        "slack_channel": general.id,
        "slack_thread_ts": root.ts,
    }
    [run] = [r.body for r in stack.foundry.requests if r.route == "responses.create"]
    assert run["conversation"] == conversation


async def test_follow_up_without_mention_continues_the_conversation(stack: Stack) -> None:
    """A reply in a live thread needs no mention and goes to the same Foundry conversation."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> ```python\nprint('first')\n```")
    await slack.wait_for_reply(general, root.ts, contains="first", timeout=20)
    await slack.post_message(alice, general, "```python\nprint('second')\n```", thread_ts=root.ts)
    await slack.wait_for_reply(general, root.ts, contains="second", timeout=20)
    [conversation] = thread_conversations(stack.foundry)
    runs = [r.body for r in stack.foundry.requests if r.route == "responses.create"]
    assert [run["conversation"] for run in runs] == [conversation, conversation]


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


async def test_slash_command_starts_a_thread_and_answers_in_it(stack: Stack) -> None:
    """/interpreter <question> posts the question as a new root message and answers in its thread."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    delivery = await slack.slash_command(alice, general, "```python\nprint(2 ** 10)\n```")
    assert delivery.acked
    roots = [m for m in slack.timeline(general) if m.user == slack.bot.id and "asked:" in (m.text or "")]
    assert len(roots) == 1
    assert f"<@{alice.id}> asked:" in (roots[0].text or "")
    await slack.wait_for_reply(general, roots[0].ts, contains="1024", timeout=20)


async def test_slash_command_help_is_ephemeral(stack: Stack) -> None:
    """/interpreter help answers only the person who asked and starts nothing."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    delivery = await slack.slash_command(alice, general, "help")
    text = delivery.ack_payload.get("text", "")
    assert "Code Interpreter" in text
    assert "Accepted: c, cpp, css, csv" in text  # the file types, from the type gate's own table
    assert "/interpreter status" in text
    assert "/interpreter usage" in text
    assert delivery.ack_payload.get("response_type") == "ephemeral"
    assert [m for m in slack.timeline(general) if m.user == slack.bot.id] == []


async def test_slash_command_where_the_bot_is_not_a_member_says_how_to_invite(stack: Stack) -> None:
    """Outside the bot's channels the reply explains how to invite it."""
    slack = stack.slack
    alice = slack.add_user("alice")
    random = slack.add_channel("random", members=[alice], bot=False)
    await slack.slash_command(alice, random, "what is 2+2?")
    await slack.wait_for(lambda: bool(slack.response_url_posts), timeout=10)
    assert "/invite" in str(slack.response_url_posts[-1].body.get("text"))


async def test_metrics_report_sessions_turns_and_clean_ups(stack: Stack) -> None:
    """GET /metrics on the HTTP server: Prometheus gauges read from the store."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> ```python\nprint(1)\n```")
    await slack.wait_for_reply(general, root.ts, contains="Done in", timeout=20)
    await stack.services.scheduler.wait_idle()
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{stack.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert "# TYPE code_interpreter_sessions gauge" in lines
    assert 'code_interpreter_sessions{state="active"} 1' in lines
    assert 'code_interpreter_turns{state="running"} 0' in lines
    assert 'code_interpreter_cleanups{state="failed"} 0' in lines
