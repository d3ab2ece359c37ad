"""Command line: ``python -m bot <command>``.

Settings are read once here and handed down; a missing or malformed one ends the command with
one line per problem and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from bot.app import create_app, open_services
from bot.check import run_checks
from bot.config import Settings, load_settings
from bot.demo import run_demo
from bot.emulators.foundry import EmulatorConfig, FoundryEmulator
from bot.errors import BotError, ConfigError
from bot.foundry.connect import open_foundry
from bot.lifecycle import Lifecycle
from bot.maintenance import sweep, teardown
from bot.metrics import render_metrics
from bot.server import preflight, serve
from bot.slack.client import build_web_client
from storage import open_store

EXIT_CONFIG = 2
#: What the Foundry emulator's sandbox runs the model's code with (the ``emulator`` extra).
SANDBOX_PACKAGES = ("pandas", "matplotlib", "openpyxl")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(prog=_prog(), description="Code Interpreter for Slack.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")

    command("run", "run the bot (Socket Mode if SLACK_APP_TOKEN is set, else HTTP)")
    command("check", "check the settings, Slack, Foundry and the database, and report")
    command("demo", "run the bot between the Slack and Foundry emulators and play a conversation")
    sweep = command("sweep", "delete this deployment's conversations and files no live session owns")
    sweep.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    teardown = command("teardown", "end every session and delete everything this deployment made (stop the bot first)")
    teardown.add_argument("--yes", action="store_true", help="really do it (without: only say what would go)")
    emulate = command("emulate", "run a loopback emulator on its own")
    emulate.add_argument("service", choices=["foundry"], help="which service to emulate")
    emulate.add_argument("--port", type=int, default=0, help="TCP port (default: any free port)")
    emulate.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    return parser


def _prog() -> str:
    """``python -m bot`` when run as a module, else the installed command's own name."""
    invoked = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return "python -m bot" if invoked in ("", "__main__.py", "-m", "-c") else invoked


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit status."""
    args = build_parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        if args.command in ("emulate", "demo") and (missing := missing_sandbox_packages()):
            print(
                f"error: the emulator's sandbox needs {', '.join(missing)}, which are not installed. "
                "Install them with: pip install '.[emulator]' (bash scripts/demo does this for you).",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        if args.command == "emulate":
            return asyncio.run(_emulate_foundry(args.host, args.port))
        if args.command == "run":
            return _with_settings(lambda settings: asyncio.run(run_bot(settings)))
        if args.command == "demo":
            return asyncio.run(run_demo())
        if args.command == "check":
            return _with_settings(lambda settings: asyncio.run(check(settings)))
        if args.command in ("sweep", "teardown"):
            dry_run = args.dry_run if args.command == "sweep" else not args.yes
            return _with_settings(
                lambda settings: asyncio.run(maintain(settings, args.command, dry_run=dry_run)), serving=False
            )
    return 0


def missing_sandbox_packages() -> list[str]:
    """The ``emulator`` extra's packages this Python can't import."""
    return [name for name in SANDBOX_PACKAGES if importlib.util.find_spec(name) is None]


def _with_settings(command: Callable[[Settings], int], *, serving: bool = True) -> int:
    try:
        settings = load_settings(serving=serving)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    return command(settings)


def configure_logging(level: str) -> None:
    """Plain logs on stderr; client libraries that could print request headers stay at INFO or above."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("slack_sdk", "slack_bolt", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.INFO))
    # httpx logs every URL whole at INFO, and Slack's signed file URLs carry credentials in the query.
    for quiet in ("azure", "httpx", "httpcore"):
        logging.getLogger(quiet).setLevel(logging.WARNING)


async def run_bot(settings: Settings) -> int:
    """Run until SIGINT or SIGTERM, then finish cleanly.

    A signal during start-up (a slow Foundry, say) ends it there: nothing has run yet that needs
    finishing, so the start is cancelled rather than waited for.
    """
    configure_logging(settings.log_level)
    stop = asyncio.Event()
    started = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    running = asyncio.create_task(_serve_until(stop, started, settings))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not started.is_set() and not running.done():
        running.cancel()
    try:
        await running
    except asyncio.CancelledError:
        print("stopped while starting up", file=sys.stderr)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except BotError as exc:
        print(f"error: {exc.user_message}\n  detail: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve_until(stop: asyncio.Event, started: asyncio.Event, settings: Settings) -> None:
    await preflight(settings)  # a taken port or a refused token stops start-up before anything is changed
    async with open_services(settings) as services:
        bolt = create_app(settings, services)
        async with serve(settings, bolt, metrics=partial(render_metrics, services.store)) as url:
            settle_heap()
            started.set()
            mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
            print(f"Code Interpreter for Slack is running ({mode}); health check: {url}/healthz", flush=True)
            await stop.wait()


def settle_heap() -> None:
    """Collect once, then move every object that start-up made out of the collector's reach.

    Modules, settings and clients live as long as the process; without this, each full
    collection walks them all again, which pauses a burst of events for tens of milliseconds.
    """
    gc.collect()
    gc.freeze()


async def check(settings: Settings) -> int:
    """Print the report of :func:`bot.check.run_checks`; exit status 1 if anything failed."""
    findings = await run_checks(settings)
    for finding in findings:
        print(finding.line())
    failed = [f for f in findings if not f.ok]
    print("All checks passed." if not failed else f"{len(failed)} check(s) failed.")
    return 1 if failed else 0


async def maintain(settings: Settings, command: str, *, dry_run: bool) -> int:
    """Run ``sweep`` or ``teardown`` and print what it removed (or would remove)."""
    configure_logging(settings.log_level)
    try:
        async with open_store(settings.database_url) as store, open_foundry(settings) as foundry:
            lifecycle = Lifecycle(store, foundry, build_web_client(settings), None, idle_ttl=settings.thread_idle_ttl)
            if command == "sweep":
                report = await sweep(store, foundry, settings, dry_run=dry_run)
            else:
                report = await teardown(store, foundry, lifecycle, settings, dry_run=dry_run)
    except BotError as exc:
        print(f"error: {exc.user_message}\n  detail: {exc}", file=sys.stderr)
        return 1
    for line in report.lines(dry_run=dry_run):
        print(line)
    if dry_run and command == "teardown":
        print(
            "Nothing was changed. Stop the bot first (a running bot goes on making conversations, and can't "
            "answer once its agent is gone), then run `python -m bot teardown --yes`."
        )
    return 1 if report.unfinished_jobs else 0


async def _emulate_foundry(host: str, port: int) -> int:
    async with contextlib.AsyncExitStack() as stack:
        try:
            emulator = await stack.enter_async_context(FoundryEmulator(EmulatorConfig(), host=host, port=port))
        except OSError as exc:  # the port is in use, or the address isn't this machine's
            print(
                f"error: cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port", file=sys.stderr
            )
            return 1
        print("# Foundry emulator running. Point a bot at it: run these in the bot's shell. The two", flush=True)
        print("# IDENTITY_ variables must be in the environment itself: a .env file doesn't reach the credential.")
        print(f"export AZURE_AI_PROJECT_ENDPOINT={emulator.endpoint}")
        print("export AZURE_AI_MODEL_DEPLOYMENT_NAME=emulated-model")
        print(f"export IDENTITY_ENDPOINT={emulator.identity_endpoint}")
        print(f"export IDENTITY_HEADER={emulator.identity_header}", flush=True)
        print("Press Ctrl+C to stop.", file=sys.stderr, flush=True)
        await asyncio.Event().wait()
    return 0
