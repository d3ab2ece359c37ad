"""A spare conversation made ahead: the next new thread asks its first question without waiting for one."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.emulators.foundry import Fault, FoundryEmulator
from bot.emulators.slack import SlackEmulator
from bot.emulators.slack.models import Channel, User

from .harness import ControlledClock, Stack, python, running_bot, thread_conversations

Pair = tuple[SlackEmulator, FoundryEmulator]


async def ask(stack: Stack, user: User, channel: Channel, code: str) -> str:
    """Start a thread with a question and wait until it is answered and the bot is idle; its root ts."""
    root = await stack.slack.post_message(user, channel, f"<@{stack.slack.bot.id}> {python(code)}")
    await stack.slack.wait_for_reply(channel, root.ts, contains="Done in", after=root.ts, timeout=20)
    await stack.services.scheduler.wait_idle()
    return root.ts


def creates(foundry: FoundryEmulator) -> int:
    return sum(1 for r in foundry.requests if r.route == "conversations.create")


def asked_in(foundry: FoundryEmulator) -> list[str]:
    """The conversation of each question, in order."""
    return [r.body["conversation"] for r in foundry.requests if r.route == "responses.create" and r.body]


async def spare_ids(stack: Stack) -> list[str]:
    return [spare.conversation_id for spare in await stack.services.store.list_spare_conversations()]


async def after_a_first_thread(stack: Stack) -> tuple[User, Channel, str]:
    """Alice's first thread in #general is answered, which leaves one spare; returns her, the channel, the spare."""
    alice = stack.slack.add_user("alice")
    general = stack.slack.add_channel("general", members=[alice])
    await ask(stack, alice, general, "print(1)")
    [spare] = await spare_ids(stack)
    return alice, general, spare


async def test_a_new_thread_asks_in_the_spare_made_after_the_last_one(stack: Stack) -> None:
    """No conversation is opened on the second thread's path; the spare gets its thread's tags; a new spare follows."""
    slack, foundry = stack.slack, stack.foundry
    alice, general, spare = await after_a_first_thread(stack)
    assert foundry.state.conversations[spare].metadata == {"deployment": stack.settings.deployment}
    made_before = creates(foundry)

    second = await ask(stack, alice, general, "print(2)")

    question = next(i for i, r in enumerate(foundry.requests) if r.route == "responses.create" and r.body
                    and r.body["conversation"] == spare)  # fmt: skip
    assert sum(1 for r in foundry.requests[:question] if r.route == "conversations.create") == made_before
    assert thread_conversations(foundry)[spare] == {
        "deployment": stack.settings.deployment,
        "slack_team": slack.config.team_id,
        "slack_channel": general.id,
        "slack_thread_ts": second,
    }
    session = await stack.services.store.get_live_session(slack.config.team_id, general.id, second)
    assert session is not None
    assert session.conversation_id == spare
    [next_spare] = await spare_ids(stack)
    assert next_spare != spare
    assert next_spare in foundry.state.conversations


async def test_a_restarted_bot_hands_out_the_spare_the_last_process_made(pair: Pair, tmp_path: Path) -> None:
    """The spare is in the database: the next process gives it to the next new thread."""
    slack, foundry = pair
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    async with running_bot(slack, foundry, tmp_path / "bot.db") as stack:
        await ask(stack, alice, general, "print(1)")
        [spare] = await spare_ids(stack)
    async with running_bot(slack, foundry, tmp_path / "bot.db") as stack:
        await ask(stack, alice, general, "print(2)")
        assert asked_in(foundry)[-1] == spare
        assert spare not in await spare_ids(stack)


async def test_a_spare_that_cannot_be_made_or_tagged_costs_the_thread_nothing(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """Foundry refuses the tags and the next spare: the thread is answered, the next one opens its own."""
    slack, foundry = stack.slack, stack.foundry
    alice, general, spare = await after_a_first_thread(stack)
    foundry.faults.add(Fault(route="conversations.update", kind="status", status=400, count=1))
    foundry.faults.add(Fault(route="conversations.create", kind="status", status=400, count=1))

    with caplog.at_level(logging.WARNING, logger="bot.turns.spares"):
        second = await ask(stack, alice, general, "print(2)")
    third = await ask(stack, alice, general, "print(3)")

    assert asked_in(foundry)[1] == spare
    session = await stack.services.store.get_live_session(slack.config.team_id, general.id, second)
    assert session is not None
    assert session.conversation_id == spare  # the thread owns it, tags or not
    assert {r.message.split(":")[0] for r in caplog.records} == {
        f"could not tag conversation {spare} with its thread",
        "could not make a spare conversation (new threads open their own)",
    }
    third_conversation = asked_in(foundry)[2]
    assert third_conversation != spare
    assert thread_conversations(foundry)[third_conversation]["slack_thread_ts"] == third
    [made_again] = await spare_ids(stack)  # after the third thread's question
    await ask(stack, alice, general, "print(4)")
    assert asked_in(foundry)[3] == made_again


async def test_a_spare_older_than_a_day_is_deleted_not_handed_out(pair: Pair, tmp_path: Path) -> None:
    """After two idle days the old spare is deleted from Foundry and a fresh one made."""
    slack, foundry = pair
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    clock = ControlledClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    async with running_bot(slack, foundry, tmp_path / "bot.db", clock=clock) as stack:
        await ask(stack, alice, general, "print(1)")
        [stale] = await spare_ids(stack)
        clock.advance(days=2)

        await ask(stack, alice, general, "print(2)")

        assert asked_in(foundry)[-1] != stale
        assert stale not in foundry.state.conversations
        [fresh] = await spare_ids(stack)
        assert fresh != stale
        assert fresh in foundry.state.conversations


async def test_a_spare_deleted_behind_the_bots_back_is_replaced_and_the_question_answered(stack: Stack) -> None:
    """Foundry no longer has the spare: the thread opens its own conversation and asks there."""
    slack, foundry = stack.slack, stack.foundry
    alice, general, spare = await after_a_first_thread(stack)
    assert await stack.services.foundry.delete_conversation(spare)

    second = await ask(stack, alice, general, "print(2)")

    refused, replaced = asked_in(foundry)[1:]
    assert refused == spare
    assert [r.status for r in foundry.requests if r.route == "responses.create"][1:] == [404, 200]
    assert thread_conversations(foundry)[replaced]["slack_thread_ts"] == second
    session = await stack.services.store.get_live_session(slack.config.team_id, general.id, second)
    assert session is not None
    assert session.conversation_id == replaced


async def test_a_spare_whose_first_question_fails_still_gets_its_thread_tags(stack: Stack) -> None:
    """Foundry refuses the question before its stream opens: the thread's conversation is tagged anyway."""
    slack, foundry = stack.slack, stack.foundry
    alice, general, spare = await after_a_first_thread(stack)
    foundry.faults.add(Fault(route="responses.create", kind="status", status=400, count=1))

    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> {python('print(2)')}")
    await slack.wait_for_reply(general, root.ts, contains="Couldn't finish", after=root.ts, timeout=20)
    await stack.services.scheduler.wait_idle()

    assert thread_conversations(foundry)[spare]["slack_thread_ts"] == root.ts
    [next_spare] = await spare_ids(stack)
    assert next_spare != spare


async def test_a_spare_that_is_gone_and_cannot_be_replaced_leaves_the_thread_able_to_ask_again(
    stack: Stack,
) -> None:
    """Foundry lost the spare and refuses a new conversation: that question fails, the next one is answered."""
    slack, foundry = stack.slack, stack.foundry
    alice, general, spare = await after_a_first_thread(stack)
    assert await stack.services.foundry.delete_conversation(spare)
    foundry.faults.add(Fault(route="conversations.create", kind="status", status=400, count=1))

    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> {python('print(2)')}")
    await slack.wait_for_reply(general, root.ts, contains="Couldn't finish", after=root.ts, timeout=20)
    await slack.post_message(alice, general, python("print(3 * 333)"), thread_ts=root.ts)
    await slack.wait_for_reply(general, root.ts, contains="999", after=root.ts, timeout=20)
    await stack.services.scheduler.wait_idle()

    session = await stack.services.store.get_live_session(slack.config.team_id, general.id, root.ts)
    assert session is not None
    assert asked_in(foundry)[-1] == session.conversation_id
    assert thread_conversations(foundry)[session.conversation_id]["slack_thread_ts"] == root.ts


async def test_a_refusal_not_about_the_spare_replaces_nothing(stack: Stack) -> None:
    """The agent version is gone, not the spare: the question fails, the spare stays the thread's, none is left over."""
    slack, foundry = stack.slack, stack.foundry
    alice, general, spare = await after_a_first_thread(stack)
    agent = stack.services.agent
    assert await stack.services.foundry.delete_agent_version(agent.name, agent.version)

    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> {python('print(2)')}")
    await slack.wait_for_reply(general, root.ts, contains="Couldn't finish", after=root.ts, timeout=20)
    await stack.services.scheduler.wait_idle()

    assert asked_in(foundry)[1:] == [spare]
    assert thread_conversations(foundry)[spare]["slack_thread_ts"] == root.ts
    [session_1, session_2] = sorted(await stack.services.store.list_sessions(), key=lambda s: s.id)
    [next_spare] = await spare_ids(stack)
    assert session_2.conversation_id == spare
    assert set(foundry.state.conversations) == {session_1.conversation_id, spare, next_spare}


async def test_a_bot_on_a_database_in_memory_keeps_no_spare(pair: Pair, tmp_path: Path) -> None:
    """It would forget the spare at exit and leave it in Foundry: none is made."""
    slack, foundry = pair
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    async with running_bot(slack, foundry, tmp_path / "unused.db", database_url="sqlite:///:memory:") as stack:
        await ask(stack, alice, general, "print(1)")
        await ask(stack, alice, general, "print(2)")
        assert await spare_ids(stack) == []
    assert creates(foundry) == 2
    assert len(foundry.state.conversations) == 2


async def test_a_spare_being_made_at_shutdown_is_recorded_not_left_behind(pair: Pair, tmp_path: Path) -> None:
    """Stopping while Foundry makes the next spare waits for it, so the next start knows about it."""
    slack, foundry = pair
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    async with running_bot(slack, foundry, tmp_path / "bot.db") as stack:
        await ask(stack, alice, general, "print(1)")
        foundry.faults.add(Fault(route="conversations.create", kind="delay", delay_s=0.5, count=1))
        await slack.post_message(alice, general, f"<@{slack.bot.id}> {python('print(2)')}")
        await slack.wait_for(
            lambda: any(r.route == "conversations.create" and r.status is None for r in foundry.requests),
            timeout=20,
            description="the next spare on its way",
        )
    async with running_bot(slack, foundry, tmp_path / "bot.db") as stack:
        [kept] = await spare_ids(stack)
        assert kept in foundry.state.conversations
        assert set(foundry.state.conversations) == {*thread_conversations(foundry), kept}
