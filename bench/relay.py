"""Relay benchmark: the real bot against a minimal bolt relay, both between the two emulators.

For 1, 50 and 200 threads asking at once (one channel, one root message each mentioning the
app, a plain-text question the scripted model answers without running code, after a fixed model
delay), each target runs in its own process, in HTTP mode, with events signed and delivered by
the Slack emulator. Every scenario gets fresh emulators and a fresh process that has answered one
warm-up thread first. Figures per scenario and target:

* turns/s: answered turns / (last answer's ``chat.postMessage`` − first event delivery start);
* added latency per turn: (answer's ``chat.postMessage`` reached Slack − its event delivery
  started) − model delay, at p50 and p99;
* peak RSS: ``VmHWM`` of the process at the end.

Run ``python -m bench.relay`` from the repository root. The exit status is non-zero only when a
run failed (an answer never came); the targets are reported, not enforced.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.demo import DemoFailed, bot_subprocess, free_port, served_subprocess
from bot.emulators.foundry import EmulatorConfig as FoundryConfig
from bot.emulators.foundry import FoundryEmulator
from bot.emulators.slack import EmulatorConfig as SlackConfig
from bot.emulators.slack import SlackEmulator
from bot.emulators.slack.models import Channel, User

SCENARIOS = (1, 50, 200)
MODEL_DELAY_S = 0.5
#: No plot/describe/list-files keyword and no code: the scripted model answers in text, no sandbox.
QUESTION = "what can you do for me?"
STATUS_EVENT = "code_interpreter_status"
TARGETS = ("bot", "baseline")
BASELINE_AGENT = "bench-baseline"
BASELINE_APP = Path(__file__).with_name("baseline_app.py")
#: Target (a): bot added p50 within this factor of the baseline's, per scenario.
P50_FACTOR = 1.5
#: Target (b): bot added p99 at the most threads within this factor of its p99 at one thread.
P99_FACTOR = 2.0


class RunFailed(Exception):
    """A run could not finish: its target did not start or an answer never came."""


@dataclass
class Figures:
    """One target's figures for one scenario."""

    target: str
    threads: int
    turns_per_s: float = math.nan
    added_ms: list[float] = field(default_factory=list)
    peak_rss_mb: float = math.nan
    retried_deliveries: int = 0
    error: str | None = None

    @property
    def p50(self) -> float:
        return percentile(self.added_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.added_ms, 99)


def percentile(values: list[float], pct: float) -> float:
    """Linear-interpolated percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def peak_rss_mb(pid: int) -> float:
    """``VmHWM`` (peak resident set) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def _metadata_event(params: dict[str, Any]) -> str | None:
    metadata = params.get("metadata")
    if isinstance(metadata, str):
        return STATUS_EVENT if STATUS_EVENT in metadata else metadata or None
    if isinstance(metadata, dict):
        return metadata.get("event_type")
    return None


def answer_times(slack: SlackEmulator, channel: Channel, roots: set[str]) -> dict[str, float]:
    """When each thread's first answer (a bot post that is not a status line) reached Slack, epoch seconds."""
    found: dict[str, float] = {}
    for call in slack.api_calls("chat.postMessage"):
        thread = call.params.get("thread_ts")
        if (
            call.ok
            and call.params.get("channel") == channel.id
            and thread in roots
            and thread not in found
            and _metadata_event(call.params) != STATUS_EVENT
        ):
            found[thread] = call.at
    return found


def delivery_starts(slack: SlackEmulator, channel: Channel, roots: set[str]) -> tuple[dict[str, float], int]:
    """When the first delivery about each root message started (monotonic), and how many were retried."""
    starts: dict[str, float] = {}
    retried = 0
    for delivery in slack.deliveries(kind="events_api"):
        event = delivery.event
        ts = event.get("ts")
        if event.get("channel") != channel.id or ts not in roots or event.get("subtype") or not delivery.attempts:
            continue
        retried += len(delivery.attempts) > 1
        started = delivery.attempts[0].started_at
        starts[ts] = min(started, starts.get(ts, started))
    return starts, retried


async def wait_until(check: Any, patience: float, what: str, *, every: float = 0.05) -> None:
    """Poll ``check()`` until true; the answer times come from the emulator's records, not from here."""
    deadline = time.monotonic() + patience
    while not check():
        if time.monotonic() > deadline:
            raise RunFailed(f"no {what} within {patience:.0f} s")
        await asyncio.sleep(every)


async def ask(slack: SlackEmulator, person: User, channel: Channel, threads: int, patience: float) -> dict[str, Any]:
    """Post ``threads`` mentions at once; wait for every answer; return the raw timings."""
    mention = f"<@{slack.bot.id}> {QUESTION}"
    roots = [await slack.post_message(person, channel, mention) for _ in range(threads)]
    wanted = {root.ts for root in roots}
    try:
        await wait_until(
            lambda: len(answer_times(slack, channel, wanted)) == threads, patience, "answer in every thread"
        )
    except RunFailed:
        got = len(answer_times(slack, channel, wanted))
        raise RunFailed(f"{threads - got} of {threads} threads got no answer within {patience:.0f} s") from None
    return {"roots": wanted, "answers": answer_times(slack, channel, wanted)}


async def status_lines_done(slack: SlackEmulator, channel: Channel, roots: set[str], patience: float) -> None:
    """Wait until the bot has closed each thread's status line (it says Done), so its work is over."""

    def done() -> bool:
        return all(
            any(m.user == slack.bot.id and "Done" in (m.text or "") for m in slack.thread(channel, root))
            for root in roots
        )

    await wait_until(done, patience, "Done on every status line", every=0.2)


@asynccontextmanager
async def start_target(
    target: str, slack: SlackEmulator, foundry: FoundryEmulator, folder: Path, threads: int
) -> AsyncIterator[tuple[str, int]]:
    """The target's process, healthy; yields (base URL, pid)."""
    if target == "bot":
        cap = {"MAX_CONCURRENT_SESSIONS": str(max(threads, 1) + 1)}
        async with bot_subprocess(slack, foundry, folder, extra_env=cap) as (url, process):
            yield url, process.pid
        return
    version = await create_baseline_agent(foundry)
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "BOT_TOKEN": slack.bot_token,
        "SIGNING_SECRET": slack.signing_secret,
        "SLACK_API_URL": slack.api_url,
        "FOUNDRY_PROJECT_ENDPOINT": foundry.endpoint,
        "FOUNDRY_TOKEN": foundry.issue_token(),
        "FOUNDRY_AGENT_NAME": BASELINE_AGENT,
        "FOUNDRY_AGENT_VERSION": version,
        "PORT": str(port),
    }
    async with served_subprocess([str(BASELINE_APP)], env, folder, port, what="the baseline app") as (url, process):
        yield url, process.pid


async def create_baseline_agent(foundry: FoundryEmulator) -> str:
    """A prompt agent with Code Interpreter, as the bot has; returns its version."""
    definition = {
        "kind": "prompt",
        "model": "gpt-5-mini",
        "instructions": "Answer briefly.",
        "tools": [{"type": "code_interpreter", "container": {"type": "auto", "file_ids": []}}],
    }
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {foundry.issue_token()}"}) as http:
        reply = await http.post(
            f"{foundry.endpoint}/agents/{BASELINE_AGENT}/versions",
            params={"api-version": "v1"},
            json={"definition": definition},
        )
        reply.raise_for_status()
        return str(reply.json()["version"])


async def run_scenario(target: str, threads: int, patience: float) -> Figures:
    """Fresh emulators and process, one warm-up thread, then ``threads`` threads at once."""
    figures = Figures(target, threads)
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
        async with (
            FoundryEmulator(FoundryConfig(model_delay_s=MODEL_DELAY_S)) as foundry,
            SlackEmulator(SlackConfig()) as slack,
        ):
            try:
                async with start_target(target, slack, foundry, Path(tmp), threads) as (url, pid):
                    slack.use_http(f"{url}/slack/events")
                    alice = slack.add_user("alice")
                    warm = slack.add_channel("warm-up", members=[alice])
                    warmed = await ask(slack, alice, warm, 1, patience)
                    if target == "bot":
                        await status_lines_done(slack, warm, warmed["roots"], patience)
                    await slack.settle(patience)

                    channel = slack.add_channel("bench", members=[alice])
                    wall_minus_mono = time.time() - time.monotonic()
                    timings = await ask(slack, alice, channel, threads, patience)
                    if target == "bot":
                        await status_lines_done(slack, channel, timings["roots"], patience)
                    with contextlib.suppress(TimeoutError):  # a delivery waiting for a late retry; counted below
                        await slack.settle(10)
                    figures.peak_rss_mb = peak_rss_mb(pid)
                    starts, figures.retried_deliveries = delivery_starts(slack, channel, timings["roots"])
                    answers = {ts: at - wall_minus_mono for ts, at in timings["answers"].items()}
                    if set(starts) != set(answers):
                        raise RunFailed("an answered thread has no recorded event delivery")
                    figures.added_ms = [(answers[ts] - starts[ts] - MODEL_DELAY_S) * 1000 for ts in answers]
                    figures.turns_per_s = threads / (max(answers.values()) - min(starts.values()))
            except (RunFailed, DemoFailed, TimeoutError, httpx.HTTPError) as exc:
                figures.error = f"{target}, {threads} thread(s): {exc}"
    return figures


def fmt(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def report(results: dict[tuple[str, int], Figures], scenarios: tuple[int, ...]) -> list[str]:
    """Print the table and the targets; returns the failures."""
    head = (
        f"{'threads':>7} | {'bot turns/s':>11} | {'base turns/s':>12} | {'bot added p50/p99 ms':>20} | "
        f"{'base added p50/p99 ms':>21} | {'bot RSS MB':>10} | {'base RSS MB':>11}"
    )
    print(head)
    print("-" * len(head))
    for n in scenarios:
        bot, base = results[("bot", n)], results[("baseline", n)]
        print(
            f"{n:>7} | {fmt(bot.turns_per_s, 1):>11} | {fmt(base.turns_per_s, 1):>12} | "
            f"{fmt(bot.p50) + ' / ' + fmt(bot.p99):>20} | {fmt(base.p50) + ' / ' + fmt(base.p99):>21} | "
            f"{fmt(bot.peak_rss_mb, 1):>10} | {fmt(base.peak_rss_mb, 1):>11}"
        )
    retried = [f"{f.target} {f.threads}: {f.retried_deliveries}" for f in results.values() if f.retried_deliveries]
    print(
        f"\nModel delay {MODEL_DELAY_S * 1000:.0f} ms (subtracted). Event deliveries Slack retried: "
        + (", ".join(retried) if retried else "none")
        + "."
    )

    print("\nTargets:")
    for n in scenarios:
        bot, base = results[("bot", n)], results[("baseline", n)]
        limit = P50_FACTOR * base.p50
        ok = bot.p50 <= limit
        print(
            f"  (a) {n:>3} threads: bot added p50 {fmt(bot.p50)} ms <= {P50_FACTOR}x baseline p50 "
            f"({fmt(limit)} ms): {verdict(ok, bot, base)}"
        )
    one, most = results[("bot", min(scenarios))], results[("bot", max(scenarios))]
    limit = P99_FACTOR * one.p99
    print(
        f"  (b) bot added p99 at {max(scenarios)} threads {fmt(most.p99)} ms <= {P99_FACTOR}x p99 at "
        f"{min(scenarios)} thread ({fmt(limit)} ms): {verdict(most.p99 <= limit, one, most)}"
    )
    return [f.error for f in results.values() if f.error]


def verdict(ok: bool, *runs: Figures) -> str:
    if any(run.error for run in runs):
        return "FAIL (run failed)"
    return "PASS" if ok else "FAIL"


async def main_async(scenarios: tuple[int, ...], patience: float) -> int:
    results: dict[tuple[str, int], Figures] = {}
    started = time.monotonic()
    for n in scenarios:
        for target in TARGETS:
            print(f"running {target} with {n} thread(s)…", file=sys.stderr, flush=True)
            results[(target, n)] = await run_scenario(target, n, patience)
    sys.stderr.flush()
    print(f"\nRelay benchmark ({time.monotonic() - started:.0f} s)\n")
    failures = report(results, scenarios)
    for failure in failures:
        print(f"\nRUN FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=list(SCENARIOS), help="scenarios: threads asking at once"
    )
    parser.add_argument("--patience", type=float, default=60.0, help="seconds to wait for a scenario's answers")
    args = parser.parse_args(argv)
    return asyncio.run(main_async(tuple(sorted(set(args.threads))), args.patience))


if __name__ == "__main__":
    sys.exit(main())
