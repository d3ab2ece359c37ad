"""Which events the workspace produces and what they look like, checked at a bare signed endpoint."""

from __future__ import annotations

import pytest
from aiohttp import web

from bot.emulators.slack import EmulatorConfig, RetryPolicy, SlackEmulator
from bot.emulators.slack.ids import ts_key

# The *_fixture imports register pytest fixtures (by their name=), hence unused.
from tests.bot.emulators.conftest_slack import (  # noqa: F401
    Recorder,
    World,
    recorder_fixture,
    serve,
    slack_fixture,
    world_fixture,
)


async def test_channel_mention_arrives_as_app_mention_and_message(recorder: Recorder, world: World) -> None:
    """An @mention in a channel yields app_mention then message, each in a full event_callback envelope."""
    slack = world.slack
    root = await slack.post_message(world.alice, world.general, world.mention("hi"))
    await slack.settle()
    bodies = [r.body for r in recorder.received]
    assert [b["event"]["type"] for b in bodies] == ["app_mention", "message"]
    assert all(r.signature_ok for r in recorder.received)
    envelope = bodies[0]
    assert envelope["type"] == "event_callback"
    assert (envelope["team_id"], envelope["api_app_id"]) == (slack.config.team_id, slack.config.app_id)
    assert envelope["authorizations"][0]["user_id"] == slack.bot.id
    assert isinstance(envelope["event_time"], int)
    assert bodies[0]["event_id"] != bodies[1]["event_id"]
    mention, message = (b["event"] for b in bodies)
    assert mention["ts"] == message["ts"] == root.ts
    assert message["channel_type"] == "channel"
    assert mention["blocks"][0]["elements"][0]["elements"][0] == {"type": "user", "user_id": slack.bot.id}


async def test_mention_event_order_is_configurable() -> None:
    """mention_event_order=("message", "app_mention") swaps the delivery order."""
    config = EmulatorConfig(retry=RetryPolicy.fast(), mention_event_order=("message", "app_mention"))
    async with SlackEmulator(config) as slack:
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])
        recording = Recorder(slack.signing_secret)
        app = web.Application()
        app.router.add_post("/e", recording.handle)
        async with serve(app) as url:
            slack.use_http(f"{url}/e")
            await slack.post_message(alice, general, f"<@{slack.bot.id}>")
            await slack.settle()
    assert [e["type"] for e in recording.events()] == ["message", "app_mention"]


async def test_channel_types_and_membership_decide_delivery(
    recorder: Recorder, slack: SlackEmulator, world: World
) -> None:
    """DMs give message/im (no app_mention); private gives group; mpim gives mpim; no bot, no event."""
    group = slack.add_channel("trio", kind="mpim", members=[world.alice, world.bob])
    outside = slack.add_channel("outside", members=[world.alice], bot=False)
    await slack.post_message(world.alice, world.dm, world.mention("in a DM"))
    await slack.post_message(world.alice, world.secret, "private")
    await slack.post_message(world.alice, group, "group dm")
    await slack.post_message(world.alice, outside, world.mention("unheard"))
    await slack.settle()
    assert [(e["type"], e["channel_type"]) for e in recorder.events()] == [
        ("message", "im"),
        ("message", "group"),
        ("message", "mpim"),
    ]


async def test_edits_deletes_and_reactions(recorder: Recorder, slack: SlackEmulator, world: World) -> None:
    """Edit → message_changed, delete → message_deleted, reaction → reaction_added with item."""
    root = await slack.post_message(world.alice, world.general, "first")
    await slack.edit_message(world.alice, world.general, root.ts, "second")
    await slack.add_reaction(world.bob, world.general, root.ts, "white_check_mark")
    await slack.delete_message(world.alice, world.general, root.ts)
    await slack.settle()
    changed, reaction, deleted = recorder.events()[1:]
    assert (changed["subtype"], changed["message"]["text"], changed["previous_message"]["text"]) == (
        "message_changed",
        "second",
        "first",
    )
    assert changed["message"]["edited"]["user"] == world.alice.id
    assert (reaction["type"], reaction["reaction"], reaction["item"]) == (
        "reaction_added",
        "white_check_mark",
        {"type": "message", "channel": world.general.id, "ts": root.ts},
    )
    assert (deleted["subtype"], deleted["deleted_ts"], deleted["hidden"]) == ("message_deleted", root.ts, True)
    assert len(slack.deliveries_about(world.general, root.ts)) == 4


async def test_channel_lifecycle_events(recorder: Recorder, slack: SlackEmulator, world: World) -> None:
    """Archive, bot removal and deletion give channel_/group_ events and member_left_channel."""
    extra = slack.add_channel("extra", members=[world.alice])
    await slack.archive_channel(world.general, by=world.alice)
    await slack.archive_channel(world.secret, by=world.alice)
    await slack.remove_bot(extra, by=world.alice)
    await slack.delete_channel(world.secret, by=world.alice)
    await slack.settle()
    summary = [(e["type"], e.get("user") or e.get("actor_id")) for e in recorder.events()]
    assert summary == [
        ("channel_archive", world.alice.id),
        ("group_archive", world.alice.id),
        ("member_left_channel", slack.bot.id),
        ("channel_left", world.alice.id),
        ("group_deleted", world.alice.id),
    ]


async def test_uninstall_sends_app_uninstalled_and_tokens_revoked(
    recorder: Recorder, slack: SlackEmulator, world: World
) -> None:
    """Uninstalling delivers app_uninstalled and tokens_revoked, then nothing more."""
    await slack.uninstall()
    await slack.post_message(world.alice, world.general, "anyone?")
    await slack.settle()
    assert [e["type"] for e in recorder.events()] == ["app_uninstalled", "tokens_revoked"]
    assert recorder.events()[1]["tokens"] == {"oauth": [], "bot": [slack.bot.id]}


async def test_thread_view_renders_for_a_person(slack: SlackEmulator, world: World) -> None:
    """thread() lists root and replies in ts order and render_thread() turns them into readable lines."""
    root = await slack.post_message(world.alice, world.general, world.mention("plot it"))
    reply = await slack.post_message(world.bob, world.general, "me too", thread_ts=root.ts)
    await slack.add_reaction(world.bob, world.general, root.ts, "eyes")
    lines = slack.render_thread(world.general, root.ts)
    assert lines == [f"{root.ts} Alice: @code-interpreter plot it :eyes: x1", f"{reply.ts}   ↳ bob: me too"]
    assert ts_key(reply.ts) > ts_key(root.ts)
    assert [m.ts for m in slack.thread(world.general, root.ts, viewer=world.alice.id)] == [root.ts, reply.ts]


async def test_driver_refuses_what_slack_would_not_allow(slack: SlackEmulator, world: World) -> None:
    """Posting where you are not a member or reacting twice raises instead of silently passing."""
    carol = slack.add_user("carol")
    with pytest.raises(ValueError, match="not a member"):
        await slack.post_message(carol, world.general, "hi")
    message = await slack.post_message(world.alice, world.general, "hi")
    await slack.add_reaction(world.alice, world.general, message.ts, "eyes")
    with pytest.raises(ValueError, match="already reacted"):
        await slack.add_reaction(world.alice, world.general, message.ts, "eyes")
