"""`python -m bot run` starting up: a refused token stops it, an absent Slack or a slow Foundry doesn't hang it."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from bot.demo import bot_environment, free_port
from bot.emulators.foundry import Fault, FoundryEmulator
from bot.emulators.slack import SlackEmulator

from .harness import running_bot


def socket_mode_env(slack: SlackEmulator, foundry: FoundryEmulator, folder: Path, **changes: str) -> dict[str, str]:
    """The environment of a Socket Mode deployment pointed at the emulators."""
    return bot_environment(slack, foundry, folder, **{"SLACK_APP_TOKEN": slack.app_token, **changes})


@asynccontextmanager
async def bot_process(env: dict[str, str], folder: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, cwd=folder,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def health(url: str, process: asyncio.subprocess.Process) -> int:
    """The first status ``/healthz`` answers (the process must stay up until it does)."""
    deadline = asyncio.get_running_loop().time() + 90
    async with httpx.AsyncClient() as http:
        while asyncio.get_running_loop().time() < deadline:
            assert process.returncode is None, "the bot exited at start-up"
            try:
                return (await http.get(f"{url}/healthz")).status_code
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise AssertionError("/healthz never answered")


async def unconnected_then_stopped(env: dict[str, str], folder: Path, *, logged: str = "") -> str:
    """The bot comes up without a Slack connection (/healthz: 503), and SIGTERM ends it cleanly
    (once its log has a line containing ``logged``); returns its log."""
    async with bot_process(env, folder) as process:
        assert await health(f"http://127.0.0.1:{env['PORT']}", process) == 503
        assert process.stderr is not None
        log = b""
        async with asyncio.timeout(60):
            while logged and logged.encode() not in log:
                line = await process.stderr.readline()
                assert line, f"the bot stopped logging before {logged!r}: {log.decode()}"
                log += line
        process.send_signal(signal.SIGTERM)
        _, rest = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0
    return (log + rest).decode()


async def test_a_refused_app_token_stops_start_up_naming_the_variable(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """Slack refusing SLACK_APP_TOKEN ends the process with the fix, instead of retrying forever,
    before anything is changed in Foundry (no agent is made for a bot that can't start)."""
    slack, foundry = pair
    env = socket_mode_env(slack, foundry, tmp_path, SLACK_APP_TOKEN="xapp-1-A0-0-wrong")
    async with bot_process(env, tmp_path) as process:
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert foundry.state.agents == {}
    assert "SLACK_APP_TOKEN" in stderr.decode()
    assert "xapp-1-A0-0-wrong" not in stderr.decode()
    assert "Unclosed" not in stderr.decode()  # nothing was left open on the way out


@pytest.mark.parametrize("socket_mode", [False, True], ids=["http mode", "socket mode"])
async def test_a_refused_bot_token_stops_start_up_naming_the_variable(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path, socket_mode: bool
) -> None:
    """Start-up asks Slack about SLACK_BOT_TOKEN (Socket Mode's connection uses the other token):
    a refusal ends it before Foundry is touched, instead of every event going unanswered."""
    slack, foundry = pair
    app_token = {"SLACK_APP_TOKEN": slack.app_token} if socket_mode else {}
    env = bot_environment(slack, foundry, tmp_path, SLACK_BOT_TOKEN="xoxb-0-0-wrong", **app_token)
    async with bot_process(env, tmp_path) as process:
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert "Slack refused SLACK_BOT_TOKEN" in stderr.decode()
    assert "xoxb-0-0-wrong" not in stderr.decode()
    assert "Unclosed" not in stderr.decode()
    assert foundry.state.agents == {}


async def test_slack_out_of_reach_in_http_mode_is_a_warning_and_the_bot_starts(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """No answer from SLACK_API_URL: one warning naming it; the bot serves, and a stop signal ends it."""
    slack, foundry = pair
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    env = bot_environment(slack, foundry, tmp_path, SLACK_API_URL=nowhere)
    async with bot_process(env, tmp_path) as process:
        assert await health(f"http://127.0.0.1:{env['PORT']}", process) == 200
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0
    assert "Unclosed" not in stderr.decode()
    [warning] = [line for line in stderr.decode().splitlines() if "can't be reached" in line]
    assert "WARNING" in warning
    assert nowhere in warning
    assert "SLACK_API_URL" in warning


async def test_a_port_in_use_stops_start_up_in_one_line_naming_the_setting(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """Another program listening on PORT: the bot says so and exits, without a traceback, before Foundry is touched."""
    slack, foundry = pair
    taken = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = taken.sockets[0].getsockname()[1]
    env = bot_environment(slack, foundry, tmp_path, HOST="127.0.0.1", PORT=str(port))
    try:
        async with bot_process(env, tmp_path) as process:
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        taken.close()
        await taken.wait_closed()
    assert process.returncode == 2  # as for any other setting
    assert stderr.decode().startswith(f"error: cannot listen on HOST=127.0.0.1 PORT={port} (")
    assert "Traceback" not in stderr.decode()
    assert foundry.state.agents == {}


async def test_slack_failing_to_open_a_connection_does_not_stop_start_up(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """Only a refused token stops start-up: Slack failing for a moment is waited out, and the bot connects."""
    slack, foundry = pair
    slack.fail("apps.connections.open", "service_unavailable", status=503)
    env = socket_mode_env(slack, foundry, tmp_path)
    slack.use_socket_mode()
    async with bot_process(env, tmp_path) as process:
        await slack.wait_for_socket_connection(timeout=60)
        assert process.returncode is None
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)
    assert process.returncode == 0


async def test_a_slack_that_never_answers_holds_start_up_ten_seconds_at_most(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """A firewall that swallows traffic doesn't hold start-up: /healthz comes up (503), and SIGTERM ends the bot."""
    slack, foundry = pair

    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()  # takes the connection, never answers
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    env = socket_mode_env(slack, foundry, tmp_path, SLACK_API_URL=f"http://127.0.0.1:{port}/api/")
    try:
        await unconnected_then_stopped(env, tmp_path)
    finally:
        done.set()
        server.close()
        await server.wait_closed()


async def test_while_slack_is_out_of_reach_health_says_so_and_a_stop_signal_is_heard(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """With Slack out of reach, /healthz answers 503 (not ok), each failed try to connect is one log
    line (no traceback), and SIGTERM still ends the bot cleanly."""
    slack, foundry = pair
    env = socket_mode_env(slack, foundry, tmp_path, SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/")
    log = await unconnected_then_stopped(env, tmp_path, logged="Failed to connect")
    assert "WARNING" in next(line for line in log.splitlines() if "Failed to connect" in line)
    assert "Traceback" not in log


async def test_a_stop_signal_during_a_slow_start_ends_the_bot(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path
) -> None:
    """SIGTERM while Foundry is slow to answer at start-up ends the bot at once, not after the wait."""
    slack, foundry = pair
    foundry.faults.add(Fault(route="agents.list_versions", kind="delay", delay_s=60, count=5))
    env = socket_mode_env(slack, foundry, tmp_path)
    async with bot_process(env, tmp_path) as process:
        for _ in range(600):
            if any(r.route == "agents.list_versions" for r in foundry.requests):
                break
            assert process.returncode is None, "the bot exited at start-up"
            await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0
    assert "stopped while starting up" in stderr.decode()


async def test_a_database_in_memory_is_warned_about(
    pair: tuple[SlackEmulator, FoundryEmulator], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``sqlite:///:memory:`` runs, but the log says what is lost at every restart."""
    slack, foundry = pair
    async with running_bot(slack, foundry, tmp_path / "unused.db", database_url="sqlite:///:memory:"):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("keeps nothing across a restart" in w for w in warnings)
