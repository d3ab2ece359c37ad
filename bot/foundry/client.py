"""The Microsoft Foundry client: agents, files, conversations, responses and containers.

One class, :class:`FoundryClient`, over an injected ``httpx.AsyncClient`` and a token source;
the services depend only on the :class:`Foundry` protocol. Paths and bodies follow the v1 API
(``{endpoint}/agents?api-version=v1`` and ``{endpoint}/openai/v1/...``). Reads and deletes are
retried freely; creates only where the server cannot have acted (429, 408, no connection).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import ContainerExpired, FoundryError, FoundryNotFound, FoundryUnavailable, ResponseFailed
from bot.foundry.events import ResponseEvent, StreamError, StreamEvent, iter_sse, parse_event
from bot.foundry.models import AgentVersion, ContainerFile, Conversation, FileObject, Response, ResponseError
from bot.foundry.multipart import StreamedMultipart
from bot.foundry.transport import Transport

_OPENAI = "/openai/v1"
M = TypeVar("M", bound=BaseModel)


class ResponseRequest(BaseModel):
    """One run of the agent in a conversation. ``tools`` is never sent: Foundry refuses it."""

    model_config = ConfigDict(frozen=True)

    agent_name: str
    agent_version: str | None = None
    conversation_id: str
    input: str | list[dict[str, Any]]
    structured_inputs: dict[str, str] = Field(default_factory=dict)
    include: list[str] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)

    def body(self, *, stream: bool) -> dict[str, Any]:
        """The JSON body of ``POST /openai/v1/responses``."""
        reference: dict[str, str] = {"type": "agent_reference", "name": self.agent_name}
        if self.agent_version:
            reference["version"] = self.agent_version
        body: dict[str, Any] = {
            "agent_reference": reference,
            "conversation": self.conversation_id,
            "input": self.input,
            "stream": stream,
        }
        if self.structured_inputs:
            body["structured_inputs"] = self.structured_inputs
        if self.include:
            body["include"] = self.include
        if self.metadata:
            body["metadata"] = self.metadata
        return body


class Foundry(Protocol):
    """**Protocol:** what the bot's services ask of Microsoft Foundry."""

    async def create_agent_version(
        self,
        name: str,
        definition: Mapping[str, Any],
        *,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> AgentVersion: ...
    async def get_agent_version(self, name: str, version: str) -> AgentVersion: ...
    async def list_agent_versions(self, name: str) -> list[AgentVersion]: ...
    async def delete_agent_version(self, name: str, version: str) -> bool: ...
    async def upload_file(
        self,
        filename: str,
        chunks: AsyncIterator[bytes],
        *,
        size: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> FileObject: ...
    async def delete_file(self, file_id: str) -> bool: ...
    async def create_conversation(self, metadata: Mapping[str, str]) -> Conversation: ...
    async def update_conversation(self, conversation_id: str, metadata: Mapping[str, str]) -> Conversation: ...
    async def list_conversations(self, *, agent_name: str | None = None) -> list[Conversation]: ...
    async def delete_conversation(self, conversation_id: str) -> bool: ...
    async def create_response(self, request: ResponseRequest) -> Response: ...
    def stream_response(self, request: ResponseRequest) -> AbstractAsyncContextManager[AsyncIterator[StreamEvent]]: ...
    async def get_response(self, response_id: str) -> Response: ...
    async def cancel_response(self, response_id: str) -> Response: ...
    async def list_container_files(self, container_id: str) -> list[ContainerFile]: ...
    def stream_container_file(
        self, container_id: str, file_id: str
    ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]: ...
    async def delete_container(self, container_id: str) -> bool: ...


class FoundryClient:
    """Talks to one Foundry project over an injected transport."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    # Agents -----------------------------------------------------------------------------------

    async def create_agent_version(
        self,
        name: str,
        definition: Mapping[str, Any],
        *,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> AgentVersion:
        """Create a new immutable version (and the agent itself, the first time)."""
        body: dict[str, Any] = {"definition": dict(definition)}
        if description is not None:
            body["description"] = description
        if metadata:
            body["metadata"] = dict(metadata)
        data = await self._t.json(
            "POST", f"/agents/{_seg(name)}/versions", body=body, what="create agent version", safe=False
        )
        return _parse(AgentVersion, data, "create agent version")

    async def get_agent_version(self, name: str, version: str) -> AgentVersion:
        """One version of an agent."""
        data = await self._t.json(
            "GET", f"/agents/{_seg(name)}/versions/{_seg(version)}", what="get agent version", safe=True
        )
        return _parse(AgentVersion, data, "get agent version")

    async def list_agent_versions(self, name: str) -> list[AgentVersion]:
        """Every version of an agent, newest first; an agent that does not exist has none."""
        try:
            return await self._list(AgentVersion, f"/agents/{_seg(name)}/versions", "list agent versions", order="desc")
        except FoundryNotFound:
            return []

    async def delete_agent_version(self, name: str, version: str) -> bool:
        """Delete one version; False when it was already gone."""
        return await self._delete(f"/agents/{_seg(name)}/versions/{_seg(version)}", "delete agent version")

    # Files ------------------------------------------------------------------------------------

    async def upload_file(
        self,
        filename: str,
        chunks: AsyncIterator[bytes],
        *,
        size: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> FileObject:
        """Stream a file into ``/openai/v1/files`` (``purpose=assistants``) one chunk at a time.

        Not retried here: the chunks can only be read once. The caller retries with a fresh stream.
        """
        form = StreamedMultipart(
            {"purpose": "assistants"},
            file_field="file",
            filename=filename,
            chunks=chunks,
            content_type=content_type,
            size=size,
        )
        async with self._t.open(
            "POST",
            f"{_OPENAI}/files",
            what="upload file",
            content=form.body(),
            headers=form.headers(),
            safe=False,
            retries=False,
        ) as response:
            await response.aread()
        return _parse(FileObject, _json(response.content, "upload file"), "upload file")

    async def delete_file(self, file_id: str) -> bool:
        """Delete an uploaded file; False when it was already gone."""
        return await self._delete(f"{_OPENAI}/files/{_seg(file_id)}", "delete file")

    # Conversations ----------------------------------------------------------------------------

    async def create_conversation(self, metadata: Mapping[str, str]) -> Conversation:
        """A new, empty conversation carrying ``metadata`` (at most 16 pairs)."""
        data = await self._t.json(
            "POST",
            f"{_OPENAI}/conversations",
            body={"metadata": dict(metadata)},
            what="create conversation",
            safe=False,
        )
        return _parse(Conversation, data, "create conversation")

    async def update_conversation(self, conversation_id: str, metadata: Mapping[str, str]) -> Conversation:
        """Set a conversation's metadata; send every pair (whether the service merges or replaces is not documented)."""
        data = await self._t.json(
            "POST",
            f"{_OPENAI}/conversations/{_seg(conversation_id)}",
            body={"metadata": dict(metadata)},
            what="update conversation",
            safe=True,  # the same metadata again changes nothing
        )
        return _parse(Conversation, data, "update conversation")

    async def list_conversations(self, *, agent_name: str | None = None) -> list[Conversation]:
        """Conversations in the project (Foundry lists them, optionally only an agent's), oldest first."""
        only = {"agent_name": agent_name} if agent_name else {}
        return await self._list(Conversation, f"{_OPENAI}/conversations", "list conversations", order="asc", **only)

    async def delete_conversation(self, conversation_id: str) -> bool:
        """Delete a conversation; False when it was already gone."""
        return await self._delete(f"{_OPENAI}/conversations/{_seg(conversation_id)}", "delete conversation")

    # Responses --------------------------------------------------------------------------------

    async def create_response(self, request: ResponseRequest) -> Response:
        """Run the agent and wait for the whole response."""
        data = await self._t.json(
            "POST", f"{_OPENAI}/responses", body=request.body(stream=False), what="create response", safe=False
        )
        response = _parse(Response, data, "create response")
        if response.status == "failed":
            raise _failed(response.id, response.error)
        return response

    @asynccontextmanager
    async def stream_response(self, request: ResponseRequest) -> AsyncIterator[AsyncIterator[StreamEvent]]:
        """Run the agent and read its events as they come; leaving the block closes the stream."""
        async with self._t.open(
            "POST",
            f"{_OPENAI}/responses",
            json_body=request.body(stream=True),
            headers={"Accept": "text/event-stream"},
            what="stream response",
            safe=False,
        ) as response:
            yield _events(response.aiter_lines())

    async def get_response(self, response_id: str) -> Response:
        """Retrieve a response by id, e.g. to recover a turn whose stream broke."""
        data = await self._t.json("GET", f"{_OPENAI}/responses/{_seg(response_id)}", what="get response", safe=True)
        return _parse(Response, data, "get response")

    async def cancel_response(self, response_id: str) -> Response:
        """Ask Foundry to stop a running response."""
        data = await self._t.json(
            "POST", f"{_OPENAI}/responses/{_seg(response_id)}/cancel", what="cancel response", safe=True
        )
        return _parse(Response, data, "cancel response")

    # Containers -------------------------------------------------------------------------------

    async def list_container_files(self, container_id: str) -> list[ContainerFile]:
        """Every file in a sandbox container, oldest first."""
        path = f"{_OPENAI}/containers/{_seg(container_id)}/files"
        with _sandbox_gone():
            return await self._list(ContainerFile, path, "list container files", order="asc")

    async def _list(self, model: type[M], path: str, what: str, *, order: str, **filters: str) -> list[M]:
        """Every item of a paged list (``limit`` and ``after`` in, ``has_more`` and ``last_id`` out)."""
        items: list[M] = []
        after: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 100, "order": order, **filters}
            if after:
                params["after"] = after
            page = await self._t.json("GET", path, params=params, what=what, safe=True)
            items += [_parse(model, item, what) for item in page.get("data", [])]
            after = page.get("last_id")
            if not page.get("has_more") or not after:
                return items

    @asynccontextmanager
    async def stream_container_file(self, container_id: str, file_id: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """The bytes of a generated file, in chunks, straight from the sandbox."""
        path = f"{_OPENAI}/containers/{_seg(container_id)}/files/{_seg(file_id)}/content"
        async with AsyncExitStack() as stack:
            with _sandbox_gone():
                response = await stack.enter_async_context(
                    self._t.open(
                        "GET", path, headers={"Accept": "application/binary"}, what="download container file", safe=True
                    )
                )
            yield response.aiter_bytes()

    async def delete_container(self, container_id: str) -> bool:
        """Delete a sandbox container; False when it was already gone (or expired)."""
        return await self._delete(f"{_OPENAI}/containers/{_seg(container_id)}", "delete container")

    async def _delete(self, path: str, what: str) -> bool:
        try:
            await self._t.json("DELETE", path, what=what, safe=True)
        except FoundryNotFound:
            return False
        return True


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[StreamEvent]:
    """Typed events; after a ``response.failed`` or ``error`` event, :class:`ResponseFailed`."""
    response_id: str | None = None
    try:
        async for data in iter_sse(lines):
            event = parse_event(data)
            yield event
            if isinstance(event, ResponseEvent):
                response_id = event.response.id
                if event.type == "response.failed":
                    raise _failed(response_id, event.response.error)
            elif isinstance(event, StreamError):
                raise _failed(response_id, ResponseError(code=event.code, message=event.message))
    except ValueError as exc:  # undecodable JSON or an event that does not fit its type
        raise FoundryUnavailable(f"stream response: malformed event: {exc}") from exc


def _failed(response_id: str | None, error: ResponseError | None) -> ResponseFailed:
    code = error.code if error else None
    message = error.message if error else "no reason given"
    failure = ResponseFailed(f"response {response_id or '(unknown)'} failed: {code or 'error'}: {message}", code=code)
    failure.response_id = response_id
    return failure


def _parse(model: type[M], data: Any, what: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FoundryError(f"{what}: unexpected answer: {exc.error_count()} problem(s)") from exc


def _json(content: bytes, what: str) -> Any:
    try:
        return json.loads(content)
    except ValueError as exc:
        raise FoundryError(f"{what}: the answer was not JSON") from exc


@contextmanager
def _sandbox_gone() -> Iterator[None]:
    """A container or its file that is not found means the sandbox expired (or was deleted)."""
    try:
        yield
    except ContainerExpired:
        raise
    except FoundryNotFound as exc:
        raise ContainerExpired(str(exc), status=exc.status, code=exc.code, request_id=exc.request_id) from exc


def _seg(value: str) -> str:
    """One path segment, so an id can never change which route is called."""
    return quote(value, safe="")
