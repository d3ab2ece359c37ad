"""Fixtures for the Slack emulator's tests: a running emulator, a small workspace, loopback apps.

Imported by the ``test_slack_*`` modules (the directory's ``conftest.py`` belongs to the Foundry
emulator suite); pytest registers each fixture under its ``name=``. Everything binds to
127.0.0.1 on port 0.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulators.slack import Channel, EmulatorConfig, RetryPolicy, SlackEmulator, User


@dataclass
class World:
    """A workspace with two people, a public and a private channel, and a DM with the bot."""

    slack: SlackEmulator
    alice: User
    bob: User
    general: Channel
    secret: Channel
    dm: Channel

    def mention(self, text: str = "") -> str:
        """Message text that @mentions the bot."""
        return f"<@{self.slack.bot.id}> {text}".rstrip()


@pytest.fixture(name="slack")
async def slack_fixture() -> AsyncIterator[SlackEmulator]:
    """A started emulator with the fast retry schedule (0.5 s ack timeout)."""
    async with SlackEmulator(EmulatorConfig(retry=RetryPolicy.fast())) as emulator:
        yield emulator


@pytest.fixture(name="world")
def world_fixture(slack: SlackEmulator) -> World:
    """People and conversations most tests need."""
    alice, bob = slack.add_user("alice", real_name="Alice"), slack.add_user("bob")
    return World(
        slack=slack,
        alice=alice,
        bob=bob,
        general=slack.add_channel("general", members=[alice, bob]),
        secret=slack.add_channel("secret", kind="private", members=[alice]),
        dm=slack.open_dm(alice),
    )


@pytest.fixture(name="client")
def client_fixture(slack: SlackEmulator) -> AsyncWebClient:
    """slack_sdk's async client pointed at the emulator with the bot token."""
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run an aiohttp app on a free loopback port; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Received:
    """One request the recorder got: verified signature, headers and decoded body."""

    signature_ok: bool
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Recorder:
    """A bare HTTP endpoint that checks signatures with slack_sdk and acks everything."""

    secret: str
    received: list[Received] = field(default_factory=list)

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        """Inner events received, optionally of one type."""
        inner = [r.body["event"] for r in self.received if "event" in r.body]
        return [e for e in inner if type_ is None or e["type"] == type_]

    async def handle(self, request: web.Request) -> web.Response:
        """Record the request; 200 with an empty body."""
        raw = await request.text()
        verifier = SignatureVerifier(self.secret)
        ok = verifier.is_valid(
            raw, request.headers.get("X-Slack-Request-Timestamp", ""), request.headers.get("X-Slack-Signature", "")
        )
        if request.content_type == "application/json":
            body = json.loads(raw)
        else:
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            body = json.loads(form["payload"]) if "payload" in form else form
        self.received.append(Received(ok, dict(request.headers), body))
        return web.Response(text="")


@pytest.fixture(name="recorder")
async def recorder_fixture(slack: SlackEmulator) -> AsyncIterator[Recorder]:
    """HTTP mode towards a :class:`Recorder`."""
    recording = Recorder(slack.signing_secret)
    app = web.Application()
    app.router.add_post("/slack/events", recording.handle)
    async with serve(app) as url:
        slack.use_http(f"{url}/slack/events")
        yield recording
