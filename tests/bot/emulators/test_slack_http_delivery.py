"""Events, commands and button presses over HTTP, received by a real bolt AsyncApp served by aiohttp."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.emulators.slack import SlackEmulator

# The *_fixture imports register pytest fixtures (by their name=), hence unused.
from tests.bot.emulators.conftest_slack import (  # noqa: F401
    World,
    client_fixture,
    serve,
    slack_fixture,
    world_fixture,
)


def bolt_app(slack: SlackEmulator, **options: Any) -> AsyncApp:
    """A bolt app wired to the emulator like the bot will be (explicit client and signing secret)."""
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    return AsyncApp(client=client, signing_secret=slack.signing_secret, **options)


async def test_bolt_replies_in_thread_to_signed_app_mention(world: World) -> None:
    """A signed app_mention reaches bolt, whose say(thread_ts=…) reply lands in the thread."""
    slack = world.slack
    app = bolt_app(slack)
    seen: list[str] = []

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        seen.append("app_mention")
        await say(text=f"hello <@{event['user']}>", thread_ts=event.get("thread_ts") or event["ts"])

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        seen.append("message")

    async with serve(app.web_app()) as url:
        slack.use_http(f"{url}/slack/events")
        root = await slack.post_message(world.alice, world.general, world.mention("hi"))
        reply = await slack.wait_for_reply(world.general, root.ts)
        await slack.settle()
    assert reply.text == f"hello <@{world.alice.id}>"
    assert reply.thread_ts == root.ts
    assert sorted(seen) == ["app_mention", "message"]
    mention, message = slack.deliveries()[:2]
    assert (mention.event_type, message.event_type) == ("app_mention", "message")
    assert mention.event_id != message.event_id
    assert all(d.attempts[0].status == 200 for d in slack.deliveries())
    assert slack.render_thread(world.general, root.ts)[1].endswith("code-interpreter [bot]: hello @alice")


async def test_bad_signature_is_refused_and_retried(world: World) -> None:
    """Signed with the wrong secret, bolt answers 401; Slack records it and retries with http_error."""
    slack = world.slack
    app = bolt_app(slack)
    slack.signing_secret = "not-the-apps-secret"

    @app.event("message")
    async def on_message() -> None:
        raise AssertionError("must not run")

    async with serve(app.web_app()) as url:
        slack.use_http(f"{url}/slack/events")
        await slack.post_message(world.alice, world.general, "hello")
        await slack.settle()
    (delivery,) = slack.deliveries()
    assert [a.status for a in delivery.attempts] == [401, 401, 401, 401]
    assert [a.request_headers.get("X-Slack-Retry-Num") for a in delivery.attempts] == [None, "1", "2", "3"]
    assert delivery.attempts[1].request_headers["X-Slack-Retry-Reason"] == "http_error"
    assert not delivery.acked


async def test_slow_handler_gets_retry_with_retry_headers(world: World) -> None:
    """A reply slower than the ack timeout counts as http_timeout; the retry carries X-Slack-Retry-Num."""
    slack = world.slack
    app = bolt_app(slack, process_before_response=True)
    headers_seen: list[tuple[str | None, str | None]] = []

    @app.event("message")
    async def slow(request: AsyncBoltRequest) -> None:
        retry = request.headers.get("x-slack-retry-num", [None])[0]
        headers_seen.append((retry, request.headers.get("x-slack-retry-reason", [None])[0]))
        if retry is None:
            await asyncio.sleep(0.8)

    async with serve(app.web_app()) as url:
        slack.use_http(f"{url}/slack/events")
        await slack.post_message(world.alice, world.general, "take your time")
        await slack.settle()
        (delivery,) = slack.deliveries()
        forced = await slack.redeliver(delivery, retry_num=3, reason="http_error")
    assert [a.outcome for a in delivery.attempts] == ["http_timeout", "acked", "acked"]
    assert forced.acked
    assert headers_seen == [(None, None), ("1", "http_timeout"), ("3", "http_error")]


async def test_slash_command_over_http_is_acked_and_response_url_works(world: World) -> None:
    """/interpreter arrives form-encoded; the ack shows ephemerally and respond() posts in channel."""
    slack = world.slack
    app = bolt_app(slack)

    @app.command("/interpreter")
    async def command(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        await ack(text=f"working on: {command['text']}")
        await respond(text="done", response_type="in_channel")

    async with serve(app.web_app()) as url:
        slack.use_http(f"{url}/slack/events")
        delivery = await slack.slash_command(world.alice, world.general, "sum 1 2")
        await slack.wait_for(lambda: slack.response_url_posts)
    assert delivery.acked
    assert delivery.ack_payload == {"text": "working on: sum 1 2"}
    assert [m.text for m in slack.ephemeral_messages(world.alice.id)] == ["working on: sum 1 2"]
    (post,) = slack.response_url_posts
    assert (post.status, post.effect) == (200, "posted_in_channel")
    assert slack.timeline(world.general)[-1].text == "done"


async def test_response_url_allows_five_uses(world: World) -> None:
    """A response_url answers ok five times, then used_url."""
    slack = world.slack
    payload = slack.interactions.command_payload(world.alice, world.general, "/interpreter", "x")
    webhook = AsyncWebhookClient(payload["response_url"])
    statuses = [(await webhook.send(text=f"n{n}")).status_code for n in range(6)]
    assert statuses == [200, 200, 200, 200, 200, 404]
    assert slack.response_url_posts[-1].error == "used_url"


async def test_button_press_reaches_bolt_action_and_replaces_message(client: AsyncWebClient, world: World) -> None:
    """Pressing a button sends block_actions with payload=; respond(replace_original) edits the message."""
    slack = world.slack
    app = bolt_app(slack)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Result"}},
        {
            "type": "actions",
            "block_id": "turn",
            "elements": [
                {
                    "type": "button",
                    "action_id": "show_code",
                    "value": "turn-1",
                    "text": {"type": "plain_text", "text": "Show code"},
                }
            ],
        },
    ]
    posted = await client.chat_postMessage(channel=world.general.id, text="Result", blocks=blocks)
    pressed: list[dict[str, Any]] = []

    @app.action("show_code")
    async def show_code(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        pressed.append(body)
        await respond(text="print(1)", replace_original=True)

    async with serve(app.web_app()) as url:
        slack.use_http(f"{url}/slack/events")
        delivery = await slack.press_button(world.bob, world.general, posted["ts"], "show_code")
        await slack.wait_for(lambda: slack.response_url_posts)
    assert delivery.acked
    body = pressed[0]
    assert body["actions"][0]["value"] == "turn-1"
    assert body["container"]["message_ts"] == posted["ts"]
    assert body["message"]["ts"] == posted["ts"]
    assert slack.response_url_posts[0].effect == "replaced_original"
    assert slack.timeline(world.general)[-1].text == "print(1)"


async def test_url_verification_is_answered_by_bolt(world: World) -> None:
    """verify_url sends the url_verification challenge and bolt echoes it."""
    slack = world.slack
    async with serve(bolt_app(slack).web_app()) as url:
        slack.use_http(f"{url}/slack/events")
        assert await slack.verify_url()


async def test_no_retry_header_stops_retries_and_down_app_is_connection_failed(world: World) -> None:
    """An error with X-Slack-No-Retry: 1 is not retried; an app that is down is retried as connection_failed."""
    slack = world.slack

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=500, headers={"X-Slack-No-Retry": "1"})

    refusing = web.Application()
    refusing.router.add_post("/slack/events", refuse)
    async with serve(refusing) as url:
        slack.use_http(f"{url}/slack/events")
        await slack.post_message(world.alice, world.general, "first")
        await slack.settle()
    await slack.post_message(world.alice, world.general, "second")
    await slack.settle()
    refused, unreachable = slack.deliveries()
    assert [(a.status, a.outcome) for a in refused.attempts] == [(500, "http_error")]
    assert [a.outcome for a in unreachable.attempts] == ["connection_failed"] * 4
    assert unreachable.attempts[1].request_headers["X-Slack-Retry-Reason"] == "connection_failed"
