"""Server-sent events of a streamed response, parsed into typed events.

The stream is ``event: <type>`` and ``data: <json>`` lines separated by blank lines; we dispatch
on the JSON ``type`` (the ``event:`` line is optional on some servers) and stop at ``[DONE]``.
Types we do not know become :class:`OtherEvent` so a newer server never breaks a turn.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.foundry.models import CodeInterpreterCall, ContainerFileCitation, OutputMessage, Response, parse_output_item


class StreamEvent(BaseModel):
    """Any event; ``sequence_number`` increases through one stream."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str
    sequence_number: int | None = None


class ResponseEvent(StreamEvent):
    """``response.created|in_progress|queued|completed|failed|incomplete``: the response so far."""

    response: Response


class OutputItemEvent(StreamEvent):
    """``response.output_item.added|done``: a message or a code call started or finished."""

    output_index: int = 0
    item: OutputMessage | CodeInterpreterCall | dict[str, Any]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> OutputItemEvent:
        """Parse, typing the item by its own ``type``."""
        return cls.model_validate({**data, "item": parse_output_item(data.get("item") or {})})


class CodeCallProgress(StreamEvent):
    """``response.code_interpreter_call.in_progress|interpreting|completed``."""

    item_id: str = ""
    output_index: int = 0


class CodeDelta(StreamEvent):
    """``response.code_interpreter_call_code.delta``: more of the code being written."""

    item_id: str = ""
    delta: str = ""


class CodeDone(StreamEvent):
    """``response.code_interpreter_call_code.done``: the complete code of one call."""

    item_id: str = ""
    code: str = ""


class TextDelta(StreamEvent):
    """``response.output_text.delta``: more answer text."""

    item_id: str = ""
    delta: str = ""


class TextDone(StreamEvent):
    """``response.output_text.done``: the complete text of one part."""

    item_id: str = ""
    text: str = ""


class AnnotationAdded(StreamEvent):
    """``response.output_text.annotation.added``: a citation (or something newer, kept raw)."""

    item_id: str = ""
    annotation: ContainerFileCitation | dict[str, Any]


class StreamError(StreamEvent):
    """A bare ``error`` event: the run broke off."""

    code: str | None = None
    message: str = ""
    param: str | None = None


class OtherEvent(StreamEvent):
    """An event type we do not act on; ``data`` keeps it whole."""

    data: dict[str, Any]


_RESPONSE_EVENTS = {
    "response.created",
    "response.in_progress",
    "response.queued",
    "response.completed",
    "response.failed",
    "response.incomplete",
}
_SIMPLE: dict[str, type[StreamEvent]] = {
    "response.code_interpreter_call.in_progress": CodeCallProgress,
    "response.code_interpreter_call.interpreting": CodeCallProgress,
    "response.code_interpreter_call.completed": CodeCallProgress,
    "response.code_interpreter_call_code.delta": CodeDelta,
    "response.code_interpreter_call_code.done": CodeDone,
    "response.output_text.delta": TextDelta,
    "response.output_text.done": TextDone,
    "error": StreamError,
}


def parse_event(data: dict[str, Any]) -> StreamEvent:
    """The typed event for one decoded ``data:`` payload."""
    kind = str(data.get("type", ""))
    if kind in _RESPONSE_EVENTS:
        return ResponseEvent.model_validate(data)
    if kind in ("response.output_item.added", "response.output_item.done"):
        return OutputItemEvent.from_data(data)
    if kind == "response.output_text.annotation.added":
        annotation = data.get("annotation") or {}
        if isinstance(annotation, dict) and annotation.get("type") == "container_file_citation":
            annotation = ContainerFileCitation.model_validate(annotation)
        return AnnotationAdded.model_validate({**data, "annotation": annotation})
    if kind in _SIMPLE:
        return _SIMPLE[kind].model_validate(data)
    return OtherEvent(type=kind, sequence_number=data.get("sequence_number"), data=data)


async def iter_sse(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """Decoded ``data:`` payloads of an SSE stream, one per event, ending at ``[DONE]``."""
    buffer: list[str] = []
    async for line in lines:
        if line:
            if line.startswith("data:"):
                buffer.append(line[5:].removeprefix(" "))
            continue  # `event:`, `id:`, `retry:` and `:` comments carry nothing we need
        if not buffer:
            continue
        payload = "\n".join(buffer)
        buffer = []
        if payload.strip() == "[DONE]":
            return
        decoded = json.loads(payload)
        if isinstance(decoded, dict):
            yield decoded
    if buffer and (payload := "\n".join(buffer)).strip() != "[DONE]":
        decoded = json.loads(payload)
        if isinstance(decoded, dict):
            yield decoded
