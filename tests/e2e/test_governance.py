"""Who may use the bot, how much per day, and what it used: as people and the Foundry emulator see it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.emulators.foundry import FoundryEmulator
from bot.emulators.slack import FileUpload, SlackEmulator
from bot.outputs.code import SHOW_CODE_ACTION
from bot.slack.status import END_ACTION

from .harness import (
    ControlledClock,
    Stack,
    bot_texts,
    ephemeral_texts,
    python,
    running_bot,
    runs,
    thread_conversations,
    uploads,
)

Pair = tuple[SlackEmulator, FoundryEmulator]


async def ask(slack: SlackEmulator, user: Any, channel: Any, text: str, *, thread_ts: str | None = None) -> str:
    """Post a question that mentions the bot; returns the message's ts."""
    message = await slack.post_message(user, channel, f"<@{slack.bot.id}> {text}", thread_ts=thread_ts)
    return message.ts


async def answered(slack: SlackEmulator, channel: Any, root: str, text: str) -> None:
    await slack.wait_for_reply(channel, root, contains=text, timeout=20)


async def refused(stack: Stack, user: Any, words: str, *, count: int = 1) -> None:
    """``user`` was told (privately) why, exactly ``count`` times."""
    slack = stack.slack
    await slack.wait_for(lambda: sum(words in t for t in ephemeral_texts(slack, user)) >= count, timeout=10)
    await stack.services.scheduler.wait_idle()
    await slack.settle()
    assert sum(words in t for t in ephemeral_texts(slack, user)) == count


# -- access ---------------------------------------------------------------------------------------


async def test_workspace_outside_allowed_teams_is_refused_once_per_thread(pair: Pair, tmp_path: Path) -> None:
    slack, foundry = pair
    async with running_bot(slack, foundry, tmp_path / "bot.db", allowed_teams="T0ELSEWHERE") as stack:
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])
        root = await ask(slack, alice, general, python("print(1)"))
        await ask(slack, alice, general, python("print(2)"), thread_ts=root)
        await refused(stack, alice, "not enabled for this workspace", count=1)
        assert runs(stack.foundry) == 0
        assert bot_texts(slack, general, root) == []  # nobody else sees anything


async def test_a_refusal_slack_would_not_deliver_is_explained_the_next_time(pair: Pair, tmp_path: Path) -> None:
    """The private explanation fails to post once: the person's next message in the thread gets it."""
    slack, foundry = pair
    async with running_bot(slack, foundry, tmp_path / "bot.db", allowed_teams="T0ELSEWHERE") as stack:
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])
        slack.fail("chat.postEphemeral", "internal_error", times=1)
        root = await ask(slack, alice, general, python("print(1)"))
        await slack.wait_for(lambda: slack.api_calls("chat.postEphemeral"), timeout=10)
        await stack.services.scheduler.wait_idle()
        await slack.settle()
        assert ephemeral_texts(slack, alice) == []

        await ask(slack, alice, general, python("print(2)"), thread_ts=root)
        await refused(stack, alice, "not enabled for this workspace", count=1)
        await ask(slack, alice, general, python("print(3)"), thread_ts=root)
        await refused(stack, alice, "not enabled for this workspace", count=1)  # still once, once it got through
        assert runs(stack.foundry) == 0


async def test_allowed_team_is_served(pair: Pair, tmp_path: Path) -> None:
    slack, foundry = pair
    async with running_bot(slack, foundry, tmp_path / "bot.db", allowed_teams=slack.config.team_id):
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])
        root = await ask(slack, alice, general, python("print(6 * 7)"))
        await answered(slack, general, root, "42")
        assert ephemeral_texts(slack, alice) == []


async def test_channel_outside_allowed_channels_is_refused_and_points_to_allowed_ones(
    pair: Pair, tmp_path: Path
) -> None:
    slack, foundry = pair
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    data = slack.add_channel("data", members=[alice])
    async with running_bot(slack, foundry, tmp_path / "bot.db", allowed_channels=data.id) as stack:
        await ask(slack, alice, general, python("print(1)"))
        await refused(stack, alice, f"not enabled in this channel. You can use me in <#{data.id}>")
        root = await ask(slack, alice, data, python("print(6 * 7)"))
        await answered(slack, data, root, "42")
        dm = slack.open_dm(alice)
        direct = (await slack.post_message(alice, dm, python("print(7 * 7)"))).ts
        await answered(slack, dm, direct, "49")  # DMs are not channels an admin lists
        assert runs(stack.foundry) == 2


async def test_person_outside_allowed_users_is_refused_but_admins_and_listed_people_are_served(
    pair: Pair, tmp_path: Path
) -> None:
    slack, foundry = pair
    alice, bob, carol = slack.add_user("alice"), slack.add_user("bob"), slack.add_user("carol")
    general = slack.add_channel("general", members=[alice, bob, carol])
    settings = {"allowed_users": bob.id, "admin_users": carol.id}
    async with running_bot(slack, foundry, tmp_path / "bot.db", **settings) as stack:
        csv = FileUpload("sales.csv", content=b"month,revenue\njan,10\n")
        await slack.post_message(alice, general, f"<@{slack.bot.id}> sum this", files=[csv])
        await refused(stack, alice, f"not on the list of people who can use me yet. Ask <@{carol.id}>")
        assert uploads(stack.foundry) == 0
        assert slack.download_requests == []  # alice's file never left Slack
        root = await ask(slack, bob, general, python("print(6 * 7)"))
        await answered(slack, general, root, "42")
        root = await ask(slack, carol, general, python("print(7 * 7)"))
        await answered(slack, general, root, "49")


@pytest.mark.parametrize("rule", ["team", "channel", "user", "external"])
async def test_no_file_of_a_refused_person_reaches_foundry(pair: Pair, tmp_path: Path, rule: str) -> None:
    """Whichever rule refuses, the person's file is neither downloaded nor uploaded, and no turn runs."""
    slack, foundry = pair
    person = slack.add_user("guest" if rule == "external" else "dana", external=rule == "external")
    place = slack.add_channel("place", members=[person], ext_shared=rule == "external")
    settings = {
        "team": {"allowed_teams": "T0ELSEWHERE"},
        "channel": {"allowed_channels": "C0ELSEWHERE"},
        "user": {"allowed_users": "U0SOMEONE"},
        "external": {},
    }[rule]
    async with running_bot(slack, foundry, tmp_path / "bot.db", **settings) as stack:
        csv = FileUpload("figures.csv", content=b"a,b\n1,2\n")
        root = (await slack.post_message(person, place, f"<@{slack.bot.id}> sum it", files=[csv])).ts
        await slack.post_message(person, place, "and this", thread_ts=root, files=[csv])
        if rule != "channel":  # a DM is not a channel an admin lists (see the allowlist test above)
            dm = slack.open_dm(person)
            await slack.post_message(person, dm, "in private then", files=[csv])
        await refused(stack, person, "Nothing you shared was sent anywhere.", count=1 if rule == "channel" else 2)
        assert slack.download_requests == []
        assert uploads(stack.foundry) == 0
        assert runs(stack.foundry) == 0
        assert foundry.counters()["files"] == 0


async def test_refused_persons_file_drop_in_auto_mode_is_explained_and_stays_in_slack(
    pair: Pair, tmp_path: Path
) -> None:
    slack, foundry = pair
    alice, bob = slack.add_user("alice"), slack.add_user("bob")
    general = slack.add_channel("general", members=[alice, bob])
    settings = {"allowed_users": alice.id, "file_drop_mode": "auto"}
    async with running_bot(slack, foundry, tmp_path / "bot.db", **settings) as stack:
        await slack.post_message(bob, general, "", files=[FileUpload("mine.csv", content=b"a\n1\n")])
        await refused(stack, bob, "not on the list of people")
        assert slack.download_requests == []
        assert uploads(stack.foundry) == 0


async def test_refused_person_replying_in_someone_elses_thread_gets_no_turn(pair: Pair, tmp_path: Path) -> None:
    """In a live thread every reply is a turn, except a refused person's: they are told why, once."""
    slack, foundry = pair
    alice, bob = slack.add_user("alice"), slack.add_user("bob")
    general = slack.add_channel("general", members=[alice, bob])
    async with running_bot(slack, foundry, tmp_path / "bot.db", allowed_users=alice.id) as stack:
        root = await ask(slack, alice, general, python("print(1)"))
        await answered(slack, general, root, "Done in")
        await slack.post_message(bob, general, python("print(2)"), thread_ts=root)
        await slack.post_message(bob, general, python("print(3)"), thread_ts=root)
        await refused(stack, bob, "not on the list of people", count=1)
        assert runs(stack.foundry) == 1


async def test_external_people_are_refused_by_default_and_their_files_stay_in_slack(pair: Pair, tmp_path: Path) -> None:
    slack, foundry = pair
    alice, guest = slack.add_user("alice"), slack.add_user("guest", external=True)
    shared = slack.add_channel("shared", members=[alice, guest], ext_shared=True)
    async with running_bot(slack, foundry, tmp_path / "bot.db") as stack:
        csv = FileUpload("secret.csv", content=b"a,b\n1,2\n")
        await slack.post_message(guest, shared, f"<@{slack.bot.id}> what's in this?", files=[csv])
        await refused(stack, guest, "outside it")
        await slack.slash_command(guest, shared, python("print(1)"))
        await slack.wait_for(lambda: bool(slack.response_url_posts), timeout=10)
        assert "only work for members" in str(slack.response_url_posts[-1].body.get("text"))
        assert uploads(stack.foundry) == 0
        assert runs(stack.foundry) == 0
        assert slack.download_requests == []
        assert [m for m in slack.timeline(shared) if m.user == slack.bot.id] == []  # no "asked:" root
        root = await ask(slack, alice, shared, python("print(6 * 7)"))
        await answered(slack, shared, root, "42")  # members are served in the same shared channel


async def test_external_people_are_served_when_allowed(pair: Pair, tmp_path: Path) -> None:
    slack, foundry = pair
    alice, guest = slack.add_user("alice"), slack.add_user("guest", external=True)
    shared = slack.add_channel("shared", members=[alice, guest], ext_shared=True)
    async with running_bot(slack, foundry, tmp_path / "bot.db", external_users="allow") as stack:
        root = await ask(slack, guest, shared, python("print(6 * 7)"))
        await answered(slack, shared, root, "42")
        await slack.slash_command(guest, shared, python("print(7 * 7)"))
        roots = [m.ts for m in slack.timeline(shared) if m.user == slack.bot.id]
        assert len(roots) == 1
        await answered(slack, shared, roots[0], "49")
        # A guest's reply without a mention continues a member's thread: one thread, one session.
        member = await ask(slack, alice, shared, python("x = 8"))
        await answered(slack, shared, member, "Done in")
        await slack.post_message(guest, shared, python("print(x * 8)"), thread_ts=member)
        await answered(slack, shared, member, "64")
        sessions = await stack.services.store.list_sessions(channel_id=shared.id)
        assert {s.team_id for s in sessions} == {slack.config.team_id}


async def test_end_session_pressed_by_a_refused_person_ends_nothing(pair: Pair, tmp_path: Path) -> None:
    slack, foundry = pair
    alice, bob = slack.add_user("alice"), slack.add_user("bob")
    general = slack.add_channel("general", members=[alice, bob])
    async with running_bot(slack, foundry, tmp_path / "bot.db", allowed_users=alice.id) as stack:
        root = await ask(slack, alice, general, python("print(1)"))
        await answered(slack, general, root, "Done in")
        status = next(m for m in slack.thread(general, root) if m.user == slack.bot.id and m.blocks)
        await slack.press_button(bob, general, status.ts, END_ACTION)
        await refused(stack, bob, "not on the list of people")
        assert len(thread_conversations(foundry)) == 1
        assert not any("Session ended" in t for t in bot_texts(slack, general, root))
        assert not any("Nothing you shared" in t for t in ephemeral_texts(slack, bob))  # bob shared nothing


async def test_show_code_pressed_by_a_refused_person_posts_nothing(pair: Pair, tmp_path: Path) -> None:
    slack, foundry = pair
    alice, bob = slack.add_user("alice"), slack.add_user("bob")
    general = slack.add_channel("general", members=[alice, bob])
    async with running_bot(slack, foundry, tmp_path / "bot.db", allowed_users=alice.id) as stack:
        root = await ask(slack, alice, general, python("print(1)"))
        await answered(slack, general, root, "Done in")
        before = len(slack.thread(general, root))
        status = next(m for m in slack.thread(general, root) if m.user == slack.bot.id and m.blocks)
        await slack.press_button(bob, general, status.ts, SHOW_CODE_ACTION)
        await refused(stack, bob, "not on the list of people")
        assert len(slack.thread(general, root)) == before


# -- limits ---------------------------------------------------------------------------------------

#: Two hours before midnight UTC, so the next day is one clock step away.
EVENING = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)


async def test_questions_per_person_stop_at_the_limit_and_reset_the_next_day(pair: Pair, tmp_path: Path) -> None:
    slack, foundry = pair
    clock = ControlledClock(EVENING)
    alice, bob = slack.add_user("alice"), slack.add_user("bob")
    general = slack.add_channel("general", members=[alice, bob])
    async with running_bot(slack, foundry, tmp_path / "bot.db", clock=clock, max_turns_per_user_per_day=2) as stack:
        root = await ask(slack, alice, general, python("print(1111)"))
        await answered(slack, general, root, "1111")
        await slack.post_message(alice, general, python("print(2222)"), thread_ts=root)
        await answered(slack, general, root, "2222")
        await slack.post_message(alice, general, python("print(3333)"), thread_ts=root)
        await refused(stack, alice, "today's limit of 2 questions per person (MAX_TURNS_PER_USER_PER_DAY)")
        assert any("resets at midnight UTC, in 2 h 0 min" in t for t in ephemeral_texts(slack, alice))
        assert runs(stack.foundry) == 2
        await slack.post_message(bob, general, python("print(4444)"), thread_ts=root)
        await answered(slack, general, root, "4444")  # the limit is per person

        clock.advance(hours=2, minutes=1)
        await slack.post_message(alice, general, python("print(5555)"), thread_ts=root)
        await answered(slack, general, root, "5555")
        await slack.slash_command(alice, general, python("print(6666)"))
        (asked,) = [m.ts for m in slack.timeline(general) if m.user == slack.bot.id]
        await answered(slack, general, asked, "6666")  # the command's question counts too
        await slack.post_message(alice, general, python("print(7777)"), thread_ts=root)
        await refused(stack, alice, "today's limit of 2 questions", count=2)


async def test_a_question_withdrawn_before_it_ran_gives_its_place_back(pair: Pair, tmp_path: Path) -> None:
    """Limit 2: Alice's second question waits behind her first and she stops it; it never ran, so
    her next question is answered rather than refused."""
    slack, foundry = pair
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    async with running_bot(slack, foundry, tmp_path / "bot.db", max_turns_per_user_per_day=2) as stack:
        root = await ask(slack, alice, general, python("import time; time.sleep(1.5); print(1111)"))
        await answered(slack, general, root, "Running code")
        await slack.post_message(alice, general, python("print(2222)"), thread_ts=root)
        await answered(slack, general, root, "Queued")
        (queued,) = [m for m in slack.thread(general, root) if m.user == slack.bot.id and "Queued" in (m.text or "")]
        await slack.press_button(alice, general, queued.ts, "stop_turn")
        await answered(slack, general, root, "1111")

        await slack.post_message(alice, general, python("print(3333)"), thread_ts=root)
        await answered(slack, general, root, "3333")
        await stack.services.scheduler.wait_idle()
        await slack.settle()
        assert not any("today's limit" in t for t in ephemeral_texts(slack, alice))
        assert not any("2222" in t for t in bot_texts(slack, general, root))
        assert runs(stack.foundry) == 2


async def test_new_sandbox_sessions_per_channel_stop_at_the_limit_and_reset_the_next_day(
    pair: Pair, tmp_path: Path
) -> None:
    slack, foundry = pair
    clock = ControlledClock(EVENING)
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    other = slack.add_channel("other", members=[alice])
    settings = {"clock": clock, "max_sessions_per_channel_per_day": 1}
    async with running_bot(slack, foundry, tmp_path / "bot.db", **settings) as stack:  # type: ignore[arg-type]
        first = await ask(slack, alice, general, python("x = 21"))
        await answered(slack, general, first, "Done in")
        second = await ask(slack, alice, general, python("print(1)"))
        await refused(stack, alice, "used its 1 sandbox session for today (MAX_SESSIONS_PER_CHANNEL_PER_DAY)")
        assert bot_texts(slack, general, second) == []
        assert await stack.services.store.get_live_session(slack.config.team_id, general.id, second) is None
        await slack.post_message(alice, general, python("print(x * 2)"), thread_ts=first)
        await answered(slack, general, first, "42")  # a thread with a sandbox goes on
        elsewhere = await ask(slack, alice, other, python("print(3)"))
        await answered(slack, other, elsewhere, "Done in")  # the limit is per channel

        clock.advance(hours=3)
        third = await ask(slack, alice, general, python("print(9 * 9)"))
        await answered(slack, general, third, "81")


async def test_a_burst_of_questions_cannot_pass_the_daily_limits_together(pair: Pair, tmp_path: Path) -> None:
    """Questions posted at the same moment are checked and queued one at a time."""
    slack, foundry = pair
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    settings = {"max_turns_per_user_per_day": 3, "max_sessions_per_channel_per_day": 1}
    async with running_bot(slack, foundry, tmp_path / "bot.db", **settings) as stack:  # type: ignore[arg-type]
        slow = python("import time; time.sleep(1)")
        roots = await asyncio.gather(*(ask(slack, alice, general, slow) for _ in range(3)))
        await refused(stack, alice, "used its 1 sandbox session for today", count=2)
        (first,) = [r for r in roots if bot_texts(slack, general, r)]  # one thread got the sandbox session
        await asyncio.gather(
            *(slack.post_message(alice, general, python(f"print({n} * 11)"), thread_ts=first) for n in (1, 2, 3))
        )
        await refused(stack, alice, "today's limit of 3 questions", count=1)
        done = lambda: sum("Done in" in t for t in bot_texts(slack, general, first)) == 3  # noqa: E731
        await slack.wait_for(done, timeout=30)
        assert runs(stack.foundry) == 3


@pytest.mark.parametrize("socket_mode", [False, True], ids=["http", "socket"])
async def test_limit_refusal_for_a_slash_command_is_private_and_posts_nothing(
    pair: Pair, tmp_path: Path, socket_mode: bool
) -> None:
    slack, foundry = pair
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    async with running_bot(slack, foundry, tmp_path / "bot.db", socket_mode=socket_mode, max_turns_per_user_per_day=1):
        await slack.slash_command(alice, general, python("print(1)"))
        roots = [m.ts for m in slack.timeline(general) if m.user == slack.bot.id]
        await answered(slack, general, roots[0], "Done in")
        await slack.slash_command(alice, general, python("print(2)"))
        await slack.wait_for(lambda: len(slack.response_url_posts) >= 1, timeout=10)
        assert "today's limit of 1 question per person" in str(slack.response_url_posts[-1].body.get("text"))
        assert len([m for m in slack.timeline(general) if m.user == slack.bot.id]) == 1


# -- usage and cost -------------------------------------------------------------------------------


def emulator_tokens(foundry: FoundryEmulator, channel_id: str) -> tuple[int, int]:
    """Input and output tokens the Foundry emulator reported for a channel's responses."""
    inputs = outputs = 0
    for record in foundry.state.responses.values():
        if channel_id in str((record.body.get("metadata") or {}).get("slack_thread")):
            usage = record.body.get("usage") or {}
            inputs += int(usage.get("input_tokens") or 0)
            outputs += int(usage.get("output_tokens") or 0)
    return inputs, outputs


async def test_usage_figures_equal_the_tokens_foundry_reported(pair: Pair, tmp_path: Path) -> None:
    slack, foundry = pair
    alice, bob, admin = slack.add_user("alice"), slack.add_user("bob"), slack.add_user("admin")
    general = slack.add_channel("general", members=[alice, bob, admin])
    other = slack.add_channel("other", members=[bob, admin])
    async with running_bot(slack, foundry, tmp_path / "bot.db", admin_users=admin.id) as stack:
        root = await ask(slack, alice, general, python("print(1)"))
        await answered(slack, general, root, "Done in")
        await slack.post_message(alice, general, "what did that print? " + python("print(2)"), thread_ts=root)
        await slack.wait_for(lambda: sum("Done in" in t for t in bot_texts(slack, general, root)) == 2, timeout=20)
        elsewhere = await ask(slack, bob, other, python("print(3)"))
        await answered(slack, other, elsewhere, "Done in")
        await stack.services.scheduler.wait_idle()

        await slack.slash_command(alice, general, "usage")
        await slack.wait_for(lambda: bool(slack.response_url_posts), timeout=10)
        text = str(slack.response_url_posts[-1].body.get("text"))
        inputs, outputs = emulator_tokens(foundry, general.id)
        assert inputs > 0
        assert outputs > 0
        figures = f"{inputs + outputs:,} tokens ({inputs:,} in, {outputs:,} out), 1 sandbox session"
        assert f"• You: today 2 turns, {figures}; last 7 days 2 turns, {figures}" in text
        assert f"• <#{general.id}>: today 2 turns, {figures}" in text

        await slack.slash_command(admin, general, "usage")
        await slack.wait_for(lambda: len(slack.response_url_posts) >= 2, timeout=10)
        report = str(slack.response_url_posts[-1].body.get("text"))
        other_in, other_out = emulator_tokens(foundry, other.id)
        total = inputs + outputs + other_in + other_out
        assert f"*Workspace, last 7 days*: 3 turns, {total:,} tokens" in report
        assert f"*Top channels*\n1. <#{general.id}>" in report or f"*Top channels*\n1. <#{other.id}>" in report
        assert f"<@{alice.id}>: 2 turns, {figures}" in report


async def test_cost_footer_under_each_answer(pair: Pair, tmp_path: Path) -> None:
    slack, foundry = pair
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    prices = {
        "show_cost": True,
        "price_per_session": 0.03,
        "price_per_1k_input_tokens": 0.5,
        "price_per_1k_output_tokens": 2.0,
    }
    async with running_bot(slack, foundry, tmp_path / "bot.db", **prices):  # type: ignore[arg-type]
        root = await ask(slack, alice, general, python("print(6 * 7)"))
        footer = await slack.wait_for_reply(general, root, contains=":receipt:", timeout=20)
        inputs, outputs = emulator_tokens(foundry, general.id)
        cost = 0.03 + inputs / 1000 * 0.5 + outputs / 1000 * 2.0
        expected = f"${cost:,.2f}" if cost >= 1 else f"${cost:,.4f}"
        text = footer.text or ""
        assert text.startswith(f":receipt: about {expected} · {inputs:,} input + {outputs:,} output tokens")
        assert text.endswith("1 new sandbox session")
        assert bot_texts(slack, general, root)[-1] == text  # the last line of the turn, under the answer
        await slack.slash_command(alice, general, "usage")
        await slack.wait_for(lambda: bool(slack.response_url_posts), timeout=10)
        report = str(slack.response_url_posts[-1].body.get("text"))
        assert f"• You: today 1 turn, {inputs + outputs:,} tokens" in report
        assert f"1 sandbox session, about {expected}; last 7 days" in report
