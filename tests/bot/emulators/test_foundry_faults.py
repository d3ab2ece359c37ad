"""Injected faults: each kind has its effect, counts and seeded rates are deterministic."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import pytest
from openai.types.responses import Response, ResponseErrorEvent

from bot.emulators.foundry import Fault, FoundryEmulator

from .conftest import AGENT


def events_of(body: str) -> list[dict[str, Any]]:
    """The JSON payloads of a server-sent-event body, checking each `event:` line matches its type."""
    events = []
    for block in body.strip().split("\n\n"):
        event_line, data_line = block.split("\n")
        event = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {event['type']}"
        events.append(event)
    return events


REQUEST = {"agent_reference": {"type": "agent_reference", "name": AGENT}, "input": "hello"}


async def test_status_fault_429_carries_retry_hints_then_clears(
    http: httpx.AsyncClient, emulator: FoundryEmulator
) -> None:
    """A 429 fault answers once with Retry-After, retry-after-ms and rate_limit_exceeded, then stops."""
    emulator.faults.add(
        Fault(route="conversations.create", kind="status", status=429, count=1, retry_after_ms=50, retry_after_s=1)
    )
    limited = await http.post("/openai/v1/conversations", json={})
    fine = await http.post("/openai/v1/conversations", json={})
    assert (limited.status_code, fine.status_code) == (429, 200)
    assert (limited.headers["Retry-After"], limited.headers["retry-after-ms"]) == ("1", "50")
    error = limited.json()["error"]
    assert (error["code"], error["details"], error["param"]) == ("rate_limit_exceeded", [], None)
    assert emulator.counters()["conversations"] == 1


async def test_status_fault_500_on_container_download(
    http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator
) -> None:
    """A 5xx fault on downloads reproduces the server_error users have seen on container files."""
    code = "```python\nopen('/mnt/data/a.txt', 'w').write('x')\n```"
    made = (await http.post("/openai/v1/responses", json={**REQUEST, "input": code})).json()
    [citation] = made["output"][-1]["content"][0]["annotations"]
    url = f"/openai/v1/containers/{citation['container_id']}/files/{citation['file_id']}/content"
    emulator.faults.add(Fault(route="containers.files.content", kind="status", status=500, count=2))
    statuses = [(await http.get(url)).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


async def test_status_fault_after_body_answers_once_the_whole_upload_arrived(
    http: httpx.AsyncClient, emulator: FoundryEmulator
) -> None:
    """after_body: the upload is read to its end, then refused; nothing is stored, and the next one is."""
    emulator.faults.add(Fault(route="files.create", kind="status", status=500, count=1, after_body=True))

    async def body() -> Any:
        for _ in range(8):  # streamed: no Content-Length tells the emulator the size
            yield b"1,2,3\n" * 10_000

    files = {"file": ("data.csv", b"1,2,3\n" * 80_000, "text/csv")}
    refused = await http.post(
        "/openai/v1/files",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    stored = await http.post("/openai/v1/files", data={"purpose": "assistants"}, files=files)

    assert (refused.status_code, stored.status_code) == (500, 200)
    first, _ = [r for r in emulator.requests if r.route == "files.create"]
    assert (first.status, first.body_size) == (500, 480_000)
    assert list(emulator.state.files) == [stored.json()["id"]]


def test_after_body_is_for_status_faults_only() -> None:
    with pytest.raises(ValueError, match="after_body"):
        Fault(route="files.create", kind="drop", after_body=True)


async def test_drop_fault_closes_the_connection_without_a_response(
    http: httpx.AsyncClient, emulator: FoundryEmulator
) -> None:
    """A drop fault closes the connection before any byte of a response is sent."""
    emulator.faults.add(Fault(route="conversations.list", kind="drop", count=1))
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get("/openai/v1/conversations")
    assert (await http.get("/openai/v1/conversations")).status_code == 200
    assert [r.status for r in emulator.requests if r.route == "conversations.list"] == [None, 200]


async def test_delay_fault_makes_a_client_time_out(http: httpx.AsyncClient, emulator: FoundryEmulator) -> None:
    """A delay fault holds the answer long enough for a short client timeout to fire."""
    emulator.faults.add(Fault(route="conversations.create", kind="delay", delay_s=2.0, count=1))
    with pytest.raises(httpx.ReadTimeout):
        await http.post("/openai/v1/conversations", json={}, timeout=0.2)
    assert (await http.post("/openai/v1/conversations", json={}, timeout=2.0)).status_code == 200


async def test_response_failed_fault_is_a_200_with_failed_status(
    http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator
) -> None:
    """response_failed answers HTTP 200 with status failed and the error, and streams response.failed."""
    emulator.faults.add(Fault(route="responses.create", kind="response_failed", count=2, message="boom"))
    plain = await http.post("/openai/v1/responses", json=REQUEST)
    assert plain.status_code == 200
    failed = Response.model_validate(plain.json())
    assert failed.error is not None
    assert (failed.status, failed.error.code, failed.error.message) == ("failed", "server_error", "boom")
    streamed = await http.post("/openai/v1/responses", json={**REQUEST, "stream": True})
    events = events_of(streamed.text)
    assert [e["type"] for e in events] == ["response.created", "response.in_progress", "response.failed"]
    assert events[-1]["response"]["status"] == "failed"


async def test_stream_error_fault_sends_a_bare_error_event(
    http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator
) -> None:
    """stream_error ends the stream with an `error` event that openai's ResponseErrorEvent accepts."""
    emulator.faults.add(
        Fault(route="responses.create", kind="stream_error", count=1, code="rate_limit_exceeded", message="slow down")
    )
    plain = await http.post("/openai/v1/responses", json=REQUEST)
    assert plain.json()["status"] == "completed"  # the fault waits for a streamed request
    streamed = await http.post("/openai/v1/responses", json={**REQUEST, "stream": True})
    events = events_of(streamed.text)
    error = ResponseErrorEvent.model_validate(events[-1])
    assert (error.code, error.message, error.sequence_number) == ("rate_limit_exceeded", "slow down", 2)
    response_id = events[0]["response"]["id"]
    assert (await http.get(f"/openai/v1/responses/{response_id}")).json()["status"] == "failed"


async def test_rate_fault_follows_its_seed(http: httpx.AsyncClient, emulator: FoundryEmulator) -> None:
    """A fault with rate and seed hits exactly the requests a seeded random stream picks."""
    emulator.faults.add(Fault(route="conversations.list", kind="status", status=503, rate=0.5, seed=7))
    statuses = [(await http.get("/openai/v1/conversations")).status_code for _ in range(16)]
    draws = random.Random(7)
    assert [503 if draws.random() < 0.5 else 200 for _ in range(16)] == statuses
    assert {200, 503} == set(statuses)
    emulator.faults.clear()
    assert (await http.get("/openai/v1/conversations")).status_code == 200


def test_fault_validates_its_fields() -> None:
    """A fault that cannot work is refused when it is built, not when it fires."""
    with pytest.raises(ValueError, match="status"):
        Fault(route="responses.create", kind="status")
    with pytest.raises(ValueError, match="delay_s"):
        Fault(route="responses.create", kind="delay")
    with pytest.raises(ValueError, match="kind"):
        Fault(route="responses.create", kind="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown fault fields"):
        Fault.from_json({"route": "files.create", "kind": "drop", "times": 2})


async def test_control_api_over_http(http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator) -> None:
    """Counters, the request log, faults and container expiry are reachable over HTTP without a token."""
    async with httpx.AsyncClient(base_url=emulator.endpoint.split("/api/")[0]) as control:
        fault = {"route": "conversations.create", "kind": "status", "status": 503, "count": 1}
        added = await control.post("/_emulator/faults", json=fault)
        assert added.status_code == 200
        assert (await http.post("/openai/v1/conversations", json={})).status_code == 503
        assert (await control.post("/_emulator/faults", json={"route": "x", "kind": "nope"})).status_code == 400
        await control.post("/_emulator/faults", json={"route": "conversations.create", "kind": "drop"})
        assert (await control.delete("/_emulator/faults")).status_code == 200
        await http.post("/openai/v1/responses", json={**REQUEST, "input": "list files"})
        counters = (await control.get("/_emulator/counters")).json()
        assert counters == {"agent_versions": 1, "conversations": 0, "files": 0, "containers": 1}
        expired = (await control.post("/_emulator/containers/expire")).json()["expired"]
        assert len(expired) == 1
        assert (await control.get("/_emulator/counters")).json()["containers"] == 0
        log = (await control.get("/_emulator/requests")).json()
    assert [r["route"] for r in log] == ["agents.create_version", "conversations.create", "responses.create"]
    assert log[0]["headers"]["Authorization"] == "<redacted>"
    assert log[-1]["body"]["input"] == "list files"
    assert all(not r["path"].startswith("/_emulator") for r in log)
