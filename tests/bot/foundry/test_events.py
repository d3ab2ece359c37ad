"""Parsing the server-sent events of a streamed response into typed events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from bot.foundry.events import (
    AnnotationAdded,
    CodeDone,
    OtherEvent,
    OutputItemEvent,
    ResponseEvent,
    StreamError,
    iter_sse,
    parse_event,
)
from bot.foundry.models import CodeInterpreterCall, ContainerFileCitation


async def lines(text: str) -> AsyncIterator[str]:
    for line in text.split("\n"):
        yield line


async def decode(text: str) -> list[dict[str, object]]:
    return [data async for data in iter_sse(lines(text))]


async def test_events_are_split_on_blank_lines_and_event_lines_ignored() -> None:
    """Each `data:` block is one event; `event:` lines and comments carry nothing we need."""
    text = (
        ": keep-alive\n"
        'event: response.created\ndata: {"type":"response.created","sequence_number":1}\n\n'
        'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"hi"}\n\n'
    )
    assert [d["type"] for d in await decode(text)] == ["response.created", "response.output_text.delta"]


async def test_multiline_data_is_joined() -> None:
    """A payload spread over several `data:` lines is joined with newlines before decoding."""
    text = 'data: {"type":\ndata: "x"}\n\n'
    assert await decode(text) == [{"type": "x"}]


async def test_done_marker_ends_the_stream() -> None:
    """`[DONE]` ends the events even if more lines follow."""
    text = 'data: {"type":"a"}\n\ndata: [DONE]\n\ndata: {"type":"b"}\n\n'
    assert await decode(text) == [{"type": "a"}]


async def test_last_event_without_trailing_blank_line_is_kept() -> None:
    """A stream that ends right after a data line still yields that event."""
    assert await decode('data: {"type":"a"}') == [{"type": "a"}]


def test_azure_annotation_event_parses_to_a_citation() -> None:
    """The annotation event Azure sends carries a typed container file citation."""
    data = json.loads(
        '{"type": "response.output_text.annotation.added", "sequence_number": 229, "item_id": "msg_1",'
        ' "output_index": 1, "content_index": 0, "annotation_index": 1, "annotation": {"type":'
        ' "container_file_citation", "container_id": "cntr_1", "file_id": "cfile_1", "filename": "a.png",'
        ' "start_index": 197, "end_index": 249}}'
    )
    event = parse_event(data)
    assert isinstance(event, AnnotationAdded)
    assert event.annotation == ContainerFileCitation(
        container_id="cntr_1", file_id="cfile_1", filename="a.png", start_index=197, end_index=249
    )


def test_unknown_annotation_and_event_types_are_kept_not_rejected() -> None:
    """Types we do not know pass through whole instead of breaking the turn."""
    annotation = parse_event({"type": "response.output_text.annotation.added", "annotation": {"type": "url"}})
    assert isinstance(annotation, AnnotationAdded)
    assert annotation.annotation == {"type": "url"}
    other = parse_event({"type": "response.reasoning.delta", "sequence_number": 3, "delta": "…"})
    assert isinstance(other, OtherEvent)
    assert other.data["delta"] == "…"


def test_output_item_and_response_events_are_typed() -> None:
    """Items are typed by their own `type`; lifecycle events carry the response."""
    item = parse_event(
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {"type": "code_interpreter_call", "id": "ci_1", "container_id": "cntr_1", "code": "1+1"},
        }
    )
    assert isinstance(item, OutputItemEvent)
    assert isinstance(item.item, CodeInterpreterCall)
    done = parse_event({"type": "response.completed", "response": {"id": "resp_1", "status": "completed"}})
    assert isinstance(done, ResponseEvent)
    assert done.response.id == "resp_1"
    code = parse_event({"type": "response.code_interpreter_call_code.done", "item_id": "ci_1", "code": "x=1"})
    assert isinstance(code, CodeDone)
    assert code.code == "x=1"


def test_bare_error_event_is_typed() -> None:
    """A bare `error` event keeps its code and message."""
    event = parse_event({"type": "error", "code": "server_error", "message": "oops", "sequence_number": 9})
    assert isinstance(event, StreamError)
    assert (event.code, event.message) == ("server_error", "oops")
