"""Exactly once, however Slack delivers: double delivery, retries, both in any order, and restarts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.emulators.foundry import FoundryEmulator
from bot.emulators.slack import SlackEmulator

from .harness import Stack, running_bot, runs, thread_conversations


def answers(slack: SlackEmulator, channel: object, root_ts: str, text: str) -> int:
    return sum(1 for m in slack.thread(channel, root_ts) if m.user == slack.bot.id and text in (m.text or ""))


async def test_mention_delivered_twice_and_retried_thrice_is_one_turn(stack: Stack) -> None:
    """app_mention + message, each retried three times, in mixed order → one run and one answer."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> ```python\nprint('once')\n```")
    await slack.wait_for_reply(general, root.ts, contains="once", timeout=20)
    deliveries = slack.deliveries_about(general, root.ts)
    assert {d.event_type for d in deliveries} >= {"app_mention", "message"}
    for retry in (1, 2, 3):
        for delivery in reversed(deliveries):
            attempt = await slack.redeliver(delivery, retry_num=retry, reason="http_timeout")
            assert attempt.acked
    await slack.settle()
    await stack.services.scheduler.wait_idle()
    assert runs(stack.foundry) == 1
    assert answers(slack, general, root.ts, "once") == 1


async def test_retry_arriving_first_still_gives_one_turn(stack: Stack) -> None:
    """A retry that overtakes the first delivery is handled; the late original changes nothing."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> ```python\nprint('first wins')\n```")
    for delivery in slack.deliveries_about(general, root.ts):
        await slack.redeliver(delivery, retry_num=1, reason="http_error")
    await slack.wait_for_reply(general, root.ts, contains="first wins", timeout=20)
    await slack.settle()
    await stack.services.scheduler.wait_idle()
    assert runs(stack.foundry) == 1


async def test_bot_messages_are_ignored(stack: Stack) -> None:
    """Messages from other bots, even mentioning ours, never become turns."""
    slack = stack.slack
    robot = slack.add_user("robot", is_bot=True)
    general = slack.add_channel("general", members=[robot])
    await slack.post_message(robot, general, f"<@{slack.bot.id}> ```python\nprint(1)\n```")
    await slack.settle()
    await stack.services.scheduler.wait_idle()
    assert runs(stack.foundry) == 0


async def test_bad_signature_and_stale_timestamp_are_refused(stack: Stack) -> None:
    """A request signed with the wrong secret, or too old, gets 401 and nothing is processed."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    real_secret = slack.signing_secret
    slack.signing_secret = "not-the-secret"
    await slack.post_message(alice, general, f"<@{slack.bot.id}> ```python\nprint('forged')\n```")
    await slack.settle()
    slack.signing_secret = real_secret
    forged = [a for d in slack.deliveries() for a in d.attempts]
    assert forged
    assert {a.status for a in forged} == {401}
    stale = await _post_stale(stack, alice, general)
    assert stale == 401
    await stack.services.scheduler.wait_idle()
    assert runs(stack.foundry) == 0


_FORGED_EVENT = {
    "type": "event_callback",
    "team_id": "T0EMULATED",
    "event_id": "EvFORGED",
    "event": {"type": "app_mention", "user": "U1", "channel": "C1", "ts": "1.0", "text": "FORGED-BODY\nERROR made up"},
}
_BOT_ECHO = {**_FORGED_EVENT, "event": {"type": "message", "bot_id": "B1", "channel": "C1", "ts": "1.0", "text": "x"}}


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(_FORGED_EVENT, {}, id="no signature headers"),
        pytest.param(_FORGED_EVENT, {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=0"}, id="word"),
        pytest.param(_FORGED_EVENT, {"X-Slack-Request-Timestamp": "now", "X-Slack-Signature": "v0=0"}, id="bad sig"),
        pytest.param(_BOT_ECHO, {"X-Slack-Request-Timestamp": "now", "X-Slack-Signature": "v0=0"}, id="bot echo"),
    ],
)
async def test_unsigned_request_is_refused_before_anything_reads_it(
    stack: Stack, caplog: pytest.LogCaptureFixture, body: dict[str, object], headers: dict[str, str]
) -> None:
    """Whatever it looks like, an unsigned request gets 401, and the log shows none of its body."""
    if headers.get("X-Slack-Request-Timestamp") == "now":
        headers = {**headers, "X-Slack-Request-Timestamp": str(int(time.time()))}
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{stack.url}/slack/events",
            content=json.dumps(body),
            headers={**headers, "Content-Type": "application/json"},
        )
    assert response.status_code == 401
    assert "no valid Slack signature" in caplog.text
    assert "FORGED-BODY" not in caplog.text
    await stack.services.scheduler.wait_idle()
    assert runs(stack.foundry) == 0


async def _post_stale(stack: Stack, user: object, channel: object) -> int:
    """Sign a real event with a timestamp ten minutes old and send it to the bot."""
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0EMULATED",
            "event_id": "EvSTALE",
            "event": {"type": "app_mention", "user": "U1", "channel": "C1", "ts": "1.0", "text": "hi"},
        }
    )
    ts = str(int(time.time()) - 600)
    signature = SignatureVerifier(stack.slack.signing_secret).generate_signature(timestamp=ts, body=body)
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{stack.url}/slack/events",
            content=body,
            headers={
                "X-Slack-Signature": signature,
                "X-Slack-Request-Timestamp": ts,
                "Content-Type": "application/json",
            },
        )
    return response.status_code


async def test_restart_keeps_the_thread_conversation(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """After the bot restarts, a follow-up continues the same Foundry conversation."""
    slack, foundry = pair
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    db = tmp_path / "bot.db"
    async with running_bot(slack, foundry, db) as stack:
        root = await slack.post_message(alice, general, f"<@{slack.bot.id}> ```python\nprint('before')\n```")
        await slack.wait_for_reply(general, root.ts, contains="before", timeout=20)
        await stack.services.scheduler.wait_idle()
    async with running_bot(slack, foundry, db) as stack:
        await slack.post_message(alice, general, "```python\nprint('after')\n```", thread_ts=root.ts)
        await slack.wait_for_reply(general, root.ts, contains="after", timeout=20)
        # The restart's own redelivery of the old mention must not run it again.
        for delivery in slack.deliveries_about(general, root.ts):
            await slack.redeliver(delivery, retry_num=1)
        await slack.settle()
        await stack.services.scheduler.wait_idle()
    bodies = [r.body for r in foundry.requests if r.route == "responses.create"]
    assert len(bodies) == 2
    assert bodies[0]["conversation"] == bodies[1]["conversation"]
    assert list(thread_conversations(foundry)) == [bodies[0]["conversation"]]


async def test_edits_and_deletes_are_not_turns(stack: Stack) -> None:
    """Editing or deleting a message in a live thread asks nothing new."""
    slack = stack.slack
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])
    root = await slack.post_message(alice, general, f"<@{slack.bot.id}> ```python\nprint('v1')\n```")
    await slack.wait_for_reply(general, root.ts, contains="v1", timeout=20)
    await slack.edit_message(alice, general, root.ts, f"<@{slack.bot.id}> ```python\nprint('v2')\n```")
    reply = await slack.post_message(alice, general, "```python\nprint('v3')\n```", thread_ts=root.ts)
    await slack.wait_for_reply(general, root.ts, contains="v3", timeout=20)
    await slack.delete_message(alice, general, reply.ts)
    await slack.settle()
    await stack.services.scheduler.wait_idle()
    assert runs(stack.foundry) == 2


@pytest.mark.parametrize("socket_mode", [False, True], ids=["http", "socket"])
async def test_every_delivery_of_a_turn_is_acknowledged_once_including_the_ignored_ones(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path, socket_mode: bool
) -> None:
    """The bot's own posts and its status edits come back as events; each is acked at the first try."""
    slack, foundry = pair
    async with running_bot(slack, foundry, tmp_path / "bot.db", socket_mode=socket_mode) as stack:
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])
        root = await slack.post_message(alice, general, f"<@{slack.bot.id}> ```python\nprint(6 * 7)\n```")
        await slack.wait_for_reply(general, root.ts, contains="Done in", timeout=20)
        await stack.services.scheduler.wait_idle()
        await slack.settle()
        events = slack.deliveries(kind="events_api")
        own = [d for d in events if (d.payload.get("event") or {}).get("bot_id")]
        edits = [d for d in events if (d.payload.get("event") or {}).get("subtype") == "message_changed"]
        assert own
        assert edits
        assert all(d.acked and len(d.attempts) == 1 for d in events)
