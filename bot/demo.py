"""``python -m bot demo``: the real bot between the two emulators, playing a short conversation.

The bot runs as its own process, ``python -m bot run``, configured only through the environment
variables a deployment would set, so the demo shows exactly what production runs. Each step
waits for the bot's answer and checks it; the demo exits non-zero if any step did not happen.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import httpx

from bot.emulators.foundry import EmulatorConfig as FoundryConfig
from bot.emulators.foundry import FoundryEmulator
from bot.emulators.slack import EmulatorConfig as SlackConfig
from bot.emulators.slack import FileUpload, SlackEmulator
from bot.emulators.slack.models import Channel, Message, User

#: Sample data shipped with the package for the demo.
DEMO_DATA = Path(__file__).parent / "demo_data"

#: Variables of the parent environment the bot must not inherit: it gets exactly the demo's.
_OWN_PREFIXES = ("SLACK_", "AZURE_", "IDENTITY_", "MSI_", "DATABASE_", "AGENT_", "FOUNDRY_")


@dataclass(frozen=True)
class Step:
    """One thing a person does, and what the bot's answer must contain."""

    title: str
    expect: str


NEXT_STEPS = """
Next: `python -m bot emulate foundry` runs the Foundry emulator on its own, for `python -m bot check`
and `python -m bot run` to try against; README.md, "Running it for real", connects a real Slack app
and Foundry project."""


class DemoFailed(Exception):
    """A step of the demo did not happen."""


async def run_demo(*, patience: float = 60.0) -> int:
    """Play the conversation; print each thread; 0 when every step happened."""
    with tempfile.TemporaryDirectory(prefix="ci-demo-") as tmp:
        async with (
            FoundryEmulator(FoundryConfig()) as foundry,
            SlackEmulator(SlackConfig()) as slack,
            bot_process(slack, foundry, Path(tmp)) as url,
        ):
            slack.use_http(f"{url}/slack/events")
            try:
                await play(slack, patience)
            except DemoFailed as exc:
                print(f"\nDEMO FAILED: {exc}", file=sys.stderr)
                return 1
    print("\nAll demo steps happened.")
    print(NEXT_STEPS)
    return 0


async def play(slack: SlackEmulator, patience: float) -> None:
    """The scripted conversation: a mention, a follow-up, a DM, a CSV drop, a chart and its code."""
    alice = slack.add_user("alice", real_name="Alice Analyst")
    bob = slack.add_user("bob", real_name="Bob Builder")
    channel = slack.add_channel("analytics", members=[alice, bob])
    bot = f"<@{slack.bot.id}>"

    root = await say(
        slack,
        alice,
        channel,
        f"{bot} How much is 100 after 10 years at 5 % a year?\n"
        "```python\ngrowth = round(100 * 1.05 ** 10, 2)\nprint(growth)\n```",
    )
    await expect(slack, channel, root.ts, Step("a mention is answered in its thread", "162.89"), patience)
    await say(slack, bob, channel, "And twice that?\n```python\nprint(growth * 2)\n```", thread_ts=root.ts)
    step = Step("a follow-up needs no mention and sees earlier variables", "325.78")
    await expect(slack, channel, root.ts, step, patience)
    show(slack, channel, root.ts, "#analytics")

    dm = slack.open_dm(bob)
    question = await say(
        slack, bob, dm, "Mean of 3, 5 and 8?\n```python\nimport statistics\nprint(statistics.mean([3, 5, 8]))\n```"
    )
    await expect(slack, dm, question.ts, Step("a DM is answered", "5.333"), patience)
    show(slack, dm, question.ts, "DM with bob")

    sales = FileUpload("sales.csv", path=DEMO_DATA / "sales.csv")
    drop = await slack.post_message(alice, channel, f"{bot} describe the data", files=[sales])
    await expect(slack, channel, drop.ts, Step("a dropped CSV is attached", "Attached sales.csv"), patience)
    await expect(slack, channel, drop.ts, Step("a question about the CSV is answered", "revenue"), patience)
    await say(slack, alice, channel, "plot revenue by month", thread_ts=drop.ts)
    await expect(slack, channel, drop.ts, Step("a chart is asked for", "sales_chart.png"), patience)
    chart = await posted_file(slack, channel, drop.ts, "sales_chart.png", patience)
    saved = save_output(chart)
    print(f"ok: the chart was posted in the thread (saved to {saved})")
    await press_show_code(slack, alice, channel, drop.ts, patience)
    show(slack, channel, drop.ts, "#analytics, with a file")
    step = Step("/interpreter status lists the channel's live sessions", "Live sessions in")
    await private_reply(slack, alice, channel, "status", step, patience)
    await private_reply(
        slack, alice, channel, "usage", Step("/interpreter usage shows today's use", "You: today"), patience
    )


async def say(
    slack: SlackEmulator, user: User, channel: Channel, text: str, *, thread_ts: str | None = None
) -> Message:
    """Post as a person would."""
    return await slack.post_message(user, channel, text, thread_ts=thread_ts)


async def expect(slack: SlackEmulator, channel: Channel, root_ts: str, step: Step, patience: float) -> None:
    """Wait for the bot's answer containing the expected text, and for its status line to say done."""
    try:
        answer = await slack.wait_for_reply(channel, root_ts, contains=step.expect, timeout=patience)
        await slack.wait_for(lambda: not _still_running(slack, channel, root_ts), timeout=patience)
    except TimeoutError as exc:
        raise DemoFailed(f"{step.title}: no answer containing {step.expect!r}\n{exc}") from None
    print(f"ok: {step.title} ({answer.ts})")


async def private_reply(
    slack: SlackEmulator, user: User, channel: Channel, text: str, step: Step, patience: float
) -> None:
    """Type ``/interpreter text`` and print the reply only that person sees."""
    seen = len(slack.response_url_posts)
    await slack.slash_command(user, channel, text)
    try:
        await slack.wait_for(lambda: len(slack.response_url_posts) > seen, timeout=patience)
    except TimeoutError:
        raise DemoFailed(f"{step.title}: no reply to /interpreter {text}") from None
    reply = str(slack.response_url_posts[-1].body.get("text") or "")
    if step.expect not in reply:
        raise DemoFailed(f"{step.title}: the reply lacks {step.expect!r}:\n{reply}")
    print(f"ok: {step.title}\n\n--- /interpreter {text} (only {user.name} sees this) ---")
    print(reply)


async def posted_file(slack: SlackEmulator, channel: Channel, root_ts: str, name: str, patience: float) -> Path:
    """The path of a file the bot shared in the thread, once it is there."""

    def find() -> Path | None:
        for message in slack.thread(channel, root_ts):
            for file_id in message.files or []:
                stored = slack.core.files.get(file_id)
                if message.user == slack.bot.id and stored is not None and fnmatch(stored.name, name):
                    return stored.path
        return None

    try:
        await slack.wait_for(lambda: find() is not None, timeout=patience)
    except TimeoutError:
        raise DemoFailed(f"{name} never arrived in the thread") from None
    found = find()
    assert found is not None
    return found


def save_output(path: Path, folder: Path = Path("demo-output")) -> Path:
    """Keep a copy of a file the bot posted, for a person to open after the demo."""
    folder.mkdir(exist_ok=True)
    target = folder / "sales_chart.png"
    target.write_bytes(path.read_bytes())
    return target


async def press_show_code(slack: SlackEmulator, user: User, channel: Channel, root_ts: str, patience: float) -> None:
    """Press Show code on the newest finished turn and wait for the snippet."""
    status = [m for m in slack.thread(channel, root_ts) if m.user == slack.bot.id and "Done in" in (m.text or "")]
    if not status:
        raise DemoFailed("no finished turn to show the code of")
    await slack.press_button(user, channel, status[-1].ts, "show_code")
    await posted_file(slack, channel, root_ts, "code-turn-*.py", patience)
    print("ok: Show code posted the code that ran")


def _still_running(slack: SlackEmulator, channel: Channel, root_ts: str) -> bool:
    """Whether a status line in the thread still offers Stop (its turn is not over)."""
    return any(
        element.get("action_id") == "stop_turn"
        for message in slack.thread(channel, root_ts)
        for block in message.blocks or []
        for element in block.get("elements", [])
    )


def show(slack: SlackEmulator, channel: Channel, root_ts: str, title: str) -> None:
    """Print the thread as a person sees it."""
    print(f"\n--- {title} ---")
    for line in slack.render_thread(channel, root_ts):
        print(line)


@asynccontextmanager
async def bot_process(
    slack: SlackEmulator, foundry: FoundryEmulator, folder: Path, *, extra_env: Mapping[str, str] | None = None
) -> AsyncIterator[str]:
    """``python -m bot run`` with a deployment's environment; yields its base URL once healthy."""
    async with bot_subprocess(slack, foundry, folder, extra_env=extra_env) as (url, _):
        yield url


@asynccontextmanager
async def bot_subprocess(
    slack: SlackEmulator, foundry: FoundryEmulator, folder: Path, *, extra_env: Mapping[str, str] | None = None
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """:func:`bot_process`, also yielding the process (for benchmarks that read its memory)."""
    env = bot_environment(slack, foundry, folder, **(extra_env or {}))
    async with served_subprocess(["-m", "bot", "run"], env, folder, int(env["PORT"]), what="the bot") as served:
        yield served


def bot_environment(slack: SlackEmulator, foundry: FoundryEmulator, folder: Path, **changes: str) -> dict[str, str]:
    """The environment of ``python -m bot run`` pointed at the emulators (HTTP mode, on a free port,
    its database in ``folder``), with ``changes`` on top; this process's own settings are left out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    env.update(
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET=slack.signing_secret,
        SLACK_API_URL=slack.api_url,
        AZURE_AI_PROJECT_ENDPOINT=foundry.endpoint,
        AZURE_AI_MODEL_DEPLOYMENT_NAME="gpt-5-mini",
        IDENTITY_ENDPOINT=foundry.identity_endpoint,
        IDENTITY_HEADER=foundry.identity_header,
        DATABASE_URL=f"sqlite:///{folder / 'bot.db'}",
        HOST="127.0.0.1",
        PORT=str(free_port()),
        LOG_LEVEL="WARNING",
    )
    env.update(changes)
    return env


@asynccontextmanager
async def served_subprocess(
    args: Sequence[str], env: Mapping[str, str], folder: Path, port: int, *, what: str
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """``python <args>`` serving ``/healthz`` on ``port``; yields (base URL, process) once healthy, stops it after."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, env=dict(env), cwd=folder, stdout=asyncio.subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(url, process, what=what)
        yield url, process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _wait_healthy(url: str, process: asyncio.subprocess.Process, patience: float = 60.0, *, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + patience
    async with httpx.AsyncClient() as http:
        while asyncio.get_running_loop().time() < deadline:
            if process.returncode is not None:
                raise DemoFailed(f"{what} exited at start-up with status {process.returncode}")
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise DemoFailed(f"{what} did not become healthy within a minute")


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
