"""The Slack Web API client, built from the settings with the retries Slack needs.

slack_sdk retries only connection errors by default; a 429 would become an error. We add its
rate-limit handler (which waits ``Retry-After``) and the server-error handler. The token goes
only to ``SLACK_API_URL``'s host, which is Slack's own (or the emulator's).
"""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings


def build_web_client(settings: Settings, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """An ``AsyncWebClient`` for the bot token, pointed at ``SLACK_API_URL``.

    Pass a ``session`` to reuse its connections; without one, slack_sdk opens a new connection
    for every call, which costs more than the call itself when the bot is busy.
    """
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        session=session,
        timeout=30,
        retry_handlers=_retry_handlers(),
    )


#: What to do about a bot token Slack refuses (``check`` and start-up say the same).
REINSTALL_ADVICE = "reinstall the app and copy the Bot User OAuth Token (xoxb-…) into SLACK_BOT_TOKEN"

#: What a Web API call raises when Slack can't be reached at all (no answer, not a refusal).
UNREACHABLE: tuple[type[BaseException], ...] = (SlackClientError, aiohttp.ClientError, OSError, TimeoutError)

#: Errors (of ``apps.connections.open`` or ``auth.test``) that mean the token itself is wrong: no retry can help.
TOKEN_REFUSALS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "not_allowed_token_type"}
)


async def open_socket_mode_url(app_token: str, api_url: str) -> None:
    """Ask ``apps.connections.open`` for a Socket Mode URL with the app-level token, and leave it
    unused: this only finds out whether the token may connect. Raises what the call raises."""
    client = AsyncWebClient(token=app_token, base_url=api_url, timeout=30, retry_handlers=_retry_handlers())
    await client.apps_connections_open(app_token=app_token)


def _retry_handlers() -> list[AsyncRetryHandler]:
    """Connection errors, 429 (after ``Retry-After``) and server errors are tried again."""
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=4),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]
