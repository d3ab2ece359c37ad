"""The composition root: open every resource once, wire the services, build the bolt app.

Nothing here lives at module level. ``open_services`` owns the database, the Foundry client
and the background tasks, and closes them in reverse order; ``create_app`` builds an
``AsyncApp`` from explicit arguments only (bolt would otherwise read ``os.environ`` itself).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import httpx
from azure.core.credentials_async import AsyncTokenCredential
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.agent import AgentRef, ensure_agent
from bot.config import Settings
from bot.files.download import SlackDownloader
from bot.files.intake import FileIntake
from bot.foundry.client import FoundryClient
from bot.foundry.connect import open_foundry
from bot.foundry.retry import RetryPolicy
from bot.governance.access import AccessPolicy
from bot.governance.gate import Gate
from bot.governance.limits import DailyLimits
from bot.governance.usage import Prices, UsageBook
from bot.http_client import http_client
from bot.lifecycle import Lifecycle
from bot.outputs.post import OutputPoster
from bot.relay import Relay
from bot.slack.client import build_web_client
from bot.slack.status import StatusBoard
from bot.turns.runner import TurnDeps, TurnRunner
from bot.turns.scheduler import TurnScheduler
from bot.turns.slots import SessionSlots
from bot.turns.spares import SpareConversations
from storage import Clock, open_store, utc_now
from storage.protocol import Store
from storage.url import parse_database_url

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """Everything the listeners call, opened once per process."""

    settings: Settings
    store: Store
    foundry: FoundryClient
    slack: AsyncWebClient
    agent: AgentRef
    relay: Relay
    runner: TurnRunner
    scheduler: TurnScheduler
    lifecycle: Lifecycle
    gate: Gate
    usage: UsageBook
    clock: Clock


#: The Slack client's limits on the shared session (slack_sdk's own ``timeout`` applies only to
#: sessions it opens itself): a Slack that stops answering fails a call instead of holding it
#: for aiohttp's default five minutes; a long upload still may take as long as it needs.
SLACK_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)


@dataclass(frozen=True)
class CleanupTiming:
    """How the clean-up worker paces itself (tests shorten these)."""

    #: The longest the worker sleeps between passes; it wakes sooner when a job falls due.
    interval: float = 30.0
    base_delay: float = 2.0
    max_attempts: int = 8
    #: How long a claimed job is left to its worker before another may take it. The worker renews
    #: it every third of that while it deletes, so this bounds how long a crashed worker's job
    #: waits, not how long a job may take.
    lease: timedelta = timedelta(seconds=10)


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    credential: AsyncTokenCredential | None = None,
    foundry_policy: RetryPolicy | None = None,
    clock: Clock = utc_now,
    cleanup: CleanupTiming | None = None,
) -> AsyncIterator[Services]:
    """Open the store and the Foundry client, make sure the agent exists, and resume unfinished work."""
    timing = cleanup or CleanupTiming()
    in_memory = parse_database_url(settings.database_url).in_memory
    if in_memory:
        logger.warning(
            "DATABASE_URL is sqlite:///:memory:, so the bot keeps nothing across a restart: threads lose "
            "their conversations and files, and what they used in Foundry is no longer cleaned up"
        )
    async with (
        open_store(settings.database_url, clock=clock) as store,
        open_foundry(settings, credential=credential, policy=foundry_policy) as foundry,
        http_client(timeout=httpx.Timeout(120, connect=10)) as downloads,
        aiohttp.ClientSession(timeout=SLACK_TIMEOUT) as slack_session,
    ):
        agent = await ensure_agent(foundry, settings)
        slack = build_web_client(settings, slack_session)
        statuses = StatusBoard(slack, store.set_turn_status_message)
        downloader = SlackDownloader(
            downloads, settings.slack_bot_token.get_secret_value(), api_url=settings.slack_api_url
        )
        intake = FileIntake(store, foundry, slack, downloader, max_bytes=settings.max_file_bytes, slots=agent.slots)
        outputs = OutputPoster(foundry, slack, store, max_files=settings.max_output_files)
        usage = UsageBook(store, Prices.from_settings(settings), clock)
        gate = Gate(AccessPolicy(settings), DailyLimits(store, settings, clock), store, slack)
        # A database in memory forgets its spare at exit, which would leave it in Foundry each time.
        spares = SpareConversations(foundry, store, settings.deployment, clock=clock, keep=0 if in_memory else 1)
        deps = TurnDeps(
            settings=settings,
            store=store,
            foundry=foundry,
            slack=slack,
            agent=agent,
            statuses=statuses,
            intake=intake,
            outputs=outputs,
            usage=usage,
            spares=spares,
        )
        runner = TurnRunner(deps)
        slots = SessionSlots(settings.max_concurrent_sessions)
        scheduler = TurnScheduler(store, runner.run, slots, settle=lambda: settle(statuses, spares))
        lifecycle = Lifecycle(
            store,
            foundry,
            slack,
            runner,
            idle_ttl=settings.thread_idle_ttl,
            clock=clock,
            interval=timing.interval,
            base_delay=timing.base_delay,
            max_attempts=timing.max_attempts,
            lease=timing.lease,
        )
        relay = Relay(deps, scheduler, lifecycle, gate)
        scheduler.on_wait = relay.waiting_for_sandbox
        services = Services(
            settings, store, foundry, slack, agent, relay, runner, scheduler, lifecycle, gate, usage, clock
        )
        resumed = await scheduler.resume(runner.resume)
        if resumed:
            logger.info("resuming %d turn(s) interrupted by the last stop", resumed)
        lifecycle.start()  # also picks up clean-up jobs a crash left behind
        try:
            yield services
        finally:
            spares.close()
            try:
                await lifecycle.aclose()
                await scheduler.aclose()
                await statuses.aclose()
            finally:
                await spares.aclose()


async def settle(statuses: StatusBoard, spares: SpareConversations) -> None:
    """Wait for the status lines and spare conversations still on their way (tests and the demo wait for it)."""
    await statuses.wait_idle()
    await spares.wait_idle()


class _HideTokenNotice(logging.Filter):
    """bolt warns that ``SLACK_BOT_TOKEN`` (which it reads itself) is unused when a client is given.

    We give the client on purpose, so the warning only confuses whoever reads the logs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def create_app(settings: Settings, services: Services) -> AsyncApp:
    """The bolt app with every listener registered, signature checks on in HTTP mode."""
    app = AsyncApp(
        client=services.slack,  # carries the token; bolt ignores a separate one
        signing_secret=settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else "",
        request_verification_enabled=not settings.socket_mode,
        process_before_response=False,
        logger=_bolt_logger(),
    )
    handlers.register(app, services)
    return app


def _bolt_logger() -> logging.Logger:
    bolt_logger = logging.getLogger("slack_bolt")
    if not any(isinstance(f, _HideTokenNotice) for f in bolt_logger.filters):
        bolt_logger.addFilter(_HideTokenNotice())
    return bolt_logger
