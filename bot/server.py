"""Transports: Socket Mode when ``SLACK_APP_TOKEN`` is set, otherwise HTTP on ``HOST:PORT``.

In Socket Mode, start-up first asks Slack for a connection once, for at most ten seconds
(:func:`check_app_token`, before anything else starts): an app-level token Slack refuses stops the
bot with a message naming ``SLACK_APP_TOKEN``. The connection itself is made in the background by
:func:`serve` (slack_sdk retries it every ten seconds while Slack can't be reached, one warning
line each time), so a stop signal is heard meanwhile, and ``/healthz`` answers 503 until it is up.
Start-up then asks ``auth.test`` about the bot token, in both modes (:func:`check_bot_token`),
and first makes sure ``HOST:PORT`` is free (:func:`preflight` does all three).

Both serve ``GET /healthz`` and ``GET /metrics`` on ``HOST:PORT``. HTTP mode also serves ``POST /slack/events`` for
events, slash commands and buttons. Each request's signature and timestamp are checked before anything else
reads it: a request that fails gets 401 and one log line that shows none of its body (bolt, which checks
again, would log the whole body of a refused request).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.config import Settings
from bot.errors import BotError, ConfigError
from bot.slack.client import REINSTALL_ADVICE, TOKEN_REFUSALS, UNREACHABLE, build_web_client, open_socket_mode_url
from bot.slack.ingress import ignorable, ignorable_body

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def reparse_form(request: AsyncBoltRequest) -> AsyncBoltRequest:
    """Parse a form body bolt got wrong: any body containing the text ``payload`` is read as an
    interactive payload, so ``/interpreter print("payload")`` would arrive empty. A form whose
    fields hold no ``payload`` field is parsed as the plain form it is. The raw body is untouched,
    so the signature is still checked against exactly what Slack sent.
    """
    raw = request.raw_body
    if request.body or not raw or raw.startswith("{"):
        return request
    fields = dict(parse_qsl(raw, keep_blank_values=True))
    if "payload" in fields:
        return request  # a real interactive payload that did not parse: leave bolt's answer
    request.body = fields
    request.context = build_async_context(AsyncBoltContext({}), fields)
    return request


def signed_by_slack(verifier: SignatureVerifier, body: str, timestamp: str | None, signature: str | None) -> bool:
    """The request carries Slack's signature of this body, made in the last five minutes."""
    if not timestamp or not (timestamp.isascii() and timestamp.isdigit()) or not signature:
        return False  # the verifier would fail on a timestamp that is not a number
    return verifier.is_valid(body, timestamp, signature)


class BotTokenRefused(BotError):
    """Slack refused the bot token: nothing the bot would post could go out."""

    user_message = f"Slack refused SLACK_BOT_TOKEN: {REINSTALL_ADVICE}."


class SocketModeRefused(BotError):
    """Slack refused the app-level token: Socket Mode can't start."""

    user_message = (
        "Slack refused SLACK_APP_TOKEN. Under Basic Information, create an app-level token with "
        "connections:write and set SLACK_APP_TOKEN to it (or unset it to run in HTTP mode)."
    )


def build_web_app(
    bolt: AsyncApp,
    *,
    mode: str,
    signing_secret: str | None = None,
    metrics: Callable[[], Awaitable[str]] | None = None,
    connected: Callable[[], Awaitable[bool]] | None = None,
) -> web.Application:
    """The aiohttp application: the events endpoint (HTTP mode), the health check and the metrics.

    ``connected`` says whether the Socket Mode connection is up; until it is, ``/healthz`` answers 503.
    """
    if mode == "http" and not signing_secret:
        raise ValueError("HTTP mode needs the signing secret")
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def events(request: web.Request) -> web.StreamResponse:
        body = await request.text()
        headers = request.headers
        stamp, signature = headers.get("X-Slack-Request-Timestamp"), headers.get("X-Slack-Signature")
        if verifier is None or not signed_by_slack(verifier, body, stamp, signature):
            logger.warning("refused a request to %s from %s: no valid Slack signature", EVENTS_PATH, request.remote)
            return web.Response(status=401)
        if ignorable_body(body):
            return web.Response(status=200)
        grouped: dict[str, list[str]] = {}
        for name, value in headers.items():
            grouped.setdefault(name.lower(), []).append(value)
        bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=dict(grouped.items()))
        response = await bolt.async_dispatch(reparse_form(bolt_request))
        return await to_aiohttp_response(response)

    async def healthz(_: web.Request) -> web.Response:
        if connected is not None and not await connected():
            return web.json_response({"ok": False, "mode": mode, "connected": False}, status=503)
        return web.json_response({"ok": True, "mode": mode})

    web_app = web.Application()
    web_app.router.add_get("/healthz", healthz)
    if metrics is not None:
        web_app.router.add_get("/metrics", _metrics_page(metrics))
    if mode == "http":
        web_app.router.add_post(EVENTS_PATH, events)
    return web_app


@asynccontextmanager
async def serve(
    settings: Settings, bolt: AsyncApp, *, metrics: Callable[[], Awaitable[str]] | None = None
) -> AsyncIterator[str]:
    """Start the transport for the settings; yields the HTTP base URL actually bound.

    Call :func:`preflight` first: in Socket Mode a refused token would be retried here forever.
    """
    mode = "socket" if settings.socket_mode else "http"
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    socket_handler: AsyncSocketModeHandler | None = None
    connected: Callable[[], Awaitable[bool]] | None = None
    if settings.slack_app_token is not None:
        socket_handler = _SocketModeHandler(
            bolt, app_token=settings.slack_app_token.get_secret_value(), logger=socket_mode_logger()
        )
        connected = socket_handler.client.is_connected
    web_app = build_web_app(bolt, mode=mode, signing_secret=secret, metrics=metrics, connected=connected)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    connecting: asyncio.Task[None] | None = None
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as exc:  # taken since start-up's check_port, or PORT=0 had no free port
            raise cannot_listen(settings, exc) from exc
        url = _bound_url(runner, settings)
        if socket_handler is not None:
            connecting = asyncio.create_task(_connect(socket_handler, url), name="socket-mode-connect")
        else:
            where = "every interface" if settings.host in _ALL_INTERFACES else settings.host
            where = "every IPv6 interface" if settings.host == "::" else where
            logger.info("listening for Slack on %s, %s%s from this machine", where, url, EVENTS_PATH)
        yield url
    finally:
        if connecting is not None:
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
        if socket_handler is not None:
            await socket_handler.close_async()  # type: ignore[no-untyped-call]
        await runner.cleanup()


PREFLIGHT_S = 10.0


async def preflight(settings: Settings) -> None:
    """What start-up checks before it changes anything (the agent) or serves: the port is free,
    and Slack takes the tokens (the app-level token in Socket Mode, then the bot token)."""
    check_port(settings)
    if await check_app_token(settings):
        await check_bot_token(settings)


def check_port(settings: Settings) -> None:
    """``HOST:PORT`` can be listened on (another program may hold it); :func:`serve` binds it for real."""
    if settings.port == 0:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
            probe.bind(address)
    except OSError as exc:
        raise cannot_listen(settings, exc) from exc


def cannot_listen(settings: Settings, exc: OSError) -> ConfigError:
    """The error for a ``HOST:PORT`` that can't be listened on, naming both settings."""
    return ConfigError(
        [
            f"cannot listen on HOST={settings.host} PORT={settings.port} ({exc.strerror or exc}): "
            "set PORT to a free port, or HOST to an address of this machine"
        ]
    )


async def check_app_token(settings: Settings) -> bool:
    """In Socket Mode, ask Slack once whether the app-level token may open a connection (the URL
    is left unused); False when Slack could not be reached (HTTP mode: True, nothing to ask).

    A refused token stops start-up: slack_sdk would retry it forever. Anything else (Slack out of
    reach, silent, or failing) is left to the background connection :func:`serve` makes, which
    retries, and to ``/healthz``, which says so meanwhile.
    """
    if settings.slack_app_token is None:
        return True
    try:
        async with asyncio.timeout(PREFLIGHT_S):
            await open_socket_mode_url(settings.slack_app_token.get_secret_value(), settings.slack_api_url)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in TOKEN_REFUSALS:
            raise SocketModeRefused(f"apps.connections.open: {error}") from None
        logger.warning("Slack couldn't open Socket Mode just now (%s); trying again in the background", error)
    except UNREACHABLE as exc:
        logger.warning(
            "Slack can't be reached to open Socket Mode (%s: %s); trying again in the background",
            type(exc).__name__,
            exc,
        )
        return False
    return True


async def check_bot_token(settings: Settings) -> None:
    """Ask Slack once (``auth.test``, at most ten seconds) whether the bot token works.

    Nothing else would tell before the first event, which would then go unanswered. A refused
    token stops start-up; Slack out of reach or failing is a warning, and the bot starts (events
    may still arrive, and Slack may be back by then).
    """
    client = build_web_client(settings)
    try:
        async with asyncio.timeout(PREFLIGHT_S):
            await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in TOKEN_REFUSALS:
            raise BotTokenRefused(f"auth.test: {error}") from None
        logger.warning("Slack couldn't check the bot token just now (auth.test: %s)", error)
    except UNREACHABLE as exc:
        logger.warning(
            "Slack can't be reached at %s (%s: %s): the bot starts, but can't answer until it can; "
            "check the network and SLACK_API_URL",
            settings.slack_api_url,
            type(exc).__name__,
            exc,
        )


async def _connect(handler: AsyncSocketModeHandler, url: str) -> None:
    await handler.connect_async()  # type: ignore[no-untyped-call]
    logger.info("connected to Slack over Socket Mode; health check on %s/healthz", url)


class _OneLineConnectFailure(logging.Filter):
    """slack_sdk logs every failed try to open the Socket Mode connection with its traceback, every
    few seconds while Slack is out of reach; one warning line says as much."""

    def filter(self, record: logging.LogRecord) -> bool:
        failure = record.exc_info[1] if record.exc_info else None
        if not isinstance(failure, UNREACHABLE) or not record.getMessage().startswith("Failed to connect"):
            return True  # anything else (a bug, say) keeps its level and its traceback
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return logging.getLogger(record.name).isEnabledFor(logging.WARNING)


def socket_mode_logger() -> logging.Logger:
    """The Socket Mode client's logger (bolt's own), with connection failures on one line."""
    socket_logger = logging.getLogger("slack_bolt.socket_mode")
    if not any(isinstance(f, _OneLineConnectFailure) for f in socket_logger.filters):
        socket_logger.addFilter(_OneLineConnectFailure())
    return socket_logger


def _metrics_page(render: Callable[[], Awaitable[str]]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def metrics_page(_: web.Request) -> web.Response:
        return web.Response(text=await render(), content_type="text/plain", charset="utf-8")

    return metrics_page


class _SocketModeHandler(AsyncSocketModeHandler):
    """bolt's handler, acknowledging envelopes the bot never acts on without running bolt for them."""

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        if req.type == "events_api" and ignorable(req.payload):
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        await super().handle(client, req)


#: Hosts that bind every interface (the URL for this machine's own clients uses loopback).
_ALL_INTERFACES = ("0.0.0.0", "")  # noqa: S104


def _bound_url(runner: web.AppRunner, settings: Settings) -> str:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            host = "127.0.0.1" if settings.host in _ALL_INTERFACES else settings.host
            host = "[::1]" if settings.host == "::" else host
            return f"http://{host}:{address[1]}"
    return f"http://{settings.host}:{settings.port}"
