"""Relay benchmark: the real bot against a minimal bolt relay, both between the two emulators.

For 1, 50 and 200 threads asking at once (one channel, one root message per thread mentioning
the app, a plain-text question the scripted model answers in text without running code, after a
fixed model delay), each target runs as its own process in HTTP mode, with events signed and
delivered by the Slack emulator. Every scenario gets fresh emulators and a fresh process, which
answers one warm-up thread before the measured burst. A scenario of fewer than ``MIN_TURNS``
threads repeats its burst, in new threads, one burst after another, until it has that many turns
(so the 1-thread figures are ten lone questions, not one). Figures per scenario and target:

* turns/s: answered turns / (last answer's ``chat.postMessage`` − first event delivery start),
  the spans of repeated bursts added up;
* added latency per turn: (answer's ``chat.postMessage`` reached Slack − start of the first
  delivery of its event) − model delay, at p50 and p99;
* peak RSS: ``VmHWM`` of the process, read at the end of the scenario.

The bot's status line (``chat.postMessage`` with metadata ``code_interpreter_status``, then
``chat.update``) is not its answer: the answer is the first other bot post in the thread.

Run ``python -m bench.relay`` from the repository root. The exit status is non-zero only when a
run failed (a process did not start, or an answer was missing or wrong); targets are reported,
not enforced.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.demo import DemoFailed, bot_subprocess, free_port, served_subprocess
from bot.emulators.foundry import EmulatorConfig as FoundryConfig
from bot.emulators.foundry import FoundryEmulator
from bot.emulators.foundry.model import SMALL_TALK_REPLY
from bot.emulators.slack import EmulatorConfig as SlackConfig
from bot.emulators.slack import SlackEmulator
from bot.emulators.slack.models import Channel, User
from bot.emulators.slack.records import ApiCall

SCENARIOS = (1, 50, 200)
#: A scenario with fewer threads than this asks again, in new threads, until it has this many
#: turns (one burst after another): one turn is not a p50.
MIN_TURNS = 10
MODEL_DELAY_S = 0.5
#: No plot/describe/list-files keyword and no code: the scripted model answers in text, no sandbox.
QUESTION = "what can you do for me?"
#: A phrase of the scripted model's text answer, to tell an answer from an error message.
EXPECTED = "scripted model"
STATUS_EVENT = "code_interpreter_status"
TARGETS = ("bot", "baseline")
BASELINE_AGENT = "bench-baseline"
BASELINE_APP = Path(__file__).resolve().with_name("baseline_app.py")
#: Target (a): the bot's added p50 within this factor of the baseline's, per scenario.
P50_FACTOR = 1.5
#: Target (b): the bot's added p99 at the most threads within this factor of its p99 at one thread.
P99_FACTOR = 2.0

if EXPECTED not in SMALL_TALK_REPLY:
    raise SystemExit(f"the scripted model's text answer changed; update EXPECTED ({EXPECTED!r})")


class RunFailed(Exception):
    """A run could not finish: its process did not start, or an answer was missing or wrong."""


@dataclass
class Figures:
    """One target's figures for one scenario."""

    target: str
    threads: int
    turns_per_s: float = math.nan
    added_ms: list[float] = field(default_factory=list)
    peak_rss_mb: float = math.nan
    cpu_ms_per_turn: float = math.nan
    peak_responses: int = 0
    retried_deliveries: int = 0
    error: str | None = None

    @property
    def p50(self) -> float:
        return percentile(self.added_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.added_ms, 99)


def percentile(values: list[float], pct: float) -> float:
    """Linearly interpolated percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def peak_rss_mb(pid: int) -> float:
    """``VmHWM`` (peak resident set size) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a live process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _event_type(call: ApiCall) -> str | None:
    """The metadata ``event_type`` of a post (JSON bodies carry an object, forms a JSON string)."""
    metadata = call.params.get("metadata")
    if isinstance(metadata, dict):
        return metadata.get("event_type")
    if isinstance(metadata, str) and STATUS_EVENT in metadata:
        return STATUS_EVENT
    return None


def answers(slack: SlackEmulator, channel: Channel, roots: set[str]) -> dict[str, ApiCall]:
    """Each thread's first bot post that is not a status line."""
    found: dict[str, ApiCall] = {}
    for call in slack.api_calls("chat.postMessage"):
        thread = call.params.get("thread_ts")
        if (
            call.ok
            and thread in roots
            and thread not in found
            and call.params.get("channel") == channel.id
            and _event_type(call) != STATUS_EVENT
        ):
            found[thread] = call
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


async def wait_until(check: Callable[[], bool], patience: float, what: str, *, every: float = 0.05) -> None:
    """Poll ``check()`` until true; timings come from the emulator's records, not from this loop."""
    deadline = time.monotonic() + patience
    while not check():
        if time.monotonic() > deadline:
            raise RunFailed(f"no {what} within {patience:.0f} s")
        await asyncio.sleep(every)


async def ask(
    slack: SlackEmulator, person: User, channel: Channel, threads: int, patience: float
) -> dict[str, ApiCall]:
    """Post ``threads`` mentions at once, each a new thread; wait for every answer and check it."""
    mention = f"<@{slack.bot.id}> {QUESTION}"
    roots = {(await slack.post_message(person, channel, mention)).ts for _ in range(threads)}
    try:
        await wait_until(lambda: len(answers(slack, channel, roots)) == threads, patience, "answer in every thread")
    except RunFailed:
        missing = threads - len(answers(slack, channel, roots))
        raise RunFailed(f"{missing} of {threads} threads got no answer within {patience:.0f} s") from None
    found = answers(slack, channel, roots)
    for call in found.values():
        text = str(call.params.get("markdown_text") or call.params.get("text") or "")
        if EXPECTED not in text:
            raise RunFailed(f"a thread was answered with something else: {text[:200]!r}")
    return found


async def status_lines_done(slack: SlackEmulator, channel: Channel, roots: set[str], patience: float) -> None:
    """Wait until the bot has closed each thread's status line (it says Done): its turns are over."""

    def done() -> bool:
        bot = slack.bot.id
        return all(any(m.user == bot and "Done" in (m.text or "") for m in slack.thread(channel, r)) for r in roots)

    await wait_until(done, patience, "Done on every status line", every=0.2)


@asynccontextmanager
async def start_target(
    target: str, slack: SlackEmulator, foundry: FoundryEmulator, folder: Path, threads: int
) -> AsyncIterator[int]:
    """Start the target's process, wait until it is healthy, point Slack at it; yields its pid."""
    if target == "bot":
        # Above the burst (plus the warm-up thread) so the session cap never queues a turn.
        cap = {"MAX_CONCURRENT_SESSIONS": str(threads + 1)}
        async with bot_subprocess(slack, foundry, folder, extra_env=cap) as (url, process):
            slack.use_http(f"{url}/slack/events")
            yield process.pid
        return
    version = await create_baseline_agent(foundry)
    port = free_port()
    env = {
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
        slack.use_http(f"{url}/slack/events")
        yield process.pid


async def create_baseline_agent(foundry: FoundryEmulator) -> str:
    """A prompt agent with Code Interpreter, like the bot's; returns its version."""
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
                async with start_target(target, slack, foundry, Path(tmp), threads) as pid:
                    await measure(figures, slack, pid, patience)
                    figures.peak_responses = foundry.peak_responses_in_progress()
            except (RunFailed, DemoFailed, TimeoutError, httpx.HTTPError) as exc:
                figures.error = f"{target}, {threads} thread(s): {exc}"
    return figures


async def measure(figures: Figures, slack: SlackEmulator, pid: int, patience: float) -> None:
    """Warm up, then the burst (repeated in rounds until it made ``MIN_TURNS`` turns); fills in ``figures``."""
    alice = slack.add_user("alice")
    warm_up = slack.add_channel("warm-up", members=[alice])
    warmed = await ask(slack, alice, warm_up, 1, patience)
    if figures.target == "bot":
        await status_lines_done(slack, warm_up, set(warmed), patience)
    await slack.settle(patience)

    wall_minus_monotonic = time.time() - time.monotonic()  # ApiCall.at is wall time, Attempt.started_at monotonic
    rounds = math.ceil(MIN_TURNS / figures.threads)
    cpu_before = cpu_seconds(pid)
    busy = 0.0
    for number in range(rounds):
        channel = slack.add_channel(f"bench-{number}", members=[alice])
        answered = await ask(slack, alice, channel, figures.threads, patience)
        if figures.target == "bot":
            await status_lines_done(slack, channel, set(answered), patience)
        with contextlib.suppress(TimeoutError):  # a delivery still waiting for a retry; counted below
            await slack.settle(10)
        starts, retried = delivery_starts(slack, channel, set(answered))
        if set(starts) != set(answered):
            raise RunFailed("an answered thread has no recorded event delivery")
        figures.retried_deliveries += retried
        posted = {ts: call.at - wall_minus_monotonic for ts, call in answered.items()}
        figures.added_ms += [(posted[ts] - starts[ts] - MODEL_DELAY_S) * 1000 for ts in posted]
        busy += max(posted.values()) - min(starts.values())
    turns = rounds * figures.threads
    figures.cpu_ms_per_turn = (cpu_seconds(pid) - cpu_before) * 1000 / turns
    figures.peak_rss_mb = peak_rss_mb(pid)
    figures.turns_per_s = turns / busy


def growth(fewest: Figures, most: Figures) -> float:
    """How many times the added p99 grew from the fewest threads to the most; NaN when unknown."""
    return most.p99 / fewest.p99 if fewest.p99 > 0 else math.nan


def fmt(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def verdict(ok: bool, *runs: Figures) -> str:
    if any(run.error for run in runs):
        return "FAIL (run failed)"
    return "PASS" if ok else "FAIL"


def report(results: dict[tuple[str, int], Figures], scenarios: tuple[int, ...]) -> None:
    """Print the table, notes and targets."""
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

    print(f"\nModel delay {MODEL_DELAY_S * 1000:.0f} ms (subtracted from the added latency).")
    print("CPU per turn, ms (bot / baseline):", end="")
    print(
        ",".join(
            f" {n}: {fmt(results[('bot', n)].cpu_ms_per_turn, 1)} / {fmt(results[('baseline', n)].cpu_ms_per_turn, 1)}"
            for n in scenarios
        )
    )
    print("Most Foundry responses in flight at once (bot / baseline):", end="")
    print(
        ",".join(
            f" {n}: {results[('bot', n)].peak_responses} / {results[('baseline', n)].peak_responses}" for n in scenarios
        )
    )
    retried = [f"{f.target} {f.threads}: {f.retried_deliveries}" for f in results.values() if f.retried_deliveries]
    print("Event deliveries Slack had to retry:", ", ".join(retried) if retried else "none")

    print("\nTargets:")
    for n in scenarios:
        bot, base = results[("bot", n)], results[("baseline", n)]
        limit = P50_FACTOR * base.p50
        print(
            f"  (a) {n:>3} thread(s): bot added p50 {fmt(bot.p50)} ms <= {P50_FACTOR}x baseline added p50 "
            f"= {fmt(limit)} ms: {verdict(bot.p50 <= limit, bot, base)}"
        )
    one, most = results[("bot", min(scenarios))], results[("bot", max(scenarios))]
    limit = P99_FACTOR * one.p99
    print(
        f"  (b) bot added p99 at {max(scenarios)} threads {fmt(most.p99)} ms <= {P99_FACTOR}x bot added p99 at "
        f"{min(scenarios)} thread(s) = {fmt(limit)} ms: {verdict(most.p99 <= limit, one, most)}"
    )
    base_one, base_most = results[("baseline", min(scenarios))], results[("baseline", max(scenarios))]
    print(
        f"      for comparison, over the same range the bot's added p99 grows {fmt(growth(one, most), 1)}x "
        f"and the baseline's {fmt(growth(base_one, base_most), 1)}x"
    )


async def main_async(scenarios: tuple[int, ...], patience: float) -> int:
    results: dict[tuple[str, int], Figures] = {}
    started = time.monotonic()
    for n in scenarios:
        for target in TARGETS:
            print(f"running {target} with {n} thread(s)…", file=sys.stderr, flush=True)
            results[(target, n)] = await run_scenario(target, n, patience)
    print(
        f"\nRelay benchmark: {len(TARGETS) * len(scenarios)} runs in {time.monotonic() - started:.0f} s\n", flush=True
    )
    report(results, scenarios)
    failures = [f.error for f in results.values() if f.error]
    for failure in failures:
        print(f"RUN FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.relay", description="The bot's relay path against a minimal bolt relay."
    )
    parser.add_argument(
        "--threads", type=int, nargs="+", default=list(SCENARIOS), help="threads asking at once, per scenario"
    )
    parser.add_argument("--patience", type=float, default=60.0, help="seconds to wait for a scenario's answers")
    args = parser.parse_args(argv)
    scenarios = tuple(sorted(set(args.threads)))
    if not scenarios or min(scenarios) < 1:
        parser.error("--threads takes positive numbers")
    return asyncio.run(main_async(scenarios, args.patience))


if __name__ == "__main__":
    sys.exit(main())
