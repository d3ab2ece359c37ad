"""The Responses API: validate a request against its agent, start generation, answer or stream.

With ``agent_reference`` the agent owns the model, instructions and tools, so a body that
also sends ``tools`` (seen in the wild), ``model`` or ``instructions`` is refused with
``invalid_payload``. Stream mode writes ``event:``/``data:`` pairs from the response's event
list, so ``GET …/responses/{id}?stream=true&starting_after=N`` can resume a broken stream.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from aiohttp import web

from bot.emulators.foundry.config import EmulatorConfig
from bot.emulators.foundry.definitions import input_values, render, resolved_tools
from bot.emulators.foundry.errors import ApiError, bad_request, not_found
from bot.emulators.foundry.faults import FaultRegistry
from bot.emulators.foundry.generation import RUNNING, Generator, Turn
from bot.emulators.foundry.ids import new_id
from bot.emulators.foundry.items import input_items, text_of
from bot.emulators.foundry.recording import request_id_of
from bot.emulators.foundry.routing import RouteTable
from bot.emulators.foundry.state import AgentVersion, Conversation, EmulatorState, Json, ResponseRecord, StoredFile
from bot.emulators.foundry.wire import metadata, ok, read_json

AGENT_OWNED = ("tools", "model", "instructions")
OUTPUTS_INCLUDE = "code_interpreter_call.outputs"


def _agent_reference(body: Json) -> tuple[str, str | None]:
    if "agent" in body and "agent_reference" not in body:
        raise bad_request("'agent' was removed in v1; send 'agent_reference' instead.", param="agent")
    ref = body.get("agent_reference")
    if not isinstance(ref, dict) or not isinstance(ref.get("name"), str) or not ref["name"]:
        raise bad_request("agent_reference with a 'name' is required.", param="agent_reference")
    version = ref.get("version")
    if version is not None and not isinstance(version, str):
        raise bad_request("agent_reference.version must be a string.", param="agent_reference.version")
    return ref["name"], version


def _conversation_id(body: Json) -> str | None:
    value = body.get("conversation")
    if isinstance(value, dict):
        value = value.get("id")
    if value is not None and not isinstance(value, str):
        raise bad_request('conversation must be an id or {"id": …}.', param="conversation")
    return value


def _include(body: Json) -> list[str]:
    value = body.get("include") or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request("include must be an array of strings.", param="include")
    return value


class ResponseRoutes:
    """Create, retrieve and cancel responses."""

    def __init__(
        self, state: EmulatorState, config: EmulatorConfig, generator: Generator, faults: FaultRegistry
    ) -> None:
        self._state = state
        self._config = config
        self._generator = generator
        self._faults = faults

    def register(self, table: RouteTable) -> None:
        table.add("POST", "/openai/v1/responses", "responses.create", self.create)
        table.add("GET", "/openai/v1/responses/{response_id}", "responses.get", self.get)
        table.add("POST", "/openai/v1/responses/{response_id}/cancel", "responses.cancel", self.cancel)

    async def create(self, request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        for key in AGENT_OWNED:
            if body.get(key) is not None:
                raise bad_request("Not allowed when agent is specified.", param=key)
        name, version = _agent_reference(body)
        agent = self._state.agent_version(name, version)
        if agent is None:
            message = f"Agent '{name}' version '{version or 'latest'}' was not found."
            raise ApiError(404, message, param="agent_reference")
        conversation = self._conversation(_conversation_id(body))
        stream = body.get("stream") is True
        record, turn = self._prepare(body, agent, conversation, stream)
        self._state.add_response(record)
        if conversation is not None:
            conversation.agent_names.add(agent.name)
            conversation.items.extend(turn.items)
        self._generator.start(record, turn)
        if stream:
            return await _stream(request, record, -1)
        await record.wait()
        return ok(record.body)

    async def get(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request)
        if request.query.get("stream") == "true":
            after = request.query.get("starting_after", "-1")
            if not after.lstrip("-").isdigit():
                raise bad_request("starting_after must be an integer.", param="starting_after")
            return await _stream(request, record, int(after))
        return ok(record.body)

    async def cancel(self, request: web.Request) -> web.Response:
        record = self._record(request)
        if record.status not in RUNNING:
            raise ApiError(
                400, f"Cannot cancel a response with status '{record.status}'.", code="invalid_request_error"
            )
        await self._generator.cancel(record)
        return ok(record.body)

    def _prepare(
        self, body: Json, agent: AgentVersion, conversation: Conversation | None, stream: bool
    ) -> tuple[ResponseRecord, Turn]:
        values = input_values(agent.definition, body.get("structured_inputs"), agent.id)
        tools = resolved_tools(agent.definition, values)
        interpreter = next((t for t in tools if t["type"] == "code_interpreter"), None)
        files = self._files(interpreter["container"]["file_ids"] if interpreter else [])
        instructions = render(agent.definition.get("instructions") or "", values)
        include = _include(body)
        items = input_items(body.get("input"))
        kinds = frozenset({"response_failed", "stream_error"} if stream else {"response_failed"})
        record = ResponseRecord(new_id("resp_", 40), self._config.now(), {})
        record.body = self._body(record, body, agent, conversation, tools, instructions)
        turn = Turn(
            conversation=conversation,
            items=items,
            prompt=text_of(items),
            instructions=instructions,
            files=files,
            code_interpreter=interpreter is not None,
            include_outputs=OUTPUTS_INCLUDE in include,
            fault=self._faults.take("responses.create", kinds),
        )
        return record, turn

    def _body(
        self,
        record: ResponseRecord,
        body: Json,
        agent: AgentVersion,
        conversation: Conversation | None,
        tools: list[Json],
        instructions: str,
    ) -> Json:
        definition: Json = agent.definition
        tool_choice: Any = body.get("tool_choice") or definition.get("tool_choice") or "auto"
        return {
            "id": record.id,
            "object": "response",
            "created_at": record.created_at,
            "status": "in_progress",
            "background": bool(body.get("background")),
            "completed_at": None,
            "conversation": {"id": conversation.id} if conversation is not None else None,
            "error": None,
            "incomplete_details": None,
            "instructions": instructions or None,
            "max_output_tokens": body.get("max_output_tokens"),
            "metadata": metadata(body.get("metadata")),
            "model": definition["model"],
            "output": [],
            "parallel_tool_calls": True,
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "store": body.get("store", True) is not False,
            "temperature": definition.get("temperature", 1.0),
            "text": definition.get("text") or {"format": {"type": "text"}},
            "tool_choice": tool_choice,
            "tools": tools,
            "top_p": definition.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": None,
            "user": None,
            "agent_reference": {"type": "agent_reference", "name": agent.name, "version": agent.version},
            "structured_inputs": body.get("structured_inputs") or {},
        }

    def _files(self, file_ids: list[str]) -> list[StoredFile]:
        files: list[StoredFile] = []
        for file_id in dict.fromkeys(file_ids):
            stored = self._state.files.get(file_id)
            if stored is None:
                raise ApiError(
                    400,
                    f"File '{file_id}' declared for code_interpreter was not found.",
                    code="invalid_request_error",
                    param="structured_inputs",
                )
            files.append(stored)
        return files

    def _conversation(self, conversation_id: str | None) -> Conversation | None:
        if conversation_id is None:
            return None
        conversation = self._state.conversations.get(conversation_id)
        if conversation is None:
            raise not_found("Conversation", conversation_id, param="conversation")
        return conversation

    def _record(self, request: web.Request) -> ResponseRecord:
        response_id = request.match_info["response_id"]
        record = self._state.responses.get(response_id)
        if record is None:
            raise not_found("Response", response_id)
        return record


def _ready(record: ResponseRecord, index: int) -> bool:
    return len(record.events) > index or record.finished


async def _stream(request: web.Request, record: ResponseRecord, after: int) -> web.StreamResponse:
    """Write the response's events after ``after`` as server-sent events until it finishes."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "x-request-id": request_id_of(request),
        }
    )
    await response.prepare(request)
    index = after + 1
    try:
        while True:
            async with record.changed:
                await record.changed.wait_for(functools.partial(_ready, record, index))
                batch, finished = record.events[index:], record.finished
            for event in batch:
                await response.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
            index += len(batch)
            if finished and index >= len(record.events):
                break
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away; the response carries on without it
    return response
