"""The Responses API: agent-owned fields, structured inputs, conversation items, retrieve, cancel."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.emulators.foundry import EmulatorConfig, FoundryEmulator

from .conftest import AGENT, create_agent, message_text, respond, upload

REF = {"type": "agent_reference", "name": AGENT}


async def first_events(response: httpx.Response, until: str) -> list[dict[str, Any]]:
    """Read a streamed response's events up to and including the first of type ``until``."""
    events: list[dict[str, Any]] = []
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            events.append(json.loads(line.removeprefix("data: ")))
            if events[-1]["type"] == until:
                break
    return events


async def process_ends(pid: int, within_s: float = 5.0) -> bool:
    """Whether the process ``pid`` is gone within the time given."""
    for _ in range(int(within_s / 0.05)):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]}, "tools"),
        ({"model": "gpt-5-mini"}, "model"),
        ({"instructions": "be brief"}, "instructions"),
    ],
    ids=["tools", "model", "instructions"],
)
async def test_agent_owned_fields_are_refused(
    http: httpx.AsyncClient, agent: dict[str, Any], extra: dict[str, Any], param: str
) -> None:
    """tools, model or instructions next to agent_reference are 400 invalid_payload, as Foundry answers."""
    response = await http.post("/openai/v1/responses", json={"agent_reference": REF, "input": "hi", **extra})
    assert response.status_code == 400
    error = response.json()["error"]
    assert ("invalid_payload", "Not allowed when agent is specified.", param, "invalid_request_error") == (
        error["code"],
        error["message"],
        error["param"],
        error["type"],
    )


async def test_unknown_structured_input_and_unknown_file_are_refused(
    http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator
) -> None:
    """A structured input the agent does not define, or a file id that does not exist, is a 400."""
    undefined = await http.post(
        "/openai/v1/responses", json={"agent_reference": REF, "input": "hi", "structured_inputs": {"f9": "x"}}
    )
    missing = await http.post(
        "/openai/v1/responses",
        json={"agent_reference": REF, "input": "hi", "structured_inputs": {"f1": "assistant-nope"}},
    )
    assert (undefined.status_code, undefined.json()["error"]["code"]) == (400, "invalid_payload")
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "invalid_request_error")
    assert "assistant-nope" in missing.json()["error"]["message"]
    assert emulator.state.responses == {}


async def test_unknown_agent_or_conversation_is_404(http: httpx.AsyncClient, agent: dict[str, Any]) -> None:
    """A missing agent version or conversation is a 404."""
    no_version = await http.post(
        "/openai/v1/responses", json={"agent_reference": {**REF, "version": "9"}, "input": "hi"}
    )
    no_conversation = await http.post(
        "/openai/v1/responses", json={"agent_reference": REF, "input": "hi", "conversation": "conv_missing"}
    )
    assert (no_version.status_code, no_conversation.status_code) == (404, 404)


async def test_placeholders_resolve_to_declared_files_and_latest_version(
    http: httpx.AsyncClient, agent: dict[str, Any], sales_csv: Path, data_dir: Path, emulator: FoundryEmulator
) -> None:
    """Slots fill from structured_inputs, empty ones drop out, and an omitted version means the latest."""
    await create_agent(http)
    sales = await upload(http, sales_csv)
    notes = await upload(http, data_dir / "valid" / "notes.txt")
    made = await respond(http, "list files", structured_inputs={"f1": sales["id"], "f3": notes["id"]})
    assert made["agent_reference"] == {"type": "agent_reference", "name": AGENT, "version": "2"}
    assert {"f1": sales["id"], "f3": notes["id"]} == made["structured_inputs"]
    assert [sales["id"], notes["id"]] == made["tools"][0]["container"]["file_ids"]
    text, _ = message_text(made)
    assert "sales.csv" in text
    assert "notes.txt" in text
    usage = made["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0


async def test_turns_are_appended_to_the_conversation(
    http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator
) -> None:
    """Each turn adds the user message and the output items; the Foundry list finds it by agent name."""
    conversation = (await http.post("/openai/v1/conversations", json={"metadata": {"thread": "t1"}})).json()
    other = (await http.post("/openai/v1/conversations", json={})).json()
    await respond(http, "hello there", conversation=conversation["id"])
    await respond(http, "```python\nprint(2 + 2)\n```", conversation={"id": conversation["id"]})
    items = (await http.get(f"/openai/v1/conversations/{conversation['id']}/items", params={"order": "asc"})).json()
    assert [i.get("role") for i in items["data"]] == ["user", "assistant", "user", None, "assistant"]
    assert "4" in items["data"][-1]["content"][0]["text"]
    listed = (await http.get("/openai/v1/conversations", params={"agent_name": AGENT})).json()
    assert [conversation["id"]] == [c["id"] for c in listed["data"]]
    assert listed["data"][0]["metadata"] == {"thread": "t1"}
    everything = (await http.get("/openai/v1/conversations")).json()
    assert {conversation["id"], other["id"]} == {c["id"] for c in everything["data"]}


async def test_plain_text_turn_runs_no_code(
    http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator
) -> None:
    """A prompt with no code and no recipe keyword gets a short text answer and no container."""
    made = await respond(http, "good morning")
    assert [item["type"] for item in made["output"]] == ["message"]
    assert emulator.counters()["containers"] == 0


async def test_response_can_be_read_while_running_and_cancelled(
    http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator
) -> None:
    """A running response reads in_progress; cancel kills its cell and leaves it cancelled."""
    code = "```python\nimport os, time\nopen('/mnt/data/pid', 'w').write(str(os.getpid()))\ntime.sleep(30)\n```"
    body = {"agent_reference": REF, "input": code, "stream": True}
    async with http.stream("POST", "/openai/v1/responses", json=body) as stream:
        events = await first_events(stream, "response.code_interpreter_call.interpreting")
    response_id = events[0]["response"]["id"]
    [container] = emulator.state.containers.values()
    pid_file = container.data_dir / "pid"
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.05)
    pid = int(pid_file.read_text())
    assert (await http.get(f"/openai/v1/responses/{response_id}")).json()["status"] == "in_progress"
    cancelled = await http.post(f"/openai/v1/responses/{response_id}/cancel")
    assert (cancelled.json()["status"], cancelled.status_code) == ("cancelled", 200)
    assert await process_ends(pid)
    assert (await http.get(f"/openai/v1/responses/{response_id}")).json()["status"] == "cancelled"
    again = await http.post(f"/openai/v1/responses/{response_id}/cancel")
    assert again.status_code == 400


async def test_cancel_of_a_finished_response_is_refused(http: httpx.AsyncClient, agent: dict[str, Any]) -> None:
    """Cancelling a completed response is a 400 that names its status."""
    made = await respond(http, "hello")
    refused = await http.post(f"/openai/v1/responses/{made['id']}/cancel")
    assert refused.status_code == 400
    assert "completed" in refused.json()["error"]["message"]


async def test_broken_stream_resumes_by_id_and_the_run_carries_on() -> None:
    """A client that leaves mid-stream does not stop the run; the rest replays with starting_after."""
    async with FoundryEmulator(EmulatorConfig(model_delay_s=0.3)) as emulator:
        headers = {"Authorization": f"Bearer {emulator.issue_token()}"}
        async with httpx.AsyncClient(base_url=emulator.endpoint, headers=headers) as http:
            await create_agent(http)
            body = {"agent_reference": REF, "input": "```python\nprint('still here')\n```", "stream": True}
            async with http.stream("POST", "/openai/v1/responses", json=body) as stream:
                head = await first_events(stream, "response.in_progress")
            response_id, last = head[0]["response"]["id"], head[-1]["sequence_number"]
            resumed = await http.get(
                f"/openai/v1/responses/{response_id}", params={"stream": "true", "starting_after": str(last)}
            )
            final = (await http.get(f"/openai/v1/responses/{response_id}")).json()
    tail = [json.loads(line[6:]) for line in resumed.text.splitlines() if line.startswith("data: ")]
    assert last + 1 == tail[0]["sequence_number"]
    assert tail[-1]["type"] == "response.completed"
    assert "still here" in message_text(final)[0]
