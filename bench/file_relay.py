"""File relay benchmark: the bot's Slack → Foundry file path against a plain httpx copy.

For files of 1, 64 and 256 MB (MB = 2**20 bytes; a generated ``.csv`` of repeated ``1,2,3,4``
lines, which passes the type gate), dropped by a person in the Slack emulator, each target
relays the file to the Foundry emulator in a fresh process of its own (``bench.file_relay_worker``):

* ``bot``: the bot's real pieces as ``bot.app.open_services`` builds them (store on a temporary
  SQLite file, ``open_foundry`` with the real ``DefaultAzureCredential`` signing in at the
  emulator's managed-identity endpoint, ``SlackDownloader``, ``FileIntake``), then
  ``FileIntake.attach`` of the file object as ``files.info`` returns it: download while
  hashing, the type gate on the file's first 64 KiB, a streamed multipart upload that takes the
  bytes as they arrive (held in memory up to 4 MB, passed straight on above), its last bytes
  sent once the whole file passed the gate;
* ``baseline``: httpx only, the Slack GET (bot token) streamed straight into a streamed
  multipart POST to ``/openai/v1/files`` (framed by ``bot.foundry.multipart.StreamedMultipart``).

Each process first relays a 256 KB warm-up file the same way (then deletes its upload), as a bot
that has been running has relayed files before, so the timed relay is not a new process's first
calls; ``--cold`` skips it. Both emulators run in this process, on loopback. Runs alternate
bot/baseline; each size runs
``--runs`` times per target (default 5, at least 2), and three times as often for files under
16 MB, whose relays last a few milliseconds. Reported per size: the best throughput of
each target, their ratio, and the largest peak-RSS growth of each (``VmHWM`` at the end −
``VmHWM`` when the relay started, the peak being reset to the current RSS first where the kernel
allows it), then how the bot's best run split its time. Every upload is checked: the Foundry
emulator's stored sha256 must equal the source file's.

Targets (reported, not enforced): bot peak-RSS growth under 32 MB at every size; bot throughput
at least 70 % of the baseline's at every size. Exit status 1 only when a relay failed or a hash
did not match. Run ``python -m bench.file_relay`` from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.emulators.foundry import FoundryEmulator
from bot.emulators.slack import EmulatorConfig as SlackConfig
from bot.emulators.slack import FileUpload, SlackEmulator
from bot.emulators.slack.models import Channel, User

MiB = 1024 * 1024
SIZES_MB = (1, 64, 256)
TARGETS = ("bot", "baseline")
PATTERN = b"1,2,3,4\n"
#: Relayed by each process before the measured file, as a running bot has relayed files before.
WARM_UP_BYTES = 256 * 1024
#: Target (a): the bot's peak RSS may grow by less than this while it relays a file.
RSS_LIMIT_MB = 32.0
#: Target (b): the bot's throughput is at least this share of the baseline's.
MIN_RATIO = 0.70
WORKER_TIMEOUT_S = 180.0
#: Files smaller than this many MB run ``SMALL_RUNS_FACTOR`` times as often: a relay of a few
#: milliseconds moves by a large share of itself with the machine's scheduling, one of 0.3 s hardly.
SMALL_MB = 16
SMALL_RUNS_FACTOR = 3
REPO_ROOT = Path(__file__).resolve().parents[1]


class RunFailed(Exception):
    """A relay did not finish, or Foundry did not hold the same bytes."""


@dataclass
class Result:
    """One relay by one target."""

    target: str
    size: int
    elapsed_s: float
    growth_mb: float
    phases_s: dict[str, float]
    hwm_reset: bool

    @property
    def mb_per_s(self) -> float:
        return self.size / MiB / self.elapsed_s


@dataclass
class SizeFigures:
    """Every run of every target for one file size."""

    size_mb: int
    runs: dict[str, list[Result]] = field(default_factory=lambda: {t: [] for t in TARGETS})

    def best(self, target: str) -> Result:
        return max(self.runs[target], key=lambda r: r.mb_per_s)

    def median(self, target: str) -> float:
        """The median throughput of the target's runs, in MB/s."""
        return statistics.median(r.mb_per_s for r in self.runs[target])

    def growth(self, target: str) -> float:
        return max(r.growth_mb for r in self.runs[target])

    def ratio(self) -> float:
        return self.best("bot").mb_per_s / self.best("baseline").mb_per_s

    def paired_ratio(self) -> float:
        """The median of each bot run's throughput over that of the baseline run right after it
        (runs alternate), which the machine's drift over a command affects least."""
        pairs = zip(self.runs["bot"], self.runs["baseline"], strict=True)
        return statistics.median(bot.mb_per_s / base.mb_per_s for bot, base in pairs)


def runs_for(size_mb: int, runs: int) -> int:
    """How many runs a size gets per target: ``runs``, or more for a small file."""
    return runs * SMALL_RUNS_FACTOR if size_mb < SMALL_MB else runs


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def worker_env(foundry: FoundryEmulator, tmp: Path) -> dict[str, str]:
    """This environment without Azure sign-in variables, pointed at the Foundry emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
    env.update(foundry.environment())
    env["TMPDIR"] = str(tmp)  # the bot's spool folder, removed with the rest at the end
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


async def run_worker(job: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.file_relay_worker",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=REPO_ROOT,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(job).encode()), WORKER_TIMEOUT_S)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    lines = out.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = err.decode(errors="replace").strip()[-2000:]
        raise RunFailed(f"{job['target']} worker exited with {proc.returncode}: {tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


async def drop_file(slack: SlackEmulator, user: User, channel: Channel, size: int) -> tuple[dict[str, Any], str]:
    """A person drops a generated .csv of ``size`` bytes; returns its ``files.info`` object and the source's sha256."""
    name = f"bench-{size // MiB}mb.csv" if size % MiB == 0 else f"bench-{size // 1024}kb.csv"
    upload = FileUpload(name, size=size, pattern=PATTERN)
    message = await slack.post_message(user, channel, "", files=[upload])
    file_id = message.files[0]
    stored = slack.core.files.get(file_id)
    assert stored is not None
    return slack.file_info(file_id), await asyncio.to_thread(sha256_of, stored.path)


async def relay_once(
    target: str,
    file_obj: dict[str, Any],
    root_ts: str,
    source_sha: str,
    *,
    warm_up: dict[str, Any] | None,
    slack: SlackEmulator,
    foundry: FoundryEmulator,
    tmp: Path,
    run: int,
) -> Result:
    database = tmp / f"{target}-{file_obj['id']}-{run}.db"
    job = {
        "target": target,
        "file": file_obj,
        "warm_up": warm_up,
        "cold": warm_up is None,
        "root_ts": root_ts,
        "bot_token": slack.bot_token,
        "slack_api_url": slack.api_url,
        "foundry_endpoint": foundry.endpoint,
        "database_url": f"sqlite:///{database}",
    }
    answer = await run_worker(job, worker_env(foundry, tmp))
    if not answer["ok"] or not answer["foundry_file_id"]:
        raise RunFailed(f"{target} did not relay {file_obj['name']}: {answer['detail']}")
    file_id = answer["foundry_file_id"]
    stored_sha = foundry.stored_file_sha256(file_id)
    await delete_upload(foundry, file_id)  # keep one copy on disk at a time
    if stored_sha != source_sha:
        raise RunFailed(f"{target}: Foundry stored sha256 {stored_sha}, the source is {source_sha}")
    growth_kb = answer["after_kb"]["VmHWM"] - answer["before_kb"]["VmHWM"]
    return Result(
        target=target,
        size=int(file_obj["size"]),
        elapsed_s=float(answer["elapsed_s"]),
        growth_mb=growth_kb / 1024,
        phases_s=answer["phases_s"],
        hwm_reset=bool(answer["hwm_reset"]),
    )


async def delete_upload(foundry: FoundryEmulator, file_id: str) -> None:
    headers = {"Authorization": f"Bearer {foundry.issue_token()}"}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.delete(f"{foundry.endpoint}/openai/v1/files/{file_id}", headers=headers)
        response.raise_for_status()


async def measure(sizes: list[int], runs: int, *, cold: bool) -> list[SizeFigures]:
    figures: list[SizeFigures] = []
    with tempfile.TemporaryDirectory(prefix="bench-file-relay-") as folder:
        tmp = Path(folder)
        slack_config = SlackConfig(bot_events=frozenset(), file_dir=str(tmp / "slack-files"))
        async with SlackEmulator(slack_config) as slack, FoundryEmulator() as foundry:
            alice = slack.add_user("alice")
            channel = slack.add_channel("bench", members=[alice])
            warm_up = None if cold else (await drop_file(slack, alice, channel, WARM_UP_BYTES))[0]
            for size_mb in sizes:
                file_obj, source_sha = await drop_file(slack, alice, channel, size_mb * MiB)
                size_figures = SizeFigures(size_mb)
                for run in range(runs_for(size_mb, runs)):
                    for target in TARGETS:
                        result = await relay_once(
                            target,
                            file_obj,
                            f"{time.time():.6f}",  # a new thread (session) per run: no dedup
                            source_sha,
                            warm_up=warm_up,
                            slack=slack,
                            foundry=foundry,
                            tmp=tmp,
                            run=run,
                        )
                        size_figures.runs[target].append(result)
                        print(
                            f"  {size_mb:>3} MB run {run + 1} {target:<8} {result.mb_per_s:7.1f} MB/s "
                            f"{result.elapsed_s:6.2f} s  peak RSS +{result.growth_mb:.1f} MB" + _phases(result),
                            flush=True,
                        )
                figures.append(size_figures)
    return figures


def _phases(result: Result) -> str:
    if not result.phases_s:
        return ""
    parts = [f"{name} {seconds:.2f} s" for name, seconds in result.phases_s.items()]
    return f"  ({', '.join(parts)}; they overlap)"


def report(figures: list[SizeFigures]) -> None:
    print()
    print("Best throughput of each size's runs per target; peak RSS growth is the largest of those runs.")
    print(
        f"{'size':>6} | {'runs':>4} | {'bot MB/s':>9} {'baseline MB/s':>14} {'ratio':>6} | "
        f"{'bot +RSS MB':>11} {'base +RSS MB':>12}"
    )
    for f in figures:
        bot, base = f.best("bot"), f.best("baseline")
        print(
            f"{f.size_mb:>3} MB | {len(f.runs['bot']):>4} | {bot.mb_per_s:>9.1f} {base.mb_per_s:>14.1f} "
            f"{f.ratio():>6.2f} | {f.growth('bot'):>11.1f} {f.growth('baseline'):>12.1f}"
        )
    print()
    print("Median throughput of the runs (the machine's run-to-run spread shows here), and the")
    print("median of each bot run's ratio to the baseline run beside it:")
    for f in figures:
        bot_mb, base_mb = f.median("bot"), f.median("baseline")
        print(
            f"{f.size_mb:>3} MB | bot {bot_mb:.1f} MB/s, baseline {base_mb:.1f} MB/s, ratio {bot_mb / base_mb:.2f}; "
            f"paired {f.paired_ratio():.2f}"
        )
    print()
    print("Where the bot's best run spent its time (its upload follows the download; the baseline pipes):")
    for f in figures:
        bot, base = f.best("bot"), f.best("baseline")
        print(f"{f.size_mb:>3} MB | bot {bot.elapsed_s:.3f} s{_phases(bot)} | baseline {base.elapsed_s:.3f} s")
    resets = {r.hwm_reset for f in figures for rs in f.runs.values() for r in rs}
    if resets != {True}:
        print("note: VmHWM could not be reset in some runs; growth there is measured from the set-up's peak")
    print("sha256: every upload stored by the Foundry emulator equals its source file")
    print()
    worst_growth = max(f.growth("bot") for f in figures)
    worst_ratio = min(f.ratio() for f in figures)
    rss_ok = worst_growth < RSS_LIMIT_MB
    ratio_ok = worst_ratio >= MIN_RATIO
    print(
        f"[{'PASS' if rss_ok else 'FAIL'}] bot peak RSS growth < {RSS_LIMIT_MB:.0f} MB at every size "
        f"(largest: {worst_growth:.1f} MB)"
    )
    print(
        f"[{'PASS' if ratio_ok else 'FAIL'}] bot throughput ≥ {MIN_RATIO:.0%} of baseline at every size "
        f"(lowest: {worst_ratio:.0%})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.file_relay", description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=list(SIZES_MB), help="file sizes in MB (2**20 bytes)")
    parser.add_argument(
        "--runs",
        type=int,
        default=5,
        help=f"runs per size and target (at least 2; default 5; {SMALL_RUNS_FACTOR}x for files under {SMALL_MB} MB)",
    )
    parser.add_argument(
        "--cold", action="store_true", help="no warm-up file: each process's first relay is the measured one"
    )
    args = parser.parse_args(argv)
    runs = max(2, args.runs)
    if any(not 1 <= s <= 512 for s in args.sizes):
        parser.error("sizes must be between 1 and 512 MB (Foundry's limit)")
    print(
        f"File relay, Slack emulator → Foundry emulator (both in this process), sizes {args.sizes} MB, "
        f"{runs} runs each ({runs_for(1, runs)} under {SMALL_MB} MB), bot and baseline alternating, "
        "each run in a fresh process" + (" (cold: no warm-up relay)" if args.cold else " after a 256 KB warm-up relay"),
        flush=True,
    )
    started = time.perf_counter()
    try:
        figures = asyncio.run(measure(args.sizes, runs, cold=args.cold))
    except RunFailed as exc:
        print(f"run failed: {exc}", file=sys.stderr)
        return 1
    report(figures)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
