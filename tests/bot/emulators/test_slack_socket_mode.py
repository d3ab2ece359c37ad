"""Socket Mode, with bolt's aiohttp AsyncSocketModeHandler connecting through apps.connections.open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulators.slack import SlackEmulator

# The *_fixture imports register pytest fixtures (by their name=), hence unused.
from tests.bot.emulators.conftest_slack import World, slack_fixture, world_fixture  # noqa: F401


@pytest.fixture(name="app")
def app_fixture(slack: SlackEmulator) -> AsyncApp:
    """A bolt app whose Web API client points at the emulator."""
    return AsyncApp(client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url))


@pytest.fixture(name="connected")
async def connected_fixture(slack: SlackEmulator, app: AsyncApp) -> AsyncIterator[AsyncSocketModeHandler]:
    """The app connected over Socket Mode; closed (before the emulator stops) after the test."""
    slack.use_socket_mode()
    handler = AsyncSocketModeHandler(app, app_token=slack.app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
    await slack.wait_for_socket_connection()
    yield handler
    await handler.close_async()  # type: ignore[no-untyped-call]


async def test_hello_then_mention_is_acked_and_answered(app: AsyncApp, world: World) -> None:
    """The connection gets hello; an app_mention envelope is acked and the reply lands in the thread."""

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(text="on it", thread_ts=event["ts"])

    @app.event("message")
    async def on_message() -> None:
        pass

    slack = world.slack
    handler = AsyncSocketModeHandler(app, app_token=slack.app_token)
    slack.use_socket_mode()
    await handler.connect_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
    try:
        root = await slack.post_message(world.alice, world.general, world.mention("go"))
        reply = await slack.wait_for_reply(world.general, root.ts, contains="on it")
        await slack.settle()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
    assert reply.thread_ts == root.ts
    assert [c.method for c in slack.api_calls("apps.connections.open")] == ["apps.connections.open"]
    assert all(d.acked and d.attempts[0].transport == "socket_mode" for d in slack.deliveries())
    assert slack.socket_mode.pings_answered >= 1


async def test_slash_command_ack_payload_and_response_url(app: AsyncApp, connected: Any, world: World) -> None:
    """A slash_commands envelope is acked with a payload (shown ephemerally) and response_url works."""

    @app.command("/interpreter")
    async def command(ack: Any, respond: Any) -> None:
        await ack(text="queued", response_type="ephemeral")
        await respond(text="finished", response_type="ephemeral")

    slack = world.slack
    delivery = await slack.slash_command(world.alice, world.general, "help")
    await slack.wait_for(lambda: slack.response_url_posts)
    assert delivery.acked
    assert delivery.ack_payload["text"] == "queued"
    assert delivery.attempts[0].envelope_id
    # The ack frame and respond()'s POST race, as they do against Slack.
    assert sorted(m.text for m in slack.ephemeral_messages(world.alice.id)) == ["finished", "queued"]


async def test_unacked_envelope_is_redelivered(app: AsyncApp, connected: Any, world: World) -> None:
    """An event bolt has no listener for is never acked, so it comes back with retry_attempt/reason."""
    retry_headers: list[str | None] = []

    @app.middleware
    async def remember(request: AsyncBoltRequest, next: Any) -> Any:
        retry_headers.append(request.headers.get("x-slack-retry-num", [None])[0])
        return await next()

    slack = world.slack
    root = await slack.post_message(world.alice, world.general, "no message listener here")
    await slack.settle()
    (delivery,) = slack.deliveries_about(world.general, root.ts)
    assert [(a.retry_num, a.retry_reason, a.outcome) for a in delivery.attempts] == [
        (0, "", "timeout"),
        (1, "timeout", "timeout"),
        (2, "timeout", "timeout"),
        (3, "timeout", "timeout"),
    ]
    assert len({a.envelope_id for a in delivery.attempts}) == 4
    assert retry_headers == ["0", "1", "2", "3"]  # bolt maps retry_attempt 0 to "0"


async def test_disconnect_frame_makes_the_client_reconnect(app: AsyncApp, connected: Any, world: World) -> None:
    """After a disconnect frame the sdk opens a new connection through apps.connections.open."""
    slack = world.slack
    assert await slack.disconnect_socket("refresh_requested", close_after=None) == 1
    await slack.wait_for(lambda: slack.socket_mode.connections_opened == 2, description="reconnect")
    assert len(slack.api_calls("apps.connections.open")) == 2

    @app.event("message")
    async def on_message(event: dict[str, Any], say: Any) -> None:
        await say(text="still here", thread_ts=event["ts"])

    root = await slack.post_message(world.alice, world.general, "ping")
    await slack.wait_for_reply(world.general, root.ts)
