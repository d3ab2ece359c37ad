"""One measured file relay in a process of its own, for ``bench.file_relay``.

Reads a job (JSON) on stdin, relays one Slack file to Foundry, and prints one JSON line with the
elapsed seconds and this process's memory figures. Two targets:

* ``bot``: the bot's own pieces, built as ``bot.app.open_services`` builds them for files (the
  store, ``open_foundry`` with the real ``DefaultAzureCredential``, ``http_client`` for downloads
  with a ``SlackDownloader``, ``FileIntake``), then ``FileIntake.attach`` of the Slack file object;
* ``baseline``: plain httpx, the Slack GET streamed straight into a streamed multipart POST.

The timer covers only the relay. Before it, each process relays a small warm-up file the same
way (then deletes its upload), as a bot that has been running has relayed files before: the
code paths, the Foundry token and connection, the store's connections and the Slack connection
are warm, so the figure is the relay's and not a new process's first calls. ``"cold": true`` in
the job skips that (the bot then warms only its Foundry token and the store's read connection).
Peak RSS is ``VmHWM`` from ``/proc/self/status``; just before the timer starts the peak is reset
to the current RSS (``/proc/self/clear_refs``) where the kernel allows it, so the growth it
shows is the relay's own.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bot.config import Settings
from bot.files.download import SlackDownloader
from bot.files.intake import FileIntake
from bot.foundry.connect import open_foundry
from bot.foundry.multipart import StreamedMultipart
from bot.http_client import http_client
from bot.slack.client import build_web_client
from storage import open_store

IDENTITY_API_VERSION = "2019-08-01"
FOUNDRY_RESOURCE = "https://ai.azure.com"


def memory_kb() -> dict[str, int]:
    """``VmHWM`` and ``VmRSS`` of this process, in kB."""
    figures: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            figures[key] = int(value.split()[0])
    return figures


def reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux ≥ 4.0); False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Phases:
    """Seconds spent in wrapped awaitables, by name (how the bot's time splits)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, name: str, func: Callable[..., Awaitable[Any]]) -> Any:
        """``func``, timed; typed ``Any`` so it can stand in for a bound method."""

        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await func(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

        return timed


async def run_bot(job: dict[str, Any]) -> dict[str, Any]:
    settings = Settings(
        _env_file=None,
        slack_bot_token=job["bot_token"],
        slack_signing_secret="bench-signing-secret",
        slack_api_url=job["slack_api_url"],
        azure_ai_project_endpoint=job["foundry_endpoint"],
        azure_ai_model_deployment_name="bench",
        database_url=job["database_url"],
        max_file_mb=512,
    )
    file_obj: dict[str, Any] = job["file"]
    # As bot.app.open_services opens them (the agent, scheduler and relay are not needed for files).
    async with (
        open_store(settings.database_url) as store,
        open_foundry(settings) as foundry,
        http_client(timeout=httpx.Timeout(120, connect=10)) as downloads,
    ):
        slack = build_web_client(settings)
        downloader = SlackDownloader(
            downloads, settings.slack_bot_token.get_secret_value(), api_url=settings.slack_api_url
        )
        intake = FileIntake(
            store, foundry, slack, downloader, max_bytes=settings.max_file_bytes, slots=settings.agent_file_slots
        )
        session, _ = await store.get_or_create_session("T0BENCH", "C0BENCH", job["root_ts"])
        # Warm-up, as in a bot that has been running: one authenticated call, so the credential
        # has its token, and one read, so the store's read connection has loaded the schema.
        await foundry.delete_file("file-bench-warm-up")
        await store.list_files(session.id)
        if not job.get("cold"):  # and a file relayed before, in a thread of its own
            warm_up = job["warm_up"]
            earlier, _ = await store.get_or_create_session("T0BENCH", "C0BENCH", f"{job['root_ts']}1")
            if not (await intake.attach(earlier, [warm_up]))[0].attached:
                raise RuntimeError("the warm-up file was not relayed")
            relayed = await store.find_file_by_slack_id(earlier.id, str(warm_up["id"]))
            if relayed is None or relayed.foundry_file_id is None:
                raise RuntimeError("the warm-up file was not recorded")
            await foundry.delete_file(relayed.foundry_file_id)
        phases = Phases()
        # Instance attributes only: the real methods run, wrapped in a timer.
        downloader.spool = phases.wrap("download", downloader.spool)  # type: ignore[method-assign]
        foundry.upload_file = phases.wrap("upload", foundry.upload_file)  # type: ignore[method-assign]

        reset = reset_peak()
        before = memory_kb()
        start = time.perf_counter()
        outcomes = await intake.attach(session, [file_obj])
        elapsed = time.perf_counter() - start
        after = memory_kb()

        stored = await store.find_file_by_slack_id(session.id, str(file_obj["id"]))
    return {
        "ok": bool(outcomes) and outcomes[0].attached,
        "detail": outcomes[0].line if outcomes else "no outcome",
        "foundry_file_id": stored.foundry_file_id if stored else None,
        "elapsed_s": elapsed,
        "phases_s": phases.seconds,
        "hwm_reset": reset,
        "before_kb": before,
        "after_kb": after,
    }


async def run_baseline(job: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(120, connect=10), follow_redirects=False) as http:
        answer = await http.get(
            os.environ["IDENTITY_ENDPOINT"],
            params={"api-version": IDENTITY_API_VERSION, "resource": FOUNDRY_RESOURCE},
            headers={"X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]},
        )
        answer.raise_for_status()
        token = answer.json()["access_token"]
        if not job.get("cold"):
            warm_up = await copy(http, job, job["warm_up"], token)
            warm_up.raise_for_status()
            deleted = await http.delete(
                f"{job['foundry_endpoint']}/openai/v1/files/{warm_up.json()['id']}",
                headers={"Authorization": f"Bearer {token}"},
            )
            deleted.raise_for_status()

        reset = reset_peak()
        before = memory_kb()
        start = time.perf_counter()
        upload = await copy(http, job, job["file"], token)
        elapsed = time.perf_counter() - start
        after = memory_kb()
    ok = upload.is_success
    return {
        "ok": ok,
        "detail": f"HTTP {upload.status_code}",
        "foundry_file_id": upload.json()["id"] if ok else None,
        "elapsed_s": elapsed,
        "phases_s": {},
        "hwm_reset": reset,
        "before_kb": before,
        "after_kb": after,
    }


async def copy(http: httpx.AsyncClient, job: dict[str, Any], file_obj: dict[str, Any], token: str) -> httpx.Response:
    """The Slack file's GET (bot token) streamed straight into a streamed multipart POST to Foundry (``token``)."""
    headers = {"Authorization": f"Bearer {job['bot_token']}", "Accept-Encoding": "identity"}
    async with http.stream("GET", file_obj["url_private_download"], headers=headers) as download:
        download.raise_for_status()
        chunks: AsyncIterator[bytes] = download.aiter_raw()
        form = StreamedMultipart(
            {"purpose": "assistants"},
            file_field="file",
            filename=file_obj["name"],
            chunks=chunks,
            content_type="text/csv",
            size=int(download.headers["Content-Length"]),
        )
        return await http.post(
            f"{job['foundry_endpoint']}/openai/v1/files",
            content=form.body(),
            headers={**form.headers(), "Authorization": f"Bearer {token}"},
        )


def main() -> None:
    job = json.loads(sys.stdin.read())
    runner = run_bot if job["target"] == "bot" else run_baseline
    result = asyncio.run(runner(job))
    print(json.dumps({"target": job["target"], **result}), flush=True)


if __name__ == "__main__":
    main()
