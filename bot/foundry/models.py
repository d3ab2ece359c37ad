"""Typed views of the objects Foundry returns, lenient about what we don't use.

Unknown fields are ignored and unknown output items, content parts and annotations are kept as
opaque objects rather than rejected: other frameworks crash on the newer
``container_file_citation`` annotation, and we would rather skip what we don't know.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AgentVersion(_Wire):
    """One immutable version of a prompt agent."""

    name: str
    version: str
    id: str | None = None
    description: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: int | None = None
    status: str | None = None
    definition: dict[str, Any] = Field(default_factory=dict)


class FileObject(_Wire):
    """An uploaded file (``purpose=assistants``)."""

    id: str
    filename: str
    bytes: int | None = None
    created_at: int | None = None
    purpose: str | None = None
    status: str | None = None


class Conversation(_Wire):
    """A Foundry conversation: one per Slack thread."""

    id: str
    created_at: int | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class ContainerFile(_Wire):
    """A file in a Code Interpreter sandbox; ``source`` is ``user`` or ``assistant``."""

    id: str
    container_id: str
    path: str
    bytes: int | None = None
    created_at: int | None = None
    source: str | None = None

    @property
    def filename(self) -> str:
        """The last part of the path."""
        return self.path.rsplit("/", 1)[-1]


class ContainerFileCitation(_Wire):
    """A link in the answer text to a file the run generated."""

    type: Literal["container_file_citation"] = "container_file_citation"
    container_id: str
    file_id: str
    filename: str
    start_index: int = 0
    end_index: int = 0


class OutputText(_Wire):
    """A text part of an assistant message, with its annotations."""

    type: Literal["output_text"] = "output_text"
    text: str = ""
    annotations: list[ContainerFileCitation | dict[str, Any]] = Field(default_factory=list)

    @field_validator("annotations", mode="before")
    @classmethod
    def _annotations(cls, value: Any) -> Any:
        return [_citation_or_raw(item) for item in value or []]

    @property
    def citations(self) -> list[ContainerFileCitation]:
        """The container file citations among the annotations."""
        return [item for item in self.annotations if isinstance(item, ContainerFileCitation)]


class OutputMessage(_Wire):
    """An assistant message; ``content`` holds text parts and anything newer, kept raw."""

    type: Literal["message"] = "message"
    id: str | None = None
    role: str = "assistant"
    status: str | None = None
    content: list[OutputText | dict[str, Any]] = Field(default_factory=list)

    @field_validator("content", mode="before")
    @classmethod
    def _content(cls, value: Any) -> Any:
        return [OutputText.model_validate(p) if _typed(p, "output_text") else p for p in value or []]

    @property
    def texts(self) -> list[OutputText]:
        """The text parts, in order."""
        return [part for part in self.content if isinstance(part, OutputText)]


class CodeInterpreterCall(_Wire):
    """One run of model-written Python in the sandbox."""

    type: Literal["code_interpreter_call"] = "code_interpreter_call"
    id: str
    status: str | None = None
    container_id: str | None = None
    code: str | None = None
    outputs: list[dict[str, Any]] | None = None


class ResponseError(_Wire):
    """Why a response failed."""

    code: str | None = None
    message: str = ""


class Usage(_Wire):
    """Token counts of one response."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


OutputItem = OutputMessage | CodeInterpreterCall | dict[str, Any]


class Response(_Wire):
    """The result of running the agent once in a conversation."""

    id: str
    status: str | None = None
    output: list[OutputItem] = Field(default_factory=list)
    error: ResponseError | None = None
    usage: Usage | None = None
    conversation: dict[str, Any] | None = None
    incomplete_details: dict[str, Any] | None = None

    @field_validator("output", mode="before")
    @classmethod
    def _output(cls, value: Any) -> Any:
        return [parse_output_item(item) for item in value or []]

    @property
    def messages(self) -> list[OutputMessage]:
        """Every assistant message, in order."""
        return [item for item in self.output if isinstance(item, OutputMessage)]

    @property
    def code_calls(self) -> list[CodeInterpreterCall]:
        """Every code interpreter call, in order."""
        return [item for item in self.output if isinstance(item, CodeInterpreterCall)]

    @property
    def text(self) -> str:
        """All answer text, parts joined by blank lines."""
        return "\n\n".join(part.text for message in self.messages for part in message.texts if part.text)

    @property
    def citations(self) -> list[ContainerFileCitation]:
        """Every container file citation in every message part, first occurrence of each file id."""
        seen: dict[str, ContainerFileCitation] = {}
        for message in self.messages:
            for part in message.texts:
                for citation in part.citations:
                    seen.setdefault(citation.file_id, citation)
        return list(seen.values())


def _typed(value: Any, kind: str) -> bool:
    return isinstance(value, dict) and value.get("type") == kind


def _citation_or_raw(value: Any) -> Any:
    return ContainerFileCitation.model_validate(value) if _typed(value, "container_file_citation") else value


def parse_output_item(value: Any) -> Any:
    if _typed(value, "message"):
        return OutputMessage.model_validate(value)
    if _typed(value, "code_interpreter_call"):
        return CodeInterpreterCall.model_validate(value)
    return value
