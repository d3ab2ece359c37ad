"""The kernel: each container keeps one live Python process, so variables last until it goes away."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any

import httpx

from bot.emulators.foundry import EmulatorConfig, FoundryEmulator

from .conftest import AGENT, create_agent, message_text, respond

SET_X = "```python\nx = 20\nprint('set')\n```"
USE_X = "```python\nprint(x + 22)\n```"
SHOW_PID = "```python\nimport os\nprint('pid', os.getpid())\n```"
NAME_ERROR = "NameError: name 'x' is not defined"


def pids_in(text: str) -> list[int]:
    """The worker pids a SHOW_PID cell printed into an answer."""
    return [int(pid) for pid in re.findall(r"pid (\d+)", text)]


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie still counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def children() -> set[int]:
    """Pids of this test process's child processes, read from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == os.getpid():
            found.add(int(stat.parent.name))
    return found


async def new_conversation(http: httpx.AsyncClient) -> str:
    """A fresh conversation's id."""
    return str((await http.post("/openai/v1/conversations", json={})).json()["id"])


async def turn(http: httpx.AsyncClient, conversation: str, prompt: str) -> tuple[str, str]:
    """One response in ``conversation``: its answer text and the container its code ran in."""
    made = await respond(http, prompt, conversation=conversation)
    [container] = {item["container_id"] for item in made["output"] if item["type"] == "code_interpreter_call"}
    return message_text(made)[0], container


async def test_variables_persist_across_responses_in_one_conversation(
    http: httpx.AsyncClient, agent: dict[str, Any]
) -> None:
    """A name one turn defines is still there in the next turn of the same conversation."""
    conversation = await new_conversation(http)
    first, container = await turn(http, conversation, SET_X)
    second, again = await turn(http, conversation, USE_X)
    assert "set" in first
    assert "42" in second
    assert container == again


async def test_variables_do_not_leak_between_conversations(http: httpx.AsyncClient, agent: dict[str, Any]) -> None:
    """Each conversation has its own container and kernel, so another one's names are undefined."""
    _, mine = await turn(http, await new_conversation(http), SET_X)
    answer, theirs = await turn(http, await new_conversation(http), USE_X)
    assert NAME_ERROR in answer
    assert mine != theirs


async def test_expired_container_comes_back_with_a_fresh_kernel(
    http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator
) -> None:
    """After expiry the old worker is killed and the next turn's new container has no earlier variables."""
    conversation = await new_conversation(http)
    first, old = await turn(http, conversation, SET_X + "\n" + SHOW_PID)
    [old_pid] = pids_in(first)
    assert [old] == emulator.expire_containers()
    answer, new = await turn(http, conversation, USE_X)
    assert NAME_ERROR in answer
    assert new != old
    assert not alive(old_pid)  # killed at expiry, reaped before the next request was served


async def test_deleting_a_container_kills_its_kernel(
    http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator
) -> None:
    """DELETE on a container stops its worker process before answering."""
    answer, container = await turn(http, await new_conversation(http), SHOW_PID)
    [pid] = pids_in(answer)
    assert alive(pid)
    assert (await http.delete(f"/openai/v1/containers/{container}")).status_code == 200
    assert not alive(pid)


async def test_timed_out_cell_restarts_the_kernel() -> None:
    """A cell that hits the time limit kills the kernel; the next cell runs in a new one without old names."""
    async with FoundryEmulator(EmulatorConfig(run_timeout_s=1.0)) as emulator:
        headers = {"Authorization": f"Bearer {emulator.issue_token()}"}
        async with httpx.AsyncClient(base_url=emulator.endpoint, headers=headers, timeout=20) as http:
            await create_agent(http)
            conversation = await new_conversation(http)
            before, container = await turn(http, conversation, SET_X + "\n" + SHOW_PID)
            stopped, _ = await turn(http, conversation, "```python\nwhile True:\n    pass\n```")
            after, same = await turn(http, conversation, SHOW_PID + "\n" + USE_X)
    assert "time limit" in stopped
    assert container == same
    assert pids_in(before) != pids_in(after)
    assert NAME_ERROR in after


async def test_cancel_kills_the_kernel_of_the_running_cell(
    http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator
) -> None:
    """Cancelling a response kills the worker mid-cell; the conversation's next turn gets a fresh kernel."""
    conversation = await new_conversation(http)
    _, container = await turn(http, conversation, SET_X)
    response_id, pid = await start_sleeping_cell(http, emulator, conversation)
    cancelled = await http.post(f"/openai/v1/responses/{response_id}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert not alive(pid)
    answer, same = await turn(http, conversation, USE_X)
    assert NAME_ERROR in answer
    assert container == same


async def test_no_worker_outlives_the_emulator() -> None:
    """Stopping the emulator kills and reaps every kernel: idle, expired, and one in the middle of a cell."""
    before = children()
    emulator = FoundryEmulator()
    await emulator.start()
    try:
        headers = {"Authorization": f"Bearer {emulator.issue_token()}"}
        async with httpx.AsyncClient(base_url=emulator.endpoint, headers=headers, timeout=20) as http:
            await create_agent(http)
            expired, _ = await turn(http, await new_conversation(http), SHOW_PID)
            emulator.expire_containers()
            idle, _ = await turn(http, await new_conversation(http), SHOW_PID)
            _, busy = await start_sleeping_cell(http, emulator, await new_conversation(http))
            assert alive(busy)
    finally:
        await emulator.stop()
    workers = [*pids_in(expired), *pids_in(idle), busy]
    assert len(set(workers)) == 3
    assert [pid for pid in workers if alive(pid)] == []
    assert children() - before == set()


async def start_sleeping_cell(http: httpx.AsyncClient, emulator: FoundryEmulator, conversation: str) -> tuple[str, int]:
    """Start a response whose cell sleeps for a minute; its id and the pid of the worker running it."""
    code = "import os, time\nopen('/mnt/data/pid', 'w').write(str(os.getpid()))\ntime.sleep(60)"
    body = {"agent_reference": {"type": "agent_reference", "name": AGENT}, "input": f"```python\n{code}\n```"}
    async with http.stream(
        "POST", "/openai/v1/responses", json={**body, "conversation": conversation, "stream": True}
    ) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                response_id = str(json.loads(line.removeprefix("data: "))["response"]["id"])
                break
    # The response carries on without its stream reader.
    pid_file: Path | None = None
    for _ in range(200):
        container_id = emulator.state.conversations[conversation].container_id
        if container_id is not None:
            pid_file = emulator.state.containers[container_id].data_dir / "pid"
            if pid_file.exists() and pid_file.read_text():
                return response_id, int(pid_file.read_text())
        await asyncio.sleep(0.05)
    raise AssertionError(f"the sleeping cell never wrote {pid_file}")
