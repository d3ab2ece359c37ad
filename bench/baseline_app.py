"""The smallest relay worth comparing against: bolt in HTTP mode, one Foundry call, one post.

An ``app_mention`` is acknowledged by bolt, then its listener sends the text to Foundry's
``POST /openai/v1/responses`` (not streamed, with an agent reference) and posts the answer in
the thread. No storage, no queue, no status message, no conversation. ``bench.relay`` starts it
as its own process, configured through these environment variables:

``BOT_TOKEN``, ``SIGNING_SECRET`` (not bolt's own variable names, which it would read itself),
``SLACK_API_URL``; ``FOUNDRY_PROJECT_ENDPOINT``, ``FOUNDRY_TOKEN`` (a bearer token),
``FOUNDRY_AGENT_NAME``, ``FOUNDRY_AGENT_VERSION``; ``PORT``.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import httpx
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

_MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")


def answer_text(response: dict[str, Any]) -> str:
    """The output text of a Responses API answer."""
    parts = [
        content.get("text", "")
        for item in response.get("output") or []
        if item.get("type") == "message"
        for content in item.get("content") or []
        if content.get("type") == "output_text"
    ]
    return "".join(parts) or "(no answer)"


def build(env: dict[str, str]) -> web.Application:
    """The aiohttp application: bolt's events endpoint and a health check."""
    slack = AsyncWebClient(token=env["BOT_TOKEN"], base_url=env["SLACK_API_URL"])
    app = AsyncApp(client=slack, signing_secret=env["SIGNING_SECRET"])
    # No pool cap: the baseline should show what the relay path costs, not wait for a connection.
    foundry = httpx.AsyncClient(
        base_url=env["FOUNDRY_PROJECT_ENDPOINT"],
        headers={"Authorization": f"Bearer {env['FOUNDRY_TOKEN']}"},
        timeout=60,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
    )
    reference = {
        "type": "agent_reference",
        "name": env["FOUNDRY_AGENT_NAME"],
        "version": env["FOUNDRY_AGENT_VERSION"],
    }

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], client: AsyncWebClient) -> None:
        question = _MENTION.sub("", event.get("text") or "").strip()
        reply = await foundry.post("/openai/v1/responses", json={"agent_reference": reference, "input": question})
        reply.raise_for_status()
        await client.chat_postMessage(
            channel=event["channel"], thread_ts=event.get("thread_ts") or event["ts"], text=answer_text(reply.json())
        )

    @app.event(re.compile(".*"))
    async def ignore() -> None:
        """Every other event (the ``message`` twin of a mention, our own posts) is acknowledged and dropped."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def close_foundry(_: web.Application) -> None:
        await foundry.aclose()

    web_app = app.web_app(path="/slack/events", port=int(env["PORT"]))
    web_app.router.add_get("/healthz", healthz)
    web_app.on_cleanup.append(close_foundry)
    return web_app


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    env = dict(os.environ)
    web.run_app(build(env), host="127.0.0.1", port=int(env["PORT"]), access_log=None, print=None)


if __name__ == "__main__":
    main()
