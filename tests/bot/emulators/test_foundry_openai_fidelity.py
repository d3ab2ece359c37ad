"""The official ``openai`` package, which nobody here wrote, talks to the emulator unchanged.

Raw JSON is validated with the package's own pydantic types (``model_validate``), not only the
lenient construction the client does on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types import FileDeleted, FileObject
from openai.types.containers import FileListResponse
from openai.types.conversations import Conversation, ConversationDeletedResource, ConversationItemList
from openai.types.responses import (
    Response,
    ResponseCodeInterpreterToolCall,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseOutputTextAnnotationAddedEvent,
    ResponseStreamEvent,
)
from openai.types.responses.response_code_interpreter_tool_call import OutputLogs
from openai.types.responses.response_output_text import AnnotationContainerFileCitation
from openai.types.responses.response_output_text_annotation_added_event import (
    AnnotationContainerFileCitation as AddedContainerFileCitation,
)
from pydantic import TypeAdapter

from bot.emulators.foundry import FoundryEmulator

from .conftest import AGENT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STREAM_EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


@pytest.fixture(name="client")
async def _client(emulator: FoundryEmulator) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official async client on the emulator's OpenAI-compatible base URL."""
    client = openai.AsyncOpenAI(
        base_url=f"{emulator.endpoint}/openai/v1", api_key=emulator.issue_token(), max_retries=0
    )
    async with client:
        yield client


def agent_body(file_id: str) -> dict[str, Any]:
    """The Foundry-only fields the bot sends through ``extra_body``."""
    return {
        "agent_reference": {"type": "agent_reference", "name": AGENT},
        "structured_inputs": {"f1": file_id, "f2": "", "f3": ""},
    }


async def test_openai_client_runs_a_plot_turn_end_to_end(
    client: openai.AsyncOpenAI, agent: dict[str, Any], sales_csv: Path, emulator: FoundryEmulator
) -> None:
    """Conversation, upload, response, chart download, listing and clean-up all parse with openai's types."""
    conversation = await client.conversations.create(metadata={"deployment": "d1"})
    assert conversation.metadata == {"deployment": "d1"}
    tagged = await client.conversations.update(conversation.id, metadata={"slack_thread": "C1:1712345678.000100"})
    assert isinstance(tagged, Conversation)
    assert tagged.metadata == {"slack_thread": "C1:1712345678.000100"}
    uploaded = await client.files.create(file=(sales_csv.name, sales_csv.read_bytes()), purpose="assistants")
    assert uploaded.id.startswith("assistant-")
    assert ("processed", sales_csv.stat().st_size, "sales.csv") == (uploaded.status, uploaded.bytes, uploaded.filename)

    raw = await client.responses.with_raw_response.create(
        conversation=conversation.id, input="plot revenue by month", extra_body=agent_body(uploaded.id)
    )
    response = Response.model_validate(raw.http_response.json())
    assert response.status == "completed"
    assert response.conversation is not None
    assert conversation.id == response.conversation.id
    call, message = response.output
    assert isinstance(call, ResponseCodeInterpreterToolCall)
    assert isinstance(message, ResponseOutputMessage)
    assert call.outputs is None
    [part] = message.content
    assert isinstance(part, ResponseOutputText)
    [citation] = part.annotations
    assert isinstance(citation, AnnotationContainerFileCitation)
    assert citation.filename == "sales_chart.png"
    text = part.text
    assert text[citation.start_index : citation.end_index] == "sandbox:/mnt/data/sales_chart.png"
    assert response.usage is not None
    assert response.usage.total_tokens > 0
    assert raw.http_response.json()["agent_reference"] == {"type": "agent_reference", "name": AGENT, "version": "1"}

    again = await client.responses.retrieve(response.id)
    assert (again.id, again.status, again.output_text) == (response.id, "completed", response.output_text)
    chart = await client.containers.files.content.retrieve(citation.file_id, container_id=citation.container_id)
    assert chart.content.startswith(PNG_MAGIC)
    listed = [f async for f in client.containers.files.list(citation.container_id)]
    assert {("/mnt/data/sales.csv", "user"), ("/mnt/data/sales_chart.png", "assistant")} == {
        (f.path, f.source) for f in listed
    }

    deleted = await client.conversations.delete(conversation.id)
    assert isinstance(deleted, ConversationDeletedResource)
    assert deleted.deleted
    gone = await client.files.delete(uploaded.id)
    assert isinstance(gone, FileDeleted)
    assert gone.deleted
    with pytest.raises(openai.NotFoundError):
        await client.conversations.retrieve(conversation.id)


async def test_openai_stream_events_parse_strictly(
    client: openai.AsyncOpenAI, agent: dict[str, Any], sales_csv: Path
) -> None:
    """A streamed turn yields openai's own event classes, each of which also validates strictly."""
    conversation = await client.conversations.create()
    uploaded = await client.files.create(file=(sales_csv.name, sales_csv.read_bytes()), purpose="assistants")
    code = "```python\nopen('/mnt/data/note.txt', 'w').write('hi')\nprint('wrote it')\n```"
    stream = await client.responses.create(
        conversation=conversation.id, input=code, stream=True, extra_body=agent_body(uploaded.id)
    )
    events = [event async for event in stream]
    for event in events:
        STREAM_EVENTS.validate_python(event.to_dict())
    assert isinstance(events[0], ResponseCreatedEvent)
    assert isinstance(events[-1], ResponseCompletedEvent)
    assert list(range(len(events))) == [event.sequence_number for event in events]
    expected = [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.code_interpreter_call.in_progress",
        "response.code_interpreter_call_code.delta",
        "response.code_interpreter_call_code.done",
        "response.code_interpreter_call.interpreting",
        "response.code_interpreter_call.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.annotation.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert expected == [t for i, t in enumerate(e.type for e in events) if i == 0 or t != events[i - 1].type]
    [added] = [e for e in events if isinstance(e, ResponseOutputTextAnnotationAddedEvent)]
    assert isinstance(added.annotation, AddedContainerFileCitation)
    assert added.annotation.filename == "note.txt"
    assert "wrote it" in events[-1].response.output_text


async def test_conversation_and_file_objects_validate_strictly(
    http: httpx.AsyncClient, agent: dict[str, Any], sales_csv: Path
) -> None:
    """Raw conversation, item-list, file and container-file JSON validate against openai's models."""
    conversation = (await http.post("/openai/v1/conversations", json={"metadata": {"k": "v"}})).json()
    Conversation.model_validate(conversation)
    file_object = (
        await http.post("/openai/v1/files", data={"purpose": "assistants"}, files={"file": ("s.csv", b"a,b\n1,2\n")})
    ).json()
    FileObject.model_validate(file_object)
    FileObject.model_validate((await http.get(f"/openai/v1/files/{file_object['id']}")).json())
    body = {
        "agent_reference": {"type": "agent_reference", "name": AGENT},
        "conversation": {"id": conversation["id"]},
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]}],
        "structured_inputs": {"f2": file_object["id"]},
        "include": ["code_interpreter_call.outputs"],
    }
    response = Response.model_validate((await http.post("/openai/v1/responses", json=body)).json())
    call = response.output[0]
    assert isinstance(call, ResponseCodeInterpreterToolCall)
    assert call.outputs is not None
    [logs] = call.outputs
    assert isinstance(logs, OutputLogs)
    assert "s.csv" in logs.logs
    items = (await http.get(f"/openai/v1/conversations/{conversation['id']}/items", params={"order": "asc"})).json()
    listing = ConversationItemList.model_validate(items)
    assert [item.type for item in listing.data] == ["message", "code_interpreter_call", "message"]
    files = (await http.get(f"/openai/v1/containers/{call.container_id}/files")).json()
    for item in files["data"]:
        FileListResponse.model_validate(item)
    FileDeleted.model_validate((await http.delete(f"/openai/v1/files/{file_object['id']}")).json())
    deleted = await http.delete(f"/openai/v1/conversations/{conversation['id']}")
    ConversationDeletedResource.model_validate(deleted.json())
