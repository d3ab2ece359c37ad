"""Everything the emulated project holds, as plain records in one object per emulator.

Tests reach in through ``emu.state`` (stored upload bytes, container folders, conversation
items), so the records stay simple dataclasses with ``to_json`` for their wire shape.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Json = dict[str, Any]
ContainerStatus = Literal["running", "expired", "deleted"]
MOUNT_POINT = "/mnt/data"


@dataclass
class AgentVersion:
    """One immutable version of a prompt agent."""

    name: str
    version: str
    created_at: int
    definition: Json
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"

    def to_json(self) -> Json:
        return {
            "object": "agent.version",
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "metadata": self.metadata,
            "created_at": self.created_at,
            "status": "active",
            "definition": self.definition,
        }


@dataclass
class Agent:
    """An agent name and its versions; version numbers keep counting after deletions."""

    name: str
    versions: dict[str, AgentVersion] = field(default_factory=dict)
    next_version: int = 1

    def latest(self) -> AgentVersion | None:
        return max(self.versions.values(), key=lambda v: int(v.version), default=None)


@dataclass
class StoredFile:
    """An upload made through the Files API, kept on disk with its hash."""

    id: str
    filename: str
    size: int
    created_at: int
    path: Path
    sha256: str
    purpose: str = "assistants"

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.size,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": None,
        }


@dataclass
class ContainerFile:
    """A file in a container's ``/mnt/data``: mounted (``user``) or written by code (``assistant``)."""

    id: str
    container_id: str
    name: str
    size: int
    created_at: int
    source: Literal["user", "assistant"]
    signature: tuple[int, int]

    @property
    def path(self) -> str:
        return f"{MOUNT_POINT}/{self.name}"

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "object": "container.file",
            "container_id": self.container_id,
            "path": self.path,
            "bytes": self.size,
            "created_at": self.created_at,
            "source": self.source,
        }


@dataclass
class Container:
    """A sandbox session: a temp folder standing in for ``/mnt/data`` and the files in it."""

    id: str
    conversation_id: str | None
    created_at: float
    last_active_at: float
    folder: Path
    status: ContainerStatus = "running"
    files: dict[str, ContainerFile] = field(default_factory=dict)
    #: Uploaded file id -> name under /mnt/data, for the files declared so far.
    mounted: dict[str, str] = field(default_factory=dict)
    runs: int = 0
    busy: int = 0
    memory_limit: str = "1g"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def live(self) -> bool:
        return self.status == "running"

    def to_json(self, idle_timeout_s: float) -> Json:
        return {
            "id": self.id,
            "object": "container",
            "name": f"code-interpreter-{self.conversation_id or self.id}",
            "status": self.status,
            "created_at": int(self.created_at),
            "last_active_at": int(self.last_active_at),
            "expires_after": {"anchor": "last_active_at", "minutes": max(1, round(idle_timeout_s / 60))},
            "memory_limit": self.memory_limit,
        }


@dataclass
class Conversation:
    """A conversation: its items, the agents that answered in it and its current container."""

    id: str
    created_at: int
    metadata: dict[str, str]
    items: list[Json] = field(default_factory=list)
    agent_names: set[str] = field(default_factory=set)
    container_id: str | None = None
    #: One turn at a time per conversation, as the service serialises runs on a thread.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def to_json(self) -> Json:
        return {"id": self.id, "object": "conversation", "created_at": self.created_at, "metadata": self.metadata}


@dataclass
class ResponseRecord:
    """A response as it is generated: its wire fields, its stream of events and its task."""

    id: str
    created_at: int
    body: Json
    events: list[Json] = field(default_factory=list)
    finished: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition, repr=False)

    @property
    def status(self) -> str:
        return str(self.body["status"])

    async def publish(self, event_type: str, **fields: Any) -> Json:
        """Append an event with the next ``sequence_number`` and wake every stream reader."""
        event = {"type": event_type, "sequence_number": len(self.events), **fields}
        async with self.changed:
            self.events.append(event)
            self.changed.notify_all()
        return event

    async def wait(self) -> None:
        """Wait until the response has finished, however it ends."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.finished)

    async def finish(self) -> None:
        """Mark the response done so stream readers stop waiting."""
        async with self.changed:
            self.finished = True
            self.changed.notify_all()


@dataclass
class EmulatorState:
    """The whole in-memory project. ``root`` holds uploads and container folders on disk."""

    root: Path
    agents: dict[str, Agent] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    containers: dict[str, Container] = field(default_factory=dict)
    responses: dict[str, ResponseRecord] = field(default_factory=dict)
    #: The most responses ever generating at the same moment (each one holds a billed session).
    peak_in_progress: int = 0

    def add_response(self, record: ResponseRecord) -> None:
        """Register a response that starts generating now, keeping the concurrency peak."""
        self.responses[record.id] = record
        self.peak_in_progress = max(self.peak_in_progress, self.in_progress())

    def in_progress(self) -> int:
        """Responses still generating."""
        return sum(1 for record in self.responses.values() if not record.finished)

    @property
    def uploads_dir(self) -> Path:
        return self.root / "files"

    @property
    def containers_dir(self) -> Path:
        return self.root / "containers"

    def counters(self) -> dict[str, int]:
        """Live resources, so tests can assert that nothing leaked."""
        return {
            "agent_versions": sum(len(agent.versions) for agent in self.agents.values()),
            "conversations": len(self.conversations),
            "files": len(self.files),
            "containers": sum(1 for container in self.containers.values() if container.live),
        }

    def agent_version(self, name: str, version: str | None) -> AgentVersion | None:
        """A given version, or the latest one when ``version`` is None."""
        agent = self.agents.get(name)
        if agent is None:
            return None
        return agent.latest() if version is None else agent.versions.get(version)

    def remove_all(self) -> None:
        """Delete every folder on disk; called when the emulator stops."""
        shutil.rmtree(self.root, ignore_errors=True)
