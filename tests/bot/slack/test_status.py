"""The status line: written in the background, in order, at most about once a second, final always."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulators.slack import EmulatorConfig, SlackEmulator
from bot.emulators.slack.models import Channel, Message
from bot.slack.inbound import ThreadKey
from bot.slack.status import StatusBoard, StatusMessage, UpdateBudget


@pytest.fixture(name="slack")
async def slack_fixture() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(EmulatorConfig()) as emulator:
        yield emulator


class Thread:
    def __init__(self, slack: SlackEmulator, channel: Channel, root: Message) -> None:
        self.slack = slack
        self.channel = channel
        self.key = ThreadKey(team_id=slack.config.team_id, channel_id=channel.id, root_ts=root.ts)

    def status_texts(self) -> list[str]:
        """What the bot's status line said, call by call."""
        return [
            str(call.params.get("text"))
            for call in self.slack.api_calls()
            if call.method in ("chat.postMessage", "chat.update")
        ]


@pytest.fixture(name="thread")
async def thread_fixture(slack: SlackEmulator) -> Thread:
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, "question")
    return Thread(slack, general, root)


def slack_client(slack: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


def board(slack: SlackEmulator, saved: dict[int, str]) -> StatusBoard:
    async def save(turn_id: int, ts: str) -> None:
        saved[turn_id] = ts

    return StatusBoard(AsyncWebClient(token=slack.bot_token, base_url=slack.api_url), save)


def thinking(statuses: StatusBoard, key: ThreadKey, turn_id: int) -> StatusMessage:
    """A turn's status line showing "Thinking…", with Slack's indicator asked for."""
    status = statuses.get(key, turn_id, None)
    status.show("Thinking…")
    status.assistant_status("is thinking…")
    return status


async def test_show_returns_before_slack_is_called_and_posts_once(slack: SlackEmulator, thread: Thread) -> None:
    """show() only records the state; the writer posts it, then saves the message's ts."""
    saved: dict[int, str] = {}
    statuses = board(slack, saved)
    status = statuses.get(thread.key, 7, None)

    status.show("Thinking…")
    assert slack.api_calls("chat.postMessage") == []
    await statuses.wait_idle()

    assert thread.status_texts() == ["Thinking…"]
    assert saved == {7: status.ts}


async def test_intermediate_states_coalesce_and_final_is_written_at_once(slack: SlackEmulator, thread: Thread) -> None:
    """Within the second after a write only the newest state is kept, and finish() does not wait for it."""
    statuses = board(slack, {})
    status = statuses.get(thread.key, 7, None)
    status.show("one")
    await statuses.wait_idle()

    status.show("two")
    status.show("three")
    await asyncio.sleep(0.05)
    assert thread.status_texts() == ["one"]  # "three" waits for the second to pass
    status.finish("Done", buttons=[])
    await asyncio.wait_for(statuses.wait_idle(), 0.5)

    assert thread.status_texts() == ["one", "Done"]


async def test_intermediate_state_is_written_after_the_second(slack: SlackEmulator, thread: Thread) -> None:
    """An update asked for within the second is written once it is over."""
    statuses = board(slack, {})
    status = statuses.get(thread.key, 7, None)
    status.show("one")
    status.show("two")
    await statuses.wait_idle()

    texts = thread.status_texts()
    assert texts[-1] == "two"
    assert len(texts) <= 2


async def test_assistant_status_follows_the_message_and_is_cleared_at_finish(
    slack: SlackEmulator, thread: Thread
) -> None:
    """setStatus goes after the status post; finish() clears it after the final update."""
    statuses = board(slack, {})
    status = thinking(statuses, thread.key, 7)
    await statuses.wait_idle()
    assert slack.thread_status(thread.channel, thread.key.root_ts) == "is thinking…"

    status.finish("Done")
    await statuses.wait_idle()

    methods = [c.method for c in slack.api_calls() if c.method != "auth.test"]
    assert methods == ["chat.postMessage", "assistant.threads.setStatus", "chat.update", "assistant.threads.setStatus"]
    assert slack.thread_status(thread.channel, thread.key.root_ts) is None


async def test_a_reply_in_the_thread_clears_the_assistant_status_without_a_call(
    slack: SlackEmulator, thread: Thread
) -> None:
    """Slack clears the indicator when the app replies: after an answer, finish() doesn't call setStatus again."""
    statuses = board(slack, {})
    status = thinking(statuses, thread.key, 7)
    await statuses.wait_idle()
    mark = status.reply_mark()
    await slack_client(slack).chat_postMessage(channel=thread.channel.id, thread_ts=thread.key.root_ts, text="42")
    status.replied(mark)

    status.finish("Done")
    await statuses.wait_idle()

    assert len(slack.api_calls("assistant.threads.setStatus")) == 1
    assert slack.thread_status(thread.channel, thread.key.root_ts) is None


@pytest.mark.parametrize("sent", ["while the reply was on its way", "after the reply"])
async def test_a_status_sent_during_or_after_the_reply_is_cleared_at_finish(
    slack: SlackEmulator, thread: Thread, sent: str
) -> None:
    """A setStatus that may land after the app's reply is not taken as cleared by it: finish() clears it."""
    statuses = board(slack, {})
    status = thinking(statuses, thread.key, 7)
    mark = status.reply_mark()  # nothing sent yet
    if sent == "while the reply was on its way":
        await statuses.wait_idle()
        status.replied(mark)
    else:
        status.replied(mark)
        await statuses.wait_idle()
    assert slack.thread_status(thread.channel, thread.key.root_ts) == "is thinking…"

    status.finish("Done")
    await statuses.wait_idle()

    calls = [c.params.get("status") for c in slack.api_calls("assistant.threads.setStatus")]
    assert calls == ["is thinking…", ""]
    assert slack.thread_status(thread.channel, thread.key.root_ts) is None


async def test_the_assistant_status_does_not_wait_behind_a_throttled_update(
    slack: SlackEmulator, thread: Thread
) -> None:
    """While the status line waits out its second, Slack's indicator is set at once, not after the run."""
    statuses = board(slack, {})
    status = statuses.get(thread.key, 7, None)
    status.show("Thinking…")
    await statuses.wait_idle()
    status.show("Running code…")  # within the second: held back
    status.assistant_status("is thinking…")

    await slack.wait_for(lambda: slack.api_calls("assistant.threads.setStatus"), timeout=0.5)

    assert slack.thread_status(thread.channel, thread.key.root_ts) == "is thinking…"
    assert thread.status_texts() == ["Thinking…"]  # the update still waits for its second
    status.finish("Done")
    await statuses.wait_idle()
    assert thread.status_texts() == ["Thinking…", "Done"]


async def test_forget_drops_a_pending_update_but_keeps_the_final(slack: SlackEmulator, thread: Thread) -> None:
    """A turn that ends drops its pending intermediate state; a final state already asked for is written."""
    statuses = board(slack, {})
    first = statuses.get(thread.key, 1, None)
    first.show("one")
    await statuses.wait_idle()
    first.show("pending")
    statuses.forget(1)
    second = statuses.get(thread.key, 2, None)
    second.finish("Done")
    statuses.forget(2)
    await statuses.wait_idle()

    assert thread.status_texts() == ["one", "Done"]


async def test_aclose_lets_a_pending_final_state_be_written(slack: SlackEmulator, thread: Thread) -> None:
    """At shutdown a turn's final line still goes out: nothing would write it after a restart."""
    statuses = board(slack, {})
    status = statuses.get(thread.key, 7, None)
    status.show("one")
    await statuses.wait_idle()
    status.show("two")  # waits for its second
    status.finish("Done")

    await statuses.aclose()

    assert thread.status_texts() == ["one", "Done"]


async def test_aclose_cancels_writes_that_outlast_the_grace(slack: SlackEmulator, thread: Thread) -> None:
    """Writes still waiting when the grace is over are cancelled and awaited; nothing comes later."""
    statuses = board(slack, {})
    status = statuses.get(thread.key, 7, None)
    status.show("one")
    await statuses.wait_idle()
    status.show("two")  # waits for its second

    await statuses.aclose(grace=0.1)
    status.show("three")  # asked for after shutdown began
    await asyncio.sleep(1.1)

    assert thread.status_texts() == ["one"]


async def test_refused_assistant_status_is_not_asked_again(slack: SlackEmulator, thread: Thread) -> None:
    """Where setStatus is refused, the status line stops asking for it."""
    slack.refuse_set_status("missing_scope")
    statuses = board(slack, {})
    status = thinking(statuses, thread.key, 7)
    await statuses.wait_idle()
    status.finish("Done")
    await statuses.wait_idle()

    assert len(slack.api_calls("assistant.threads.setStatus")) == 1
    assert thread.status_texts() == ["Thinking…", "Done"]


async def one_turn(statuses: StatusBoard, key: ThreadKey, turn_id: int) -> None:
    """A turn's status line, from thinking to done."""
    status = thinking(statuses, key, turn_id)
    await statuses.wait_idle()
    status.finish("Done")
    await statuses.wait_idle()
    statuses.forget(turn_id)


async def test_a_missing_scope_stops_set_status_for_every_later_turn(slack: SlackEmulator, thread: Thread) -> None:
    """Without the scope setStatus can't work anywhere: later turns, in any channel, don't ask."""
    slack.refuse_set_status("missing_scope")
    statuses = board(slack, {})
    await one_turn(statuses, thread.key, 1)
    other = ThreadKey(team_id=thread.key.team_id, channel_id="C0OTHER", root_ts="1.0")
    await one_turn(statuses, thread.key, 2)
    await one_turn(statuses, other, 3)
    assert len(slack.api_calls("assistant.threads.setStatus")) == 1


async def test_a_refusal_in_one_channel_stops_set_status_there_only(slack: SlackEmulator, thread: Thread) -> None:
    """A channel where Slack refuses setStatus isn't asked again; other channels still are."""
    slack.refuse_set_status("restricted_action")
    statuses = board(slack, {})
    await one_turn(statuses, thread.key, 1)
    slack.refuse_set_status(None)
    await one_turn(statuses, thread.key, 2)
    alice = slack.add_user("alice2")
    random = slack.add_channel("random", members=[alice])
    root = await slack.post_message(alice, random, "question")
    elsewhere = ThreadKey(team_id=thread.key.team_id, channel_id=random.id, root_ts=root.ts)
    await one_turn(statuses, elsewhere, 3)
    calls = slack.api_calls("assistant.threads.setStatus")
    assert [c.params.get("channel_id") for c in calls] == [thread.channel.id, random.id, random.id]


async def test_turns_share_the_update_budget_and_finals_always_go(slack: SlackEmulator, thread: Thread) -> None:
    """With the workspace's chat.update budget spent, a turn's intermediate state waits; its final one is written."""
    client = slack_client(slack)

    async def save(turn_id: int, ts: str) -> None:
        pass

    statuses = StatusBoard(client, save, budget=UpdateBudget(per_second=0.001, burst=1), min_interval=0.0)
    one, two = statuses.get(thread.key, 1, None), statuses.get(thread.key, 2, None)
    one.show("one: thinking")
    two.show("two: thinking")
    await statuses.wait_idle()
    one.show("one: running code")  # spends the budget
    await statuses.wait_idle()

    two.show("two: running code")  # waits for a budget that refills in about 1,000 s
    await asyncio.sleep(0.1)
    two.finish("two: done")
    one.finish("one: done")
    await statuses.wait_idle()

    texts = thread.status_texts()
    assert texts[:3] == ["one: thinking", "two: thinking", "one: running code"]
    assert sorted(texts[3:]) == ["one: done", "two: done"]


def test_the_update_budget_refills_at_its_rate_up_to_its_burst() -> None:
    now = [0.0]
    budget = UpdateBudget(per_second=0.5, burst=2, clock=lambda: now[0])
    budget.spend()
    budget.spend()
    assert budget.delay() == pytest.approx(2.0)  # one update's worth takes 2 s at 0.5 a second
    now[0] = 1.0
    assert budget.delay() == pytest.approx(1.0)
    now[0] = 100.0
    assert budget.delay() == 0.0
    budget.spend()
    budget.spend()
    budget.spend()  # a final update may overdraw
    assert budget.delay() == pytest.approx(4.0)


async def waiting_for_the_budget(slack: SlackEmulator, thread: Thread) -> tuple[StatusBoard, StatusMessage]:
    """Turn 1's line says "Queued"; other turns used up the update budget, so its "Thinking…" waits."""
    budget = UpdateBudget(per_second=0.001, burst=1)
    statuses = StatusBoard(slack_client(slack), _ignore_ts, budget=budget, min_interval=0.0)
    status = statuses.get(thread.key, 1, None)
    status.show("Queued")
    await statuses.wait_idle()
    budget.spend()  # the next update waits about 1,000 s
    status.show("Thinking…")
    await asyncio.sleep(0.05)
    return statuses, status


async def test_the_indicator_goes_ahead_of_an_update_waiting_for_the_budget(
    slack: SlackEmulator, thread: Thread
) -> None:
    """An update waiting (long) for the shared budget doesn't hold back Slack's indicator."""
    statuses, status = await waiting_for_the_budget(slack, thread)

    status.assistant_status("is thinking…")
    await slack.wait_for(lambda: slack.api_calls("assistant.threads.setStatus"), timeout=1)

    assert "Thinking…" not in thread.status_texts()
    status.finish("Done")
    await statuses.wait_idle()


async def test_a_turn_that_ends_lets_go_of_an_update_waiting_for_the_budget(
    slack: SlackEmulator, thread: Thread
) -> None:
    """forget() drops the waiting update and the writer ends at once: shutting down doesn't wait for it."""
    statuses, _ = await waiting_for_the_budget(slack, thread)

    statuses.forget(1)
    async with asyncio.timeout(1):
        await statuses.wait_idle()
    assert thread.status_texts() == ["Queued"]


async def _ignore_ts(turn_id: int, ts: str) -> None:
    """Where the board would save a status message's ts."""
