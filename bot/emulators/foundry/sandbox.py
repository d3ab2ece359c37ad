"""Containers: one sandbox per conversation, its ``/mnt/data`` folder, its files and its expiry.

A container expires when it has been idle for ``idle_timeout_s`` or alive for ``max_age_s``,
judged lazily against the configured clock (on every request) or forced by
``expire_containers()``. Expiry deletes the folder and kills the container's kernel: its files
and variables are gone, and the conversation's next turn gets a fresh container (and kernel)
with the declared files mounted again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from bot.emulators.foundry.config import EmulatorConfig
from bot.emulators.foundry.errors import not_found
from bot.emulators.foundry.ids import new_id
from bot.emulators.foundry.runner import CellRunner, RunResult
from bot.emulators.foundry.state import (
    Container,
    ContainerFile,
    ContainerStatus,
    Conversation,
    EmulatorState,
    StoredFile,
)

Signature = tuple[int, int]


def _scan(folder: Path) -> dict[str, Signature]:
    """Every regular file under ``folder`` by relative path, with (size, mtime_ns)."""
    found: dict[str, Signature] = {}
    for base, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(base, name)
            if path.is_file() and not path.is_symlink():
                stat = path.stat()
                found[path.relative_to(folder).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    stem, dot, suffix = name.rpartition(".")
    stem, suffix = (stem, dot + suffix) if stem else (name, "")
    counter = 2
    while f"{stem} ({counter}){suffix}" in taken:
        counter += 1
    return f"{stem} ({counter}){suffix}"


class Sandboxes:
    """Creates, feeds, runs, expires and deletes containers."""

    def __init__(self, state: EmulatorState, config: EmulatorConfig) -> None:
        self._state = state
        self._config = config
        #: Each live container's interpreter, by container id; its kernel starts on the first cell.
        self._runners: dict[str, CellRunner] = {}
        #: Interpreters of retired containers whose killed workers are not reaped yet.
        self._retired: list[CellRunner] = []

    def live(self, container_id: str) -> Container:
        """A running container, or the 404 an expired or unknown one gets."""
        container = self._state.containers.get(container_id)
        if container is None or not container.live:
            raise not_found("Container", container_id)
        return container

    def touch(self, container: Container) -> None:
        container.last_active_at = self._config.clock()

    def due(self, conversation_id: str | None = None, *, force: bool = False) -> list[Container]:
        """Live containers to expire: idle or too old by the clock (or all of them when forced).

        A container that is running code is only expired when forced.
        """
        now = self._config.clock()
        found = []
        for container in self._state.containers.values():
            if not container.live or (conversation_id is not None and container.conversation_id != conversation_id):
                continue
            idle = now - container.last_active_at >= self._config.idle_timeout_s
            old = now - container.created_at >= self._config.max_age_s
            if force or (not container.busy and (idle or old)):
                found.append(container)
        return found

    async def sweep(self) -> None:
        """Expire every container that is due, and reap retired kernels; called before each request."""
        for container in self.due():
            await self._retire(container, "expired")
        await self._reap()

    def sweep_now(self) -> None:
        """:meth:`sweep` for synchronous callers."""
        for container in self.due():
            self._retire_now(container, "expired")

    async def expire(self, conversation_id: str | None = None) -> list[str]:
        """Expire live containers now (those of one conversation, or all); their ids."""
        due = self.due(conversation_id, force=True)
        for container in due:
            await self._retire(container, "expired")
        return [c.id for c in due]

    def expire_now(self, conversation_id: str | None = None) -> list[str]:
        """:meth:`expire` for synchronous callers."""
        due = self.due(conversation_id, force=True)
        for container in due:
            self._retire_now(container, "expired")
        return [c.id for c in due]

    async def delete(self, container: Container) -> None:
        await self._retire(container, "deleted")

    async def for_turn(self, conversation: Conversation | None, files: list[StoredFile]) -> Container:
        """The conversation's live container (or a new one) with every declared file mounted."""
        container = None
        if conversation is not None and conversation.container_id is not None:
            container = self._state.containers.get(conversation.container_id)
        if container is None or not container.live:
            container = await self._create(conversation.id if conversation else None)
            if conversation is not None:
                conversation.container_id = container.id
        for stored in files:
            if stored.id not in container.mounted:
                await self._mount(container, stored)
        self.touch(container)
        return container

    async def run(self, container: Container, code: str) -> tuple[RunResult, list[ContainerFile]]:
        """Run one cell; return its result and the files it created or changed."""
        if not container.live:
            return RunResult(None, "", f"ContainerExpired: container {container.id} is {container.status}.\n"), []
        runner = self._runners.get(container.id)
        if runner is None:
            runner = CellRunner(
                container.data_dir, timeout_s=self._config.run_timeout_s, memory_mb=self._config.run_memory_mb
            )
            self._runners[container.id] = runner
        container.runs += 1
        container.busy += 1
        try:
            result = await runner.run(code, f"cell_{container.runs}.py")
        finally:
            container.busy -= 1
            self.touch(container)
        if not container.live:
            return result, []
        return result, await self._collect(container)

    async def close(self) -> None:
        """Kill every kernel and remove every container folder (the emulator is stopping)."""
        self._retired.extend(self._runners.values())
        self._runners.clear()
        await self._reap()
        for container in self._state.containers.values():
            await asyncio.to_thread(shutil.rmtree, container.folder, True)

    async def _create(self, conversation_id: str | None) -> Container:
        container_id = new_id("cntr_", 40)
        folder = self._state.containers_dir / container_id
        now = self._config.clock()
        container = Container(container_id, conversation_id, now, now, folder)
        await asyncio.to_thread(container.data_dir.mkdir, parents=True)
        self._state.containers[container_id] = container
        return container

    async def _mount(self, container: Container, stored: StoredFile) -> None:
        name = _unique(stored.filename, {f.name for f in container.files.values()})
        target = container.data_dir / name
        await asyncio.to_thread(shutil.copyfile, stored.path, target)
        stat = target.stat()
        record = ContainerFile(
            new_id("cfile_", 40),
            container.id,
            name,
            stat.st_size,
            self._config.now(),
            "user",
            (stat.st_size, stat.st_mtime_ns),
        )
        container.files[record.id] = record
        container.mounted[stored.id] = name

    async def _collect(self, container: Container) -> list[ContainerFile]:
        """Sync the file records with the folder; new or modified files become ``assistant`` files."""
        on_disk = await asyncio.to_thread(_scan, container.data_dir)
        by_name = {f.name: f for f in container.files.values()}
        for name, record in by_name.items():
            if on_disk.get(name) != record.signature:
                del container.files[record.id]
        changed: list[ContainerFile] = []
        for name, signature in on_disk.items():
            if name in by_name and by_name[name].signature == signature:
                continue
            record = ContainerFile(
                new_id("cfile_", 40), container.id, name, signature[0], self._config.now(), "assistant", signature
            )
            container.files[record.id] = record
            changed.append(record)
        return changed

    async def _retire(self, container: Container, status: ContainerStatus) -> None:
        self._release(container, status)
        await asyncio.to_thread(shutil.rmtree, container.folder, True)
        await self._reap()

    def _retire_now(self, container: Container, status: ContainerStatus) -> None:
        self._release(container, status)
        shutil.rmtree(container.folder, ignore_errors=True)

    def _release(self, container: Container, status: ContainerStatus) -> None:
        """Mark the container gone and kill its kernel; the worker is reaped by the next :meth:`_reap`."""
        container.status = status
        runner = self._runners.pop(container.id, None)
        if runner is not None:
            runner.shutdown()
            self._retired.append(runner)

    async def _reap(self) -> None:
        """Wait for the killed kernels of retired containers to exit, so no process outlives them."""
        for runner in list(self._retired):
            await runner.close()
            if runner in self._retired:  # a concurrent reap may have finished it first
                self._retired.remove(runner)
