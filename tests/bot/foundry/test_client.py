"""The Foundry client against the emulator, over real HTTP: every operation, as the service sees it."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.agent import AgentRef, ensure_agent
from bot.emulators.foundry import Fault, FoundryEmulator
from bot.errors import ContainerExpired, FoundryNotFound, ResponseFailed
from bot.foundry.client import FoundryClient, ResponseRequest
from bot.foundry.events import AnnotationAdded, CodeDone, ResponseEvent, StreamEvent, TextDelta

from .conftest import settings_for

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def chunks(data: bytes, size: int = 7_000) -> AsyncIterator[bytes]:
    """The bytes in pieces, as a Slack download would hand them over."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def agent_for(foundry: FoundryClient, emulator: FoundryEmulator) -> AgentRef:
    return await ensure_agent(foundry, settings_for(emulator))


async def thread_with_file(foundry: FoundryClient, emulator: FoundryEmulator, path: Path) -> tuple[AgentRef, str, str]:
    """An agent, a conversation and one uploaded file: what a thread with a dropped CSV has."""
    agent = await agent_for(foundry, emulator)
    conversation = await foundry.create_conversation({"deployment": "test", "slack_thread": "T1:C1:1.0"})
    data = path.read_bytes()
    uploaded = await foundry.upload_file(path.name, chunks(data), size=len(data), content_type="text/csv")
    return agent, conversation.id, uploaded.id


async def download(foundry: FoundryClient, container_id: str, file_id: str) -> bytes:
    """A generated file's bytes, read to the end."""
    async with foundry.stream_container_file(container_id, file_id) as body:
        return b"".join([chunk async for chunk in body])


async def read_types(foundry: FoundryClient, req: ResponseRequest, seen: list[str]) -> None:
    """Read a stream to its end, noting each event type as it arrives."""
    async with foundry.stream_response(req) as stream:
        async for event in stream:
            seen.append(event.type)


def request(agent: AgentRef, conversation_id: str, text: str, file_ids: list[str]) -> ResponseRequest:
    return ResponseRequest(
        agent_name=agent.name,
        agent_version=agent.version,
        conversation_id=conversation_id,
        input=text,
        structured_inputs=agent.slot_inputs(file_ids),
    )


async def test_agent_versions_round_trip(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """A version can be created, read, listed newest first and deleted; deleting twice reports it gone."""
    first = await foundry.create_agent_version("helper", {"kind": "prompt", "model": "gpt-5-mini"})
    second = await foundry.create_agent_version(
        "helper", {"kind": "prompt", "model": "gpt-5-mini"}, metadata={"k": "v"}
    )
    assert (first.version, second.version) == ("1", "2")
    assert (await foundry.get_agent_version("helper", "2")).metadata == {"k": "v"}
    assert [v.version for v in await foundry.list_agent_versions("helper")] == ["2", "1"]
    assert emulator.counters()["agent_versions"] == 2
    assert await foundry.delete_agent_version("helper", "1") is True
    assert await foundry.delete_agent_version("helper", "1") is False
    assert emulator.counters()["agent_versions"] == 1


async def test_list_versions_of_unknown_agent_is_empty(foundry: FoundryClient) -> None:
    """An agent that was never created simply has no versions."""
    assert await foundry.list_agent_versions("never-made") == []


async def test_ensure_agent_reuses_a_matching_version(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """Start-up creates a version once, reuses it while the settings match, and makes a new one on change."""
    first = await ensure_agent(foundry, settings_for(emulator))
    again = await ensure_agent(foundry, settings_for(emulator))
    changed = await ensure_agent(foundry, settings_for(emulator, agent_file_slots=5))
    assert first == again
    assert (first.version, changed.version) == ("1", "2")
    assert changed.slots == 5
    assert emulator.counters()["agent_versions"] == 2
    created = [r for r in emulator.requests if r.route == "agents.create_version"]
    assert len(created) == 2


async def test_upload_streams_file_with_known_size(
    foundry: FoundryClient, emulator: FoundryEmulator, sales_csv: Path
) -> None:
    """The uploaded bytes arrive intact, with a Content-Length computed up front."""
    data = sales_csv.read_bytes()
    uploaded = await foundry.upload_file("sales.csv", chunks(data), size=len(data), content_type="text/csv")
    assert uploaded.filename == "sales.csv"
    assert uploaded.bytes == len(data)
    assert emulator.stored_file_sha256(uploaded.id) == hashlib.sha256(data).hexdigest()
    assert emulator.counters()["files"] == 1


async def test_upload_streams_file_of_unknown_size(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """Without a size the body goes chunked and still arrives intact."""
    data = bytes(range(256)) * 4096  # 1 MiB of every byte value
    uploaded = await foundry.upload_file("blob.zip", chunks(data, 65_536))
    assert emulator.stored_file_sha256(uploaded.id) == hashlib.sha256(data).hexdigest()


async def test_delete_file_then_again(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """Deleting a file frees it in Foundry; a second delete reports it already gone."""
    uploaded = await foundry.upload_file("a.txt", chunks(b"hello"), size=5)
    assert await foundry.delete_file(uploaded.id) is True
    assert await foundry.delete_file(uploaded.id) is False
    assert emulator.counters()["files"] == 0


async def test_conversation_carries_thread_tags(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """A conversation is created with the deployment and thread tags and can be deleted."""
    conversation = await foundry.create_conversation({"deployment": "d1", "slack_thread": "T1:C1:171.0"})
    assert conversation.id.startswith("conv_")
    assert conversation.metadata == {"deployment": "d1", "slack_thread": "T1:C1:171.0"}
    assert emulator.counters()["conversations"] == 1
    assert await foundry.delete_conversation(conversation.id) is True
    assert await foundry.delete_conversation(conversation.id) is False
    assert emulator.counters()["conversations"] == 0


async def test_a_spare_conversation_is_tagged_with_its_thread_later(
    foundry: FoundryClient, emulator: FoundryEmulator
) -> None:
    """Updating sends the whole metadata, which the service then holds; an unknown id is not found."""
    made = await foundry.create_conversation({"deployment": "d1"})

    updated = await foundry.update_conversation(made.id, {"deployment": "d1", "slack_thread": "T1:C1:171.0"})

    assert updated.id == made.id
    assert updated.metadata == {"deployment": "d1", "slack_thread": "T1:C1:171.0"}
    assert emulator.state.conversations[made.id].metadata == updated.metadata
    [sent] = [r for r in emulator.requests if r.route == "conversations.update"]
    assert sent.method == "POST"
    assert sent.path.endswith(f"/openai/v1/conversations/{made.id}")
    assert sent.body == {"metadata": {"deployment": "d1", "slack_thread": "T1:C1:171.0"}}
    with pytest.raises(FoundryNotFound):
        await foundry.update_conversation("conv_gone", {"deployment": "d1"})


async def test_response_runs_code_on_the_thread_file(
    foundry: FoundryClient, emulator: FoundryEmulator, sales_csv: Path
) -> None:
    """A plain (unstreamed) response runs code in the sandbox against the file passed in a slot."""
    agent, conversation_id, file_id = await thread_with_file(foundry, emulator, sales_csv)
    response = await foundry.create_response(request(agent, conversation_id, "describe the data", [file_id]))
    assert response.status == "completed"
    assert response.code_calls
    assert response.code_calls[0].container_id
    assert "revenue" in response.text
    assert response.usage is not None
    assert response.usage.input_tokens > 0
    sent = [r for r in emulator.requests if r.route == "responses.create"][-1]
    assert sent.body["structured_inputs"] == {"f1": file_id, "f2": "", "f3": ""}
    assert "tools" not in sent.body


async def test_streamed_plot_yields_typed_events_and_a_downloadable_chart(
    foundry: FoundryClient, emulator: FoundryEmulator, sales_csv: Path
) -> None:
    """Streaming a plot request gives code, text and a citation whose file downloads as a PNG."""
    agent, conversation_id, file_id = await thread_with_file(foundry, emulator, sales_csv)
    events: list[StreamEvent] = []
    async with foundry.stream_response(request(agent, conversation_id, "plot revenue by month", [file_id])) as stream:
        events = [event async for event in stream]
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    numbers = [event.sequence_number for event in events]
    assert numbers == sorted(numbers)
    assert any(isinstance(e, CodeDone) and "savefig" in e.code for e in events)
    assert any(isinstance(e, TextDelta) for e in events)
    citations = [e.annotation for e in events if isinstance(e, AnnotationAdded)]
    assert citations
    final = events[-1]
    assert isinstance(final, ResponseEvent)
    assert [c.file_id for c in final.response.citations] == [c.file_id for c in citations]  # type: ignore[union-attr]
    citation = final.response.citations[0]
    listed = await foundry.list_container_files(citation.container_id)
    assert citation.file_id in {f.id for f in listed if f.source == "assistant"}
    async with foundry.stream_container_file(citation.container_id, citation.file_id) as body:
        content = b"".join([chunk async for chunk in body])
    assert content.startswith(PNG_MAGIC)
    assert await foundry.delete_container(citation.container_id) is True
    assert await foundry.delete_container(citation.container_id) is False
    assert emulator.counters()["containers"] == 0


async def test_response_can_be_retrieved_by_id(
    foundry: FoundryClient, emulator: FoundryEmulator, sales_csv: Path
) -> None:
    """A response is found again by its id, as a turn resumed after a crash would do."""
    agent, conversation_id, file_id = await thread_with_file(foundry, emulator, sales_csv)
    made = await foundry.create_response(request(agent, conversation_id, "list files", [file_id]))
    again = await foundry.get_response(made.id)
    assert again.id == made.id
    assert again.text == made.text


async def test_running_response_can_be_cancelled(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """Cancelling a response whose code is still running stops it and reports it cancelled."""
    agent = await agent_for(foundry, emulator)
    conversation = await foundry.create_conversation({"deployment": "test"})
    slow = "```python\nimport time\ntime.sleep(20)\n```"
    async with foundry.stream_response(request(agent, conversation.id, slow, [])) as stream:
        async for event in stream:
            if isinstance(event, ResponseEvent):
                response_id = event.response.id
                break
    cancelled = await foundry.cancel_response(response_id)
    assert cancelled.status == "cancelled"
    assert (await foundry.get_response(response_id)).status == "cancelled"


async def test_failed_response_becomes_typed_error(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """A 200 answer whose status is failed raises ResponseFailed with Foundry's code."""
    agent = await agent_for(foundry, emulator)
    conversation = await foundry.create_conversation({})
    emulator.faults.add(
        Fault(route="responses.create", kind="response_failed", count=1, code="server_error", message="boom")
    )
    with pytest.raises(ResponseFailed) as caught:
        await foundry.create_response(request(agent, conversation.id, "hello", []))
    assert caught.value.code == "server_error"
    assert caught.value.response_id


async def test_stream_error_event_becomes_typed_error(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """An `error` event in the stream is handed over and then raised as ResponseFailed."""
    agent = await agent_for(foundry, emulator)
    conversation = await foundry.create_conversation({})
    emulator.faults.add(
        Fault(route="responses.create", kind="stream_error", count=1, code="rate_limit_exceeded", message="slow down")
    )
    seen: list[str] = []
    with pytest.raises(ResponseFailed) as caught:
        await read_types(foundry, request(agent, conversation.id, "hello", []), seen)
    assert seen[-1] == "error"
    assert caught.value.code == "rate_limit_exceeded"


async def test_expired_container_download_is_container_expired(
    foundry: FoundryClient, emulator: FoundryEmulator, sales_csv: Path
) -> None:
    """Once the sandbox has expired, fetching one of its files raises ContainerExpired."""
    agent, conversation_id, file_id = await thread_with_file(foundry, emulator, sales_csv)
    response = await foundry.create_response(request(agent, conversation_id, "plot revenue", [file_id]))
    citation = response.citations[0]
    emulator.expire_containers()
    with pytest.raises(ContainerExpired) as caught:
        await download(foundry, citation.container_id, citation.file_id)
    assert caught.value.status == 404
    assert "timed out" in caught.value.user_message
    with pytest.raises(ContainerExpired):
        await foundry.list_container_files(citation.container_id)


async def test_many_turns_in_parallel_conversations(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """Concurrent responses in different conversations each complete in their own sandbox."""
    agent = await agent_for(foundry, emulator)
    conversations = [await foundry.create_conversation({}) for _ in range(4)]
    code = "```python\nprint(6 * 7)\n```"
    responses = await asyncio.gather(*(foundry.create_response(request(agent, c.id, code, [])) for c in conversations))
    containers = {r.code_calls[0].container_id for r in responses}
    assert len(containers) == 4
    assert all("42" in r.text for r in responses)


async def test_lists_longer_than_a_page_are_read_to_the_end(foundry: FoundryClient, emulator: FoundryEmulator) -> None:
    """Lists come 100 to a page; the client follows ``last_id`` until ``has_more`` is false."""
    created = [(await foundry.create_conversation({"deployment": "d1", "n": str(n)})).id for n in range(230)]
    listed = await foundry.list_conversations()
    assert [c.id for c in listed] == created
    pages = [r for r in emulator.requests if r.route == "conversations.list"]
    assert len(pages) == 3
